// Continuous batching over the paged KV cache (vLLM V1's token-budget scheduler): sequences join
// and leave between steps, and each step is one forward of a mixed batch — first one token for
// every decoding sequence, then prefill chunks (FCFS) filling what is left of the token budget. A
// long prompt is prefilled over several steps, so it never stalls the sequences decoding beside it.
// KV blocks are reserved as sequences grow; when a decode finds none, the newest running sequence
// is preempted by recompute (its blocks freed; it prefills again later, prompt and tokens so far).
// A sequence's tokens do not depend on what it is batched with, nor on preemption: its sampler and
// random stream go with it.
import type { Tensor } from "../tensor/index.js";
import { ArgumentError } from "../util/index.js";
import { extendChain } from "./block-hash.js";
import { checkRequest } from "./generate.js";
import { type BatchEntry, type PagedKvCache, SequenceBlocks, batchInputs } from "./kv-cache.js";
import { MAX_LOGPROBS, tokenLogprob } from "./logprobs.js";
import type { PagedForward } from "./paged-engine.js";
import { Sampler, validateSampling } from "./sampler.js";
import type { FinishReason, SchedulerStats, SequenceOutput, SequenceRequest, TokenLogprob } from "./sequence-request.js";

export interface SchedulerModelInfo {
  readonly vocabSize: number;
  /** The longest sequence (prompt + generated) the model takes. */
  readonly maxContext: number;
  /** The default stop ids. */
  readonly eosTokenIds: readonly number[];
}

export interface SchedulerOptions {
  /** Sequences running at once (vLLM's max_num_seqs); default 16. */
  readonly maxNumSeqs?: number;
  /** Tokens in one step's forward, decodes and prefill chunks together (vLLM's max_num_batched_tokens); default 512. */
  readonly maxNumBatchedTokens?: number;
  /** Reuse the K/V of full blocks of earlier prompts (vLLM's automatic prefix caching); default true. */
  readonly enablePrefixCaching?: boolean;
}

interface Sequence {
  readonly req: SequenceRequest;
  /** The prompt, then the tokens generated so far. */
  readonly tokens: number[];
  readonly promptTokens: number;
  readonly sampler: Sampler;
  readonly stops: ReadonlySet<number>;
  readonly blocks: SequenceBlocks;
  /** Tokens whose K/V are in `blocks` (shared from the prefix cache or computed). */
  computed: number;
  /** Prompt tokens found in the prefix cache when the sequence was first admitted (what it reports). */
  cachedTokens: number;
  admitted: boolean;
  /** Prefix caching: hash-chain values of the full blocks of `tokens` known so far. */
  readonly chain: string[];
}

/** A sequence's part of this step: `count` tokens from `computed`. */
interface Scheduled {
  readonly seq: Sequence;
  count: number;
}

/** A running sequence whose one new token is a sampled one (a prefill, even of one token, is not a decode). */
const isDecoding = (seq: Sequence) => seq.computed === seq.tokens.length - 1 && seq.tokens.length > seq.promptTokens;

const positiveInt = (x: unknown) => Number.isInteger(x) && (x as number) > 0;

export class Scheduler {
  readonly maxNumSeqs: number;
  readonly maxNumBatchedTokens: number;
  readonly enablePrefixCaching: boolean;
  /** FCFS; preempted sequences go back to the front. */
  readonly #waiting: Sequence[] = [];
  /** In admission order: the last is the newest (the one preempted first). */
  readonly #running: Sequence[] = [];
  readonly #live = new Map<string, Sequence>();
  /** Waiting sequences with maxTokens 0 (at most: aborts do not decrement it). */
  #zeroWaiting = 0;
  #preemptions = 0;
  #queries = 0;
  #hits = 0;
  #promptTokens = 0;
  #generationTokens = 0;
  #steps = 0;

