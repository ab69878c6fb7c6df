// Chat templates: a model's Jinja `chat_template` rendered over a list of messages with @huggingface/jinja,
// the same engine transformers.js uses, so Kiln's prompts match `tokenizer.apply_chat_template`.
import { createRequire } from "node:module";
import type { Template } from "@huggingface/jinja";
import { ArgumentError, ModelFormatError } from "../util/index.js";

export interface ChatMessage {
  readonly role: "system" | "user" | "assistant" | "tool" | (string & {});
  readonly content: string;
  /** An assistant turn's thinking, when kept apart from `content` (Qwen3 templates read it). */
  readonly reasoning_content?: string;
}

export interface RenderChatOptions {
  /** End with the header of an assistant turn, so the model writes the reply (transformers' default: false). */
  readonly addGenerationPrompt?: boolean;
  /** Qwen3: false adds an empty `<think>\n\n</think>\n\n` block, so the model answers without thinking. */
  readonly enableThinking?: boolean;
  readonly bosToken?: string;
  readonly eosToken?: string;
  /** Tool (function) descriptions, for templates that support them. */
  readonly tools?: readonly unknown[];
  /** More template variables (e.g. Llama 3.2's `date_string`); they override nothing above. */
  readonly variables?: Readonly<Record<string, unknown>>;
  /** Where the template came from, for error messages (e.g. the tokenizer_config.json path). */
  readonly source?: string;
}

const parsed = new Map<string, Template>();

/** Parses a template once per process (models render the same template on every request). */
/** @huggingface/jinja, loaded on first use (its CommonJS build): only chat requests need it. */
function jinja(): typeof import("@huggingface/jinja") {
  return createRequire(import.meta.url)("@huggingface/jinja") as typeof import("@huggingface/jinja");
}

function compileTemplate(template: string, source: string): Template {
  let t = parsed.get(template);
  if (t === undefined) {
    try {
      t = new (jinja().Template)(template);
    } catch (e) {
      throw new ModelFormatError(source, `chat template does not parse: ${(e as Error).message}`, undefined, { cause: e });
    }
    parsed.set(template, t);
  }
  return t;
}

/** Renders `messages` with a Hugging Face chat template into the prompt text the model expects. */
export function renderChat(template: string, messages: readonly ChatMessage[], options: RenderChatOptions = {}): string {
  const source = options.source ?? "chat_template";
  const t = compileTemplate(template, source);
  const vars: Record<string, unknown> = {
    ...options.variables,
    messages: messages.map((m) => ({ ...m })),
    add_generation_prompt: options.addGenerationPrompt ?? false,
  };
  if (options.enableThinking !== undefined) vars.enable_thinking = options.enableThinking;
  if (options.bosToken !== undefined) vars.bos_token = options.bosToken;
  if (options.eosToken !== undefined) vars.eos_token = options.eosToken;
  if (options.tools !== undefined) vars.tools = options.tools;
  try {
    return t.render(vars);
  } catch (e) {
    throw new ArgumentError("renderChat", `the chat template from ${source} refused the messages: ${(e as Error).message}`);
  }
}
