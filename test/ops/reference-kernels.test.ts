// Acceptance 1: every op's reference kernel (run eagerly) against hand-computed values, with
// broadcasting, negative axes, empty and size-1 dims and dtypes. The table is keyed by OpName,
// so an op without cases is a type error, and a runtime check walks OP_NAMES as well.
import assert from "node:assert/strict";
import { test } from "node:test";
import * as k from "../../src/ops/index.js";
import { OP_NAMES, type OpName, OPS, bind } from "../../src/ops/index.js";
import { type Tensor, tensor } from "../../src/tensor/index.js";
import { ArgumentError, ShapeError } from "../../src/util/index.js";
import { expectClose as close, expectError, expectExact as eq, iota } from "./expect-tensor.js";

type Case = () => void;
const t = tensor;
const i32 = (data: Parameters<typeof tensor>[0]) => tensor(data, { dtype: "i32" });
const m23 = () => t([[1, 2, 3], [4, 5, 6]]);
const E = Math.E;

const CASES: Record<OpName, Case[]> = {
  // ── sources ────────────────────────────────────────────────────────────────
  input: [
    () => expectError(() => bind("input", [], { name: "x", kind: "arg", dtype: "f32", shape: [1] }), ArgumentError, "E_ARGUMENT", ["input", "no reference kernel"]),
    () => assert.deepEqual(OPS.input.infer([], { name: "x", kind: "arg", dtype: "bf16", shape: [2, 3] }), { dtype: "bf16", shape: [2, 3] }),
  ],
  constant: [
    () => eq(bind("constant", [], { dtype: "i32", shape: [2], values: [7, -1] }), [7, -1], "i32"),
    () => eq(bind("constant", [], { dtype: "f32", shape: [2, 1], values: [0.5, -2] }), [[0.5], [-2]], "f32"),
    () => eq(bind("constant", [], { dtype: "bf16", shape: [], values: [1 + 2 ** -8] }), 1, "bf16"),
    () => eq(bind("constant", [], { dtype: "f32", shape: [0, 2], values: [] }), []),
  ],
  full: [
    () => eq(k.full([2, 0], 3), [[], []]),
    () => eq(k.full([], 2.5), 2.5, "f32"),
    () => eq(k.full([2], 1, "bool"), [true, true], "bool"),
    () => eq(k.full([1, 2], -2.7, "i32"), [[-2, -2]], "i32"),
    () => eq(k.full([2], 1 + 2 ** -8, "bf16"), [1, 1], "bf16"),
    () => eq(k.zeros([2], "i64"), [0, 0], "i64"),
    () => eq(k.ones([1, 1]), [[1]], "f32"),
  ],
  arange: [
    () => eq(k.arange(4), [0, 1, 2, 3], "i32"),
    () => eq(k.arange(1, 2, 0.25, "f32"), [1, 1.25, 1.5, 1.75], "f32"),
    () => eq(k.arange(1, 2, 0.25), [1, 1.25, 1.5, 1.75], "f32"), // a fractional step implies f32
    () => eq(k.arange(5, 0, -2), [5, 3, 1], "i32"),
    () => eq(k.arange(0), [], "i32"),
    () => eq(k.arange(3, 3), []),
    () => eq(k.arange(2, 5, 1, "i64"), [2, 3, 4], "i64"),
  ],

  // ── unary ──────────────────────────────────────────────────────────────────
  neg: [() => eq(k.neg(t([1, -2, 0])), [-1, 2, -0]), () => eq(k.neg(i32([3, -4])), [-3, 4], "i32"), () => eq(k.neg(t([[]])), [[]])],
  abs: [() => eq(k.abs(i32([-3, 2])), [3, 2], "i32"), () => eq(k.abs(t([-0.5, NaN, -Infinity])), [0.5, NaN, Infinity]), () => eq(k.abs(t([-3n, 4n])), [3, 4], "i64")],
  exp: [
    () => close(k.exp(t([0, 1, -1, -Infinity])), [4], [1, E, 1 / E, 0]),
    () => eq(k.exp(t([1], { dtype: "bf16" })), [2.71875], "bf16"), // e rounded to 8 significant bits
    () => close(k.exp(k.zeros([0, 3])), [0, 3], []),
  ],
  log: [() => close(k.log(t([1, E, 0, -1])), [4], [0, 1, -Infinity, NaN])],
  sqrt: [() => close(k.sqrt(t([4, 2, 0, -1])), [4], [2, Math.SQRT2, 0, NaN])],
  rsqrt: [() => close(k.rsqrt(t([4, 0.25, 0])), [3], [0.5, 2, Infinity])],
  sin: [() => close(k.sin(t([0, Math.PI / 2, -Math.PI / 6])), [3], [0, 1, -0.5])],
  cos: [() => close(k.cos(t([0, Math.PI, Math.PI / 3])), [3], [1, -1, 0.5])],
  tanh: [() => close(k.tanh(t([0, 1, -20])), [3], [0, 0.7615941559557649, -1])],
  sigmoid: [() => close(k.sigmoid(t([0, 2, -2, -Infinity])), [4], [0.5, 0.8807970779778823, 0.11920292202211755, 0])],
  silu: [() => close(k.silu(t([0, 1, -1, 2])), [4], [0, 0.7310585786300049, -0.2689414213699951, 1.7615941559557646])],
  gelu: [
    // x·Φ(x) with Φ(1) = 0.8413447460685429, Φ(2) = 0.9772498680518208, Φ(0.5) = 0.6914624612740131, Φ(-3) = 0.0013498980316301.
    () => close(k.gelu(t([0, 1, -1, 2, 0.5, -3])), [6], [0, 0.8413447460685429, -0.15865525393145707, 1.9544997361036416, 0.34573123063700656, -0.00404969409489031], { atol: 3e-7 }),
    () => close(k.gelu(t([0, 1, -1, 2, 0.5]), "tanh"), [5], [0, 0.8411919906082768, -0.15880800939172324, 1.954597694087775, 0.34571400982514394]),
  ],
  relu: [() => eq(k.relu(t([-1, 0, 2, NaN, -Infinity])), [0, 0, 2, NaN, 0]), () => eq(k.relu(i32([-5, 5])), [0, 5], "i32")],
  reciprocal: [() => eq(k.reciprocal(t([2, -4, 0])), [0.5, -0.25, Infinity])],
  logical_not: [
    () => eq(k.logicalNot(t([true, false])), [false, true], "bool"),
    () => eq(k.logicalNot(t([0, 2, -0, NaN])), [true, false, true, false], "bool"), // NaN is true, as in torch
    () => eq(k.logicalNot(i32([0, 7])), [true, false], "bool"),
  ],
  cast: [
    // The full dtype × dtype matrix is in cast.test.ts.
    () => eq(k.cast(t([1.7, -1.7, 0]), "i32"), [1, -1, 0], "i32"),
    () => eq(k.cast(t([2, 0, NaN]), "bool"), [true, false, true]),
    () => eq(k.cast(t([1 + 2 ** -8, 1 + 3 * 2 ** -8]), "bf16"), [1, 1 + 2 ** -6], "bf16"),
    () => eq(k.cast(t([3n]), "f16"), [3], "f16"),
  ],

  // ── binary (NumPy broadcasting) ────────────────────────────────────────────
  add: [
    () => eq(k.add(m23(), t([10, 20, 30])), [[11, 22, 33], [14, 25, 36]]), // rank-extending
    () => eq(k.add(t([[1], [2]]), t([10, 20])), [[11, 21], [12, 22]]), // size-1 on the left, rank-extending on the right
    () => eq(k.add(t([[1, 2, 3]]), t([[10], [20]])), [[11, 12, 13], [21, 22, 23]]), // size-1 dims on both sides
    () => eq(k.add(t([1, 2]), t([[[10, 20]], [[30, 40]]])), [[[11, 22]], [[31, 42]]]), // [2] + [2,1,2]
    () => eq(k.add(t([[1, 2]]), 1), [[2, 3]]),
    () => eq(k.add(k.full([], 5), t([1, 2])), [6, 7]), // 0-d operand
    () => close(k.add(k.zeros([0, 3]), t([1, 2, 3])), [0, 3], []), // empty dim
    () => close(k.add(k.zeros([2, 0]), k.zeros([2, 1])), [2, 0], []), // 0 against 1
    () => eq(k.add(i32([1]), t([0.5])), [1.5], "f32"),
    () => eq(k.add(i32([2147483647]), 1), [-2147483648], "i32"), // i32 wraps
    () => eq(k.add(t([1n]), i32([2])), [3], "i64"),
    () => eq(k.add(t([1], { dtype: "bf16" }), t([1], { dtype: "f16" })), [2], "f32"),
    () => eq(k.add(t([true, false]), 1), [2, 1], "i32"), // an integer next to bools is i32
  ],
  sub: [() => eq(k.sub(t([5, 5]), t([[1], [2]])), [[4, 4], [3, 3]]), () => eq(k.sub(i32([1]), i32([3])), [-2], "i32"), () => eq(k.sub(t([Infinity]), t([Infinity])), [NaN])],
  mul: [() => eq(k.mul(m23(), t([[2], [0]])), [[2, 4, 6], [0, 0, 0]]), () => eq(k.mul(i32([3]), 0.5), [1.5], "f32"), () => eq(k.mul(t([0]), Infinity), [NaN])],
  div: [
    () => eq(k.div(i32([7, -7]), i32([2, 2])), [3.5, -3.5], "f32"), // true division of ints gives f32
    () => eq(k.div(t([1, -1, 0]), 0), [Infinity, -Infinity, NaN]),
    () => eq(k.div(t([[6], [9]]), t([2, 3])), [[3, 2], [4.5, 3]]),
    () => eq(k.div(t([1n]), t([4n])), [0.25], "f32"),
  ],
  pow: [
    () => eq(k.pow(t([2, 3]), 2), [4, 9]),
    () => eq(k.pow(i32([2]), i32([3])), [8], "f32"),
    () => eq(k.pow(t([4, -8, NaN]), t([-0.5, 1 / 3, 0])), [0.5, NaN, 1]),
    () => eq(k.pow(2, t([[0], [10]])), [[1], [1024]]),
  ],
  maximum: [
    () => eq(k.maximum(t([1, NaN, 3]), t([2, 0, NaN])), [2, NaN, NaN]), // NaN propagates from either side
    () => eq(k.maximum(t([[1], [5]]), t([2, 4])), [[2, 4], [5, 5]]),
    () => eq(k.maximum(i32([1, 9]), 4), [4, 9], "i32"),
  ],
  minimum: [
    () => eq(k.minimum(t([1, 5]), t([2, 0])), [1, 0]),
    () => eq(k.minimum(t([NaN, 1]), t([0, NaN])), [NaN, NaN]),
    () => eq(k.minimum(t([-Infinity]), t([0])), [-Infinity]),
  ],
  eq: [() => eq(k.eq(t([1, 2, NaN]), t([1, 3, NaN])), [true, false, false], "bool"), () => eq(k.eq(i32([2]), t([2])), [true], "bool")],
  ne: [() => eq(k.ne(t([1, 2, NaN]), 1), [false, true, true], "bool")],
  lt: [() => eq(k.lt(t([1, 2, NaN]), 2), [true, false, false], "bool"), () => eq(k.lt(i32([2]), 2.5), [true])],
  le: [() => eq(k.le(t([1, 2, 3]), 2), [true, true, false], "bool")],
  gt: [() => eq(k.gt(t([1, 2]), 1), [false, true], "bool"), () => eq(k.gt(t([[1], [3]]), t([2])), [[false], [true]])],
  ge: [() => eq(k.ge(t([[1], [3]]), t([2, 3])), [[false, false], [true, true]], "bool")],
  logical_and: [
    () => eq(k.logicalAnd(t([true, true, false]), t([true, false, false])), [true, false, false], "bool"),
    () => eq(k.logicalAnd(t([2, 0, NaN]), t([[1], [0]])), [[true, false, true], [false, false, false]], "bool"),
  ],
  logical_or: [() => eq(k.logicalOr(t([true, false]), t([false, false])), [true, false], "bool"), () => eq(k.logicalOr(i32([0, 0]), i32([0, 3])), [false, true])],

  // ── indexed pointwise ──────────────────────────────────────────────────────
  where: [
    () => eq(k.where(t([true, false]), t([[1, 2], [3, 4]]), 0), [[1, 0], [3, 0]]),
    () => eq(k.where(t([[true], [false]]), t([1, 2]), t([10, 20])), [[1, 2], [10, 20]]),
    () => eq(k.where(t([true, false]), i32([1, 2]), 0.5), [1, 0.5], "f32"),
    () => eq(k.where(t([true, false]), 1, 2), [1, 2], "f32"),
    () => close(k.where(t([[]], { dtype: "bool" }), 1, 2), [1, 0], []),
  ],
  triu: [
    () => eq(k.triu(k.ones([3, 3]), 1), [[0, 1, 1], [0, 0, 1], [0, 0, 0]]),
    () => eq(k.triu(k.ones([3, 3])), [[1, 1, 1], [0, 1, 1], [0, 0, 1]]),
    () => eq(k.triu(k.ones([3, 2]), -1), [[1, 1], [1, 1], [0, 1]]),
    () => eq(k.triu(iota([2, 2, 3])), [[[0, 1, 2], [0, 4, 5]], [[6, 7, 8], [0, 10, 11]]]), // batched
    () => eq(k.triu(i32([[5, 6], [7, 8]])), [[5, 6], [0, 8]], "i32"),
  ],
  tril: [
    () => eq(k.tril(k.ones([2, 3])), [[1, 0, 0], [1, 1, 0]]),
    () => eq(k.tril(k.ones([2, 3]), 1), [[1, 1, 0], [1, 1, 1]]),
    () => eq(k.tril(k.ones([3, 3]), -1), [[0, 0, 0], [1, 0, 0], [1, 1, 0]]),
    () => close(k.tril(k.ones([0, 4])), [0, 4], []),
  ],

  // ── reductions ─────────────────────────────────────────────────────────────
  sum: [
    () => eq(k.sum(m23(), -1), [6, 15]),
    () => eq(k.sum(m23(), 0, true), [[5, 7, 9]]),
    () => eq(k.sum(m23()), 21),
    () => eq(k.sum(m23(), undefined, true), [[21]]),
    () => eq(k.sum(iota([2, 3, 2]), -2), [[6, 9], [24, 27]]),
    () => eq(k.sum(k.zeros([2, 0]), 1), [0, 0]), // an empty axis sums to 0
    () => eq(k.sum(k.zeros([0, 3]), 1), []),
    () => eq(k.sum(t([true, true, false])), 2), // bool counts as i32
    () => assert.equal(k.sum(t([true])).dtype, "i32"),
    () => eq(k.sum(i32([[1, 2], [3, 4]]), 1), [3, 7], "i32"),
    () => eq(k.sum(t([256, 1], { dtype: "bf16" })), 256, "bf16"), // 257 is a tie between 256 and 258: even wins
    () => eq(k.sum(k.full([], 5), 0), 5), // 0-d
  ],
  max: [
    () => eq(k.max(m23(), -1), [3, 6]),
    () => eq(k.max(t([1, NaN, 2]), 0, true), [NaN]), // NaN propagates
    () => eq(k.max(t([[-Infinity, -1]]), 1), [-1]),
    () => eq(k.max(i32([[3, 9], [8, 1]]), 0), [8, 9], "i32"),
    () => eq(k.max(k.zeros([0, 2]), 1), []),
    () => eq(k.max(k.full([], -3), -1), -3),
  ],
  min: [() => eq(k.min(m23(), 0), [1, 2, 3]), () => eq(k.min(t([3, NaN, 1])), NaN), () => eq(k.min(iota([2, 2]), -1, true), [[0], [2]])],
  argmax: [
    () => eq(k.argmax(t([[1, 3, 3], [5, 0, 1]]), -1), [1, 0], "i32"), // ties: the first index
    () => eq(k.argmax(t([1, NaN, 5, NaN])), 1), // NaN counts as the maximum
    () => eq(k.argmax(m23(), 0, true), [[1, 1, 1]], "i32"),
    () => eq(k.argmax(t([[1, 9], [7, 2]])), 1), // over the flattened tensor
    () => eq(k.argmax(t([false, true])), 1, "i32"),
    () => eq(k.argmax(t([-Infinity, -Infinity])), 0),
  ],

  // ── movement ───────────────────────────────────────────────────────────────
  reshape: [
    () => eq(k.reshape(m23(), [3, -1]), [[1, 2], [3, 4], [5, 6]]),
    () => eq(k.reshape(k.transpose(m23()), [-1]), [1, 4, 2, 5, 3, 6]), // a non-contiguous input is read in logical order
    () => eq(k.reshape(t([7]), []), 7),
    () => eq(k.reshape(t(7), [1, 1, -1]), [[[7]]]),
    () => close(k.reshape(k.zeros([0, 3]), [3, 0]), [3, 0], []),
    () => close(k.reshape(k.zeros([2, 0, 3]), [-1, 3]), [0, 3], []),
    () => eq(k.reshape(i32([1, 2, 3, 4]), [2, 2]), [[1, 2], [3, 4]], "i32"),
  ],
  permute: [
    () => eq(k.permute(m23(), [-1, 0]), [[1, 4], [2, 5], [3, 6]]),
    // out[c][a][b] = in[a][b][c] = 12a + 4b + c
    () => eq(k.permute(iota([2, 3, 4]), [2, 0, 1]), Array.from({ length: 4 }, (_, c) => Array.from({ length: 2 }, (_, a) => Array.from({ length: 3 }, (_, b) => 12 * a + 4 * b + c)))),
    () => eq(k.transpose(iota([2, 1, 2]), 0, -1), [[[0, 2]], [[1, 3]]]),
    () => eq(k.permute(t(3), []), 3),
  ],
  expand: [
    () => eq(k.expand(t([[1], [2]]), [2, -1, 3]), [[[1, 1, 1], [2, 2, 2]], [[1, 1, 1], [2, 2, 2]]]),
    () => eq(k.expand(t(4), [2, 2]), [[4, 4], [4, 4]]),
    () => eq(k.expand(t([1, 2]), [2, 2]), [[1, 2], [1, 2]]),
    () => close(k.expand(t([[1], [2]]), [2, 0]), [2, 0], []), // size 1 → 0
    () => eq(k.expand(k.transpose(t([[1, 2]])), [2, 3]), [[1, 1, 1], [2, 2, 2]]), // expand of a view
  ],
  slice: [
    () => eq(k.slice(m23(), 1, 1), [[2, 3], [5, 6]]),
    () => eq(k.slice(t([0, 1, 2, 3, 4]), 0, -3, null, 2), [2, 4]), // negative start, step 2
    () => eq(k.slice(t([0, 1, 2]), 0, 1, 100), [1, 2]), // end clamped
    () => eq(k.slice(t([0, 1, 2]), 0, -100, 2), [0, 1]), // start clamped
    () => eq(k.slice(t([0, 1, 2]), -1, 2, 1), []), // start after end: empty
    () => eq(k.slice(t([0, 1, 2, 3, 4, 5, 6]), 0, 1, -1, 3), [1, 4]),
    () => eq(k.slice(m23(), -1, 0, -1), [[1, 2], [4, 5]]), // negative axis and end
    () => eq(k.slice(k.slice(iota([6]), 0, 1, null, 2), 0, 1), [3, 5]), // slice of a strided slice
  ],
  cat: [
    () => eq(k.cat([m23(), t([[7], [8]])], -1), [[1, 2, 3, 7], [4, 5, 6, 8]]),
    () => eq(k.cat([k.zeros([0, 2]), t([[1, 2]])]), [[1, 2]]), // empty piece
    () => eq(k.cat([t([1]), t([2, 3]), t([4])]), [1, 2, 3, 4]),
    () => eq(k.cat([i32([[1], [2]]), k.transpose(i32([[3, 4]]))], 1), [[1, 3], [2, 4]], "i32"),
    () => eq(k.cat([t([5])]), [5]),
  ],

  // ── indexing ───────────────────────────────────────────────────────────────
  gather: [
    () => eq(k.gather(m23(), 1, i32([[2, 0], [1, 1]])), [[3, 1], [5, 5]]), // out[i][j] = x[i][idx[i][j]]
    () => eq(k.gather(m23(), 0, i32([[1, 0, 1]])), [[4, 2, 6]]), // out[i][j] = x[idx[i][j]][j]; index smaller than x
    () => eq(k.gather(t([1, 2, 3]), -1, t([-1, 0], { dtype: "i64" })), [3, 1]), // negative axis and indices
    () => close(k.gather(m23(), 1, tensor([[], []], { dtype: "i32" })), [2, 0], []),
  ],
  kv_store: [
    // Rows land at their slots of the [blocks·blockSize] view, in place: the result is the cache itself.
    () => {
      const cache = k.zeros([2, 2, 2]);
      const out = k.kvStore(cache, t([[1, 2], [3, 4]]), i32([3, 0]));
      assert.equal(out, cache);
      eq(cache, [[[3, 4], [0, 0]], [[0, 0], [1, 2]]]);
    },
    // f32 values round into a bf16 cache.
    () => eq(k.kvStore(k.zeros([1, 2, 1], "bf16"), t([[1 + 2 ** -9]]), i32([1])), [[[0], [1]]], "bf16"),
    () => expectError(() => k.kvStore(k.zeros([2, 2, 2]), t([[1, 2]]), i32([4])), ShapeError, "E_SHAPE", ["slots", "[0, 4)"]),
    () => expectError(() => k.kvStore(k.zeros([2, 2, 2]), t([[1, 2, 3]]), i32([0])), ShapeError, "E_SHAPE", ["values", "[tokens, 2]"]),
    () => expectError(() => k.kvStore(k.transpose(k.zeros([2, 2, 2])), t([[1, 2]]), i32([0])), ShapeError, "E_SHAPE", ["contiguous"]),
  ],
  index_select: [
    () => eq(k.indexSelect(m23(), 0, t([1, 1, 0], { dtype: "i64" })), [[4, 5, 6], [4, 5, 6], [1, 2, 3]]),
    () => eq(k.indexSelect(m23(), -1, i32([-1])), [[3], [6]]),
    () => close(k.indexSelect(m23(), 1, tensor([], { dtype: "i32" })), [2, 0], []),
    () => eq(k.indexSelect(iota([2, 2, 2]), 1, i32([1])), [[[2, 3]], [[6, 7]]]),
  ],

  // ── matmul ─────────────────────────────────────────────────────────────────
  matmul: [
    () => eq(k.matmul(m23(), t([[1], [0], [1]])), [[4], [10]]),
    () => eq(k.matmul(t([1, 2]), t([[1, 2], [3, 4]])), [7, 10]), // 1-D @ 2-D
    () => eq(k.matmul(t([[1, 2], [3, 4]]), t([1, 1])), [3, 7]), // 2-D @ 1-D
    () => eq(k.matmul(t([1, 2, 3]), t([4, 5, 6])), 32), // 1-D @ 1-D: a 0-d dot product
    () => eq(k.matmul(t([[[1, 0], [0, 1]], [[2, 0], [0, 2]]]), t([[1, 2], [3, 4]])), [[[1, 2], [3, 4]], [[2, 4], [6, 8]]]),
    // [2,1,1,2] @ [3,2,1]: batch [2,1] with [3] broadcasts to [2,3]; out[a][b] = x[a]·y[b].
    () => eq(k.matmul(t([[[[1, 2]]], [[[3, 4]]]]), t([[[1], [0]], [[0], [1]], [[1], [1]]])), [[[[1]], [[2]], [[3]]], [[[3]], [[4]], [[7]]]]),
    () => eq(k.matmul(t([1, 1]), iota([2, 2, 3])), [[3, 5, 7], [15, 17, 19]]), // 1-D with a batched right side
    () => eq(k.matmul(k.zeros([2, 0]), k.zeros([0, 3])), [[0, 0, 0], [0, 0, 0]]), // K = 0
    () => close(k.matmul(k.zeros([0, 2]), k.zeros([2, 3])), [0, 3], []),
    () => eq(k.matmul(i32([[1, 2]]), i32([[3], [4]])), [[11]], "i32"),
    () => eq(k.matmul(k.transpose(t([[1, 2], [3, 4]])), t([[1, 0], [0, 1]])), [[1, 3], [2, 4]]), // a strided operand
  ],

  // ── composites (through eager, i.e. their decompositions; see composites.test.ts too) ──
  mean: [
    () => eq(k.mean(m23(), -1), [2, 5]),
    () => eq(k.mean(m23(), 0, true), [[2.5, 3.5, 4.5]]),
    () => eq(k.mean(m23()), 3.5),
    () => eq(k.mean(k.zeros([0])), NaN), // 0 / 0
    () => eq(k.mean(t([1, 2], { dtype: "bf16" })), 1.5, "bf16"),
  ],
  softmax: [
    () => close(k.softmax(t([1000, 1001])), [2], [0.2689414213699951, 0.7310585786300049]), // stable: no overflow
    () => close(k.softmax(t([-1000, -1001])), [2], [0.7310585786300049, 0.2689414213699951]),
    () => close(k.softmax(t([[0, 0], [1, 1]]), 0), [2, 2], [0.2689414213699951, 0.2689414213699951, 0.7310585786300049, 0.7310585786300049]),
    () => close(k.softmax(t([0, -Infinity, 0])), [3], [0.5, 0, 0.5]),
    () => close(k.softmax(t([[Math.log(1), Math.log(3)]]), -1), [1, 2], [0.25, 0.75]),
    () => eq(k.softmax(t([0, 0], { dtype: "bf16" })), [0.5, 0.5], "bf16"),
  ],
  linear: [
    () => eq(k.linear(t([[1, 2]]), t([[1, 1], [0, 1], [2, 0]]), t([0, 0, 1])), [[3, 2, 3]]),
    () => eq(k.linear(t([[1, 2]]), t([[1, 1], [0, 1], [2, 0]])), [[3, 2, 2]]), // no bias
    () => eq(k.linear(t([1, 2]), t([[3, 4]])), [11]), // 1-D input
    () => eq(k.linear(iota([2, 1, 2]), t([[1, -1]]), t([10])), [[[9]], [[9]]]), // batched input
  ],
  embedding: [
    () => eq(k.embedding(i32([[2], [0]]), t([[1, 1], [2, 2], [3, 3]])), [[[3, 3]], [[1, 1]]]),
    () => eq(k.embedding(t([1n, 1n]), t([[1, 2], [3, 4]])), [[3, 4], [3, 4]]),
    () => close(k.embedding(tensor([], { dtype: "i32" }), k.zeros([4, 3])), [0, 3], []),
  ],
  stack: [
    () => eq(k.stack([t([1, 2]), t([3, 4])], 1), [[1, 3], [2, 4]]),
    () => eq(k.stack([t([1, 2]), t([3, 4])]), [[1, 2], [3, 4]]),
    () => eq(k.stack([t([[1, 2]]), t([[3, 4]])], -1), [[[1, 3], [2, 4]]]),
    () => eq(k.stack([t(1), t(2), t(3)]), [1, 2, 3]),
  ],
  rms_norm: [
    // [3, 4]: mean square 12.5; scaled by [1, 2].
    () => close(k.rmsNorm(t([[3, 4]]), t([1, 2]), 0), [1, 2], [3 / Math.sqrt(12.5), 8 / Math.sqrt(12.5)]),
    () => close(k.rmsNorm(t([[1, 1, 1, 1], [2, -2, 2, -2]]), k.full([4], 0.5), 1), [2, 4], [0.5 / Math.SQRT2, 0.5 / Math.SQRT2, 0.5 / Math.SQRT2, 0.5 / Math.SQRT2, 1 / Math.sqrt(5), -1 / Math.sqrt(5), 1 / Math.sqrt(5), -1 / Math.sqrt(5)]),
  ],
  paged_attention: [
    // One kv head, head dim 1: token at position 1 attends keys 1 and 2 (slots 2, 3 via block 1)
    // with equal scores → the mean of values 10 and 20; at position 0 only the first value.
    () => {
      const kc = t([[[[9]], [[9]]], [[[1]], [[1]]]]);
      const vc = t([[[[0]], [[0]]], [[[10]], [[20]]]]);
      close(k.pagedAttention(t([[[1]], [[1]]]), kc, vc, i32([[1, 0]]), i32([0, 0]), i32([0, 1]), 1), [2, 1, 1], [10, 15]);
    },
    () => expectError(() => k.pagedAttention(k.zeros([1, 3, 4]), k.zeros([2, 2, 2, 4]), k.zeros([2, 2, 2, 4]), i32([[0]]), i32([0]), i32([0]), 1), ShapeError, "E_SHAPE", ["divisible"]),
    () => expectError(() => k.pagedAttention(k.zeros([1, 2, 4]), k.zeros([2, 2, 1, 4]), k.zeros([2, 2, 1, 4]), i32([[0]]), i32([0, 1]), i32([0]), 1), ShapeError, "E_SHAPE", ["seqIds"]),
  ],
  rotary: [
    // x = [1, 2, 3, 4]: halves (1,2) and (3,4); rotate_half = (-3, -4, 1, 2).
    () => close(k.rotary(t([1, 2, 3, 4]), t([1, 1, 1, 1]), t([0, 0, 0, 0])), [4], [1, 2, 3, 4]),
    () => close(k.rotary(t([1, 2, 3, 4]), t([0, 0, 0, 0]), t([1, 1, 1, 1])), [4], [-3, -4, 1, 2]),
    // cos 0.5, sin 0.25, broadcast over rows: x·cos + rotate_half(x)·sin.
    () => close(k.rotary(t([[1, 2, 3, 4], [0, 0, 0, 4]]), k.full([1, 4], 0.5), k.full([4], 0.25)), [2, 4], [-0.25, 0, 1.75, 2.5, 0, -1, 0, 2]),
  ],
};