  constructor(
    readonly forward: PagedForward,
    readonly cache: PagedKvCache,
    readonly model: SchedulerModelInfo,
    options: SchedulerOptions = {},
  ) {
    const { maxNumSeqs = 16, maxNumBatchedTokens = 512, enablePrefixCaching = true } = options;
    if (!positiveInt(maxNumSeqs)) throw new ArgumentError("Scheduler", `maxNumSeqs must be a positive integer, got ${maxNumSeqs}`);
    if (!positiveInt(maxNumBatchedTokens)) throw new ArgumentError("Scheduler", `maxNumBatchedTokens must be a positive integer, got ${maxNumBatchedTokens}`);
    // Below this, the decodes alone could overrun the budget and the last running sequences would starve (vLLM refuses it too).
    if (maxNumBatchedTokens < maxNumSeqs) throw new ArgumentError("Scheduler", `maxNumBatchedTokens (${maxNumBatchedTokens}) must be at least maxNumSeqs (${maxNumSeqs})`);
    if (typeof enablePrefixCaching !== "boolean") throw new ArgumentError("Scheduler", `enablePrefixCaching must be a boolean, got ${String(enablePrefixCaching)}`);
    this.maxNumSeqs = maxNumSeqs;
    this.maxNumBatchedTokens = maxNumBatchedTokens;
    this.enablePrefixCaching = enablePrefixCaching;
  }

