// Shape rules on symbolic dims: the type each op infers when a dim is a symbol, and the
// typed errors when a symbolic shape cannot be proven to fit.
import assert from "node:assert/strict";
import { test } from "node:test";
import { OPS, type OpName, type Attrs } from "../../src/ops/index.js";
import { type DType, type Dim, type TensorType, dimAdd, dimMul, dimSub, shapeToString, sym } from "../../src/tensor/index.js";
import { ShapeError } from "../../src/util/index.js";
import { expectError } from "./expect-tensor.js";

const s0 = sym("s0");
const s1 = sym("s1");
const T = (shape: Dim[], dtype: DType = "f32"): TensorType => ({ dtype, shape });

/** The inferred type as text, e.g. `f32[s0,16,64]`. */
function infer(op: OpName, inputs: TensorType[], attrs: Attrs = {}): string {
  const t = OPS[op].infer(inputs, attrs);
  return `${t.dtype}${shapeToString(t.shape)}`;
}

test("broadcasting: a symbol broadcasts against 1 and against itself", () => {
  assert.equal(infer("add", [T([s0, 1]), T([1, 64])]), "f32[s0,64]");
  assert.equal(infer("mul", [T([s0, 64]), T([64])]), "f32[s0,64]");
  assert.equal(infer("sub", [T([1, s0]), T([s1, 1])]), "f32[s1,s0]");
  assert.equal(infer("add", [T([s0, s1]), T([s0, s1])]), "f32[s0,s1]");
  assert.equal(infer("where", [T([s0, s0], "bool"), T([1, s0]), T([])]), "f32[s0,s0]");
  // s0 against s1 or against a constant other than 1 cannot be proven equal.
  expectError(() => infer("add", [T([s0]), T([s1])]), ShapeError, "E_SHAPE", ["add", "[s0]", "[s1]"]);
  expectError(() => infer("add", [T([s0]), T([3])]), ShapeError, "E_SHAPE", ["add", "s0 vs 3"]);
});

test("reshape infers -1 through symbolic element counts", () => {
  assert.equal(infer("reshape", [T([s0, 1024])], { shape: [s0, 16, -1] }), "f32[s0,16,64]");
  assert.equal(infer("reshape", [T([s0, 16, 64])], { shape: [-1, 1024] }), "f32[s0,1024]");
  assert.equal(infer("reshape", [T([s0, 16, 64])], { shape: [s0, -1] }), "f32[s0,1024]");
  assert.equal(infer("reshape", [T([2, s0, s1])], { shape: [-1] }), "f32[2*s0*s1]");
  assert.equal(infer("reshape", [T([s0, 8])], { shape: [-1, s0] }), "f32[8,s0]");
  assert.equal(infer("reshape", [T([dimMul(s0, 4)])], { shape: [s0, 2, 2] }), "f32[s0,2,2]");
  expectError(() => infer("reshape", [T([s0, 16, 64])], { shape: [-1, 1000] }), ShapeError, "E_SHAPE", ["reshape", "[s0,16,64]", "1000"]);
  expectError(() => infer("reshape", [T([s0, 64])], { shape: [s1, 64] }), ShapeError, "E_SHAPE", ["reshape", "64*s0 elements", "s1"]);
});

test("cat along a symbolic axis adds the dims", () => {
  assert.equal(infer("cat", [T([2, s0]), T([2, s1])], { axis: -1 }), "f32[2,s0 + s1]");
  assert.equal(infer("cat", [T([s0, 4]), T([3, 4]), T([s0, 4])], { axis: 0 }), "f32[2*s0 + 3,4]");
  expectError(() => infer("cat", [T([s0, 4]), T([s1, 4])], { axis: 1 }), ShapeError, "E_SHAPE", ["cat", "input 1", "[s1, 4]"]);
});

