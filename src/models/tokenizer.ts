// The tokenizer of a Hugging Face model folder (tokenizer.json + tokenizer_config.json), run by
// @huggingface/tokenizers (HF's own JS tokenizers, the ones transformers.js uses): encode, decode, stream, chat.
import { existsSync, readFileSync } from "node:fs";
import { basename, join, resolve } from "node:path";
import { createRequire } from "node:module";
import type { Tokenizer as HfTokenizer } from "@huggingface/tokenizers";
import { ModelFormatError } from "../util/index.js";
import { type ChatMessage, type RenderChatOptions, renderChat } from "./chat-template.js";
import { StreamDecoder } from "./stream-decoder.js";
import { readJsonFile } from "./json-file.js";

export const TOKENIZER_FILE = "tokenizer.json";
export const TOKENIZER_CONFIG_FILE = "tokenizer_config.json";
export const GENERATION_CONFIG_FILE = "generation_config.json";
export const CHAT_TEMPLATE_FILE = "chat_template.jinja";

export interface EncodeOptions {
  /** Add what the tokenizer's post-processor adds (Llama 3: `<|begin_of_text|>`). Default true, as in transformers. */
  readonly addSpecialTokens?: boolean;
}

export interface DecodeOptions {
  readonly skipSpecialTokens?: boolean;
  /**
   * transformers' `clean_up_tokenization_spaces` (" ." → "."). Default false: the text exactly as the model wrote
   * it, which is also what the stream decoder produces (vLLM and llama.cpp do the same).
   */
  readonly cleanUpTokenizationSpaces?: boolean;
}

export type ChatOptions = Omit<RenderChatOptions, "bosToken" | "eosToken" | "source">;

/** A loaded tokenizer. Ids are plain numbers (Kiln's token ids are i32). */
export class Tokenizer {
  /** Number of ids (the model's vocabulary may be larger: Qwen3's is padded to 151936). */
  readonly size: number;
  readonly bosToken: string | undefined;
  readonly eosToken: string | undefined;
  readonly bosTokenId: number | undefined;
  /**
   * Ids that end generation: the tokenizer's eos token, then generation_config.json's `eos_token_id`s (Qwen3:
   * `<|im_end|>` 151645 and `<|endoftext|>` 151643).
   */
  readonly eosTokenIds: readonly number[];
  /** The Jinja chat template (tokenizer_config.json's `chat_template`, or chat_template.jinja), if any. */
  readonly chatTemplate: string | undefined;
  readonly #hf: HfTokenizer;
  readonly #special: ReadonlySet<number>;
  readonly #templateSource: string;

  constructor(hf: HfTokenizer, fields: {
    bosToken?: string; eosToken?: string; extraEosIds: readonly number[]; chatTemplate?: string; templateSource: string;
  }) {
    this.#hf = hf;
    const added = hf.get_added_tokens_decoder();
    this.#special = new Set([...added].filter(([, t]) => t.special).map(([id]) => id));
    this.size = hf.get_vocab(true).size;
    this.bosToken = fields.bosToken;
    this.eosToken = fields.eosToken;
    this.bosTokenId = fields.bosToken === undefined ? undefined : hf.token_to_id(fields.bosToken);
    const eos = fields.eosToken === undefined ? undefined : hf.token_to_id(fields.eosToken);
    this.eosTokenIds = Object.freeze([...new Set([...(eos === undefined ? [] : [eos]), ...fields.extraEosIds])]);
    this.chatTemplate = fields.chatTemplate;
    this.#templateSource = fields.templateSource;
  }

  encode(text: string, options: EncodeOptions = {}): number[] {
    return this.#hf.encode(text, { add_special_tokens: options.addSpecialTokens ?? true }).ids;
  }

  decode(ids: readonly number[], options: DecodeOptions = {}): string {
    if (ids.length === 0) return "";
    return this.#hf.decode([...ids], {
      skip_special_tokens: options.skipSpecialTokens ?? false,
      clean_up_tokenization_spaces: options.cleanUpTokenizationSpaces ?? false,
    });
  }

  /** A fresh incremental detokenizer: `push(id)` returns the text delta (whole characters only), `flush()` the rest. */
  createStreamDecoder(options: Pick<DecodeOptions, "skipSpecialTokens"> = {}): StreamDecoder {
    return new StreamDecoder((ids) => this.decode(ids, { skipSpecialTokens: options.skipSpecialTokens ?? false }));
  }

  tokenToId(token: string): number | undefined {
    return this.#hf.token_to_id(token);
  }

  idToToken(id: number): string | undefined {
    return this.#hf.id_to_token(id);
  }

  /** A special (control) token such as `<|im_start|>`, skipped by `decode(…, { skipSpecialTokens: true })`. */
  isSpecial(id: number): boolean {
    return this.#special.has(id);
  }

  /** Renders `messages` with this tokenizer's chat template and special tokens (transformers' `apply_chat_template`). */
  applyChatTemplate(messages: readonly ChatMessage[], options: ChatOptions = {}): string {
    if (this.chatTemplate === undefined) throw new ModelFormatError(this.#templateSource, "the tokenizer has no chat template");
    return renderChat(this.chatTemplate, messages, {
      ...options, bosToken: this.bosToken, eosToken: this.eosToken, source: this.#templateSource,
    });
  }
}

