// The functional API users write models with: every function binds one op through the dispatcher.
import { type DType, type Dim, Tensor, isFloat, isSym, parseDType } from "../tensor/index.js";
import { ArgumentError, ShapeError } from "../util/index.js";
import { bind } from "./dispatch.js";
import type { Attrs } from "./op-def.js";
import type { BinaryOp, UnaryOp } from "./op-names.js";
import { normalizeAxis } from "./shape-rules.js";

export type TensorOrScalar = Tensor | number;

function asTensor(fn: string, x: unknown): Tensor {
  if (x instanceof Tensor) return x;
  // A symbolic dim used as a value: coercing it lets the tracer report the user's line.
  if (isSym(x)) Number(x);
  throw new ArgumentError(fn, `expected a Tensor, got ${x === null ? "null" : typeof x}`);
}

/**
 * A plain number next to a tensor becomes a 0-d tensor of that tensor's dtype, except that a
 * fraction next to ints or bools is f32 and an integer next to bools is i32 (torch's scalar rules).
 */
function scalarFor(x: number, like: Tensor): Tensor {
  if (!Number.isInteger(x) && !isFloat(like.dtype)) return full([], x, "f32");
  return full([], x, like.dtype === "bool" ? "i32" : like.dtype);
}

function binary(op: BinaryOp, a: TensorOrScalar, b: TensorOrScalar): Tensor {
  if (isSym(a)) Number(a);
  if (isSym(b)) Number(b);
  if (typeof a === "number" && typeof b === "number") throw new ArgumentError(op, "at least one operand must be a Tensor");
  const ta = typeof a === "number" ? scalarFor(a, b as Tensor) : asTensor(op, a);
  const tb = typeof b === "number" ? scalarFor(b, ta) : asTensor(op, b);
  return bind(op, [ta, tb]);
}
const unary = (op: UnaryOp, x: Tensor, attrs: Attrs = {}): Tensor => bind(op, [asTensor(op, x)], attrs);

// Creation (traced: shapes may be symbolic).
export function full(shape: readonly Dim[], value: number, dtype: DType = "f32"): Tensor {
  return bind("full", [], { shape: [...shape], value, dtype: parseDType(dtype, "full") });
}
export const zeros = (shape: readonly Dim[], dtype: DType = "f32"): Tensor => full(shape, 0, dtype);
export const ones = (shape: readonly Dim[], dtype: DType = "f32"): Tensor => full(shape, 1, dtype);
/** arange(end) or arange(start, end, step); i32 unless a dtype is given or a bound or the step is a fraction (then f32). */
export function arange(startOrEnd: number | Dim, end?: Dim, step = 1, dtype?: DType): Tensor {
  const [start, stop] = end === undefined ? [0, startOrEnd] : [startOrEnd, end];
  const fraction = [start, stop, step].some((v) => typeof v === "number" && !Number.isInteger(v));
  const dt = dtype === undefined ? (fraction ? "f32" : "i32") : parseDType(dtype, "arange");
  return bind("arange", [], { start: start as number, end: stop, step, dtype: dt });
}

