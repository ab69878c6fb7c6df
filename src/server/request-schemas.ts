// Request bodies of the OpenAI-compatible endpoints as zod schemas: what is accepted, with which ranges, and which
// fields are refused because kiln serve does not implement them yet (never silently ignored).
import { z } from "zod";
import { badRequest, notSupported } from "./api-error.js";

const INT64_MAX = 2n ** 63n - 1n;
const count = z.int().min(1);

/** Fields shared by chat and text completions (OpenAI's, plus vLLM's sampling extensions). */
const sampling = {
  model: z.string().nullish(),
  max_completion_tokens: count.nullish(),
  max_tokens: count.nullish(),
  temperature: z.number().min(0).max(100).nullish(),
  top_p: z.number().gt(0).max(1).nullish(),
  top_k: z.int().min(-1).nullish(),
  min_p: z.number().min(0).max(1).nullish(),
  repetition_penalty: z.number().gt(0).max(100).nullish(),
  presence_penalty: z.number().min(-2).max(2).nullish(),
  frequency_penalty: z.number().min(-2).max(2).nullish(),
  seed: z.int().refine((s) => BigInt(s) >= -INT64_MAX - 1n && BigInt(s) <= INT64_MAX, "must be a 64-bit integer").nullish(),
  stop: z.union([z.string(), z.array(z.string()).max(16)]).nullish(),
  n: z.int().min(1).max(64).nullish(),
  stream: z.boolean().nullish(),
  stream_options: z.object({ include_usage: z.boolean().nullish(), continuous_usage_stats: z.boolean().nullish() }).nullish(),
  ignore_eos: z.boolean().nullish(),
  skip_special_tokens: z.boolean().nullish(),
  user: z.string().nullish(),
  logit_bias: z.record(z.string(), z.number()).nullish(),
  // Refused unless absent (checked in refuseUnsupported): accepted here in any shape so the message says "not supported".
  response_format: z.unknown().optional(),
  stop_token_ids: z.unknown().optional(),
};

const contentPart = z.looseObject({ type: z.string() });

export const chatMessage = z.looseObject({
  role: z.enum(["system", "developer", "user", "assistant", "tool", "function"]),
  content: z.union([z.string(), z.array(contentPart), z.null()]).optional(),
  name: z.string().nullish(),
  reasoning_content: z.string().nullish(),
});

export const chatCompletionRequest = z.looseObject({
  ...sampling,
  messages: z.array(chatMessage).min(1),
  logprobs: z.boolean().nullish(),
  top_logprobs: z.int().min(0).max(20).nullish(),
  chat_template_kwargs: z.looseObject({ enable_thinking: z.boolean().optional() }).nullish(),
  add_generation_prompt: z.boolean().nullish(),
  tools: z.unknown().optional(),
  tool_choice: z.unknown().optional(),
  functions: z.unknown().optional(),
  function_call: z.unknown().optional(),
  parallel_tool_calls: z.boolean().nullish(),
  modalities: z.array(z.string()).nullish(),
  audio: z.unknown().optional(),
  prediction: z.unknown().optional(),
  store: z.boolean().nullish(),
  metadata: z.record(z.string(), z.string()).nullish(),
});
export type ChatCompletionRequest = z.infer<typeof chatCompletionRequest>;

const tokenIds = z.array(z.int().min(0)).min(1);
export const completionRequest = z.looseObject({
  ...sampling,
  prompt: z.union([z.string(), z.array(z.string()).length(1), tokenIds, z.array(tokenIds).length(1)]),
  logprobs: z.int().min(0).max(20).nullish(),
  echo: z.boolean().nullish(),
  suffix: z.string().nullish(),
  best_of: z.int().min(1).nullish(),
  return_token_ids: z.boolean().nullish(),
});
export type CompletionRequest = z.infer<typeof completionRequest>;

