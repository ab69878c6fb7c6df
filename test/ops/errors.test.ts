// Acceptance 6 at op level: bad input gives a typed KilnError whose code and message name the
// op and the offending shapes, dtypes or arguments.
import assert from "node:assert/strict";
import { test } from "node:test";
import * as k from "../../src/ops/index.js";
import { bind } from "../../src/ops/index.js";
import { type Tensor, parseDType, randn, tensor } from "../../src/tensor/index.js";
import { ArgumentError, DTypeError, ShapeError } from "../../src/util/index.js";
import { expectError, shapeText } from "./expect-tensor.js";

const z = (...shape: number[]) => k.zeros(shape);
const ids = (...xs: number[]) => tensor(xs, { dtype: "i32" });

test("wrong rank names the op and the shape it got", () => {
  expectError(() => k.triu(z(3)), ShapeError, "E_SHAPE", ["triu", "rank >= 2", shapeText([3])]);
  expectError(() => k.tril(k.full([], 1)), ShapeError, "E_SHAPE", ["tril", shapeText([])]);
  expectError(() => k.rmsNorm(k.full([], 1), z(1)), ShapeError, "E_SHAPE", ["rms_norm", "rank >= 1"]);
  expectError(() => k.linear(z(2, 3), z(3)), ShapeError, "E_SHAPE", ["linear", "[out, in]", shapeText([3])]);
  expectError(() => k.embedding(ids(0), z(4)), ShapeError, "E_SHAPE", ["embedding", "[vocab, dim]", shapeText([4])]);
  expectError(() => k.gather(z(2, 3), 1, ids(0, 1)), ShapeError, "E_SHAPE", ["gather", "rank 2", shapeText([2])]);
  expectError(() => k.indexSelect(z(2, 3), 0, tensor([[0]], { dtype: "i32" })), ShapeError, "E_SHAPE", ["index_select", "1-D", shapeText([1, 1])]);
  expectError(() => k.matmul(k.full([], 1), z(2)), ShapeError, "E_SHAPE", ["matmul", "rank >= 1"]);
  expectError(() => k.cat([k.full([], 1), k.full([], 2)]), ShapeError, "E_SHAPE", ["cat", "rank >= 1"]);
  expectError(() => k.slice(k.full([], 1), 0, 0, 1), ShapeError, "E_SHAPE", ["slice", "rank >= 1"]);
  expectError(() => k.cat([z(2, 3), z(2)]), ShapeError, "E_SHAPE", ["cat", "input 1", shapeText([2])]);
});

test("mismatched matmul dims: the message names both shapes", () => {
  const e = expectError(() => k.matmul(z(2, 3), z(4, 5)), ShapeError, "E_SHAPE", ["matmul", "[2,3]", "[4,5]"]);
  assert.equal(e.op, "matmul");
  expectError(() => k.matmul(z(3), z(4)), ShapeError, "E_SHAPE", ["matmul", "[3]", "[4]"]);
  expectError(() => k.matmul(z(7, 2, 3), z(5, 3, 1)), ShapeError, "E_SHAPE", ["matmul", "[7]", "[5]"]); // batch dims
  expectError(() => k.linear(z(2, 3), z(4, 5)), ShapeError, "E_SHAPE", ["linear", shapeText([4, 5])]);
});

test("shapes that do not broadcast: the message names the op, both shapes and the dim", () => {
  const e = expectError(() => k.add(z(2), z(3)), ShapeError, "E_SHAPE", ["add", "[2]", "[3]", "broadcast"]);
  assert.deepEqual(e.received, [3]);
  expectError(() => k.mul(z(4, 2, 3), z(4, 3)), ShapeError, "E_SHAPE", ["mul", "[4,2,3]", shapeText([4, 3]), "dim -2"]);
  expectError(() => k.where(tensor([true, false, true]), z(2), 0), ShapeError, "E_SHAPE", ["where"]);
  expectError(() => k.rotary(z(2, 4), z(3, 4), z(2, 4)), ShapeError, "E_SHAPE", ["rotary"]);
  expectError(() => k.expand(z(2, 3), [4, 3]), ShapeError, "E_SHAPE", ["expand", "[2,3]", shapeText([4, 3])]);
  expectError(() => k.expand(z(2, 3), [3]), ShapeError, "E_SHAPE", ["expand", "rank >= 2"]);
  expectError(() => k.expand(z(1, 3), [2, -2]), ShapeError, "E_SHAPE", ["expand", shapeText([2, -2])]);
});

test("unknown dtypes: a DTypeError naming the dtype and where it was given", () => {
  expectError(() => tensor([1], { dtype: "float64" as never }), DTypeError, "E_DTYPE", ["tensor", "float64", "f32|bf16|f16|i32|i64|bool"]);
  expectError(() => k.cast(z(1), "f64" as never), DTypeError, "E_DTYPE", ["cast", "f64"]);
  expectError(() => k.full([2], 0, "int8" as never), DTypeError, "E_DTYPE", ["full", "int8"]);
  expectError(() => k.zeros([2], "half" as never), DTypeError, "E_DTYPE", ["full", "half"]);
  expectError(() => k.arange(3, undefined, 1, "u8" as never), DTypeError, "E_DTYPE", ["arange", "u8"]);
  expectError(() => randn([2], { dtype: "q4" as never }), DTypeError, "E_DTYPE", ["randn", "q4"]);
  expectError(() => parseDType(undefined, "my_op"), DTypeError, "E_DTYPE", ["my_op", "undefined"]);
});

