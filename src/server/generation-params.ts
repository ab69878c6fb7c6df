// A validated request's generation settings: max tokens checked against the context (vLLM's defaults and messages),
// sampling fields over the model's generation_config.json defaults, stop strings, seeds.
import { randomInt } from "node:crypto";
import type { SamplingParams } from "../engine/index.js";
import { badRequest } from "./api-error.js";
import type { GenerationParams } from "./generation.js";
import type { SamplingDefaults } from "./model-text.js";
import type { ChatCompletionRequest, CompletionRequest } from "./request-schemas.js";

/** The legacy completions endpoint's default max_tokens (OpenAI's and vLLM's). */
const COMPLETIONS_DEFAULT_MAX_TOKENS = 16;

export function generationParams(
  req: ChatCompletionRequest | CompletionRequest,
  promptIds: readonly number[],
  promptParam: "messages" | "prompt",
  maxContext: number,
  defaults: SamplingDefaults,
  logprobs: number | undefined,
): GenerationParams {
  const room = maxContext - promptIds.length;
  if (room <= 0) {
    throw badRequest(`This model's maximum context length is ${maxContext} tokens. However, your prompt has ${promptIds.length} tokens, which leaves no room for a completion.`, promptParam);
  }
  const asked = req.max_completion_tokens ?? req.max_tokens ?? undefined;
  const field = req.max_completion_tokens != null ? "max_completion_tokens" : "max_tokens";
  if (asked !== undefined && promptIds.length + asked > maxContext) {
    throw badRequest(
      `This model's maximum context length is ${maxContext} tokens. However, you requested ${promptIds.length + asked} tokens (${promptIds.length} in the prompt, ${asked} for the completion). Please reduce the prompt or \`${field}\`.`,
      field,
    );
  }
  const maxTokens = asked ?? ("prompt" in req ? Math.min(COMPLETIONS_DEFAULT_MAX_TOKENS, room) : room);
  const temperature = req.temperature ?? defaults.temperature ?? 1;
  const topK = req.top_k ?? defaults.topK;
  const topP = req.top_p ?? defaults.topP;
  const repetitionPenalty = req.repetition_penalty ?? defaults.repetitionPenalty;
  const minP = req.min_p ?? defaults.minP;
  // Unseeded sampling is random per request (as OpenAI's); greedy needs no seed.
  const seed = req.seed ?? (temperature > 0 ? randomInt(2 ** 31) : undefined);
  const sampling: SamplingParams = {
    temperature,
    ...(topK !== undefined && topK > 0 ? { topK } : {}),
    ...(topP !== undefined ? { topP } : {}),
    ...(repetitionPenalty !== undefined ? { repetitionPenalty } : {}),
    ...(minP ? { minP } : {}),
    ...(seed !== undefined ? { seed } : {}),
  };
  const stop = req.stop == null ? [] : (typeof req.stop === "string" ? [req.stop] : req.stop).filter((s) => s.length > 0);
  return {
    promptIds, n: req.n ?? 1, maxTokens, sampling, stop, ignoreEos: req.ignore_eos ?? false, skipSpecialTokens: req.skip_special_tokens ?? true,
    ...(logprobs !== undefined ? { logprobs } : {}),
  };
}

/** `max_completion_tokens` / `max_tokens` larger than any context: refused before tokenizing (cheap). */
export function checkTokensField(req: ChatCompletionRequest | CompletionRequest): void {
  if (req.max_completion_tokens != null && req.max_tokens != null && req.max_completion_tokens !== req.max_tokens) {
    throw badRequest("give `max_completion_tokens` or its alias `max_tokens`, not both with different values", "max_tokens");
  }
}
