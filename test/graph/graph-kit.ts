// Test helpers for graphs and passes: build a graph from the functional API on symbolic inputs,
// make random inputs for it, check an exact JSON round trip, and check a rewrite keeps values.
import assert from "node:assert/strict";
import {
  type DType, type Dim, Graph, GraphBuilder, type InputKind, type Node, SymbolicTensor, Tensor, evalDim, interpret, isFloat, mulberry32,
  randn, recordingInterpreter, sym, withInterpreter,
} from "../../src/index.js";
import { assertAllClose } from "../helpers/assert-close.js";

export interface InputSpec {
  readonly name: string;
  /** Dims; a string names a symbol (a dynamic dim). */
  readonly shape: readonly (number | string)[];
  readonly dtype?: DType;
  readonly kind?: InputKind;
}

export interface BuildOptions {
  /** Record composites whole (default) or their decompositions. */
  readonly keepComposites?: boolean;
  /** The source recorded on every node. */
  readonly source?: () => string | undefined;
  /** Range of every symbol (default 1..4096, hint 7). */
  readonly range?: { readonly min: number; readonly max: number; readonly hint: number };
}

/** The graph of `fn` on symbolic inputs; concrete tensors it uses become `constant` nodes. */
export function buildGraph(inputs: readonly InputSpec[], fn: (...xs: Tensor[]) => Tensor | readonly Tensor[], options: BuildOptions = {}): Graph {
  const b = new GraphBuilder();
  const declared = new Set<string>();
  const range = options.range ?? { min: 1, max: 4096, hint: 7 };
  const xs = inputs.map((spec) => {
    const shape: Dim[] = spec.shape.map((d) => {
      if (typeof d === "number") return d;
      if (!declared.has(d)) b.addSymbol({ name: d, ...range });
      declared.add(d);
      return sym(d);
    });
    return new SymbolicTensor(b.input(spec.name, spec.kind ?? "arg", { dtype: spec.dtype ?? "f32", shape }, options.source?.()), b);
  });
  const lift = (t: Tensor) => b.node("constant", [], { dtype: t.dtype, shape: [...t.dims], values: Array.from(t.values()) }, options.source?.());
  const interp = recordingInterpreter(b, { keepComposites: options.keepComposites ?? true, lift, source: options.source });
  const out = withInterpreter(interp, () => fn(...xs));
  const outs = Array.isArray(out) ? (out as readonly Tensor[]) : [out as Tensor];
  // A concrete output (fn returned a constant) becomes a constant node too.
  return b.build(outs.map((t) => (t instanceof SymbolicTensor && t.owner === b ? t.node : lift(t))));
}

/** Random values for every graph input at the given symbol sizes (ints in [0, intHigh), bools 0/1). */
export function randomInputs(graph: Graph, sizes: Readonly<Record<string, number>>, seed = 1, intHigh = 4): Tensor[] {
  const rand = mulberry32(seed);
  return graph.inputs.map((node: Node, k) => {
    const shape = node.type.shape.map((d) => evalDim(d, sizes));
    const dtype = node.type.dtype;
    if (isFloat(dtype)) return Tensor.fromValues(dtype, shape, randn(shape, { seed: seed * 100 + k }).values());
    const n = shape.reduce((a, c) => a * c, 1);
    const high = dtype === "bool" ? 2 : intHigh;
    return Tensor.fromValues(dtype, shape, Array.from({ length: n }, () => Math.floor(rand() * high)));
  });
}

/** `Graph.fromJSON` of the stringified JSON: prints identically, encodes to the same JSON, keeps sources and symbols. */
export function assertRoundTrip(g: Graph): Graph {
  const json = g.toJSON();
  const back = Graph.fromJSON(JSON.parse(JSON.stringify(json)));
  assert.equal(back.toString(), g.toString());
  assert.deepEqual(back.toJSON(), JSON.parse(JSON.stringify(json)));
  assert.deepEqual(back.symbols, g.symbols);
  assert.deepEqual(back.nodes.map((n) => n.source), g.nodes.map((n) => n.source));
  back.verify();
  return back;
}

/** Both graphs give the same outputs (within 1e-6) on random inputs at each set of symbol sizes. */
export function assertSameValues(before: Graph, after: Graph, sizes: readonly Readonly<Record<string, number>>[] = [{}], seed = 3): void {
  for (const s of sizes) {
    const inputs = randomInputs(before, s, seed);
    const want = interpret(before, inputs);
    const got = interpret(after, inputs);
    assert.equal(got.length, want.length);
    want.forEach((w, i) => {
      assert.equal(got[i]!.dtype, w.dtype);
      assertAllClose(got[i]!, w, { rtol: 1e-6, atol: 1e-6 });
    });
  }
}

/** Runs `pass` and checks what every pass must keep: verify(), values, exact JSON round trips of both graphs. */
export function checkPass(pass: { run(g: Graph): Graph }, g: Graph, sizes: readonly Readonly<Record<string, number>>[] = [{}]): Graph {
  g.verify();
  const after = pass.run(g);
  after.verify();
  assertRoundTrip(g);
  assertRoundTrip(after);
  assert.deepEqual(after.inputs.map((n) => n.attrs.name), g.inputs.map((n) => n.attrs.name), "a pass keeps the graph's inputs");
  assert.deepEqual(after.nodes.map((n) => n.id), after.nodes.map((_, i) => i), "a rewritten graph numbers its nodes by position");
  assertSameValues(g, after, sizes);
  return after;
}

export const ops = (g: Graph): string[] => g.nodes.map((n) => n.op);
