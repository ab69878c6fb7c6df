// Paged causal attention for the JS backend (the template the emitted code calls): per query
// token and head, one pass over its context with an online softmax, accumulated in float64.
// OPS.paged_attention's decomposition is the reference it is tested against.
import { bf16ToF32 } from "../tensor/index.js";

type Cache = Float32Array | Uint16Array;

export function pagedAttention(
  S: number, NH: number, NKV: number, D: number, BS: number, maxBlocks: number,
  q: Float32Array, kcache: Cache, vcache: Cache, blockTable: Int32Array, seqIds: Int32Array, positions: Int32Array,
  scale: number, out: Float32Array,
): void {
  const read = kcache instanceof Uint16Array ? (c: Cache, i: number) => bf16ToF32(c[i]!) : (c: Cache, i: number) => c[i]!;
  const rep = NH / NKV;
  const rowSize = NKV * D;
  const acc = new Float64Array(D);
  for (let t = 0; t < S; t++) {
    const table = seqIds[t]! * maxBlocks;
    const last = positions[t]!;
    for (let h = 0; h < NH; h++) {
      const qo = (t * NH + h) * D;
      const kvo = Math.floor(h / rep) * D;
      let max = -Infinity;
      let sum = 0;
      acc.fill(0);
      for (let j = 0; j <= last; j++) {
        const row = (blockTable[table + Math.floor(j / BS)]! * BS + (j % BS)) * rowSize + kvo;
        let dot = 0;
        for (let e = 0; e < D; e++) dot += q[qo + e]! * read(kcache, row + e);
        const score = dot * scale;
        // Online softmax: rescale what was accumulated when the running max grows.
        const m = Math.max(max, score);
        const correction = Math.exp(max - m);
        const w = Math.exp(score - m);
        sum = sum * correction + w;
        for (let e = 0; e < D; e++) acc[e] = acc[e]! * correction + w * read(vcache, row + e);
        max = m;
      }
      for (let e = 0; e < D; e++) out[qo + e] = acc[e]! / sum;
    }
  }
}
