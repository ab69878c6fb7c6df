import assert from "node:assert/strict";
import { test } from "node:test";
import { add, div, exp, full, mul, sum } from "../../src/index.js";
import { cse, dce } from "../../src/passes/index.js";
import { assertGolden } from "../helpers/golden.js";
import { buildGraph, checkPass, ops } from "../graph/graph-kit.js";

test("cse golden: equal nodes merge, and what uses them then merges too", () => {
  const g = buildGraph([{ name: "x", shape: ["s0", 4] }, { name: "y", shape: ["s0", 4] }], (x, y) => {
    const a = add(exp(x), y);
    const b = add(exp(x), y); // same as a once the two exp(x) merge
    return [mul(a, b), sum(a, 1), sum(b, 0), sum(b, 1)]; // sum(b, 1) = sum(a, 1); sum(b, 0) differs by its axis
  });
  const merged = checkPass(cse, g, [{ s0: 3 }]);
  assertGolden(merged.toString(), "cse.txt");
  assert.deepEqual(ops(merged), ["input", "input", "exp", "add", "mul", "sum", "sum"]);
  assert.equal(merged.outputs[1], merged.outputs[3]);
  assert.notEqual(merged.outputs[1], merged.outputs[2]);
});

test("cse never merges graph inputs, even of one type, nor nodes with different inputs or attributes", () => {
  const g = buildGraph([{ name: "x", shape: [4] }, { name: "y", shape: [4] }], (x, y) => [exp(x), exp(y), sum(x, 0, true), sum(x, 0, false)]);
  const merged = checkPass(cse, g);
  assert.equal(merged.toString(), g.toString());
});

test("cse ignores sources, keeps the first node's, and merges equal constants but not -0 with 0", () => {
  let line = 0;
  const g = buildGraph(
    [{ name: "x", shape: [3] }],
    (x) => [div(x, full([], 0)), div(x, full([], -0)), div(x, full([], 0)), mul(x, full([], NaN)), mul(x, full([], NaN))],
    { source: () => `model.ts:${++line}` },
  );
  const merged = checkPass(cse, g);
  assert.equal(merged.nodes.filter((n) => n.op === "full").length, 3); // 0, -0, NaN
  assert.equal(merged.outputs[0], merged.outputs[2]);
  assert.notEqual(merged.outputs[0], merged.outputs[1]);
  assert.equal(merged.outputs[3], merged.outputs[4]);
  assert.equal(merged.outputs[2]!.source, g.outputs[0]!.source);
  // Only merging happened: nothing became dead.
  assert.equal(dce.run(merged), merged);
});
