// LLM: the one-object API over a Hugging Face model folder — load the checkpoint, compile the
// paged forward ahead of time through the cache (supportsCompile), and generate from token ids
// or text (with the folder's tokenizer), batched or streamed.
import { prewarmRemotes } from "../cache/index.js";
import { supportsCompile, type CompileActivity } from "../compile/index.js";
import { CausalLM, type ChatMessage, type ModelConfig, StreamDecoder, loadCheckpoint, loadTokenizer, pagedDynamicDims } from "../models/index.js";
import { type DType, Tensor } from "../tensor/index.js";
import { ArgumentError, MAX_THREADS, readEnv } from "../util/index.js";
import { PagedKvCache, SequenceBlocks, batchInputs } from "./kv-cache.js";
import { PagedEngine, type TokenEvent } from "./paged-engine.js";
import type { GenerateParams, Generation } from "./generate.js";
import { Scheduler, type SchedulerOptions } from "./scheduler.js";

/** What LLM needs of a tokenizer (src/models' Tokenizer has it). */
export interface TextCodec {
  encode(text: string, options?: { addSpecialTokens?: boolean }): number[];
  decode(ids: readonly number[]): string;
  applyChatTemplate?(messages: readonly ChatMessage[], options?: { addGenerationPrompt?: boolean; enableThinking?: boolean }): string;
}

export interface LLMOptions {
  /** A Hugging Face model folder (config.json, *.safetensors, optionally tokenizer.json). */
  readonly model: string;
  /** Default: the folder's tokenizer.json, if it has one. */
  /** Weight storage dtype (compute is f32 whatever it is); default: the dtype the weights are stored in (bf16, else f32), whatever config.json says. */
  readonly dtype?: "f32" | "bf16";
  readonly backend?: "native" | "js" | "auto";
  /** Tokens the KV cache holds across the batch; default min(4096, the model's context). */
  readonly kvCacheTokens?: number;
  /**
   * What the KV cache stores K and V in (attention computes in f32 either way); default f32. bf16 halves the cache's
   * memory and the bytes attention reads per token at long contexts. It is an input dtype of the compiled forward, so
   * each cache dtype is its own compiled program (and cache key).
   */
  readonly kvCacheDtype?: "f32" | "bf16";
  readonly blockSize?: number;
  /**
   * Token counts that get a program of their own beside the general one (vLLM's compile_sizes); default [1], the
   * decode step. Batch sizes of continuous batching belong here too.
   */
  readonly compileSizes?: readonly number[];
  /** Threads of the native kernels, 1..256 (default: KILN_NUM_THREADS, else the physical cores). */
  readonly threads?: number;
  readonly tokenizer?: TextCodec;
  /** Called while weights load and the model compiles, for progress bars. */
  readonly onProgress?: (stage: "load" | "compile", done: number, total: number) => void;
}

export interface LLMParams extends Omit<GenerateParams, "maxContext"> {
  /** Generation ends when the text produced contains one of these (it is cut before it). */
  readonly stop?: readonly string[];
}

export interface LLMOutput extends Generation {
  /** The generated text, when a tokenizer is present. */
  readonly text: string | null;
}

export type Prompt = string | readonly number[];

export class LLM {
  readonly config: ModelConfig;
  readonly #dir: string;
  #tokenizer: TextCodec | null | undefined;
  readonly loadMs: number;
  readonly #model: CausalLM & { compileActivity: CompileActivity; compileFor(...example: never[]): unknown };
  readonly #engine: PagedEngine;