test("slice with symbolic bounds", () => {
  assert.equal(infer("slice", [T([s0, 4])], { axis: 0, start: 0, end: s1 }), "f32[s1,4]");
  assert.equal(infer("slice", [T([s0, 4])], { axis: 0, start: 1, end: null }), "f32[s0 - 1,4]");
  assert.equal(infer("slice", [T([s0, 4])], { axis: 0, start: -1, end: null }), "f32[1,4]");
  assert.equal(infer("slice", [T([dimAdd(s0, s1), 4])], { axis: 0, start: s0, end: null }), "f32[s1,4]");
  assert.equal(infer("slice", [T([s0, 8])], { axis: 1, start: 2, end: 6, step: 2 }), "f32[s0,2]"); // static axis: steps are fine
  expectError(() => infer("slice", [T([s0])], { axis: 0, start: 0, end: null, step: 2 }), ShapeError, "E_SHAPE", ["slice", "step 1"]);
});

test("every other shape rule carries symbols through", () => {
  assert.equal(infer("matmul", [T([s0, 64]), T([64, 128])]), "f32[s0,128]");
  assert.equal(infer("matmul", [T([4, s0, 16]), T([4, 16, s0])]), "f32[4,s0,s0]");
  assert.equal(infer("matmul", [T([s0, 64]), T([64])]), "f32[s0]");
  expectError(() => infer("matmul", [T([s0, 64]), T([s1, 128])]), ShapeError, "E_SHAPE", ["matmul", "[s0,64]", "[s1,128]"]);
  assert.equal(infer("sum", [T([s0, 64])], { axis: 0, keepdim: true }), "f32[1,64]");
  assert.equal(infer("argmax", [T([s0, 64])], { axis: -1 }), "i32[s0]");
  assert.equal(infer("mean", [T([s0, 64])], { axis: 0 }), "f32[64]");
  assert.equal(infer("softmax", [T([s0, s0])], { axis: -1 }), "f32[s0,s0]");
  assert.equal(infer("permute", [T([s0, 4, s1])], { perm: [2, 0, 1] }), "f32[s1,s0,4]");
  assert.equal(infer("expand", [T([1, 64])], { shape: [s0, -1] }), "f32[s0,64]");
  assert.equal(infer("expand", [T([s0, 1])], { shape: [2, s0, 8] }), "f32[2,s0,8]");
  expectError(() => infer("expand", [T([s0, 1])], { shape: [s1, 8] }), ShapeError, "E_SHAPE", ["expand", "[s0,1]"]);
  assert.equal(infer("arange", [], { start: 0, end: s0, step: 1 }), "i32[s0]");
  assert.equal(infer("arange", [], { start: 2, end: s0 }), "i32[s0 - 2]");
  assert.equal(infer("full", [], { shape: [s0, 2], value: 0, dtype: "bf16" }), "bf16[s0,2]");
  assert.equal(infer("embedding", [T([s0], "i32"), T([100, 8])]), "f32[s0,8]");
  assert.equal(infer("index_select", [T([100, 8]), T([s0], "i64")], { axis: 0 }), "f32[s0,8]");
  assert.equal(infer("gather", [T([s0, 8]), T([s0, 1], "i32")], { axis: 1 }), "f32[s0,1]");
  assert.equal(infer("stack", [T([s0]), T([s0])], { axis: -1 }), "f32[s0,2]");
  assert.equal(infer("linear", [T([s0, 8]), T([16, 8]), T([16])]), "f32[s0,16]");
  assert.equal(infer("rms_norm", [T([s0, 8]), T([8])], { eps: 1e-6 }), "f32[s0,8]");
  assert.equal(infer("rotary", [T([s0, 2, 8]), T([s0, 1, 8]), T([s0, 1, 8])]), "f32[s0,2,8]");
  assert.equal(infer("rotary", [T([s0, dimMul(s1, 2)]), T([s0, dimMul(s1, 2)]), T([s0, dimMul(s1, 2)])]), "f32[s0,2*s1]");
  expectError(() => infer("rotary", [T([s0, s1]), T([s0, s1]), T([s0, s1])]), ShapeError, "E_SHAPE", ["rotary", "even last dim"]);
  assert.equal(infer("triu", [T([s0, s0])], { k: 1 }), "f32[s0,s0]");
  assert.equal(infer("cast", [T([s0, dimSub(s1, 1)])], { dtype: "i64" }), "i64[s0,s1 - 1]");
});
