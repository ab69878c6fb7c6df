// Prefix caching's block identity (vLLM's): a full block of tokens is named by a hash chain,
// H(parent block's hash, this block's token ids), so equal hashes mean equal whole prefixes, not
// just equal blocks. SHA-256: collisions are not a practical concern (vLLM's advice for shared
// deployments), and at ~1 µs a block it is noise beside the forward.
import { createHash } from "node:crypto";

/** The chain value of the block `tokens[from, from + blockSize)` after the block whose value is `parent` (undefined: the first). */
export function blockHash(parent: string | undefined, tokens: readonly number[], from: number, blockSize: number): string {
  const ids = new Int32Array(blockSize);
  for (let i = 0; i < blockSize; i++) ids[i] = tokens[from + i]!;
  const h = createHash("sha256");
  if (parent !== undefined) h.update(parent, "base64");
  return h.update(ids).digest("base64");
}

/** Extends `chain` (the values of tokens' first chain.length blocks) to the first `blocks` full blocks of `tokens`. */
export function extendChain(chain: string[], tokens: readonly number[], blocks: number, blockSize: number): void {
  for (let i = chain.length; i < blocks && (i + 1) * blockSize <= tokens.length; i++) chain.push(blockHash(chain[i - 1], tokens, i * blockSize, blockSize));
}