function readJson(path: string): Record<string, unknown> {
  const value = readJsonFile(path, basename(path));
  if (value === null || typeof value !== "object" || Array.isArray(value)) throw new ModelFormatError(path, "must hold a JSON object");
  return value as Record<string, unknown>;
}

/** A special-token entry of tokenizer_config.json: a string, an AddedToken object `{ content }`, or null. */
function tokenString(config: Record<string, unknown>, key: string, path: string): string | undefined {
  const v = config[key];
  if (v === undefined || v === null) return undefined;
  if (typeof v === "string") return v;
  if (typeof v === "object" && typeof (v as { content?: unknown }).content === "string") return (v as { content: string }).content;
  throw new ModelFormatError(path, `${key} must be a token string or {"content": ...}, got ${JSON.stringify(v)}`);
}

/** tokenizer_config.json's chat_template: a string, or a list of named templates (the "default" one); else chat_template.jinja. */
function chatTemplateOf(config: Record<string, unknown>, configPath: string, dir: string): { template?: string; source: string } {
  const v = config.chat_template;
  if (typeof v === "string") return { template: v, source: configPath };
  if (Array.isArray(v)) {
    const named = v.find((t) => (t as { name?: unknown })?.name === "default") as { template?: unknown } | undefined;
    if (typeof named?.template !== "string") throw new ModelFormatError(configPath, "chat_template is a list without a \"default\" template");
    return { template: named.template, source: configPath };
  }
  if (v !== undefined && v !== null) throw new ModelFormatError(configPath, `chat_template must be a string or a list, got ${typeof v}`);
  const file = join(dir, CHAT_TEMPLATE_FILE);
  if (existsSync(file)) return { template: readFileSync(file, "utf8"), source: file };
  return { source: configPath };
}

/** generation_config.json's `eos_token_id` (one id or a list), when the folder has that file. */
function generationEosIds(dir: string): number[] {
  const path = join(dir, GENERATION_CONFIG_FILE);
  if (!existsSync(path)) return [];
  const v = readJson(path).eos_token_id;
  if (v === undefined || v === null) return [];
  const ids = Array.isArray(v) ? v : [v];
  if (ids.some((id) => !Number.isSafeInteger(id) || (id as number) < 0)) throw new ModelFormatError(path, `eos_token_id must be token ids, got ${JSON.stringify(v)}`);
  return ids as number[];
}

/**
 * Loads the tokenizer of a Hugging Face model folder, or returns undefined when it has no tokenizer.json.
 * A malformed tokenizer.json, tokenizer_config.json or generation_config.json is a ModelFormatError naming the file.
 */
/** Hugging Face's tokenizers library, loaded on first use (its CommonJS build, synchronously): runs that never
 * touch text (token ids in and out) do not pay for importing it. */
function hfTokenizers(): typeof import("@huggingface/tokenizers") {
  return createRequire(import.meta.url)("@huggingface/tokenizers") as typeof import("@huggingface/tokenizers");
}

export function loadTokenizer(dir: string): Tokenizer | undefined {
  const root = resolve(dir);
  const tokenizerPath = join(root, TOKENIZER_FILE);
  if (!existsSync(tokenizerPath)) return undefined;
  const configPath = join(root, TOKENIZER_CONFIG_FILE);
  const json = readJson(tokenizerPath);
  const config = existsSync(configPath) ? readJson(configPath) : {};
  const bosToken = tokenString(config, "bos_token", configPath);
  const eosToken = tokenString(config, "eos_token", configPath);
  let hf: HfTokenizer;
  try {
    hf = new (hfTokenizers().Tokenizer)(json, config);
  } catch (e) {
    throw new ModelFormatError(tokenizerPath, `not a tokenizer Kiln can load: ${(e as Error).message}`, undefined, { cause: e });
  }
  const { template, source } = chatTemplateOf(config, configPath, root);
  const tokenizer = new Tokenizer(hf, {
    bosToken,
    eosToken,
    extraEosIds: generationEosIds(root),
    chatTemplate: template,
    templateSource: source,
  });
  for (const [key, token] of [["bos_token", tokenizer.bosToken], ["eos_token", tokenizer.eosToken]] as const) {
    if (token !== undefined && tokenizer.tokenToId(token) === undefined) {
      throw new ModelFormatError(configPath, `${key} ${JSON.stringify(token)} is not in the vocabulary of ${TOKENIZER_FILE}`);
    }
  }
  return tokenizer;
}
