import assert from "node:assert/strict";
import { test } from "node:test";
import { Graph, InternalError, type Node, add, exp, reshape, sum, verify } from "../../src/index.js";
import { buildGraph } from "./graph-kit.js";

/** x[s0,4] → exp → sum(axis 1) → add x-row-sums to themselves: a small graph to break in various ways. */
function sample(): Graph {
  return buildGraph([{ name: "x", shape: ["s0", 4] }, { name: "y", shape: [4] }], (x, y) => {
    const e = exp(add(x, y));
    return reshape(sum(e, 1), [-1, 1]);
  });
}

/** Expects verify() to throw an InternalError whose message says `why` and prints the offending node line. */
function assertBroken(g: Graph, why: RegExp, line?: RegExp): void {
  assert.throws(
    () => g.verify(),
    (e: unknown) => e instanceof InternalError && why.test(e.message) && (!line || line.test(e.message)),
  );
}

test("verify accepts well-formed graphs and returns the graph", () => {
  const g = sample();
  assert.equal(g.verify(), g);
  verify(g);
});

test("verify: a stored type that disagrees with the shape rule", () => {
  const g = sample();
  const nodes = g.nodes.map((n, i) => (i === 3 ? { ...n, type: { dtype: "bf16" as const, shape: n.type.shape } } : n));
  // node 4 still points at the old node 3, so rebuild the references
  const fixed = relink(nodes);
  assertBroken(new Graph(g.symbols, fixed, [fixed.at(-1)!]), /stored type differs from the shape rule's f32\[s0,4\]/, /at %3: bf16\[s0,4\] = exp\(%2\)/);
});

test("verify: nodes out of topological order, or inputs from another graph", () => {
  const g = sample();
  const swapped = [g.nodes[0]!, g.nodes[1]!, g.nodes[3]!, g.nodes[2]!, ...g.nodes.slice(4)];
  assertBroken(new Graph(g.symbols, swapped, g.outputs), /input %3 \(add\) is not an earlier node of this graph/, /at %2: f32\[s0,4\] = exp\(%3\)/);
  const other = sample();
  const foreign = [...g.nodes.slice(0, 2), { ...g.nodes[2]!, inputs: [other.nodes[0]!, g.nodes[1]!] }];
  assertBroken(new Graph(g.symbols, foreign, [foreign[2]!]), /input %\?0 \(input\) is not an earlier node/, /= add\(%\?0, %1\)/);
});

test("verify: duplicate ids, a node listed twice, an output outside the graph", () => {
  const g = sample();
  const dupId = [...g.nodes.slice(0, 2), { ...g.nodes[2]!, id: 0 }];
  assertBroken(new Graph(g.symbols, dupId, [dupId[2]!]), /duplicate node id 0/);
  assertBroken(new Graph(g.symbols, [...g.nodes, g.nodes[2]!], g.outputs), /listed twice/);
  assertBroken(new Graph(g.symbols, g.nodes.slice(0, 3), g.outputs), /an output is not a node of this graph/);
});

test("verify: undeclared or doubly declared symbols, bad ranges", () => {
  const g = sample();
  assertBroken(new Graph([], g.nodes, g.outputs), /symbol s0 is not declared/, /at %0: f32\[s0,4\] = input/);
  assertBroken(new Graph([...g.symbols, ...g.symbols], g.nodes, g.outputs), /symbol s0 is declared twice/);
  assertBroken(new Graph([{ name: "s0", min: 5, max: 2, hint: 3 }], g.nodes, g.outputs), /bad range 5..2/);
});

test("verify: inputs need unique names and a known kind; ops need their arity", () => {
  const g = sample();
  const renamed = relink(g.nodes.map((n, i) => (i === 1 ? { ...n, attrs: { ...n.attrs, name: "x" } } : n)));
  assertBroken(new Graph(g.symbols, renamed, [renamed.at(-1)!]), /duplicate input name "x"/);
  const kinds = relink(g.nodes.map((n, i) => (i === 1 ? { ...n, attrs: { ...n.attrs, kind: "weight" } } : n)));
  assertBroken(new Graph(g.symbols, kinds, [kinds.at(-1)!]), /kind of arg\|param\|buffer/);
  const arity = relink(g.nodes.map((n, i) => (i === 3 ? { ...n, inputs: [g.nodes[2]!, g.nodes[2]!] } : n)));
  assertBroken(new Graph(g.symbols, arity, [arity.at(-1)!]), /2 inputs, exp takes 1/);
});

test("verify: attributes the shape rule rejects", () => {
  const g = sample();
  const bad = relink(g.nodes.map((n) => (n.op === "sum" ? { ...n, attrs: { axis: 7 } } : n)));
  assertBroken(new Graph(g.symbols, bad, [bad.at(-1)!]), /its shape rule rejects it/, /= sum\(%3, axis=7\)/);
});

/** Re-points every node's inputs at the (possibly replaced) nodes of the same position in `nodes`. */
function relink(nodes: readonly Node[]): Node[] {
  const pos = new Map<number, Node>();
  return nodes.map((n) => {
    const m: Node = { ...n, inputs: n.inputs.map((i) => pos.get(i.id) ?? i) };
    pos.set(n.id, m);
    return m;
  });
}
