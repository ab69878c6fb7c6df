// Acceptance 1: every op's reference kernel against hand-computed values (broadcasting,
// negative axes, empty and size-1 dims, dtypes). The table is keyed by OpName: an op
// without cases is a type error.
import assert from "node:assert/strict";
import { test } from "node:test";
import * as k from "../../src/index.js";
import { type OpName, type Tensor, bind, tensor } from "../../src/index.js";
import { assertAllClose } from "../helpers/assert-close.js";

type Case = () => void;
const t = tensor;
const eq = (x: Tensor, want: unknown, dtype?: string) => {
  assert.deepEqual(x.toArray(), want);
  if (dtype) assert.equal(x.dtype, dtype);
};
const close = (x: Tensor, want: number[], shape?: number[]) => {
  assertAllClose(x.values(), want, { rtol: 1e-6, atol: 1e-7 });
  if (shape) assert.deepEqual(x.dims, shape);
};
const m23 = () => t([[1, 2, 3], [4, 5, 6]]);

const CASES: Record<OpName, Case[]> = {
  input: [() => assert.throws(() => bind("input", [], { name: "x", kind: "arg", dtype: "f32", shape: [1] }), /no reference kernel/)],
  constant: [() => eq(bind("constant", [], { dtype: "i32", shape: [2], values: [7, -1] }), [7, -1], "i32")],
  full: [() => eq(k.full([2, 0], 3), [[], []]), () => eq(k.full([], 2.5), 2.5), () => eq(k.full([2], 1, "bool"), [true, true], "bool")],
  arange: [() => eq(k.arange(4), [0, 1, 2, 3], "i32"), () => eq(k.arange(1, 2, 0.25, "f32"), [1, 1.25, 1.5, 1.75]), () => eq(k.arange(0), [])],
  neg: [() => eq(k.neg(t([1, -2, 0])), [-1, 2, -0])],
  abs: [() => eq(k.abs(t([-3, 2], { dtype: "i32" })), [3, 2], "i32")],
  exp: [() => close(k.exp(t([0, 1, -1])), [1, Math.E, 1 / Math.E])],
  log: [() => close(k.log(t([1, Math.E, 0])), [0, 1, -Infinity])],
  sqrt: [() => close(k.sqrt(t([4, 2])), [2, Math.SQRT2])],
  rsqrt: [() => close(k.rsqrt(t([4, 0.25])), [0.5, 2])],
  sin: [() => close(k.sin(t([0, Math.PI / 2])), [0, 1])],
  cos: [() => close(k.cos(t([0, Math.PI])), [1, -1])],
  tanh: [() => close(k.tanh(t([0, 1])), [0, 0.7615941559557649])],
  sigmoid: [() => close(k.sigmoid(t([0, 2])), [0.5, 0.8807970779778823])],
  silu: [() => close(k.silu(t([0, 1, -1])), [0, 0.7310585786300049, -0.2689414213699951])],
  gelu: [
    () => close(k.gelu(t([0, 1, -1])), [0, 0.8413447460685429, -0.15865525393145707]),
    () => close(k.gelu(t([1]), "tanh"), [0.8411919906082768]),
  ],
  relu: [() => eq(k.relu(t([-1, 0, 2])), [0, 0, 2])],
  reciprocal: [() => eq(k.reciprocal(t([2, -4])), [0.5, -0.25])],
  logical_not: [() => eq(k.logicalNot(t([true, false])), [false, true], "bool")],
  cast: [
    () => eq(k.cast(t([1.7, -1.7, 0]), "i32"), [1, -1, 0], "i32"),
    () => eq(k.cast(t([2, 0]), "bool"), [true, false]),
    () => eq(k.cast(t([1 + 2 ** -8, 1 + 3 * 2 ** -8]), "bf16"), [1, 1 + 2 ** -6], "bf16"),
    () => eq(k.cast(t([3], { dtype: "i64" }), "f16"), [3], "f16"),
  ],
  add: [
    () => eq(k.add(m23(), t([10, 20, 30])), [[11, 22, 33], [14, 25, 36]]),
    () => eq(k.add(t([[1], [2]]), t([10, 20])), [[11, 21], [12, 22]]),
    () => eq(k.add(t([[1, 2]]), 1), [[2, 3]]),
    () => eq(k.add(k.zeros([0, 3]), t([1, 2, 3])), []),
    () => eq(k.add(t([1], { dtype: "i32" }), t([0.5])), [1.5], "f32"),
  ],
  sub: [() => eq(k.sub(t([5, 5]), t([[1], [2]])), [[4, 4], [3, 3]])],
  mul: [() => eq(k.mul(m23(), t([[2], [0]])), [[2, 4, 6], [0, 0, 0]])],
  div: [() => eq(k.div(t([7], { dtype: "i32" }), t([2], { dtype: "i32" })), [3.5], "f32"), () => eq(k.div(t([1, -1]), 0), [Infinity, -Infinity])],
  pow: [() => eq(k.pow(t([2, 3]), 2), [4, 9]), () => eq(k.pow(t([2], { dtype: "i32" }), t([3], { dtype: "i32" })), [8], "f32")],
  maximum: [() => close(k.maximum(t([1, NaN, 3]), t([2, 0, 1])), [2, NaN, 3])],
  minimum: [() => eq(k.minimum(t([1, 5]), t([2, 0])), [1, 0])],
  eq: [() => eq(k.eq(t([1, 2]), t([1, 3])), [true, false], "bool")],
  ne: [() => eq(k.ne(t([1, 2]), 1), [false, true])],
  lt: [() => eq(k.lt(t([1, 2]), 2), [true, false])],
  le: [() => eq(k.le(t([1, 2]), 2), [true, true])],
  gt: [() => eq(k.gt(t([1, 2]), 1), [false, true])],
  ge: [() => eq(k.ge(t([[1], [3]]), t([2, 3])), [[false, false], [true, true]])],
  logical_and: [() => eq(k.logicalAnd(t([true, true, false]), t([true, false, false])), [true, false, false])],
  logical_or: [() => eq(k.logicalOr(t([true, false]), t([false, false])), [true, false])],
  where: [() => eq(k.where(t([true, false]), t([[1, 2], [3, 4]]), 0), [[1, 0], [3, 0]])],
  triu: [() => eq(k.triu(k.ones([3, 3]), 1), [[0, 1, 1], [0, 0, 1], [0, 0, 0]]), () => eq(k.triu(k.ones([2, 2]), -1), [[1, 1], [1, 1]])],
  tril: [() => eq(k.tril(k.ones([2, 3])), [[1, 0, 0], [1, 1, 0]])],
  sum: [
    () => eq(k.sum(m23(), -1), [6, 15]),
    () => eq(k.sum(m23(), 0, true), [[5, 7, 9]]),
    () => eq(k.sum(k.zeros([2, 0]), 1), [0, 0]),
    () => eq(k.sum(t([true, true, false])), 2),
  ],
  max: [() => eq(k.max(m23(), -1), [3, 6]), () => close(k.max(t([1, NaN, 2]), 0, true), [NaN])],
  min: [() => eq(k.min(m23(), 0), [1, 2, 3])],
  argmax: [() => eq(k.argmax(t([[1, 3, 3], [5, 0, 1]]), -1), [1, 0], "i32"), () => eq(k.argmax(t([1, NaN, 5])), 1)],
  reshape: [() => eq(k.reshape(m23(), [3, -1]), [[1, 2], [3, 4], [5, 6]]), () => eq(k.reshape(k.transpose(m23()), [-1]), [1, 4, 2, 5, 3, 6])],
  permute: [() => eq(k.permute(m23(), [-1, 0]), [[1, 4], [2, 5], [3, 6]])],
  expand: [() => eq(k.expand(t([[1], [2]]), [2, -1, 3]), [[[1, 1, 1], [2, 2, 2]], [[1, 1, 1], [2, 2, 2]]])],
  slice: [
    () => eq(k.slice(m23(), 1, 1), [[2, 3], [5, 6]]),
    () => eq(k.slice(t([0, 1, 2, 3, 4]), 0, -3, null, 2), [2, 4]),
    () => eq(k.slice(t([0, 1, 2]), 0, 1, 100), [1, 2]),
    () => eq(k.slice(t([0, 1, 2]), -1, 2, 1), []),
  ],
  cat: [() => eq(k.cat([m23(), t([[7], [8]])], -1), [[1, 2, 3, 7], [4, 5, 6, 8]]), () => eq(k.cat([k.zeros([0, 2]), t([[1, 2]])]), [[1, 2]])],
  gather: [() => eq(k.gather(m23(), 1, t([[2, 0], [1, 1]], { dtype: "i32" })), [[3, 1], [5, 5]])],
  index_select: [() => eq(k.indexSelect(m23(), 0, t([1, 1, 0], { dtype: "i64" })), [[4, 5, 6], [4, 5, 6], [1, 2, 3]]), () => eq(k.indexSelect(m23(), 1, t([-1], { dtype: "i32" })), [[3], [6]])],
  matmul: [
    () => eq(k.matmul(m23(), t([[1], [0], [1]])), [[4], [10]]),
    () => eq(k.matmul(t([1, 2]), t([[1, 2], [3, 4]])), [7, 10]),
    () => eq(k.matmul(t([[[1, 0], [0, 1]], [[2, 0], [0, 2]]]), t([[1, 2], [3, 4]])), [[[1, 2], [3, 4]], [[2, 4], [6, 8]]]),
    () => eq(k.matmul(k.zeros([2, 0]), k.zeros([0, 3])), [[0, 0, 0], [0, 0, 0]]),
  ],
  mean: [() => eq(k.mean(m23(), -1), [2, 5]), () => eq(k.mean(m23(), 0, true), [[2.5, 3.5, 4.5]])],
  softmax: [
    () => close(k.softmax(t([1000, 1001])), [0.2689414213699951, 0.7310585786300049]),
    () => close(k.softmax(t([[0, 0], [1, 1]]), 0), [0.2689414213699951, 0.2689414213699951, 0.7310585786300049, 0.7310585786300049]),
  ],
  linear: [() => eq(k.linear(t([[1, 2]]), t([[1, 1], [0, 1], [2, 0]]), t([0, 0, 1])), [[3, 2, 3]])],
  embedding: [() => eq(k.embedding(t([[2], [0]], { dtype: "i32" }), t([[1, 1], [2, 2], [3, 3]])), [[[3, 3]], [[1, 1]]])],
  stack: [() => eq(k.stack([t([1, 2]), t([3, 4])], 1), [[1, 3], [2, 4]])],
  rms_norm: [() => close(k.rmsNorm(t([[3, 4]]), t([1, 2]), 0), [3 / Math.sqrt(12.5), 8 / Math.sqrt(12.5)])],
  rotary: [
    // x = [1, 2, 3, 4]: halves (1,2) and (3,4); rotate_half = (-3, -4, 1, 2).
    () => close(k.rotary(t([1, 2, 3, 4]), t([1, 1, 1, 1]), t([0, 0, 0, 0])), [1, 2, 3, 4]),
    () => close(k.rotary(t([1, 2, 3, 4]), t([0, 0, 0, 0]), t([1, 1, 1, 1])), [-3, -4, 1, 2]),
  ],
};

for (const [op, cases] of Object.entries(CASES)) {
  test(`reference kernel: ${op}`, () => {
    assert.ok(cases.length > 0);
    for (const c of cases) c();
  });
}

test("bf16 results are rounded to nearest even", () => {
  const x = tensor([1, 1], { dtype: "bf16" });
  // 1 + 2^-8 is a tie between 1 and 1 + 2^-7: even mantissa wins (1).
  assert.deepEqual(k.add(x, tensor([2 ** -8, 3 * 2 ** -8], { dtype: "bf16" })).toArray(), [1, 1 + 2 ** -6]);
  assert.deepEqual(k.cast(tensor([65504 * 2]), "f16").toArray(), [Infinity]);
  assert.deepEqual(k.cast(tensor([2 ** -24, 2 ** -25, 3 * 2 ** -25]), "f16").toArray(), [2 ** -24, 0, 2 ** -23]);
});
