import assert from "node:assert/strict";
import { test } from "node:test";
import { type Graph, type Tensor, add, cast, div, interpret, matmul, mul, permute, randn, reshape, sub, sum, tensor, trace } from "../../src/index.js";
import { cse, dce, decompose, foldConstants, runPipeline } from "../../src/passes/index.js";
import { assertAllClose } from "../helpers/assert-close.js";
import { assertGolden } from "../helpers/golden.js";

function same(a: Graph, b: Graph, inputs: Tensor[]) {
  b.verify();
  const [x, y] = [interpret(a, inputs), interpret(b, inputs)];
  x.forEach((t, i) => assertAllClose(y[i]!, t, { rtol: 1e-6, atol: 1e-7 }));
}

test("decompose leaves only primitives and keeps values", () => {
  const f = (x: Tensor) => (x.shape.length ? reshape(x, [-1]) : x);
  const g = trace((x: Tensor, w: Tensor) => f(matmul(x, w)), [randn([2, 3]), randn([3, 4])]).graph;
  const d = decompose.run(trace((x: Tensor) => sum(x, 0), [randn([3])]).graph);
  assert.ok(d.nodes.every((n) => !["mean", "softmax", "linear", "rms_norm", "rotary", "embedding", "stack"].includes(n.op)));
  same(g, decompose.run(g), [randn([2, 3]), randn([3, 4])]);
});

test("fold-constants folds constant arithmetic and removes identities", () => {
  const c = tensor([1, 2, 3]);
  const g = trace((x: Tensor) => {
    const k = add(mul(c, 2), 1); // all-constant: folds to one constant
    const y = reshape(reshape(x, [3, 1]), [3]); // reshape∘reshape back to identity
    const z = permute(permute(reshape(y, [1, 3]), [1, 0]), [1, 0]); // permute∘permute = identity
    return div(sub(mul(add(reshape(z, [3]), k), 1), 0), 1);
  }, [randn([3])]).graph;
  const folded = dce.run(foldConstants.run(g));
  assertGolden(folded.toString(), "fold-constants.txt");
  assert.deepEqual(folded.nodes.map((n) => n.op), ["input", "constant", "add"]);
  same(g, folded, [randn([3], { seed: 4 })]);
});

test("cse merges equal nodes but never inputs; dce keeps inputs", () => {
  const g = trace((x: Tensor, unused: Tensor) => add(mul(x, x), mul(x, x)), [randn([4]), randn([2])]).graph;
  const merged = dce.run(cse.run(g));
  assert.equal(merged.nodes.filter((n) => n.op === "mul").length, 1);
  assert.equal(merged.inputs.length, 2);
  same(g, merged, [randn([4], { seed: 2 }), randn([2])]);
});

test("dce drops dead nodes", () => {
  const g = trace((x: Tensor) => {
    cast(mul(x, 3), "bf16"); // dead
    return add(x, 1);
  }, [randn([2])]).graph;
  assert.deepEqual(dce.run(g).nodes.map((n) => n.op), ["input", "full", "add"]);
});

test("the pipeline reports every pass with node counts", () => {
  const g = trace((x: Tensor, w: Tensor) => matmul(x, w), [randn([2, 3]), randn([3, 4])]).graph;
  const { report } = runPipeline(g, "default", { verify: true });
  assert.deepEqual(report.passes.map((p) => p.name), ["decompose", "fold-constants", "cse", "dce"]);
  assert.ok(report.passes.every((p) => p.nodesBefore >= 1 && p.nodesAfter >= 1));
  assert.throws(() => runPipeline(g, "nope"), /unknown pipeline/);
});
