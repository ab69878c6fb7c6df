import assert from "node:assert/strict";
import { test } from "node:test";
import { add, cast, exp, mul, sum } from "../../src/index.js";
import { dce } from "../../src/passes/index.js";
import { assertGolden } from "../helpers/golden.js";
import { buildGraph, checkPass, ops } from "../graph/graph-kit.js";

test("dce golden: dead chains go, unused inputs stay, nodes are renumbered", () => {
  const g = buildGraph(
    [{ name: "x", shape: ["s0", 4] }, { name: "unused", shape: [2], kind: "param" }, { name: "y", shape: [4] }],
    (x, _unused, y) => {
      const dead = cast(exp(mul(x, 3)), "bf16"); // a dead chain
      void sum(dead, 0);
      const live = add(x, y);
      void exp(live); // dead, though its input is live
      return [sum(live, 1), x];
    },
  );
  const pruned = checkPass(dce, g, [{ s0: 2 }]);
  assertGolden(pruned.toString(), "dce.txt");
  assert.deepEqual(ops(pruned), ["input", "input", "input", "add", "sum"]);
  assert.equal(pruned.outputs[1], pruned.nodes[0], "an input can be an output");
});

test("dce returns the graph itself when nothing is dead", () => {
  const g = buildGraph([{ name: "x", shape: [3] }, { name: "w", shape: [3], kind: "param" }], (x) => exp(x));
  assert.equal(dce.run(g), g);
});