export const tokenizePromptRequest = z.looseObject({ model: z.string().nullish(), prompt: z.string(), add_special_tokens: z.boolean().nullish() });
export const tokenizeChatRequest = z.looseObject({
  model: z.string().nullish(), messages: z.array(chatMessage).min(1), add_generation_prompt: z.boolean().nullish(),
  chat_template_kwargs: z.looseObject({ enable_thinking: z.boolean().optional() }).nullish(),
});

export const detokenizeRequest = z.looseObject({ model: z.string().nullish(), tokens: z.array(z.int().min(0)) });

/** Parses `body` with `schema`; a failure is a 400 naming the first offending field (`param`). */
export function parseBody<S extends z.ZodType>(schema: S, body: unknown): z.infer<S> {
  if (body === null || typeof body !== "object" || Array.isArray(body)) throw badRequest("the request body must be a JSON object");
  const r = schema.safeParse(body);
  if (r.success) return r.data;
  const issue = r.error.issues[0]!;
  const param = issue.path.length ? issue.path.map(String).join(".") : null;
  const detail = issue.code === "invalid_union" ? "has a type or value that is not accepted" : issue.message;
  throw badRequest(param ? `\`${param}\`: ${detail}` : detail, param);
}

/** Keys of `body` that `schema` does not name (its shape; for a union, every member's). */
export function unknownFields(schema: z.ZodType, body: object): string[] {
  const shapes: Record<string, unknown>[] = [];
  const collect = (s: z.ZodType) => {
    const def = (s as unknown as { def: { type: string; options?: z.ZodType[]; shape?: Record<string, unknown> } }).def;
    if (def.type === "union") def.options!.forEach(collect);
    else if (def.shape) shapes.push(def.shape);
  };
  collect(schema);
  return Object.keys(body).filter((k) => !shapes.some((shape) => Object.hasOwn(shape, k)));
}

const absent = (v: unknown) => v === undefined || v === null;

/** Fields that would change the output in ways kiln serve does not implement: 400, never ignored. */
export function refuseUnsupported(req: ChatCompletionRequest | CompletionRequest): void {
  const rf = req.response_format as { type?: unknown } | null | undefined;
  if (!absent(rf) && !(typeof rf === "object" && rf.type === "text")) throw notSupported("response_format", "`response_format` other than {\"type\": \"text\"} (JSON mode, JSON schema)");
  if (!absent(req.stop_token_ids)) throw notSupported("stop_token_ids");
  if (req.presence_penalty) throw notSupported("presence_penalty", "a non-zero `presence_penalty`");
  if (req.frequency_penalty) throw notSupported("frequency_penalty", "a non-zero `frequency_penalty`");
  if (req.logit_bias && Object.keys(req.logit_bias).length) throw notSupported("logit_bias");
  if (!req.stream && req.stream_options) throw badRequest("`stream_options` is only allowed when `stream` is true", "stream_options");
  if ("messages" in req) {
    const chat = req as ChatCompletionRequest;
    const tc = chat.tool_choice;
    if (!absent(chat.tools) && !(Array.isArray(chat.tools) && chat.tools.length === 0)) throw notSupported("tools", "`tools` (function calling)");
    if (!absent(tc) && tc !== "none") throw notSupported("tool_choice");
    if (!absent(chat.functions)) throw notSupported("functions");
    if (!absent(chat.function_call) && chat.function_call !== "none") throw notSupported("function_call");
    if (!absent(chat.audio)) throw notSupported("audio");
    if (!absent(chat.prediction)) throw notSupported("prediction", "`prediction` (predicted outputs)");
    if (chat.modalities && chat.modalities.some((m) => m !== "text")) throw notSupported("modalities", "output modalities other than text");
    if (chat.top_logprobs && !chat.logprobs) throw badRequest("`top_logprobs` needs `logprobs: true`", "top_logprobs");
  } else {
    const c = req as CompletionRequest;
    if (c.echo) throw notSupported("echo");
    if (!absent(c.suffix)) throw notSupported("suffix");
    if (c.best_of !== undefined && c.best_of !== null && c.best_of !== (c.n ?? 1)) throw notSupported("best_of", "`best_of` other than `n`");
  }
}
