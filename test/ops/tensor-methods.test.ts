// Tensor methods: every method form equals its functional-API call, chains read like torch,
// and methods on symbolic tensors record graph nodes (they dispatch through the same bind).
import assert from "node:assert/strict";
import { test } from "node:test";
import { GraphBuilder, SymbolicTensor, interpret, printGraph, recordingInterpreter } from "../../src/graph/index.js";
import * as k from "../../src/ops/index.js";
import { TENSOR_METHODS, type TensorMethods, withInterpreter } from "../../src/ops/index.js";
import { Tensor, randn, sym, tensor } from "../../src/tensor/index.js";
import { ShapeError } from "../../src/util/index.js";
import { expectError, expectExact, iota } from "./expect-tensor.js";

/** Same dtype, shape and values (NaN equals NaN). */
function same(a: Tensor, b: Tensor): void {
  assert.equal(a.dtype, b.dtype);
  assert.deepEqual(a.dims, b.dims);
  assert.deepEqual(Array.from(a.values()), Array.from(b.values()));
}

const x = () => tensor([[0.5, -1, 2], [3, -0.25, 1]]);
const y = () => tensor([1, 2, -3]);
const pos = () => tensor([[0.5, 1, 2], [3, 0.25, 4]]);
const ids = () => tensor([[2, 0], [1, 1]], { dtype: "i32" });