  constructor(options: LLMOptions) {
    const t0 = performance.now();
    if (options.threads !== undefined && !(Number.isInteger(options.threads) && options.threads >= 1 && options.threads <= MAX_THREADS)) {
      throw new ArgumentError("LLM", `threads must be an integer from 1 to ${MAX_THREADS}, got ${options.threads}`);
    }
    // A fleet cache's connection starts while the weights load, in case the local cache misses.
    prewarmRemotes(readEnv().cacheRemote);
    const ckpt = loadCheckpoint(options.model);
    this.config = ckpt.config;
    this.#dir = options.model;
    this.#tokenizer = options.tokenizer;
    // config.json's torch_dtype is a hint; the dtype the weights are stored in is the fact (as llama.cpp and
    // transformers read it). options.dtype converts.
    const stored = ckpt.tensors.get("model.embed_tokens.weight")!.dtype;
    const dtype: DType = options.dtype ?? (stored === "bf16" ? "bf16" : "f32");
    const Model = supportsCompile(CausalLM, {
      dynamicArgDims: pagedDynamicDims(ckpt.config.numHiddenLayers), compileSizes: options.compileSizes ?? [1], prefix: "model", backend: options.backend,
      reuseOutputs: true, // the engine samples from the logits before its next forward
      ...(options.threads !== undefined ? { threads: options.threads } : {}),
    });
    this.#model = new Model(ckpt.config, dtype) as CausalLM & { compileActivity: CompileActivity; compileFor(...example: never[]): unknown };
    const names = new Set(this.#model.namedParameters().map(([n]) => n));
    const weights = [...ckpt.tensors].filter(([n]) => names.has(n));
    this.#model.loadStateDict(Object.fromEntries(weights.map(([n, t]) => [n, t.dtype === dtype ? t : Tensor.fromValues(dtype, t.dims, t.values())])), { strict: false });
    const maxContext = ckpt.config.maxPositionEmbeddings;
    const cache = new PagedKvCache(
      { layers: ckpt.config.numHiddenLayers, kvHeads: ckpt.config.numKeyValueHeads, headDim: ckpt.config.headDim },
      { tokens: options.kvCacheTokens ?? Math.min(4096, maxContext), blockSize: options.blockSize, dtype: options.kvCacheDtype ?? "f32" },
    );
    const forward = (ids: Tensor, ...paged: Tensor[]) => this.#model.forward(ids, ...paged);
    this.#engine = new PagedEngine(forward, cache, { vocabSize: ckpt.config.vocabSize, maxContext: Math.min(maxContext, cache.capacity) });
    this.loadMs = performance.now() - t0;
  }

  /** The most tokens one sequence can hold, prompt and generated: the model's context, or the KV cache's when smaller. */
  get maxContext(): number {
    return this.#engine.model.maxContext;
  }

  /**
   * A continuous-batching scheduler (`kiln serve`'s) over this LLM's compiled forward and KV cache. The cache is
   * shared with generate()/stream(): use one or the other at a time, or size the cache for both.
   */
  scheduler(options: SchedulerOptions = {}): Scheduler {
    const { forward, cache, model } = this.#engine;
    return new Scheduler(forward, cache, { ...model, eosTokenIds: this.config.eosTokenIds }, options);
  }

  /** The folder's tokenizer, loaded on first use (parsing tokenizer.json takes a while: ids-only runs skip it). */
  get tokenizer(): TextCodec | undefined {
    if (this.#tokenizer === undefined) this.#tokenizer = loadTokenizer(this.#dir) ?? null;
    return this.#tokenizer ?? undefined;
  }

  /** Cache outcomes (compiled / loaded / memory) and miss reasons so far. */
  get compileActivity(): CompileActivity {
    return this.#model.compileActivity;
  }

  /**
   * Loads the compiled model from the cache, or compiles and saves it, from example inputs (one token of one
   * sequence) — without running a forward (`kiln compile`, and before the first request).
   */
  compile(): void {
    const cache = this.#engine.cache;
    const seq = new SequenceBlocks();
    cache.reserve(seq, 1);
    try {
      this.#model.compileFor(...(batchInputs(cache, [{ blocks: seq, tokens: [0], start: 0 }]) as never[]));
    } finally {
      cache.release(seq);
    }
  }

  /** Token ids of a prompt: text goes through the tokenizer. */
  encode(prompt: Prompt): number[] {
    if (typeof prompt !== "string") return [...prompt];
    if (!this.tokenizer) throw new ArgumentError("LLM", "this model folder has no tokenizer (tokenizer.json): pass token ids instead of text (--prompt-ids on the command line)");
    return this.tokenizer.encode(prompt);
  }

  /** Token ids of a conversation rendered by the model's chat template, ending with the assistant's turn to speak. */
  chat(messages: readonly ChatMessage[], options: { enableThinking?: boolean } = {}): number[] {
    if (!this.tokenizer?.applyChatTemplate) throw new ArgumentError("LLM", "this model folder has no tokenizer with a chat template (tokenizer_config.json chat_template)");
    const text = this.tokenizer.applyChatTemplate(messages, { addGenerationPrompt: true, ...options });
    // The template writes the special tokens itself (a BOS, say): encoding must not add them again.
    return this.tokenizer.encode(text, { addSpecialTokens: false });
  }

  /** Generates every prompt (batched in one engine run); results in prompt order. */
  async generate(prompts: Prompt | readonly Prompt[], params: LLMParams): Promise<LLMOutput[]> {
    const list = isPromptList(prompts) ? prompts : [prompts as Prompt];
    const outputs: { ids: number[]; finish?: Generation["finishReason"] }[] = list.map(() => ({ ids: [] }));
    const it = this.#engine.steps(list.map((p) => this.encode(p)), this.#engineParams(params));
    let r = it.next();
    for (; !r.done; r = it.next()) {
      for (const ev of r.value) outputs[ev.sequence]!.ids.push(ev.token);
      await new Promise((resolve) => setImmediate(resolve)); // let the event loop breathe between steps
    }
    return r.value.map((g) => this.#finish(g, params.stop));
  }

  /** One prompt, synchronously (scripts and benchmarks: no event-loop turns between steps). */
  generateSync(prompt: Prompt, params: LLMParams): LLMOutput {
    return this.#finish(this.#engine.generate([this.encode(prompt)], this.#engineParams(params))[0]!, params.stop);
  }

  /** The tokens of one prompt as they are generated, with the text each adds (empty while a character is incomplete). */
  async *stream(prompt: Prompt, params: LLMParams): AsyncGenerator<{ token: number; text: string }, LLMOutput> {
    const it = this.#engine.steps([this.encode(prompt)], this.#engineParams(params));
    const tokenizer = this.tokenizer;
    const decoder = tokenizer && new StreamDecoder((ids) => tokenizer.decode(ids));
    let decoded = "";
    let shown = "";
    let r = it.next();
    // A consumer that stops early (break) returns this generator: the engine's then frees the sequence's blocks.
    try {
      for (; !r.done; r = it.next()) {
        const ev = r.value[0] as TokenEvent;
        let text = "";
        if (decoder) {
          // The decoder holds back a character whose bytes are not all in yet; nothing past a stop string is shown.
          decoded += decoder.push(ev.token);
          const visible = stopCut(decoded, params.stop) ?? decoded;
          text = visible.slice(shown.length);
          shown = visible.length > shown.length ? visible : shown;
        }
        yield { token: ev.token, text };
        await new Promise((resolve) => setImmediate(resolve));
      }
    } finally {
      if (!r.done) it.return([]);
    }
    return this.#finish(r.value[0]!, params.stop);
  }

  #engineParams(params: LLMParams): GenerateParams {
    const { stop, ...rest } = params;
    const tokenizer = stop?.length ? this.tokenizer : undefined; // loading tokenizer.json takes a while: only for stop strings
    const stopWhen = stop?.length && tokenizer ? (ids: readonly number[]) => stopCut(tokenizer.decode(ids), stop) !== undefined : undefined;
    return { ...rest, stopIds: rest.stopIds ?? this.config.eosTokenIds, ...(stopWhen ? { stopWhen } : {}) };
  }

  #finish(g: Generation, stop: readonly string[] | undefined): LLMOutput {
    if (!this.tokenizer) return { ...g, text: null };
    const text = this.tokenizer.decode(g.generatedIds);
    const cut = stopCut(text, stop);
    return cut === undefined ? { ...g, text } : { ...g, text: cut, finishReason: "stop" };
  }
}

function isPromptList(p: Prompt | readonly Prompt[]): p is readonly Prompt[] {
  return Array.isArray(p) && (p.length === 0 || typeof p[0] !== "number");
}

/** `text` cut before the first stop string it contains, or undefined. */
function stopCut(text: string, stop: readonly string[] | undefined): string | undefined {
  let at = -1;
  for (const s of stop ?? []) {
    const i = s ? text.indexOf(s) : -1;
    if (i >= 0 && (at < 0 || i < at)) at = i;
  }
  return at < 0 ? undefined : text.slice(0, at);
}
