// A native entry that runs kiln_paged_attention_f32 / _bf16kv, for the attention tests and bench/native.ts.
import type { NativeEntry } from "../../src/backend/native/index.js";

/** bufs: q f32, kcache, vcache (f32 or bf16 words), block_table i32, q_seq i32, q_pos i32, scale f32[1], out f32;
    syms: bf16 cache?, S, NH, NKV, D, BS, max_blocks. */
export const ATTENTION_ENTRY_C = String.raw`
static void kiln_attention_entry(void** bufs, const int64_t* syms) {
  const float scale = ((const float*)bufs[6])[0];
  if (syms[0]) kiln_paged_attention_bf16kv(syms[1], syms[2], syms[3], syms[4], syms[5], syms[6], (const float*)bufs[0],
      (const uint16_t*)bufs[1], (const uint16_t*)bufs[2], (const int32_t*)bufs[3], (const int32_t*)bufs[4],
      (const int32_t*)bufs[5], scale, (float*)bufs[7]);
  else kiln_paged_attention_f32(syms[1], syms[2], syms[3], syms[4], syms[5], syms[6], (const float*)bufs[0],
      (const float*)bufs[1], (const float*)bufs[2], (const int32_t*)bufs[3], (const int32_t*)bufs[4],
      (const int32_t*)bufs[5], scale, (float*)bufs[7]);
}
`;

export const ATTENTION_ENTRY: NativeEntry = { name: "attention", symbol: "kiln_attention_entry", buffers: 8, symbols: 7 };

/** One call's shapes and inputs. kcache/vcache: [num_blocks, BS, NKV, D], as f32 or as bf16 words. */
export interface AttentionCall {
  readonly S: number;
  readonly NH: number;
  readonly NKV: number;
  readonly D: number;
  readonly BS: number;
  readonly maxBlocks: number;
  readonly q: Float32Array;
  readonly kcache: Float32Array | Uint16Array;
  readonly vcache: Float32Array | Uint16Array;
  readonly blockTable: Int32Array;
  readonly qSeq: Int32Array;
  readonly qPos: Int32Array;
  readonly scale: number;
}

/** The buffers and symbols of the entry for one call, writing into out ([S, NH, D]). */
export function attentionArgs(c: AttentionCall, out: Float32Array): [ArrayBufferView[], BigInt64Array] {
  const bf16 = c.kcache instanceof Uint16Array;
  return [
    [c.q, c.kcache, c.vcache, c.blockTable, c.qSeq, c.qPos, Float32Array.of(c.scale), out],
    BigInt64Array.from([bf16 ? 1 : 0, c.S, c.NH, c.NKV, c.D, c.BS, c.maxBlocks].map(BigInt)),
  ];
}
