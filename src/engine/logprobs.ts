// Log-probabilities of a sampled token and the most likely alternatives: log-softmax of the raw
// logits row in float64 (before temperature and sampling filters, as vLLM reports by default).
import type { TokenLogprob } from "./sequence-request.js";

/** The most logprobs a request may ask for (OpenAI's top_logprobs bound). */
export const MAX_LOGPROBS = 20;

/** `token`'s log-probability under softmax(row) and the `top` most likely tokens (highest first, lower id first on ties). */
export function tokenLogprob(row: ArrayLike<number>, token: number, top: number): TokenLogprob {
  let max = -Infinity;
  for (let i = 0; i < row.length; i++) if (row[i]! > max) max = row[i]!;
  let sum = 0;
  for (let i = 0; i < row.length; i++) sum += Math.exp(row[i]! - max);
  const lse = max + Math.log(sum);
  // The top N by one pass keeping a sorted list of N: O(vocab · N) at worst, N ≤ 20, no sort of the vocabulary.
  const best: number[] = [];
  for (let i = 0; i < row.length && top > 0; i++) {
    const v = row[i]!;
    if (best.length === top && !(v > row[best[top - 1]!]!)) continue;
    let j = best.length < top ? best.length : top - 1;
    while (j > 0 && v > row[best[j - 1]!]!) j--;
    best.splice(j, 0, i);
    if (best.length > top) best.length = top;
  }
  return { token, logprob: row[token]! - lse, top: best.map((t) => ({ token: t, logprob: row[t]! - lse })) };
}