test("dtypes an op cannot take: a DTypeError naming the op and the dtype", () => {
  expectError(() => k.exp(ids(1)), DTypeError, "E_DTYPE", ["exp", "float", "i32"]);
  expectError(() => k.mul(tensor([true]), tensor([false])), DTypeError, "E_DTYPE", ["mul", "bool"]);
  expectError(() => k.where(tensor([1, 0]), z(2), z(2)), DTypeError, "E_DTYPE", ["where", "bool", "f32"]);
  expectError(() => k.embedding(tensor([0.5]), z(2, 2)), DTypeError, "E_DTYPE", ["embedding", "ids", "f32"]);
  expectError(() => k.gather(z(2), 0, tensor([0])), DTypeError, "E_DTYPE", ["gather", "index", "f32"]);
  expectError(() => k.softmax(ids(1, 2)), DTypeError, "E_DTYPE", ["softmax", "i32"]);
  expectError(() => k.rotary(z(4), ids(1, 1, 1, 1), z(4)), DTypeError, "E_DTYPE", ["rotary", "i32"]);
});

test("wrong number of arguments: an ArgumentError naming the op and the counts", () => {
  const x = z(2);
  expectError(() => bind("add", [x]), ArgumentError, "E_ARGUMENT", ["add", "expected 2 tensor inputs, got 1"]);
  expectError(() => bind("neg", [x, x]), ArgumentError, "E_ARGUMENT", ["neg", "expected 1 tensor inputs, got 2"]);
  expectError(() => bind("where", [tensor([true]), x]), ArgumentError, "E_ARGUMENT", ["where", "expected 3", "got 2"]);
  expectError(() => bind("linear", [x]), ArgumentError, "E_ARGUMENT", ["linear", "2 to 3", "got 1"]);
  expectError(() => bind("linear", [x, x, x, x]), ArgumentError, "E_ARGUMENT", ["linear", "2 to 3", "got 4"]);
  expectError(() => k.cat([]), ArgumentError, "E_ARGUMENT", ["cat", "at least 1", "got 0"]);
  expectError(() => bind("full", [x], { shape: [1], value: 0, dtype: "f32" }), ArgumentError, "E_ARGUMENT", ["full", "expected 0"]);
  // Functional API calls with a missing or wrong-kind operand.
  expectError(() => (k.matmul as (a: Tensor) => Tensor)(x), ArgumentError, "E_ARGUMENT", ["matmul", "expected a Tensor, got undefined"]);
  expectError(() => (k.linear as (a: Tensor) => Tensor)(x), ArgumentError, "E_ARGUMENT", ["linear", "got undefined"]);
  expectError(() => (k.rotary as (a: Tensor, b: Tensor) => Tensor)(x, x), ArgumentError, "E_ARGUMENT", ["rotary", "got undefined"]);
  expectError(() => k.add(1, 2), ArgumentError, "E_ARGUMENT", ["add", "at least one operand must be a Tensor"]);
  expectError(() => k.add("x" as never, x), ArgumentError, "E_ARGUMENT", ["add", "got string"]);
  expectError(() => k.cat(x as never), ArgumentError, "E_ARGUMENT", ["cat", "an array of Tensors"]);
  expectError(() => k.stack([x, null as never]), ArgumentError, "E_ARGUMENT", ["stack", "got null"]);
});

