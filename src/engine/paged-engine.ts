// Generation over a paged KV cache: the prompts of a batch are prefilled in one forward, then
// each step decodes one token for every unfinished sequence in one forward, each token
// attending only its own sequence's cached K/V. A sequence's result does not depend on what it
// is batched with: same tokens as generating it alone.
import type { Tensor } from "../tensor/index.js";
import { ArgumentError, counters } from "../util/index.js";
import { type BatchEntry, KvCacheFullError, PagedKvCache, SequenceBlocks, batchInputs } from "./kv-cache.js";
import { Sampler, validateSampling } from "./sampler.js";
import { type GenerateParams, type Generation, checkRequest } from "./generate.js";

/** CausalLM's paged forward: (ids, positions, seqIds, slots, blockTable, logitRows, k0, v0, …) → logits [rows, vocab]. */
export type PagedForward = (ids: Tensor, ...paged: Tensor[]) => Tensor;

export interface PagedModelInfo {
  readonly vocabSize: number;
  /** The longest sequence (prompt + generated) the model takes. */
  readonly maxContext: number;
}

/** One generated token: which prompt of the batch it continues; `finishReason` on a sequence's last. */
export interface TokenEvent {
  readonly sequence: number;
  readonly token: number;
  readonly finishReason?: Generation["finishReason"];
}

interface Sequence {
  /** Its prompt's place in the batch. */
  readonly index: number;
  readonly prompt: readonly number[];
  readonly ids: number[];
  readonly sampler: Sampler;
  readonly blocks: SequenceBlocks;
  finishReason?: Generation["finishReason"];
}

export class PagedEngine {
  constructor(
    readonly forward: PagedForward,
    readonly cache: PagedKvCache,
    readonly model: PagedModelInfo,
  ) {}

  /** Generates every prompt to completion; results in prompt order. */
  generate(prompts: readonly (readonly number[])[], params: GenerateParams): Generation[] {
    const it = this.steps(prompts, params);
    for (;;) {
      const r = it.next();
      if (r.done) return r.value;
    }
  }

  /** The tokens of each step as they are sampled (one per unfinished sequence); returns the generations. */
  *steps(prompts: readonly (readonly number[])[], params: GenerateParams): Generator<TokenEvent[], Generation[]> {
    this.#validate(prompts, params);
    const stops = new Set(params.stopIds ?? []);
    const seqs: Sequence[] = prompts.map((p, index) => ({ index, prompt: p, ids: [...p], sampler: new Sampler(params), blocks: new SequenceBlocks() }));
    const t0 = performance.now();
    let prefillMs = 0;
    let firstTokenAt: number | undefined;
    let nativeAtDecode = 0;
    try {
      // Reserve every sequence's whole length up front: a batch that fits never fails midway.
      const needed = seqs.reduce((n, s) => n + this.cache.blocksFor(s.prompt.length + params.maxTokens), 0);
      if (needed > this.cache.freeBlocks) {
        throw new KvCacheFullError(needed, this.cache.freeBlocks, this.cache.blockSize, this.cache.capacity);
      }
      for (const s of seqs) this.cache.reserve(s.blocks, s.prompt.length + params.maxTokens);
      if (params.maxTokens === 0) for (const s of seqs) s.finishReason = "length";
      for (let step = 0; seqs.some((s) => !s.finishReason); step++) {
        const active = seqs.filter((s) => !s.finishReason);
        const entries: BatchEntry[] = active.map((s) =>
          step === 0 ? { blocks: s.blocks, tokens: s.ids, start: 0 } : { blocks: s.blocks, tokens: [s.ids[s.ids.length - 1]!], start: s.ids.length - 1 },
        );
        const logits = this.forward(...(batchInputs(this.cache, entries) as [Tensor, ...Tensor[]])).values();
        if (step === 0) {
          prefillMs = performance.now() - t0;
          nativeAtDecode = counters().nativeMs;
        }
        const sampledAt = performance.now();
        const vocab = logits.length / active.length;
        const events = active.map((s, i): TokenEvent => {
          const token = s.sampler.sample(logits.subarray(i * vocab, (i + 1) * vocab), s.ids);
          s.ids.push(token);
          if (stops.has(token) || params.stopWhen?.(s.ids.slice(s.prompt.length))) s.finishReason = "stop";
          else if (s.ids.length - s.prompt.length >= params.maxTokens) s.finishReason = "length";
          return { sequence: s.index, token, ...(s.finishReason ? { finishReason: s.finishReason } : {}) };
        });
        firstTokenAt ??= sampledAt;
        yield events;
      }
    } finally {
      for (const s of seqs) this.cache.release(s.blocks);
    }
    const decodeMs = performance.now() - t0 - prefillMs;
    const decodeNativeMs = counters().nativeMs - nativeAtDecode;
    return seqs.map((s) => ({
      promptIds: [...s.prompt],
      generatedIds: s.ids.slice(s.prompt.length),
      finishReason: s.finishReason!,
      timings: { prefill_ms: prefillMs, decode_ms: decodeMs, decode_native_ms: decodeNativeMs, ...(firstTokenAt !== undefined ? { first_token_at_ms: firstTokenAt } : {}) },
    }));
  }

  #validate(prompts: readonly (readonly number[])[], params: GenerateParams): void {
    if (prompts.length === 0) throw new ArgumentError("generate", "no prompts");
    checkRequest(prompts, params, this.model);
    validateSampling(params);
  }
}
