// The program boundary: inputs of any layout, outputs that are fresh tensors, typed input errors.
import assert from "node:assert/strict";
import { test } from "node:test";
import * as k from "../../src/index.js";
import { DTypeError, ShapeError, ArgumentError, randn } from "../../src/index.js";
import { assertAllClose } from "../helpers/assert-close.js";
import { compileJs, graphOf } from "../codegen/graph-of.js";

test("non-contiguous inputs (transposed, sliced with an offset) are made contiguous at the boundary", () => {
  const { both } = compileJs(graphOf([{ name: "x", shape: ["s0", 4] }, { name: "y", shape: ["s0", 4] }], (x, y) => k.mul(k.add(x, 1), y)));
  const x = k.transpose(randn([4, 6], { seed: 1 }));
  const y = k.slice(randn([9, 4], { seed: 2 }), 0, 3);
  assert.ok(!x.isContiguous() && y.offset > 0);
  const { got, want } = both([x, y]);
  assertAllClose(got[0]!, want[0]!, { rtol: 1e-6, atol: 0 });
});

test("an input or a constant returned as an output is a copy, never an alias", () => {
  const { exe } = compileJs(graphOf([{ name: "x", shape: [3] }], (x) => [x, k.tensor([1, 2, 3]), k.neg(x)]));
  const x = k.tensor([4, 5, 6]);
  const [same, constant, neg] = exe.run([x]);
  assert.deepEqual(same!.toArray(), [4, 5, 6]);
  assert.notEqual(same!.storage, x.storage);
  assert.deepEqual(constant!.toArray(), [1, 2, 3]);
  (constant!.storage as Float32Array)[0] = 99;
  assert.deepEqual(exe.run([x])[1]!.toArray(), [1, 2, 3]);
  assert.deepEqual(neg!.toArray(), [-4, -5, -6]);
});

test("wrong inputs are typed errors naming the input", () => {
  const { exe } = compileJs(graphOf([{ name: "x", shape: ["s0", 4] }, { name: "w", shape: [4] }], (x, w) => k.mul(x, w)));
  assert.throws(() => exe.run([randn([2, 4])]), ArgumentError);
  assert.throws(() => exe.run([randn([2, 4]), randn([5])]), (e: unknown) => e instanceof ShapeError && /'w'/.test(String(e)));
  assert.throws(() => exe.run([randn([2, 4], { dtype: "bf16" }), randn([4])]), (e: unknown) => e instanceof DTypeError && /'x'/.test(String(e)));
});
