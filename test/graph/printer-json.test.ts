import assert from "node:assert/strict";
import { test } from "node:test";
import { ArgumentError, Graph, GraphBuilder, InternalError, SymbolicTensor, type Tensor, full, linear, recordingInterpreter, reshape, rmsNorm, slice, softmax, sym, trace, withInterpreter, randn } from "../../src/index.js";
import { runPipeline } from "../../src/passes/index.js";
import { assertGolden } from "../helpers/golden.js";

/** rms_norm → linear → softmax with a dynamic token dim: the small graph the goldens pin. */
export function smallGraph(): Graph {
  const w = randn([8], { seed: 1 });
  const p = randn([4, 8], { seed: 2 });
  const f = (x: Tensor, nw: Tensor, pw: Tensor) => softmax(linear(rmsNorm(x, nw, 1e-5), pw), -1);
  return trace(f, [randn([3, 8]), w, p], { dynamic: { x: [0] } }).graph;
}

const roundTrip = (g: Graph) => Graph.fromJSON(JSON.parse(JSON.stringify(g.toJSON())));

test("printer golden: a small graph before and after the default pipeline", () => {
  const g = smallGraph();
  assertGolden(g.toString(), "small-graph.txt");
  const after = runPipeline(g, "default", { verify: true }).graph;
  assertGolden(after.toString(), "small-graph.pipeline.txt");
  for (const x of [g, after]) assert.equal(roundTrip(x).toString(), x.toString());
});

test("JSON round trip keeps symbolic dims in attributes, sources and symbols", () => {
  const b = new GraphBuilder();
  b.addSymbol({ name: "s0", min: 1, max: 64, hint: 4 });
  const x = new SymbolicTensor(b.input("x", "arg", { dtype: "f32", shape: [sym("s0"), 6] }), b);
  const out = withInterpreter(recordingInterpreter(b, { keepComposites: true, lift: () => { throw new Error("no constants"); }, source: () => "model.ts:1:1" }), () => {
    const y = reshape(x, [-1, 3]);
    const z = slice(y, 0, 1, sym("s0"));
    return [z, full([sym("s0"), 2], -Infinity)] as const;
  });
  const g = b.build(out.map((t) => (t as SymbolicTensor).node));
  const back = roundTrip(g);
  assert.equal(back.toString(), g.toString());
  assert.deepEqual(back.symbols, g.symbols);
  assert.equal(back.nodes[2]!.source, "model.ts:1:1");
  assert.match(g.toString(), /reshape\(%0, shape=\[-1, 3\]\)/);
  assert.match(g.toString(), /full\(dtype="f32", shape=\[s0, 2\], value=-inf\)/);
});

test("malformed graph JSON gives typed errors", () => {
  const j = smallGraph().toJSON();
  assert.throws(() => Graph.fromJSON({ ...j, nodes: [{ ...j.nodes[0]!, op: "frobnicate" }] }), (e: unknown) => e instanceof ArgumentError && /unknown op/.test(e.message));
  assert.throws(() => Graph.fromJSON({ ...j, nodes: [...j.nodes.slice(0, 3), { ...j.nodes[3]!, inputs: [99] }] }), /bad input reference/);
  assert.throws(() => Graph.fromJSON({ format: 2 }), ArgumentError);
});

test("verify catches a node whose stored type disagrees with its shape rule", () => {
  const g = smallGraph();
  const bad = new Graph(g.symbols, g.nodes.map((n, i) => (i === 3 ? { ...n, type: { dtype: "bf16" as const, shape: n.type.shape } } : n)), g.outputs);
  assert.throws(() => bad.verify(), InternalError);
  g.verify();
});
