// Token generation over a compiled causal LM. This first version re-runs the whole sequence each
// step (one compile serves every length through the dynamic token dim); the paged KV cache replaces it.
import { type Tensor, tensor } from "../tensor/index.js";
import { ArgumentError } from "../util/index.js";
import { Sampler, type SamplingParams } from "./sampler.js";

export interface GenerateParams extends SamplingParams {
  readonly maxTokens: number;
  /** Stop when one of these ids is generated (it is kept in the output). */
  readonly stopIds?: readonly number[];
  /** Ends a sequence (reason "stop") when it returns true for the tokens generated so far (stop strings, say). */
  readonly stopWhen?: (generatedIds: readonly number[]) => boolean;
  /** The model's context length: prompt + maxTokens may not exceed it. */
  readonly maxContext?: number;
}

export interface Generation {
  readonly promptIds: readonly number[];
  /** The new tokens only. */
  readonly generatedIds: readonly number[];
  readonly finishReason: "length" | "stop";
  /** `first_token_at_ms`: when the first token was sampled, in ms since the process started (performance.now()). */
  readonly timings: { readonly prefill_ms: number; readonly decode_ms: number; readonly first_token_at_ms?: number };
}

/** `forward(ids [s] i32) → logits [s, vocab] f32`, e.g. a compiled CausalLM. */
export type LogitsFn = (ids: Tensor) => Tensor;

export function generate(forward: LogitsFn, promptIds: readonly number[], params: GenerateParams): Generation {
  if (promptIds.length === 0) throw new ArgumentError("generate", "the prompt has no tokens");
  if (!Number.isInteger(params.maxTokens) || params.maxTokens < 0) throw new ArgumentError("generate", `maxTokens must be a non-negative integer, got ${params.maxTokens}`);
  if (params.maxContext !== undefined && promptIds.length + params.maxTokens > params.maxContext) {
    throw new ArgumentError("generate", `prompt (${promptIds.length} tokens) + maxTokens (${params.maxTokens}) exceeds the context of ${params.maxContext}; nothing was truncated`);
  }
  const sampler = new Sampler(params);
  const ids = [...promptIds];
  const stops = new Set(params.stopIds ?? []);
  let prefillMs = 0;
  const t0 = performance.now();
  let finishReason: Generation["finishReason"] = "length";
  for (let step = 0; step < params.maxTokens; step++) {
    const logits = forward(tensor(ids, { dtype: "i32" })).values();
    if (step === 0) prefillMs = performance.now() - t0;
    const vocab = logits.length / ids.length;
    const next = sampler.sample(logits.subarray((ids.length - 1) * vocab, ids.length * vocab), ids);
    ids.push(next);
    if (stops.has(next)) {
      finishReason = "stop";
      break;
    }
  }
  return {
    promptIds: [...promptIds],
    generatedIds: ids.slice(promptIds.length),
    finishReason,
    timings: { prefill_ms: prefillMs, decode_ms: performance.now() - t0 - prefillMs },
  };
}
