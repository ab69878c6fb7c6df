// The paged KV cache ops (vLLM's layout): a cache is [numBlocks, blockSize, ...row]; a token's
// K or V row lives at slot = block * blockSize + offset, and each sequence owns a row of a block
// table listing its blocks in order.
//
// kv_store writes rows into a cache in place — the one mutating op: it returns its cache operand
// (now updated), so every reader ordered after the store reads through its result. Graphs keep
// it whole (dce never drops it, cse never merges it) and the code generator writes into the
// cache's own buffer. paged_attention is causal attention of query tokens over their sequence's
// cached positions; its decomposition into primitive ops is the reference the kernels match.
import { type Dim, type Tensor, type TensorType, dimEq, dimMul, encodeValues, isSym } from "../tensor/index.js";
import { DTypeError, ShapeError } from "../util/index.js";
import type { OpCaller, OpDef } from "./op-def.js";
import { requireDType } from "./shape-rules.js";

const INDEX = ["i32"] as const;
/** The dtypes a paged cache can hold (attention reads bf16 rows widened to f32; kv_store rounds f32 rows into bf16). */
const CACHE_DTYPES = ["f32", "bf16"] as const;

function requireVector(op: string, what: string, t: TensorType, length: TensorType["shape"][number]): void {
  requireDType(op, t, INDEX, what);
  if (t.shape.length !== 1 || !dimEq(t.shape[0]!, length)) throw new ShapeError(`${op} ${what}`, `[${String(length)}]`, t.shape);
}

function requireCache(op: string, what: string, cache: TensorType): void {
  if (cache.shape.length < 3) throw new ShapeError(`${op} ${what}`, "[numBlocks, blockSize, ...row]", cache.shape);
  if (typeof cache.shape[1] !== "number") throw new ShapeError(`${op} ${what}`, "a static block size (dim 1)", cache.shape);
}

/** kv_store(cache [nb, bs, ...row], values [s, ...row], slots [s] i32): cache with row slots[t] = values[t]. */
export const kvStore: OpDef = {
  name: "kv_store",
  category: "index",
  arity: 3,
  attrs: {},
  mutates: 0,
  infer([cache, values, slots]) {
    requireCache("kv_store", "cache", cache!);
    const row = cache!.shape.slice(2);
    const s = values!.shape[0];
    if (values!.shape.length !== row.length + 1 || !row.every((d, i) => dimEq(d, values!.shape[i + 1]!))) {
      throw new ShapeError("kv_store values", `[tokens, ${row.map(String).join(", ")}]`, values!.shape);
    }
    requireVector("kv_store", "slots", slots!, s!);
    if (values!.dtype !== cache!.dtype && !(cache!.dtype === "bf16" && values!.dtype === "f32")) {
      throw new DTypeError("kv_store values", cache!.dtype, values!.dtype);
    }
    return { dtype: cache!.dtype, shape: cache!.shape };
  },
  ref([cache, values, slots]) {
    if (!cache!.isContiguous() || cache!.offset !== 0) throw new ShapeError("kv_store cache", "a contiguous tensor (it is written in place)", cache!.shape);
    const rowSize = cache!.dims.slice(2).reduce((a, b) => a * b, 1);
    const slotCount = cache!.dims[0]! * cache!.dims[1]!;
    const rows = encodeValues(cache!.dtype, values!.values());
    const ids = slots!.values();
    const storage = cache!.storage as unknown as { set(a: ArrayLike<number>, at: number): void };
    for (let t = 0; t < ids.length; t++) {
      const slot = ids[t]!;
      if (!(slot >= 0 && slot < slotCount)) throw new ShapeError("kv_store slots", `slots in [0, ${slotCount})`, slot);
      storage.set((rows as unknown as Float32Array).subarray(t * rowSize, (t + 1) * rowSize), slot * rowSize);
    }
    return cache!;
  },
};

/**
 * paged_attention(q [s, nh, d], kcache, vcache [nb, bs, nkv, d] (f32, or both bf16), blockTable [nseq, maxBlocks] i32,
 * seqIds [s] i32, positions [s] i32; scale): query token t of sequence seqIds[t] at position
 * positions[t] attends its sequence's positions 0..positions[t] → [s, nh, d] f32. GQA: head h
 * reads kv head h / (nh / nkv). Unused block-table entries must still name a valid block.
 */