const CASES: Record<keyof TensorMethods, () => void> = {
  add: () => (same(x().add(y()), k.add(x(), y())), expectExact(tensor([1, 2]).add(1), [2, 3])),
  sub: () => (same(x().sub(y()), k.sub(x(), y())), expectExact(tensor([1, 2]).sub(1), [0, 1])),
  mul: () => (same(x().mul(y()), k.mul(x(), y())), expectExact(tensor([1, 2]).mul(3), [3, 6])),
  div: () => (same(x().div(y()), k.div(x(), y())), expectExact(tensor([7], { dtype: "i32" }).div(2), [3.5], "f32")),
  pow: () => (same(pos().pow(y()), k.pow(pos(), y())), expectExact(tensor([3]).pow(2), [9])),
  maximum: () => same(x().maximum(y()), k.maximum(x(), y())),
  minimum: () => same(x().minimum(0), k.minimum(x(), 0)),
  eq: () => expectExact(tensor([1, 2]).eq(tensor([1, 3])), [true, false], "bool"),
  ne: () => expectExact(tensor([1, 2]).ne(1), [false, true], "bool"),
  lt: () => same(x().lt(y()), k.lt(x(), y())),
  le: () => same(x().le(1), k.le(x(), 1)),
  gt: () => same(x().gt(0), k.gt(x(), 0)),
  ge: () => expectExact(tensor([1, 2]).ge(2), [false, true], "bool"),
  logicalAnd: () => expectExact(tensor([true, true]).logicalAnd(tensor([true, false])), [true, false]),
  logicalOr: () => expectExact(tensor([false, false]).logicalOr(tensor([true, false])), [true, false]),

  neg: () => expectExact(tensor([1, -2]).neg(), [-1, 2]),
  abs: () => same(x().abs(), k.abs(x())),
  exp: () => same(x().exp(), k.exp(x())),
  log: () => same(pos().log(), k.log(pos())),
  sqrt: () => (same(pos().sqrt(), k.sqrt(pos())), expectExact(tensor([4, 9]).sqrt(), [2, 3])),
  rsqrt: () => expectExact(tensor([4, 0.25]).rsqrt(), [0.5, 2]),
  sin: () => same(x().sin(), k.sin(x())),
  cos: () => same(x().cos(), k.cos(x())),
  tanh: () => same(x().tanh(), k.tanh(x())),
  sigmoid: () => same(x().sigmoid(), k.sigmoid(x())),
  silu: () => same(x().silu(), k.silu(x())),
  relu: () => expectExact(tensor([-1, 0, 2]).relu(), [0, 0, 2]),
  reciprocal: () => expectExact(tensor([2, -4]).reciprocal(), [0.5, -0.25]),
  logicalNot: () => expectExact(tensor([true, false]).logicalNot(), [false, true]),
  gelu: () => (same(x().gelu(), k.gelu(x())), same(x().gelu("tanh"), k.gelu(x(), "tanh"))),
  cast: () => expectExact(tensor([1.7, -1.7]).cast("i32"), [1, -1], "i32"),

  sum: () => (expectExact(x().sum(), 5.25), expectExact(x().sum(1), [1.5, 3.75]), expectExact(x().sum(0, true), [[3.5, -1.25, 3]])),
  mean: () => (expectExact(tensor([[1, 2], [3, 4]]).mean(-1), [1.5, 3.5]), expectExact(tensor([1, 2, 3, 6]).mean(), 3)),
  max: () => (expectExact(x().max(), 3), expectExact(x().max(0), [3, -0.25, 2]), expectExact(x().max(-1, true), [[2], [3]])),
  min: () => (expectExact(x().min(), -1), expectExact(x().min(1), [-1, -0.25])),
  argmax: () => (expectExact(x().argmax(), 3, "i32"), expectExact(x().argmax(1), [2, 0]), expectExact(x().argmax(1, true), [[2], [0]])),
  softmax: () => (same(x().softmax(), k.softmax(x(), -1)), same(x().softmax(0), k.softmax(x(), 0))),
  matmul: () => (same(x().matmul(x().transpose()), k.matmul(x(), k.transpose(x()))), expectExact(tensor([1, 2]).matmul(tensor([3, 4])), 11)),

  reshape: () => {
    expectExact(iota([6]).reshape([2, -1]), [[0, 1, 2], [3, 4, 5]]);
    expectExact(iota([6]).reshape(3, 2), [[0, 1], [2, 3], [4, 5]]);
    expectExact(iota([1]).reshape(), 0);
  },
  view: () => (expectExact(iota([6]).view([-1, 2]), [[0, 1], [2, 3], [4, 5]]), expectExact(iota([6]).view(1, 6), [[0, 1, 2, 3, 4, 5]])),
  permute: () => (same(iota([2, 3, 4]).permute([2, 0, 1]), k.permute(iota([2, 3, 4]), [2, 0, 1])), same(iota([2, 3, 4]).permute(1, 2, 0), k.permute(iota([2, 3, 4]), [1, 2, 0]))),
  transpose: () => {
    expectExact(iota([2, 3]).transpose(), [[0, 3], [1, 4], [2, 5]]);
    same(iota([2, 3, 4]).transpose(0, 2), k.transpose(iota([2, 3, 4]), 0, 2));
    same(iota([2, 3, 4]).transpose(1, -1), k.permute(iota([2, 3, 4]), [0, 2, 1]));
  },
  expand: () => (expectExact(tensor([[1], [2]]).expand([2, 3]), [[1, 1, 1], [2, 2, 2]]), expectExact(tensor([1, 2]).expand(2, -1), [[1, 2], [1, 2]])),
  slice: () => (expectExact(iota([5]).slice(0, 1), [1, 2, 3, 4]), expectExact(iota([5]).slice(0, -4, null, 2), [1, 3]), expectExact(iota([2, 3]).slice(-1, 0, 2), [[0, 1], [3, 4]])),
  unsqueeze: () => (assert.deepEqual(iota([2, 3]).unsqueeze(1).dims, [2, 1, 3]), assert.deepEqual(iota([2, 3]).unsqueeze(-1).dims, [2, 3, 1])),
  squeeze: () => {
    assert.deepEqual(iota([1, 2, 1]).squeeze(0).dims, [2, 1]);
    assert.deepEqual(iota([1, 2, 1]).squeeze(-1).dims, [1, 2]);
    assert.deepEqual(iota([1, 2, 1]).squeeze().dims, [2]);
    assert.deepEqual(iota([1, 1]).squeeze().dims, []);
    expectError(() => iota([2, 3]).squeeze(1), ShapeError, "E_SHAPE", ["squeeze", "axis 1"]);
  },
  triu: () => (expectExact(k.ones([2, 2]).triu(), [[1, 1], [0, 1]]), expectExact(k.ones([2, 2]).triu(1), [[0, 1], [0, 0]])),
  tril: () => (expectExact(k.ones([2, 2]).tril(), [[1, 0], [1, 1]]), expectExact(k.ones([2, 2]).tril(-1), [[0, 0], [1, 0]])),
  gather: () => expectExact(x().gather(1, ids()), [[2, 0.5], [-0.25, -0.25]]),
  indexSelect: () => expectExact(x().indexSelect(0, tensor([1, 0], { dtype: "i32" })), [[3, -0.25, 1], [0.5, -1, 2]]),
};

