// The contract between the continuous-batching scheduler (src/engine/scheduler.ts) and whoever feeds it requests
// (src/server/): one sequence in, its tokens out step by step.
import type { SamplingParams } from "./sampler.js";

/** One sequence to generate (an OpenAI request with n = 3 is three of these, seeds seed, seed+1, seed+2). */
export interface SequenceRequest {
  /** Unique among the scheduler's live sequences. */
  readonly id: string;
  readonly promptIds: readonly number[];
  /** New tokens at most (the prompt plus these must fit the context). */
  readonly maxTokens: number;
  readonly sampling: SamplingParams;
  /** Generation ends when one of these is sampled (it is reported, with finishReason "stop"); default the model's EOS ids. */
  readonly stopIds?: readonly number[];
  /** Ignore the EOS ids (stopIds still apply when given). */
  readonly ignoreEos?: boolean;
  /** Report each sampled token's log-probability and this many top alternatives (0–20); undefined reports none. */
  readonly logprobs?: number;
}

/** A sampled token's log-probability (under the distribution it was sampled from, before sampling filters) and the top ones. */
export interface TokenLogprob {
  readonly token: number;
  readonly logprob: number;
  readonly top: readonly { readonly token: number; readonly logprob: number }[];
}

export type FinishReason = "stop" | "length" | "abort";

/** What one scheduler step produced for one sequence. */
export interface SequenceOutput {
  readonly id: string;
  /** Tokens sampled this step (one, or none while the prompt is still being prefilled in chunks). */
  readonly tokens: readonly number[];
  readonly logprobs?: readonly TokenLogprob[];
  /** Set on the sequence's last output; the scheduler has forgotten it afterwards. */
  readonly finishReason?: FinishReason;
  readonly promptTokens: number;
  /** Prompt tokens whose K/V came from the prefix cache instead of a forward. */
  readonly cachedTokens: number;
}

/** The scheduler's gauges and counters (Prometheus `kiln:` metrics are made from these). */
export interface SchedulerStats {
  readonly running: number;
  readonly waiting: number;
  /** Blocks in use / blocks in the pool, 0–1. */
  readonly kvCacheUsage: number;
  readonly preemptions: number;
  /** Prompt tokens looked up in the prefix cache, and those found (vLLM's prefix_cache_queries / _hits). */
  readonly prefixCacheQueries: number;
  readonly prefixCacheHits: number;
  readonly promptTokens: number;
  readonly generationTokens: number;
  readonly steps: number;
}