// Pointwise.
export const add = (a: TensorOrScalar, b: TensorOrScalar) => binary("add", a, b);
export const sub = (a: TensorOrScalar, b: TensorOrScalar) => binary("sub", a, b);
export const mul = (a: TensorOrScalar, b: TensorOrScalar) => binary("mul", a, b);
export const div = (a: TensorOrScalar, b: TensorOrScalar) => binary("div", a, b);
export const pow = (a: TensorOrScalar, b: TensorOrScalar) => binary("pow", a, b);
export const maximum = (a: TensorOrScalar, b: TensorOrScalar) => binary("maximum", a, b);
export const minimum = (a: TensorOrScalar, b: TensorOrScalar) => binary("minimum", a, b);
export const eq = (a: TensorOrScalar, b: TensorOrScalar) => binary("eq", a, b);
export const ne = (a: TensorOrScalar, b: TensorOrScalar) => binary("ne", a, b);
export const lt = (a: TensorOrScalar, b: TensorOrScalar) => binary("lt", a, b);
export const le = (a: TensorOrScalar, b: TensorOrScalar) => binary("le", a, b);
export const gt = (a: TensorOrScalar, b: TensorOrScalar) => binary("gt", a, b);
export const ge = (a: TensorOrScalar, b: TensorOrScalar) => binary("ge", a, b);
export const logicalAnd = (a: TensorOrScalar, b: TensorOrScalar) => binary("logical_and", a, b);
export const logicalOr = (a: TensorOrScalar, b: TensorOrScalar) => binary("logical_or", a, b);
export const neg = (x: Tensor) => unary("neg", x);
export const abs = (x: Tensor) => unary("abs", x);
export const exp = (x: Tensor) => unary("exp", x);
export const log = (x: Tensor) => unary("log", x);
export const sqrt = (x: Tensor) => unary("sqrt", x);
export const rsqrt = (x: Tensor) => unary("rsqrt", x);
export const sin = (x: Tensor) => unary("sin", x);
export const cos = (x: Tensor) => unary("cos", x);
export const tanh = (x: Tensor) => unary("tanh", x);
export const sigmoid = (x: Tensor) => unary("sigmoid", x);
export const silu = (x: Tensor) => unary("silu", x);
export const gelu = (x: Tensor, approximate: "none" | "tanh" = "none") => unary("gelu", x, { approximate });
export const relu = (x: Tensor) => unary("relu", x);
export const reciprocal = (x: Tensor) => unary("reciprocal", x);
export const logicalNot = (x: Tensor) => unary("logical_not", x);
export const cast = (x: Tensor, dtype: DType) => unary("cast", x, { dtype: parseDType(dtype, "cast") });

export function where(cond: Tensor, a: TensorOrScalar, b: TensorOrScalar): Tensor {
  const like = a instanceof Tensor ? a : b instanceof Tensor ? b : undefined;
  const ta = typeof a === "number" ? (like ? scalarFor(a, like) : full([], a)) : a;
  const tb = typeof b === "number" ? scalarFor(b, ta) : b;
  return bind("where", [asTensor("where", cond), ta, tb]);
}
export const triu = (x: Tensor, k = 0) => bind("triu", [asTensor("triu", x)], { k });
export const tril = (x: Tensor, k = 0) => bind("tril", [asTensor("tril", x)], { k });

// Reductions: `axis` omitted reduces over all elements (to size-1 dims of every axis with keepdim).
function reduceOp(op: "sum" | "max" | "min" | "argmax" | "mean", x: Tensor, axis?: number, keepdim = false): Tensor {
  asTensor(op, x);
  if (axis !== undefined) return bind(op, [x], { axis, keepdim });
  const all = bind(op, [reshape(x, [-1])], { axis: 0, keepdim: false });
  return keepdim ? reshape(all, x.shape.map(() => 1)) : all;
}
export const sum = (x: Tensor, axis?: number, keepdim = false) => reduceOp("sum", x, axis, keepdim);
export const max = (x: Tensor, axis?: number, keepdim = false) => reduceOp("max", x, axis, keepdim);
export const min = (x: Tensor, axis?: number, keepdim = false) => reduceOp("min", x, axis, keepdim);
export const argmax = (x: Tensor, axis?: number, keepdim = false) => reduceOp("argmax", x, axis, keepdim);
export const mean = (x: Tensor, axis?: number, keepdim = false) => reduceOp("mean", x, axis, keepdim);
export const softmax = (x: Tensor, axis = -1) => bind("softmax", [asTensor("softmax", x)], { axis });

// Linear algebra and composites.
export const matmul = (a: Tensor, b: Tensor) => bind("matmul", [asTensor("matmul", a), asTensor("matmul", b)]);
export const linear = (x: Tensor, w: Tensor, b?: Tensor) =>
  bind("linear", [asTensor("linear", x), asTensor("linear", w), ...(b === undefined ? [] : [asTensor("linear", b)])]);