test("every op name has reference-kernel cases", () => {
  for (const op of OP_NAMES) assert.ok((CASES[op]?.length ?? 0) > 0, `no cases for ${op}`);
  assert.deepEqual(Object.keys(CASES).sort(), [...OP_NAMES].sort());
});

for (const [op, cases] of Object.entries(CASES)) {
  test(`reference kernel: ${op}`, () => {
    for (const [i, c] of cases.entries()) {
      try {
        c();
      } catch (e) {
        if (e instanceof Error) e.message = `${op} case ${i}: ${e.message}`;
        throw e;
      }
    }
  });
}

test("an eager result has the type its shape rule infers", () => {
  const results: [OpName, Tensor, readonly Tensor[], Record<string, unknown>][] = [
    ["matmul", k.matmul(t([1, 2]), iota([3, 2, 2])), [t([1, 2]), iota([3, 2, 2])], {}],
    ["sum", k.sum(iota([2, 3]), -1, true), [iota([2, 3])], { axis: -1, keepdim: true }],
    ["div", k.div(i32([1]), i32([2])), [i32([1]), i32([2])], {}],
  ];
  for (const [op, out, ins, attrs] of results) {
    const want = OPS[op].infer(ins, attrs as never);
    assert.equal(out.dtype, want.dtype, op);
    assert.deepEqual(out.dims, want.shape, op);
  }
});
