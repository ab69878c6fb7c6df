import assert from "node:assert/strict";
import { test } from "node:test";
import {
  ShapeError, type Tensor, add, arange, cast, div, exp, expand, full, indexSelect, interpret, lt, matmul, mul, neg, permute, randn, reshape, slice,
  sub, sum, tensor, trace, where,
} from "../../src/index.js";
import { MAX_FOLDED_ELEMENTS, dce, foldConstants } from "../../src/passes/index.js";
import { assertGolden } from "../helpers/golden.js";
import { buildGraph, checkPass, ops } from "../graph/graph-kit.js";

/** fold-constants then dce (folding leaves the folded inputs dead), with every check a pass must pass. */
const fold = (g: Parameters<typeof checkPass>[1], sizes?: Parameters<typeof checkPass>[2]) => checkPass(dce, checkPass(foldConstants, g, sizes), sizes);

test("fold-constants golden: constant arithmetic folds, view compositions cancel, neutral arithmetic goes", () => {
  const c = tensor([1, 2, 3]);
  const g = trace((x: Tensor) => {
    const k = add(mul(c, 2), 1); // all-constant: folds to one constant
    const y = reshape(reshape(x, [3, 1]), [3]); // reshape∘reshape back to identity
    const z = permute(permute(reshape(y, [1, 3]), [1, 0]), [1, 0]); // permute∘permute = identity
    return div(sub(mul(add(reshape(z, [3]), k), 1), 0), 1);
  }, [randn([3])]).graph;
  const folded = fold(g);
  assertGolden(folded.toString(), "fold-constants.txt");
  assert.deepEqual(ops(folded), ["input", "constant", "add"]);
  assert.deepEqual(folded.nodes[1]!.attrs.values, [3, 5, 7]);
});

test("small all-constant subexpressions (constant, full, arange inputs) become one constant; matmul and reductions too", () => {
  const g = buildGraph([{ name: "x", shape: [4] }], (x) => {
    const idx = cast(arange(4), "f32"); // [0, 1, 2, 3]
    const m = matmul(reshape(idx, [4, 1]), reshape(add(idx, 1), [1, 4])); // outer product, 16 values
    const s = sum(m, 0); // [6, 12, 18, 24]
    return add(x, mul(s, full([], 0.5)));
  });
  const folded = fold(g);
  assert.deepEqual(ops(folded), ["input", "constant", "add"]);
  assert.deepEqual(folded.nodes[1]!.attrs.values, [3, 6, 9, 12]); // 0.5 * Σi i*(j+1)
});

test("uniform values fold into `full` nodes of any shape, symbolic ones included, with the dtype's rounding", () => {
  const g = buildGraph([{ name: "x", shape: ["s0", 4] }], (x) => {
    const s0 = x.shape[0]!;
    const a = add(full([s0, 4], 2), full([], 3)); // 5 everywhere, shape [s0, 4]
    const b = cast(mul(expand(reshape(full([1], 0.1), [1, 1]), [s0, 4]), a), "bf16"); // 0.5 in bf16
    const mask = lt(full([s0, 4], 1, "i32"), 2); // true everywhere
    const big = exp(neg(full([128, 128], 0))); // 16384 ones: stays a full, never a constant
    return [add(x, cast(b, "f32")), where(mask, x, a), sum(big, 0)];
  });
  const folded = fold(g, [{ s0: 2 }, { s0: 5 }]);
  assertGolden(folded.toString(), "fold-constants-uniform.txt");
  const fulls = folded.nodes.filter((n) => n.op === "full");
  // f32(0.1) * 5 = 0.50000000745…, which bf16 rounds to 0.5; the cast back to f32 keeps 0.5.
  assert.ok(fulls.some((n) => n.type.dtype === "f32" && n.attrs.value === 0.5), "the bf16 rounding is applied");
  assert.ok(fulls.some((n) => n.type.dtype === "bool" && n.attrs.value === 1));
  assert.ok(fulls.some((n) => String(n.type.shape) === "128,128" && n.attrs.value === 1), "exp(-0) of a large full is a large full of ones");
  assert.ok(folded.nodes.every((n) => n.op !== "constant" || (n.attrs.values as number[]).length <= MAX_FOLDED_ELEMENTS));
  assert.deepEqual(ops(folded).filter((op) => !["input", "full"].includes(op)), ["add", "where", "sum"]);
});

