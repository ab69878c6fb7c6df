// The op cases every backend is checked on: each op (composites too) at odd sizes, with
// broadcast and strided operands and a dynamic leading dim. Keyed by OpName: none is missed.
import * as k from "../../src/index.js";
import { type OpName, type Tensor, randn, tensor } from "../../src/index.js";

type Fn = (...xs: Tensor[]) => Tensor;
export interface Case {
  readonly fn: Fn;
  /** Argument factories by size n. */
  readonly args: (n: number) => Tensor[];
  readonly dynamic?: boolean;
  /** Which arguments share the dynamic leading dim (default: argument 0 only). */
  readonly dynamicArgs?: readonly number[];
  /** Dims of those arguments that are dynamic (default: [0]). */
  readonly dynamicDims?: readonly number[];
}

const r = (shape: number[], seed = 1) => randn(shape, { seed });
const pos = (shape: number[], seed = 1) => k.add(k.abs(r(shape, seed)), 0.5);
const ids = (n: number, vocab: number) => tensor(Array.from({ length: n }, (_, i) => (i * 7) % vocab), { dtype: "i32" });
const strided = (n: number) => k.transpose(r([5, n], 3)); // [n, 5], non-contiguous
const unary = (f: (x: Tensor) => Tensor, positive = false): Case => ({ fn: (x) => f(k.mul(x, 1.5)), args: (n) => [positive ? pos([n, 5]) : strided(n)], dynamic: true });
const binary = (f: (a: Tensor, b: Tensor) => Tensor): Case => ({ fn: f, args: (n) => [strided(n), r([5], 2)], dynamic: true });

