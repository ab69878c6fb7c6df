// Token sampling from logits: greedy, temperature, top-k, top-p, min-p, repetition penalty, seeded.
import { mulberry32 } from "../tensor/index.js";
import { ArgumentError } from "../util/index.js";

export interface SamplingParams {
  /** 0 (default) is greedy. */
  readonly temperature?: number;
  /** Keep only the k most likely tokens; 0 or undefined keeps all. */
  readonly topK?: number;
  /** Keep the smallest set of tokens whose probability reaches p; 1 keeps all. */
  readonly topP?: number;
  /** Drop tokens whose probability is below minP × the most likely token's (vLLM's min_p); 0 or undefined keeps all. */
  readonly minP?: number;
  /** > 1 discourages tokens already in the context (CTRL-style, as in HF transformers). */
  readonly repetitionPenalty?: number;
  /** Seed of this sequence's random stream: the same seed gives the same tokens. */
  readonly seed?: number;
}

export function validateSampling(p: SamplingParams): void {
  const bad = (what: string) => {
    throw new ArgumentError("sampling", what);
  };
  if (p.temperature !== undefined && !(Number.isFinite(p.temperature) && p.temperature >= 0)) bad(`temperature must be a finite number >= 0, got ${p.temperature}`);
  if (p.topK !== undefined && !(Number.isInteger(p.topK) && p.topK >= 0)) bad(`topK must be a non-negative integer, got ${p.topK}`);
  if (p.topP !== undefined && !(p.topP > 0 && p.topP <= 1)) bad(`topP must be in (0, 1], got ${p.topP}`);
  if (p.minP !== undefined && !(p.minP >= 0 && p.minP <= 1)) bad(`minP must be in [0, 1], got ${p.minP}`);
  if (p.repetitionPenalty !== undefined && !(Number.isFinite(p.repetitionPenalty) && p.repetitionPenalty > 0)) bad(`repetitionPenalty must be a finite number > 0, got ${p.repetitionPenalty}`);
}

/** Index of the largest value; the first one on ties (as torch.argmax). */
export function argmaxOf(logits: ArrayLike<number>): number {
  let best = 0;
  let bestValue = logits[0]!;
  for (let i = 1; i < logits.length; i++) {
    const v = logits[i]!;
    if (v > bestValue) {
      best = i;
      bestValue = v;
    }
  }
  return best;
}

/** A per-sequence sampler holding its own random stream. */
export class Sampler {
  readonly #params: SamplingParams;
  readonly #rand: () => number;

  constructor(params: SamplingParams = {}) {
    validateSampling(params);
    this.#params = params;
    this.#rand = mulberry32(params.seed ?? 0);
  }

  /** Picks the next token from one row of logits; `context` holds the tokens seen so far. */
  sample(logitsRow: ArrayLike<number>, context: readonly number[] = []): number {
    const { temperature = 0, topK = 0, topP = 1, minP = 0, repetitionPenalty = 1 } = this.#params;
    // Greedy decoding reads the row as it is: no copy of a vocabulary's worth of logits per token.
    if (temperature === 0 && repetitionPenalty === 1) return argmaxOf(logitsRow);
    const logits = Float64Array.from(logitsRow);
    if (repetitionPenalty !== 1) {
      for (const t of new Set(context)) {
        if (t < 0 || t >= logits.length) continue;
        logits[t] = logits[t]! > 0 ? logits[t]! / repetitionPenalty : logits[t]! * repetitionPenalty;
      }
    }
    if (temperature === 0) return argmaxOf(logits);
    // Candidates sorted by logit (stable: lower id first on ties), cut by top-k.
    let order = Array.from(logits.keys()).sort((a, b) => logits[b]! - logits[a]! || a - b);
    if (topK > 0 && topK < order.length) order = order.slice(0, topK);
    const maxLogit = logits[order[0]!]!;
    let weights = order.map((i) => Math.exp((logits[i]! - maxLogit) / temperature));
    // A weight is the token's probability over the top one's (the top weighs 1): min-p keeps a prefix of the order,
    // as top-k does, so the two commute; top-p then works on what is left (vLLM's order).
    if (minP > 0) {
      const keepMin = weights.findIndex((w) => w < minP);
      if (keepMin > 0) weights = weights.slice(0, keepMin);
    }
    const total = weights.reduce((a, b) => a + b, 0);
    let keep = weights.length;
    if (topP < 1) {
      let acc = 0;
      for (let j = 0; j < weights.length; j++) {
        acc += weights[j]! / total;
        if (acc >= topP) {
          keep = j + 1;
          break;
        }
      }
    }
    const kept = weights.slice(0, keep).reduce((a, b) => a + b, 0);
    let r = this.#rand() * kept;
    for (let j = 0; j < keep; j++) {
      r -= weights[j]!;
      if (r < 0) return order[j]!;
    }
    return order[keep - 1]!;
  }
}