test("results above the size limit are not materialised", () => {
  const n = MAX_FOLDED_ELEMENTS + 4;
  const g = buildGraph([{ name: "x", shape: [n] }], (x) => add(x, cast(arange(n), "f32")));
  const folded = fold(g);
  assert.deepEqual(ops(folded), ["input", "arange", "cast", "add"]);
  // A small result of a large full is not folded either: the large full would have to be materialised.
  const h = buildGraph([{ name: "x", shape: [1] }], (x) => add(x, sum(reshape(cast(arange(n), "f32"), [-1]), 0, true)));
  assert.ok(!ops(fold(h)).includes("constant"));
});

test("identity views and casts are removed", () => {
  const g = buildGraph([{ name: "x", shape: ["s0", 3] }], (x) => {
    const a = reshape(x, [x.shape[0]!, 3]);
    const b = permute(a, [0, -1]);
    const c = expand(b, [-1, 3]);
    const d = slice(c, 1, 0, null);
    const e = slice(d, 0, 0, x.shape[0]!);
    return cast(e, "f32");
  });
  const folded = fold(g, [{ s0: 4 }]);
  assert.deepEqual(ops(folded), ["input"]);
  assert.equal(folded.outputs[0], folded.nodes[0]);
});

test("reshape∘reshape and permute∘permute merge into one view", () => {
  const g = buildGraph([{ name: "x", shape: [2, 3, 4] }, { name: "y", shape: ["s0", 4] }], (x, y) => [
    reshape(reshape(x, [6, 4]), [24]),
    permute(permute(x, [1, 0, 2]), [0, 2, 1]), // → [1, 2, 0] of x
    permute(permute(x, [2, 0, 1]), [-2, -1, 0]), // inverse perms cancel
    reshape(reshape(y, [-1]), [y.shape[0]!, 2, 2]),
  ]);
  const folded = fold(g, [{ s0: 3 }]);
  assertGolden(folded.toString(), "fold-constants-views.txt");
  assert.deepEqual(ops(folded), ["input", "input", "reshape", "permute", "reshape"]);
  assert.deepEqual(folded.nodes[3]!.attrs.perm, [1, 2, 0]);
  assert.equal(folded.outputs[2], folded.nodes[0]);
});

test("x*1, 1*x, x+0, 0+x, x-0 and x/1 go only when they keep the shape and dtype", () => {
  const g = buildGraph([{ name: "x", shape: ["s0", 3] }, { name: "i", shape: [3], dtype: "i32" }], (x, i) => [
    div(sub(add(full([], 0), mul(full([1, 1], 1), add(mul(x, 1), 0))), 0), tensor([1, 1, 1])), // all neutral: x
    mul(x, full([2, x.shape[0]!, 3], 1)), // broadcasts to [2, s0, 3]: kept
    mul(i, 1.0), // i32 * i32 1: stays i32, goes
    mul(i, full([], 1, "f32")), // promotes to f32: kept
    div(i, 1), // int division gives f32: kept
    sub(full([], 0), x), // 0 - x is not x: kept
    mul(x, 2), // not neutral: kept
  ]);
  const folded = fold(g, [{ s0: 2 }]);
  assertGolden(folded.toString(), "fold-constants-algebra.txt");
  assert.equal(folded.outputs[0], folded.nodes[0]);
  assert.equal(folded.outputs[2], folded.nodes[1]);
  assert.deepEqual(folded.outputs.slice(1).map((o) => o.op), ["mul", "input", "mul", "div", "sub", "mul"]);
});

test("a constant expression whose kernel rejects its values (an index out of range) is left for run time", () => {
  const g = buildGraph([{ name: "x", shape: [2] }], (x) => add(x, indexSelect(tensor([1, 2, 3]), 0, tensor([0, 7], { dtype: "i32" }))));
  const folded = foldConstants.run(g).verify();
  assert.ok(ops(folded).includes("index_select"));
  assert.throws(() => interpret(folded, [tensor([1, 2])]), ShapeError);
  // In range, it folds.
  const ok = buildGraph([{ name: "x", shape: [2] }], (x) => add(x, indexSelect(tensor([1, 2, 3]), 0, tensor([2, 0], { dtype: "i32" }))));
  assert.deepEqual(fold(ok).nodes[1]!.attrs.values, [3, 1]);
});
