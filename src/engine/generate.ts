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
  /** `decode_native_ms`: of decode_ms, the time inside native code (the rest is the host's: JS, sampling). */
  readonly timings: { readonly prefill_ms: number; readonly decode_ms: number; readonly decode_native_ms?: number; readonly first_token_at_ms?: number };
}

/** `forward(ids [s] i32) → logits [s, vocab] f32`, e.g. a compiled CausalLM. */
export type LogitsFn = (ids: Tensor) => Tensor;

/**
 * The checks every generation makes before any forward: maxTokens, and each prompt (named `which`
 * in messages) non-empty, within the vocabulary when given, and fitting the context with maxTokens.
 */
export function checkRequest(prompts: readonly (readonly number[])[], params: GenerateParams, limits: { vocabSize?: number; maxContext?: number }): void {
  if (!Number.isInteger(params.maxTokens) || params.maxTokens < 0) throw new ArgumentError("generate", `maxTokens must be a non-negative integer, got ${params.maxTokens}`);
  prompts.forEach((p, i) => {
    const which = prompts.length > 1 ? `prompt ${i}` : "the prompt";
    if (p.length === 0) throw new ArgumentError("generate", `${which} has no tokens`);
    const { vocabSize, maxContext } = limits;
    const bad = vocabSize === undefined ? undefined : p.find((t) => !(Number.isInteger(t) && t >= 0 && t < vocabSize));
    if (bad !== undefined) throw new ArgumentError("generate", `${which} has token id ${bad}, outside the vocabulary [0, ${vocabSize})`);
    if (maxContext !== undefined && p.length + params.maxTokens > maxContext) {
      throw new ArgumentError("generate", `${which} (${p.length} tokens) + maxTokens (${params.maxTokens}) exceeds the context of ${maxContext}; nothing was truncated`);
    }
  });
}

export function generate(forward: LogitsFn, promptIds: readonly number[], params: GenerateParams): Generation {
  checkRequest([promptIds], params, { maxContext: params.maxContext });
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
