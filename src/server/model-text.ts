// The model's text side, in the main thread: its tokenizer and chat template (prompts are tokenized and templated
// here, never in the engine thread) and the sampling defaults of its generation_config.json (as vLLM applies them).
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { type ChatMessage, GENERATION_CONFIG_FILE, type Tokenizer, loadTokenizer } from "../models/index.js";
import { KilnError } from "../util/index.js";
import { ApiError, badRequest, notSupported } from "./api-error.js";
import type { ChatCompletionRequest } from "./request-schemas.js";

/** Sampling defaults a model folder recommends (generation_config.json); a request's own fields win. */
export interface SamplingDefaults {
  readonly temperature?: number;
  readonly topK?: number;
  readonly topP?: number;
  readonly repetitionPenalty?: number;
  readonly minP?: number;
}

export function readSamplingDefaults(dir: string): SamplingDefaults {
  const path = join(dir, GENERATION_CONFIG_FILE);
  if (!existsSync(path)) return {};
  let g: Record<string, unknown>;
  try {
    g = JSON.parse(readFileSync(path, "utf8")) as Record<string, unknown>;
  } catch {
    return {}; // loading the tokenizer reports a malformed generation_config.json
  }
  const num = (k: string) => (typeof g[k] === "number" && Number.isFinite(g[k]) ? (g[k] as number) : undefined);
  // do_sample: false means greedy, whatever temperature says (transformers' rule).
  const temperature = g.do_sample === false ? 0 : num("temperature");
  return Object.fromEntries(
    Object.entries({ temperature, topK: num("top_k"), topP: num("top_p"), repetitionPenalty: num("repetition_penalty"), minP: num("min_p") }).filter(([, v]) => v !== undefined),
  ) as SamplingDefaults;
}

type Messages = ChatCompletionRequest["messages"];

export class ModelText {
  readonly tokenizer: Tokenizer | undefined;
  readonly defaults: SamplingDefaults;

  constructor(readonly dir: string) {
    this.tokenizer = loadTokenizer(dir);
    this.defaults = readSamplingDefaults(dir);
  }

  /** A text prompt's ids (with the tokenizer's special tokens, as transformers' default). */
  encode(text: string, param: string, addSpecialTokens = true): number[] {
    if (!this.tokenizer) throw badRequest("this model folder has no tokenizer (tokenizer.json): send the prompt as token ids", param);
    return this.tokenizer.encode(text, { addSpecialTokens });
  }

  /** A conversation rendered by the model's chat template, as ids. */
  chat(messages: Messages, options: { addGenerationPrompt?: boolean; enableThinking?: boolean } = {}): number[] {
    const tok = this.tokenizer;
    if (!tok) throw badRequest("this model folder has no tokenizer (tokenizer.json): use /v1/completions with token ids", "messages");
    if (tok.chatTemplate === undefined) throw badRequest("this model's tokenizer has no chat template: use /v1/completions", "messages");
    const list: ChatMessage[] = messages.map((m, i) => ({
      role: m.role === "developer" ? "system" : m.role,
      content: contentText(m.content, i),
      ...(m.reasoning_content ? { reasoning_content: m.reasoning_content } : {}),
    }));
    let text: string;
    try {
      text = tok.applyChatTemplate(list, {
        addGenerationPrompt: options.addGenerationPrompt ?? true,
        ...(options.enableThinking !== undefined ? { enableThinking: options.enableThinking } : {}),
      });
    } catch (e) {
      if (e instanceof KilnError) throw badRequest(e.message.split("\n")[0]!, "messages");
      throw e;
    }
    // The template writes the special tokens itself: encoding must not add them again.
    return tok.encode(text, { addSpecialTokens: false });
  }

  decode(ids: readonly number[]): string {
    if (!this.tokenizer) throw new ApiError(400, "invalid_request_error", "this model folder has no tokenizer (tokenizer.json)", "tokens");
    return this.tokenizer.decode(ids);
  }
}

/** A message's content as text: a string, or text parts joined by newlines (as vLLM joins them). */
function contentText(content: Messages[number]["content"], i: number): string {
  if (content === undefined || content === null) return "";
  if (typeof content === "string") return content;
  return content
    .map((p, j) => {
      const t = (p as { text?: unknown }).text;
      if (p.type !== "text" || typeof t !== "string") throw notSupported(`messages.${i}.content.${j}`, `content parts of type \`${p.type}\``);
      return t;
    })
    .join("\n");
}
