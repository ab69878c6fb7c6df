import assert from "node:assert/strict";
import { test } from "node:test";
import { ArgumentError, Graph, InternalError, OPS, type Tensor, matmul, randn, setLogSink, trace } from "../../src/index.js";
import { PIPELINES, cse, dce, decompose, foldConstants, runPipeline } from "../../src/passes/index.js";
import { DecoderBlock } from "../nn/decoder-block.js";
import { assertRoundTrip, assertSameValues } from "../graph/graph-kit.js";

test("the default pipeline is decompose, fold-constants, cse, dce", () => {
  assert.deepEqual(PIPELINES.default, [decompose, foldConstants, cse, dce]);
  assert.deepEqual(PIPELINES.default.map((p) => p.name), ["decompose", "fold-constants", "cse", "dce"]);
});

test("the pipeline reports every pass with node counts that chain, and logs each under KILN_LOG=compile", () => {
  const g = trace((x: Tensor, w: Tensor) => matmul(x, w), [randn([2, 3]), randn([3, 4])]).graph;
  const lines: string[] = [];
  const before = process.env.KILN_LOG;
  const prev = setLogSink((l) => lines.push(l));
  process.env.KILN_LOG = "compile";
  let result;
  try {
    result = runPipeline(g, "default", { verify: true });
  } finally {
    setLogSink(prev);
    if (before === undefined) delete process.env.KILN_LOG;
    else process.env.KILN_LOG = before;
  }
  const { report, graph } = result;
  assert.deepEqual(report.passes.map((p) => p.name), ["decompose", "fold-constants", "cse", "dce"]);
  assert.equal(report.passes[0]!.nodesBefore, g.nodes.length);
  for (let i = 1; i < report.passes.length; i++) assert.equal(report.passes[i]!.nodesBefore, report.passes[i - 1]!.nodesAfter);
  assert.equal(report.passes.at(-1)!.nodesAfter, graph.nodes.length);
  assert.ok(report.passes.every((p) => Number.isFinite(p.ms) && p.ms >= 0) && Number.isFinite(report.totalMs));
  assert.deepEqual(
    lines.map((l) => l.replace(/[\d.]+ ms/, "T ms")),
    [
      "kiln[compile]: pass decompose: 3 → 3 nodes in T ms",
      "kiln[compile]: pass fold-constants: 3 → 3 nodes in T ms",
      "kiln[compile]: pass cse: 3 → 3 nodes in T ms",
      "kiln[compile]: pass dce: 3 → 3 nodes in T ms",
      "kiln[compile]: pipeline default: 3 → 3 nodes in T ms",
    ],
  );
});

test("an unknown pipeline is an ArgumentError; verify: true rejects a broken input graph", () => {
  const g = trace((x: Tensor, w: Tensor) => matmul(x, w), [randn([2, 3]), randn([3, 4])]).graph;
  assert.throws(() => runPipeline(g, "nope"), (e: unknown) => e instanceof ArgumentError && /unknown pipeline 'nope' \(have default\)/.test(e.message));
  assert.throws(() => runPipeline(g, "toString"), ArgumentError);
  const broken = new Graph(g.symbols, g.nodes.slice(0, 2), g.outputs);
  assert.throws(() => runPipeline(broken, "default", { verify: true }), (e: unknown) => e instanceof InternalError && /input of pipeline 'default'/.test(e.message));
});

test("a Llama-style decoder block with a dynamic token dim: only primitives after the pipeline, same values", () => {
  const block = new DecoderBlock({ hidden: 16, heads: 2, kvHeads: 1, headDim: 8, intermediate: 32 }, 3);
  const g = trace(block, [randn([5, 16])], { dynamic: { 0: [0] } }).graph;
  const { graph: after } = runPipeline(g, "default", { verify: true });
  assert.deepEqual(after.nodes.filter((n) => OPS[n.op].category === "composite").map((n) => n.op), []);
  assert.ok(after.nodes.length > g.nodes.length, "composites expanded");
  assert.deepEqual(after.inputs.map((n) => n.attrs.name), g.inputs.map((n) => n.attrs.name));
  for (const x of [g, after]) assertRoundTrip(x);
  assertSameValues(g, after, [{ s0: 1 }, { s0: 6 }]);
  // Nothing the pipeline leaves can be folded, merged or dropped again.
  const again = runPipeline(after, "default", { verify: true }).graph;
  assert.equal(again.toString(), after.toString());
});
