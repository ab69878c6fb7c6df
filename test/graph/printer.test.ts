import assert from "node:assert/strict";
import { test } from "node:test";
import {
  Graph, type Node, type Tensor, add, cat, full, linear, numberText, printGraph, randn, reshape, rmsNorm, slice, softmax, tensor, trace,
} from "../../src/index.js";
import { runPipeline } from "../../src/passes/index.js";
import { assertGolden } from "../helpers/golden.js";
import { assertRoundTrip, assertSameValues, buildGraph } from "./graph-kit.js";

/** rms_norm → linear → softmax with a dynamic token dim, traced: the small graph the goldens pin. */
export function smallGraph(): Graph {
  const f = (x: Tensor, nw: Tensor, pw: Tensor) => softmax(linear(rmsNorm(x, nw, 1e-5), pw), -1);
  return trace(f, [randn([3, 8]), randn([8], { seed: 1 }), randn([4, 8], { seed: 2 })], { dynamic: { x: [0] } }).graph;
}

test("printer golden: a small graph before and after the default pipeline", () => {
  const g = smallGraph();
  assertGolden(g.toString(), "small-graph.txt");
  const after = runPipeline(g, "default", { verify: true }).graph;
  assertGolden(after.toString(), "small-graph.pipeline.txt");
  assert.equal(printGraph(after), after.toString());
  for (const x of [g, after]) assertRoundTrip(x);
  assertSameValues(g, after, [{ s0: 1 }, { s0: 5 }]);
});

test("printer golden: symbolic dims in types and attributes print as canonical polynomials", () => {
  const g = buildGraph([{ name: "x", shape: ["s0", "s1", 4] }, { name: "y", shape: ["s1", 4] }], (x, y) => {
    const flat = reshape(x, [-1, 4]); // [s0*s1, 4]
    const both = cat([flat, y], 0); // [s0*s1 + s1, 4]
    const head = slice(both, 0, 1, null); // [s0*s1 + s1 - 1, 4]
    return [head, full([both.shape[0]!, 2], 0.5)];
  });
  assertGolden(g.toString(), "printer-symbolic.txt");
  assert.match(g.toString(), /f32\[s0\*s1 \+ s1 - 1,4\] = slice\(%\d+, axis=0, end=null, start=1, step=1\)/);
  assert.match(g.toString(), /full\(dtype="f32", shape=\[s0\*s1 \+ s1, 2\], value=0.5\)/);
  assertRoundTrip(g);
});

test("nodes are renumbered in order, so graphs that differ only in node ids print identically", () => {
  const g = buildGraph([{ name: "x", shape: [2, 3] }], (x) => add(x, x));
  const renamed = new Map<Node, Node>();
  const nodes = g.nodes.map((n, i) => {
    const m: Node = { ...n, id: 100 + 7 * i, inputs: n.inputs.map((x) => renamed.get(x)!) };
    renamed.set(n, m);
    return m;
  });
  const other = new Graph(g.symbols, nodes, g.outputs.map((o) => renamed.get(o)!));
  other.verify();
  assert.equal(other.toString(), g.toString());
  assert.equal(g.toString(), "graph() {\n  %0: f32[2,3] = input(kind=arg, name=\"x\")\n  %1: f32[2,3] = add(%0, %0)\n  return (%1)\n}\n");
});

test("attributes print in sorted order whatever their insertion order; strings are quoted and escaped", () => {
  const g1 = buildGraph([{ name: 'we"ird\n', shape: [10] }], (x) => slice(x, 0, 2, 8, 3));
  const n = g1.nodes[1]!;
  const shuffled = { step: n.attrs.step!, end: n.attrs.end!, start: n.attrs.start!, axis: n.attrs.axis! };
  const m: Node = { ...n, attrs: shuffled };
  const g2 = new Graph(g1.symbols, [g1.nodes[0]!, m], [m]).verify();
  assert.notDeepEqual(Object.keys(m.attrs), Object.keys(n.attrs));
  assert.equal(g2.toString(), g1.toString());
  assert.match(g1.toString(), /input\(kind=arg, name="we\\"ird\\n"\)/);
  assert.match(g1.toString(), /f32\[2\] = slice\(%0, axis=0, end=8, start=2, step=3\)/);
});

test("numbers print in a round-trippable form, constants in full", () => {
  const values = [0.1, 1 / 3, -0, 0, 1e-7, 1e21, 5e-324, 2 ** 53 + 2, -2.5, 123456789.125];
  for (const v of values) assert.ok(Object.is(Number(numberText(v)), v), `${v} prints as ${numberText(v)}`);
  assert.deepEqual([NaN, Infinity, -Infinity, -0].map(numberText), ["nan", "inf", "-inf", "-0"]);
  const c = tensor([0.5, -0, NaN, Infinity, -Infinity, 3], { dtype: "f32" });
  const g = buildGraph([{ name: "x", shape: [6] }], (x) => add(x, c));
  assert.match(g.toString(), /constant\(dtype="f32", shape=\[6\], values=\[0.5, -0, nan, inf, -inf, 3\]\)/);
  assertRoundTrip(g);
  // A lifted f32 tensor holds f32 values; the text shows the exact double of each.
  const h = buildGraph([{ name: "x", shape: [1] }], (x) => add(x, tensor([0.1], { dtype: "f32" })));
  assert.match(h.toString(), /values=\[0.10000000149011612\]/);
});