  /** Queues a request (FCFS); refuses, naming the field, one that is malformed or could never fit the KV cache alone. */
  add(req: SequenceRequest): void {
    if (typeof req.id !== "string" || req.id === "") throw new ArgumentError("Scheduler", `id must be a non-empty string, got ${JSON.stringify(req.id)}`);
    if (this.#live.has(req.id)) throw new ArgumentError("Scheduler", `id ${JSON.stringify(req.id)} is already in use by a live sequence`);
    if (!Array.isArray(req.promptIds)) throw new ArgumentError("Scheduler", "promptIds must be an array of token ids");
    checkRequest([req.promptIds], { maxTokens: req.maxTokens }, this.model);
    validateSampling(req.sampling ?? {});
    if (req.logprobs !== undefined && !(Number.isInteger(req.logprobs) && req.logprobs >= 0 && req.logprobs <= MAX_LOGPROBS)) {
      throw new ArgumentError("Scheduler", `logprobs must be an integer from 0 to ${MAX_LOGPROBS}, got ${req.logprobs}`);
    }
    const badStop = req.stopIds?.find((t) => !(Number.isInteger(t) && t >= 0 && t < this.model.vocabSize));
    if (badStop !== undefined) throw new ArgumentError("Scheduler", `stopIds has token id ${badStop}, outside the vocabulary [0, ${this.model.vocabSize})`);
    // The last sampled token is never fed back: positions [0, prompt + maxTokens - 1) need K/V.
    const need = this.cache.blocksFor(req.promptIds.length + Math.max(req.maxTokens, 1) - 1);
    if (need > this.cache.numBlocks) {
      throw new ArgumentError(
        "Scheduler",
        `the prompt (${req.promptIds.length} tokens) + maxTokens (${req.maxTokens}) needs ${need} KV cache blocks of ${this.cache.blockSize} tokens, ` +
          `more than the whole cache holds (${this.cache.numBlocks} blocks, ${this.cache.capacity} tokens); nothing was truncated: ` +
          "give the cache more tokens (kvCacheTokens / --kv-cache-tokens) or ask for fewer maxTokens",
      );
    }
    const stops = req.stopIds ?? (req.ignoreEos ? [] : this.model.eosTokenIds);
    const seq: Sequence = {
      req,
      tokens: [...req.promptIds],
      promptTokens: req.promptIds.length,
      sampler: new Sampler(req.sampling ?? {}),
      stops: new Set(stops),
      blocks: new SequenceBlocks(),
      computed: 0,
      cachedTokens: 0,
      admitted: false,
      chain: [],
    };
    this.#live.set(req.id, seq);
    this.#waiting.push(seq);
    if (req.maxTokens === 0) this.#zeroWaiting++;
  }

  /** Ends a sequence wherever it is (waiting, mid-prefill, decoding), freeing its blocks at once; undefined if it is not live. */
  abort(id: string): SequenceOutput | undefined {
    const seq = this.#live.get(id);
    if (!seq) return undefined;
    for (const queue of [this.#waiting, this.#running]) {
      const i = queue.indexOf(seq);
      if (i >= 0) queue.splice(i, 1);
    }
    return this.#finish(seq, "abort", [], undefined);
  }

  get hasWork(): boolean {
    return this.#live.size > 0;
  }

  stats(): SchedulerStats {
    return {
      running: this.#running.length,
      waiting: this.#waiting.length,
      kvCacheUsage: this.cache.usedBlocks / this.cache.numBlocks,
      preemptions: this.#preemptions,
      prefixCacheQueries: this.#queries,
      prefixCacheHits: this.#hits,
      promptTokens: this.#promptTokens,
      generationTokens: this.#generationTokens,
      steps: this.#steps,
    };
  }

  /** One forward over this step's batch; outputs for the sequences that sampled a token or finished. */
  step(): SequenceOutput[] {
    const outputs: SequenceOutput[] = [];
    const batch = this.#schedule(outputs);
    if (batch.length === 0) return outputs;
    const entries: BatchEntry[] = batch.map(({ seq, count }) => ({
      blocks: seq.blocks,
      tokens: seq.tokens.slice(seq.computed, seq.computed + count),
      start: seq.computed,
      logits: seq.computed + count === seq.tokens.length,
    }));
    const logits = this.forward(...(batchInputs(this.cache, entries) as [Tensor, ...Tensor[]])).values();
    this.#steps++;
    const vocab = logits.length / Math.max(1, entries.filter((e) => e.logits).length);
    let row = 0;
    for (const [i, { seq, count }] of batch.entries()) {
      seq.computed += count;
      if (this.enablePrefixCaching) this.#commitFullBlocks(seq);
      if (!entries[i]!.logits) continue;
      const r = logits.subarray(row * vocab, (row + 1) * vocab);
      row++;
      const token = seq.sampler.sample(r, seq.tokens);
      const logprobs: TokenLogprob[] | undefined = seq.req.logprobs === undefined ? undefined : [tokenLogprob(r, token, seq.req.logprobs)];
      if (seq.tokens.length === seq.promptTokens) this.#promptTokens += seq.promptTokens;
      seq.tokens.push(token);
      this.#generationTokens++;
      const generated = seq.tokens.length - seq.promptTokens;
      const reason: FinishReason | undefined = seq.stops.has(token) ? "stop" : generated >= seq.req.maxTokens ? "length" : undefined;
      if (reason) {
        this.#running.splice(this.#running.indexOf(seq), 1);
        outputs.push(this.#finish(seq, reason, [token], logprobs));
      } else {
        outputs.push(this.#output(seq, [token], logprobs, undefined));
      }
    }
    return outputs;
  }

  /** Picks this step's tokens: decodes, then running prefills, then new admissions, within the budget and the blocks. */
  #schedule(outputs: SequenceOutput[]): Scheduled[] {
    // maxTokens 0: nothing to generate, no forward needed (scanned for only when there is one).
    if (this.#zeroWaiting > 0) {
      for (const seq of this.#waiting.filter((q) => q.req.maxTokens === 0)) {
        this.#waiting.splice(this.#waiting.indexOf(seq), 1);
        outputs.push(this.#finish(seq, "length", [], undefined));
      }
      this.#zeroWaiting = 0;
    }
    const batch: Scheduled[] = [];
    let budget = this.maxNumBatchedTokens;
    let preempted = false;
    /** Reserves blocks for `seq` to hold `tokens` positions, preempting the newest running sequences if needed; false if `seq` itself was. */
    const reserve = (seq: Sequence, tokens: number): boolean => {
      while (this.cache.blocksFor(tokens) - seq.blocks.blocks.length > this.cache.freeBlocks) {
        const victim = this.#running.at(-1)!;
        const j = batch.findIndex((s) => s.seq === victim);
        if (j >= 0) budget += batch.splice(j, 1)[0]!.count;
        this.#preempt(victim);
        preempted = true;
        if (victim === seq) return false;
      }
      this.cache.reserve(seq.blocks, tokens);
      return true;
    };
    // 1. One token for every decoding sequence.
    for (let i = 0; i < this.#running.length && budget > 0; ) {
      const seq = this.#running[i]!;
      if (isDecoding(seq)) {
        if (!reserve(seq, seq.computed + 1)) continue; // it was the newest: preempted
        batch.push({ seq, count: 1 });
        budget--;
      }
      i++;
    }
    // 2. The next chunk of every running sequence still prefilling (FCFS: admission order). One that finds no block
    // for even one token preempts the newest, as a decode does.
    for (let i = 0; i < this.#running.length && budget > 0; ) {
      const seq = this.#running[i]!;
      if (!isDecoding(seq)) {
        const count = Math.max(1, this.#fit(seq, Math.min(seq.tokens.length - seq.computed, budget)));
        if (!reserve(seq, seq.computed + count)) continue;
        batch.push({ seq, count });
        budget -= count;
      }
      i++;
    }
    // 3. Admit waiting sequences while the budget, the sequence cap and the free blocks allow (not in a step that
    // preempted: what was just freed would go straight back).
    while (!preempted && budget > 0 && this.#waiting.length > 0 && this.#running.length < this.maxNumSeqs) {
      const seq = this.#waiting[0]!;
      const cached = this.#sharePrefix(seq);
      // A block of headroom per running sequence: a newcomer that took the last blocks would be preempted by the
      // next decode that crosses a block boundary, its prefill thrown away.
      const count = this.#fit(seq, Math.min(seq.tokens.length - seq.computed, budget), this.#running.length);
      if (count <= 0) {
        if (cached > 0) this.#unshare(seq);
        break;
      }
      if (!seq.admitted) {
        seq.admitted = true;
        seq.cachedTokens = cached;
      }
      if (this.enablePrefixCaching) {
        this.#queries += seq.tokens.length;
        this.#hits += cached;
      }
      this.cache.reserve(seq.blocks, seq.computed + count);
      this.#waiting.shift();
      this.#running.push(seq);
      batch.push({ seq, count });
      budget -= count;
    }
    return batch;
  }

  /** At most `want` tokens, cut to what `seq`'s blocks and the free ones (but `headroom` of them) hold. */
  #fit(seq: Sequence, want: number, headroom = 0): number {
    const room = (seq.blocks.blocks.length + this.cache.freeBlocks - headroom) * this.cache.blockSize - seq.computed;
    return Math.min(want, room);
  }

  /** Prefix caching: `seq` (holding nothing) takes the cached blocks of its longest known prefix; returns their tokens. */
  #sharePrefix(seq: Sequence): number {
    if (!this.enablePrefixCaching || seq.blocks.blocks.length > 0) return 0;
    // At least one token is computed: the last one's logits are what the next token is sampled from.
    const limit = Math.floor((seq.tokens.length - 1) / this.cache.blockSize);
    extendChain(seq.chain, seq.tokens, limit, this.cache.blockSize);
    const blocks = this.cache.sharePrefix(seq.blocks, seq.chain, limit);
    seq.computed = blocks * this.cache.blockSize;
    return seq.computed;
  }

  /** Undoes #sharePrefix of a sequence that could not be admitted after all. */
  #unshare(seq: Sequence): void {
    this.cache.release(seq.blocks);
    seq.computed = 0;
  }

  /** Prefix caching: registers the blocks `seq` has filled with computed K/V. */
  #commitFullBlocks(seq: Sequence): void {
    const full = Math.floor(seq.computed / this.cache.blockSize);
    if (full <= seq.blocks.hashes.length) return;
    extendChain(seq.chain, seq.tokens, full, this.cache.blockSize);
    for (let i = seq.blocks.hashes.length; i < full; i++) this.cache.commitBlock(seq.blocks, seq.chain[i]!);
  }

  /** Preemption by recompute: `seq` gives back its blocks and waits at the front, to prefill its prompt and tokens so far again. */
  #preempt(seq: Sequence): void {
    this.#running.splice(this.#running.indexOf(seq), 1);
    this.cache.release(seq.blocks);
    seq.computed = 0;
    this.#waiting.unshift(seq);
    this.#preemptions++;
  }

  #finish(seq: Sequence, reason: FinishReason, tokens: readonly number[], logprobs: readonly TokenLogprob[] | undefined): SequenceOutput {
    this.cache.release(seq.blocks);
    this.#live.delete(seq.req.id);
    return this.#output(seq, tokens, logprobs, reason);
  }

  #output(seq: Sequence, tokens: readonly number[], logprobs: readonly TokenLogprob[] | undefined, finishReason: FinishReason | undefined): SequenceOutput {
    return {
      id: seq.req.id,
      tokens,
      ...(logprobs ? { logprobs } : {}),
      ...(finishReason ? { finishReason } : {}),
      promptTokens: seq.promptTokens,
      cachedTokens: seq.cachedTokens,
    };
  }
}