for (const [name, check] of Object.entries(CASES)) test(`method ${name}`, check);

test("every method is installed on Tensor.prototype, non-enumerable, and has a test", () => {
  assert.deepEqual([...TENSOR_METHODS].sort(), Object.keys(CASES).sort());
  for (const name of TENSOR_METHODS) {
    const d = Object.getOwnPropertyDescriptor(Tensor.prototype, name);
    assert.ok(d && typeof d.value === "function", name);
    assert.equal(d.enumerable, false, name);
  }
  assert.deepEqual(Object.keys(tensor([1])), Object.keys(Tensor.fromValues("f32", [1], [1])));
  assert.ok(!Object.keys(tensor([1])).includes("add"));
});

test("a chained model-style expression equals the functional form", () => {
  const s = 3;
  const a = randn([s, 1024], { seed: 1 });
  const b = randn([1024], { seed: 2 });
  const chained = a.add(b).reshape([s, 16, 64]).transpose(1, 2).mul(0.125).softmax(-1);
  const functional = k.softmax(k.mul(k.transpose(k.reshape(k.add(a, b), [s, 16, 64]), 1, 2), 0.125), -1);
  assert.deepEqual(chained.dims, [3, 64, 16]);
  same(chained, functional);
  // The hand value at one position: element [1, 5, 7] of the pre-softmax tensor is (a + b)[1, 7·64 + 5] / 8.
  const pre = a.add(b).reshape([s, 16, 64]).transpose(1, 2).mul(0.125);
  const av = a.values();
  const bv = b.values();
  assert.equal(pre.slice(0, 1, 2).slice(1, 5, 6).slice(2, 7, 8).item(), Math.fround(Math.fround(av[1024 + 7 * 64 + 5]! + bv[7 * 64 + 5]!) * 0.125));
});

test("methods on symbolic tensors record graph nodes and keep symbolic dims", () => {
  const b = new GraphBuilder();
  b.addSymbol({ name: "s0", min: 1, max: 4096, hint: 7 });
  const s0 = sym("s0");
  const xIn = new SymbolicTensor(b.input("x", "arg", { dtype: "f32", shape: [s0, 1024] }), b);
  const wIn = new SymbolicTensor(b.input("w", "param", { dtype: "f32", shape: [1024] }), b);
  const noConstants = { lift: () => { throw new Error("no constants expected"); }, keepComposites: true };
  const out = withInterpreter(recordingInterpreter(b, noConstants), () =>
    xIn.mul(wIn).reshape([s0, 16, -1]).transpose(0, 1).softmax().sum(-1),
  ) as SymbolicTensor;
  assert.ok(out instanceof SymbolicTensor);
  assert.equal(String(out.shape), "16,s0");
  const g = b.build([out.node]);
  assert.deepEqual(g.nodes.map((n) => n.op), ["input", "input", "mul", "reshape", "permute", "softmax", "sum"]);
  assert.match(printGraph(g), /f32\[s0,16,64\] = reshape/);
  // The recorded graph runs like the eager method chain, at a size other than the hint.
  const xv = randn([5, 1024], { seed: 3 });
  const wv = randn([1024], { seed: 4 });
  const [got] = interpret(g, [xv, wv]);
  same(got!, xv.mul(wv).reshape([5, 16, -1]).transpose(0, 1).softmax().sum(-1));
});