export const CASES: Record<Exclude<OpName, "input">, Case> = {
  constant: { fn: (x) => k.add(x, tensor([1, 2, 3, 4, 5])), args: (n) => [r([n, 5])], dynamic: true },
  full: { fn: (x) => k.add(x, k.full([x.shape[0]!, 5], 2)), args: (n) => [r([n, 5])], dynamic: true },
  arange: { fn: (x) => k.add(x, k.cast(k.arange(x.shape[0]!), "f32")), args: (n) => [r([n])], dynamic: true },
  neg: unary(k.neg), abs: unary(k.abs), exp: unary(k.exp), log: unary(k.log, true), sqrt: unary(k.sqrt, true),
  rsqrt: unary(k.rsqrt, true), sin: unary(k.sin), cos: unary(k.cos), tanh: unary(k.tanh), sigmoid: unary(k.sigmoid),
  silu: unary(k.silu), gelu: unary((x) => k.add(k.gelu(x), k.gelu(x, "tanh"))), relu: unary(k.relu), reciprocal: unary(k.reciprocal, true),
  logical_not: unary((x) => k.cast(k.logicalNot(k.gt(x, 0)), "f32")),
  cast: unary((x) => k.add(k.cast(k.cast(x, "bf16"), "f32"), k.cast(k.cast(k.mul(x, 3), "i32"), "f32"))),
  add: binary(k.add), sub: binary(k.sub), mul: binary(k.mul), div: binary(k.div), pow: { fn: k.pow, args: (n) => [pos([n, 5]), r([5], 2)], dynamic: true },
  maximum: binary(k.maximum), minimum: binary(k.minimum),
  eq: binary((a, b) => k.cast(k.eq(k.gt(a, 0), k.gt(b, 0)), "f32")), ne: binary((a, b) => k.cast(k.ne(k.gt(a, 0), k.gt(b, 0)), "f32")),
  lt: binary((a, b) => k.cast(k.lt(a, b), "f32")), le: binary((a, b) => k.cast(k.le(a, b), "f32")),
  gt: binary((a, b) => k.cast(k.gt(a, b), "f32")), ge: binary((a, b) => k.cast(k.ge(a, b), "f32")),
  logical_and: binary((a, b) => k.cast(k.logicalAnd(k.gt(a, 0), k.gt(b, 0)), "f32")),
  logical_or: binary((a, b) => k.cast(k.logicalOr(k.gt(a, 0), k.gt(b, 0)), "f32")),
  where: binary((a, b) => k.where(k.gt(a, 0), a, b)),
  triu: { fn: (x) => k.triu(x, 1), args: (n) => [r([n, n])], dynamic: true, dynamicDims: [0, 1] },
  tril: { fn: (x) => k.tril(x, -1), args: (n) => [r([n, 3])], dynamic: true },
  sum: { fn: (x) => k.add(k.sum(x, -1, true), k.sum(x, 0, true)), args: (n) => [strided(n)], dynamic: true },
  max: { fn: (x) => k.add(k.max(x, -1, true), k.max(x, 0)), args: (n) => [r([n, 5])], dynamic: true },
  min: { fn: (x) => k.min(x, 1), args: (n) => [strided(n)], dynamic: true },
  argmax: { fn: (x) => k.cast(k.argmax(x, -1), "f32"), args: (n) => [r([n, 17])], dynamic: true },
  reshape: { fn: (x) => k.mul(k.reshape(x, [-1, 3, 5]), 2), args: (n) => [r([n, 15])], dynamic: true },
  permute: { fn: (x) => k.mul(k.permute(x, [2, 0, 1]), 2), args: (n) => [r([n, 3, 4])], dynamic: true },
  expand: { fn: (x) => k.mul(k.expand(k.unsqueeze(x, 1), [x.shape[0]!, 4, 3]), 2), args: (n) => [r([n, 3])], dynamic: true },
  slice: { fn: (x) => k.add(k.slice(x, 1, 1, 4), k.slice(x, 1, 0, null, 2)), args: (n) => [r([n, 6])], dynamic: true },
  cat: { fn: (a, b) => k.mul(k.cat([a, b, a], 0), 2), args: (n) => [r([n, 3]), r([2, 3], 2)], dynamic: true },
  gather: { fn: (x, i) => k.gather(x, 1, i), args: (n) => [r([n, 4]), tensor(Array.from({ length: n * 2 }, (_, j) => (j * 3) % 4), { dtype: "i32", shape: [n, 2] })], dynamic: true, dynamicArgs: [0, 1] },
  index_select: { fn: (w, i) => k.indexSelect(w, 0, i), args: (n) => [r([7, 3]), ids(n, 7)], dynamic: true, dynamicArgs: [1] },
  matmul: { fn: (a, b) => k.add(k.matmul(a, k.transpose(b)), k.matmul(k.unsqueeze(a, 0), r([5, 3], 4))), args: (n) => [strided(n), r([3, 5], 2)], dynamic: true },
  mean: { fn: (x) => k.mean(x, -1, true), args: (n) => [r([n, 129])], dynamic: true },
  softmax: { fn: (x) => k.softmax(x, -1), args: (n) => [r([n, 17])], dynamic: true },
  linear: { fn: (x, w, b) => k.linear(x, w, b), args: (n) => [r([n, 17]), r([3, 17], 2), r([3], 3)], dynamic: true },
  embedding: { fn: (i, w) => k.embedding(i, w), args: (n) => [ids(n, 11), r([11, 4])], dynamic: true },
  stack: { fn: (a, b) => k.stack([a, b], 1), args: (n) => [r([n, 3]), r([n, 3], 2)], dynamic: true, dynamicArgs: [0, 1] },
  rms_norm: { fn: (x, w) => k.rmsNorm(x, w, 1e-5), args: (n) => [r([n, 129]), r([129], 2)], dynamic: true },
  kv_store: {
    fn: (c, v, s) => k.mul(k.kvStore(c, v, s), 2),
    args: (n) => [r([40, 4, 2, 3], 2), r([n, 2, 3]), tensor(Array.from({ length: n }, (_, j) => (j * 37) % 160), { dtype: "i32" })],
    dynamic: true, dynamicArgs: [1, 2],
  },
  // Two sequences over shuffled blocks of 4; token j belongs to sequence j % 2 at position j % 12.
  paged_attention: {
    fn: (q, kc, vc, bt, seq, p) => k.pagedAttention(q, kc, vc, bt, seq, p, 0.35),
    args: (n) => [
      r([n, 4, 8]), r([6, 4, 2, 8], 2), r([6, 4, 2, 8], 3), tensor([[5, 0, 3], [1, 4, 2]], { dtype: "i32" }),
      tensor(Array.from({ length: n }, (_, j) => j % 2), { dtype: "i32" }), tensor(Array.from({ length: n }, (_, j) => j % 12), { dtype: "i32" }),
    ],
    dynamic: true, dynamicArgs: [0, 4, 5],
  },
  rotary: { fn: (x, c, s) => k.rotary(x, c, s), args: (n) => [r([n, 2, 8]), r([n, 1, 8], 2), r([n, 1, 8], 3)], dynamic: true, dynamicArgs: [0, 1, 2] },
};