export const pagedAttention: OpDef = {
  name: "paged_attention",
  category: "composite",
  arity: 6,
  keepWhole: true,
  attrs: { scale: "number" },
  infer([q, k, v, table, seqIds, positions], attrs) {
    if (q!.shape.length !== 3) throw new ShapeError("paged_attention q", "[tokens, heads, headDim]", q!.shape);
    requireDType("paged_attention", q!, ["f32"], "q");
    const [s, nh, d] = q!.shape as [TensorType["shape"][number], TensorType["shape"][number], TensorType["shape"][number]];
    for (const [what, c] of [["kcache", k!], ["vcache", v!]] as const) {
      requireCache("paged_attention", what, c);
      requireDType("paged_attention", c, CACHE_DTYPES, what);
      if (c.shape.length !== 4 || !dimEq(c.shape[3]!, d)) throw new ShapeError(`paged_attention ${what}`, `[numBlocks, blockSize, kvHeads, ${String(d)}]`, c.shape);
    }
    if (v!.dtype !== k!.dtype) throw new DTypeError("paged_attention vcache", k!.dtype, v!.dtype);
    if (!k!.shape.every((x, i) => dimEq(x, v!.shape[i]!))) throw new ShapeError("paged_attention vcache", `the kcache's shape [${k!.shape.map(String)}]`, v!.shape);
    const nkv = k!.shape[2]!;
    if (isSym(d)) throw new ShapeError("paged_attention q", "a static head dim", q!.shape);
    if (isSym(nh) || isSym(nkv) || nh % nkv !== 0) throw new ShapeError("paged_attention", `static heads divisible by kv heads ${String(nkv)}`, q!.shape);
    requireDType("paged_attention", table!, INDEX, "blockTable");
    if (table!.shape.length !== 2) throw new ShapeError("paged_attention blockTable", "[sequences, maxBlocks]", table!.shape);
    requireVector("paged_attention", "seqIds", seqIds!, s);
    requireVector("paged_attention", "positions", positions!, s);
    if (typeof attrs.scale !== "number" || !Number.isFinite(attrs.scale)) throw new ShapeError("paged_attention", "a numeric scale", String(attrs.scale));
    return { dtype: "f32", shape: q!.shape };
  },
  decompose([q, k, v, table, seqIds, positions], attrs, call) {
    return pagedAttentionReference(call, q!, k!, v!, table!, seqIds!, positions!, attrs.scale as number);
  },
};

/** The definition in primitive ops: gather every query's context rows, mask j > position, softmax, weigh V. */
function pagedAttentionReference(call: OpCaller, q: Tensor, k: Tensor, v: Tensor, table: Tensor, seqIds: Tensor, positions: Tensor, scale: number): Tensor {
  const [s, nh, d] = q.shape as [Dim, number, Dim];
  const [, bs, nkv] = k.shape as [Dim, number, number];
  const maxBlocks = table.shape[1]!;
  const ctx = dimMul(maxBlocks, bs);
  const scalar = (value: number, dtype: string) => call("full", [], { shape: [], value, dtype });
  // slot of (query t, context position j = b*bs + o) = table[seqIds[t], b] * bs + o → [s * ctx]
  const base = call("mul", [call("index_select", [table, seqIds], { axis: 0 }), scalar(bs, "i32")]);
  const offsets = call("reshape", [call("arange", [], { start: 0, end: bs, step: 1, dtype: "i32" })], { shape: [1, 1, bs] });
  const slots = call("reshape", [call("add", [call("reshape", [base], { shape: [s, maxBlocks, 1] }), offsets])], { shape: [dimMul(s, ctx)] });
  const gatherRows = (cache: Tensor): Tensor => {
    const flat = call("reshape", [cache], { shape: [-1, nkv, d] });
    const rows = call("index_select", [flat, slots], { axis: 0 });
    const picked = call("reshape", [cache.dtype === "f32" ? rows : call("cast", [rows], { dtype: "f32" })], { shape: [s, ctx, nkv, 1, d] });
    // GQA: each kv head serves nh / nkv query heads → [s, ctx, nh, d]
    return call("reshape", [call("expand", [picked], { shape: [s, ctx, nkv, nh / nkv, d] })], { shape: [s, ctx, nh, d] });
  };
  const scores = call("mul", [
    call("matmul", [call("reshape", [q], { shape: [s, nh, 1, d] }), call("permute", [gatherRows(k)], { perm: [0, 2, 3, 1] })]),
    scalar(scale, "f32"),
  ]); // [s, nh, 1, ctx]
  const j = call("reshape", [call("arange", [], { start: 0, end: ctx, step: 1, dtype: "i32" })], { shape: [1, ctx] });
  const visible = call("le", [j, call("reshape", [positions], { shape: [s, 1] })]); // [s, ctx]
  const masked = call("where", [call("reshape", [visible], { shape: [s, 1, 1, ctx] }), scores, scalar(-Infinity, "f32")]);
  const out = call("matmul", [call("softmax", [masked], { axis: -1 }), call("permute", [gatherRows(v)], { perm: [0, 2, 1, 3] })]);
  return call("reshape", [out], { shape: [s, nh, d] }); // [s, nh, 1, d] → [s, nh, d]
}