test("bad axes name the op, the valid range and the axis", () => {
  expectError(() => k.sum(z(2, 3), 2), ShapeError, "E_SHAPE", ["sum", "[-2, 2)", "got 2"]);
  expectError(() => k.max(z(2, 3), -3), ShapeError, "E_SHAPE", ["max", "[-2, 2)", "got -3"]);
  expectError(() => k.argmax(z(2), 0.5), ShapeError, "E_SHAPE", ["argmax", "got 0.5"]);
  expectError(() => k.softmax(z(2, 3), 5), ShapeError, "E_SHAPE", ["softmax", "got 5"]);
  expectError(() => k.mean(z(2, 3), -4), ShapeError, "E_SHAPE", ["mean", "got -4"]);
  expectError(() => k.cat([z(2), z(2)], 1), ShapeError, "E_SHAPE", ["cat", "[-1, 1)", "got 1"]);
  expectError(() => k.stack([z(2), z(2)], 3), ShapeError, "E_SHAPE", ["stack", "[-2, 2)", "got 3"]);
  expectError(() => k.slice(z(2), 1), ShapeError, "E_SHAPE", ["slice", "got 1"]);
  expectError(() => k.gather(z(2), 1, ids(0)), ShapeError, "E_SHAPE", ["gather", "got 1"]);
  expectError(() => k.indexSelect(z(2), -2, ids(0)), ShapeError, "E_SHAPE", ["index_select", "got -2"]);
  expectError(() => k.permute(z(2, 3), [0, 0]), ShapeError, "E_SHAPE", ["permute", "each axis exactly once"]);
  expectError(() => k.permute(z(2, 3), [0]), ShapeError, "E_SHAPE", ["permute", "a permutation of 2 axes"]);
  expectError(() => k.permute(z(2, 3), [0, 2]), ShapeError, "E_SHAPE", ["permute", "got 2"]);
  expectError(() => k.transpose(z(2), 0, 3), ArgumentError, "E_ARGUMENT", ["transpose", "out of range for rank 1"]);
  expectError(() => k.unsqueeze(z(2), 5), ShapeError, "E_SHAPE", ["unsqueeze", "[-2, 2)", "got 5"]);
  expectError(() => k.squeeze(z(2, 3), 0), ShapeError, "E_SHAPE", ["squeeze", "size 1 on axis 0", "[2, 3]"]);
  expectError(() => k.slice(z(4), 0, 0, 4, 0), ShapeError, "E_SHAPE", ["slice", "positive integer step", "got 0"]);
  expectError(() => k.triu(z(2, 2), 0.5), ShapeError, "E_SHAPE", ["triu", "integer diagonal", "0.5"]);
});

test("index values out of range name the op and the range", () => {
  expectError(() => k.indexSelect(z(3), 0, ids(3)), ShapeError, "E_SHAPE", ["index_select", "[-3, 3)", "got 3"]);
  expectError(() => k.gather(z(2, 2), 1, tensor([[0, -3], [0, 0]], { dtype: "i32" })), ShapeError, "E_SHAPE", ["gather", "[-2, 2)", "got -3"]);
  expectError(() => k.embedding(ids(5), z(4, 2)), ShapeError, "E_SHAPE", ["index_select", "[-4, 4)", "got 5"]);
});

test("non-rectangular nested arrays and bad elements", () => {
  expectError(() => tensor([[1, 2], [3]]), ShapeError, "E_SHAPE", ["tensor", "rectangular", "length 2 at depth 1", "got 1"]);
  expectError(() => tensor([[1, 2], 3] as never), ShapeError, "E_SHAPE", ["tensor", "rectangular", "an array at depth 1"]);
  expectError(() => tensor([1, [2]] as never), ShapeError, "E_SHAPE", ["tensor", "rectangular", "a number at depth 1"]);
  expectError(() => tensor([[[1]], [[2, 3]]]), ShapeError, "E_SHAPE", ["tensor", "length 1 at depth 2"]);
  expectError(() => tensor([1, 2, 3], { shape: [2, 2] }), ShapeError, "E_SHAPE", ["tensor", "3 elements", shapeText([2, 2])]);
  expectError(() => tensor(["a"] as never), ArgumentError, "E_ARGUMENT", ["tensor", "element a is not a number"]);
});

test("reshape to an incompatible shape names both shapes", () => {
  expectError(() => k.reshape(z(2, 3), [4, 2]), ShapeError, "E_SHAPE", ["reshape", "6 elements", "[2,3]", shapeText([4, 2])]);
  expectError(() => k.reshape(z(2, 3), [4, -1]), ShapeError, "E_SHAPE", ["reshape", "-1 can be inferred", "[2,3]", shapeText([4, -1])]);
  expectError(() => k.reshape(z(2, 3), [-1, -1]), ShapeError, "E_SHAPE", ["reshape", "at most one -1"]);
  expectError(() => k.reshape(z(2, 3), [-2, -3]), ShapeError, "E_SHAPE", ["reshape", "dims >= -1"]);
  expectError(() => k.reshape(z(0, 3), [-1, 0]), ShapeError, "E_SHAPE", ["reshape", "-1 can be inferred"]);
  expectError(() => k.reshape(z(6), [2.5, 2] as never), ShapeError, "E_SHAPE", ["reshape", "integer"]);
});

test("reductions over an empty axis that have no identity are rejected", () => {
  expectError(() => k.max(z(2, 0), 1), ShapeError, "E_SHAPE", ["max", "non-empty reduced axis", shapeText([2, 0])]);
  expectError(() => k.argmax(z(0)), ShapeError, "E_SHAPE", ["argmax", "non-empty"]);
});

test("every KilnError carries its data as fields", () => {
  const e = expectError(() => k.add(z(2), z(3)), ShapeError, "E_SHAPE", []);
  assert.equal(e.name, "ShapeError");
  assert.equal(e.op, "add");
  assert.match(e.expected, /broadcast/);
  const d = expectError(() => k.cast(z(1), "f64" as never), DTypeError, "E_DTYPE", []);
  assert.equal(d.op, "cast");
  assert.equal(d.received, "f64");
  const a = expectError(() => bind("add", [z(1)]), ArgumentError, "E_ARGUMENT", []);
  assert.equal(a.fn, "add");
});