export const embedding = (ids: Tensor, weight: Tensor) => bind("embedding", [asTensor("embedding", ids), asTensor("embedding", weight)]);
export const rmsNorm = (x: Tensor, weight: Tensor, eps = 1e-6) => bind("rms_norm", [asTensor("rms_norm", x), asTensor("rms_norm", weight)], { eps });
export const rotary = (x: Tensor, cosT: Tensor, sinT: Tensor) =>
  bind("rotary", [asTensor("rotary", x), asTensor("rotary", cosT), asTensor("rotary", sinT)]);

// Movement.
export const reshape = (x: Tensor, shape: readonly Dim[]) => bind("reshape", [asTensor("reshape", x)], { shape: [...shape] });
export const view = reshape;
export const permute = (x: Tensor, perm: readonly number[]) => bind("permute", [asTensor("permute", x)], { perm: [...perm] });
export function transpose(x: Tensor, a = -2, b = -1): Tensor {
  const r = asTensor("transpose", x).rank;
  const perm = Array.from({ length: r }, (_, i) => i);
  const [i, j] = [a < 0 ? a + r : a, b < 0 ? b + r : b];
  if (perm[i] === undefined || perm[j] === undefined) throw new ArgumentError("transpose", `axes ${a}, ${b} out of range for rank ${r}`);
  [perm[i], perm[j]] = [perm[j]!, perm[i]!];
  return permute(x, perm);
}
export const expand = (x: Tensor, shape: readonly Dim[]) => bind("expand", [asTensor("expand", x)], { shape: [...shape] });
export const slice = (x: Tensor, axis: number, start: Dim | null = 0, end: Dim | null = null, step = 1) =>
  bind("slice", [asTensor("slice", x)], { axis, start, end, step });
function tensorList(fn: string, xs: readonly Tensor[]): Tensor[] {
  if (!Array.isArray(xs)) throw new ArgumentError(fn, `expected an array of Tensors, got ${xs === null ? "null" : typeof xs}`);
  return xs.map((x) => asTensor(fn, x));
}
export const cat = (xs: readonly Tensor[], axis = 0) => bind("cat", tensorList("cat", xs), { axis });
export const stack = (xs: readonly Tensor[], axis = 0) => bind("stack", tensorList("stack", xs), { axis });
export function unsqueeze(x: Tensor, axis: number): Tensor {
  const a = normalizeAxis("unsqueeze", axis, asTensor("unsqueeze", x).rank + 1);
  return reshape(x, [...x.shape.slice(0, a), 1, ...x.shape.slice(a)]);
}
export function squeeze(x: Tensor, axis: number): Tensor {
  const a = normalizeAxis("squeeze", axis, asTensor("squeeze", x).rank);
  if (x.shape[a] !== 1) throw new ShapeError("squeeze", `size 1 on axis ${axis}`, x.shape);
  return reshape(x, x.shape.filter((_, i) => i !== a));
}
export const gather = (x: Tensor, axis: number, index: Tensor) => bind("gather", [asTensor("gather", x), asTensor("gather", index)], { axis });
export const indexSelect = (x: Tensor, axis: number, index: Tensor) =>
  bind("index_select", [asTensor("index_select", x), asTensor("index_select", index)], { axis });

// Paged KV cache (src/ops/kv-cache.ts).
/** Writes values [s, ...row] into cache rows `slots` [s] (i32) in place; returns the cache, to read it after the write. */
export const kvStore = (cache: Tensor, values: Tensor, slots: Tensor) =>
  bind("kv_store", [asTensor("kv_store", cache), asTensor("kv_store", values), asTensor("kv_store", slots)]);
/** Causal attention of q [s, nh, d] over each token's sequence in a paged cache; see OPS.paged_attention. */
export const pagedAttention = (q: Tensor, kCache: Tensor, vCache: Tensor, blockTable: Tensor, seqIds: Tensor, positions: Tensor, scale: number) =>
  bind("paged_attention", [q, kCache, vCache, blockTable, seqIds, positions].map((t) => asTensor("paged_attention", t)), { scale });
