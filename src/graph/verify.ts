// verify(): the graph's structural invariants; a failure is a Kiln bug (InternalError) that prints the node.
import { type TensorType, shapeEq, typeToString } from "../tensor/index.js";
import { OPS } from "../ops/index.js";
import { InternalError } from "../util/index.js";
import type { Graph, Node } from "./graph.js";
import { attrSymbols } from "./attr-codec.js";
import { isInputKind } from "./input-kind.js";
import { printNode } from "./printer.js";

/**
 * Checks that nodes are in topological order and each input is an earlier node of this graph,
 * ids are unique, outputs are nodes of the graph, symbols are declared once and every symbol a
 * type or attribute mentions is declared, input nodes have unique names and a known kind, and
 * every node's stored type is what its op's shape rule gives for its inputs.
 */
export function verify(graph: Graph): void {
  const names = new Map<Node, string>(graph.nodes.map((n, i) => [n, `%${i}`]));
  const fail = (n: Node | undefined, why: string): never => {
    throw new InternalError(`graph verify: ${why}${n ? `\n  at ${printNode(n, names)}` : ""}`);
  };
  const declared = new Set<string>();
  for (const s of graph.symbols) {
    if (declared.has(s.name)) fail(undefined, `symbol ${s.name} is declared twice`);
    if (!(Number.isInteger(s.min) && Number.isInteger(s.max) && s.min <= s.max)) fail(undefined, `symbol ${s.name} has a bad range ${s.min}..${s.max}`);
    declared.add(s.name);
  }
  const seen = new Set<Node>();
  const ids = new Set<number>();
  const inputNames = new Set<string>();
  for (const n of graph.nodes) {
    if (seen.has(n)) fail(n, "the node is listed twice");
    if (ids.has(n.id)) fail(n, `duplicate node id ${n.id}`);
    ids.add(n.id);
    for (const i of n.inputs) if (!seen.has(i)) fail(n, `input ${names.get(i) ?? `%?${i.id}`} (${i.op}) is not an earlier node of this graph`);
    const def = OPS[n.op];
    if (!def) fail(n, `unknown op ${JSON.stringify(n.op)}`);
    const [lo, hi] = typeof def.arity === "number" ? [def.arity, def.arity] : def.arity;
    if (n.inputs.length < lo || n.inputs.length > hi) fail(n, `${n.inputs.length} inputs, ${n.op} takes ${lo === hi ? lo : `${lo} to ${hi}`}`);
    const used = attrSymbols(n.type.shape);
    for (const v of Object.values(n.attrs)) attrSymbols(v, used);
    for (const s of used) if (!declared.has(s)) fail(n, `symbol ${s} is not declared`);
    if (n.op === "input") {
      const name = n.attrs.name;
      if (typeof name !== "string" || !isInputKind(n.attrs.kind)) fail(n, "an input needs a string name and a kind of arg|param|buffer");
      if (inputNames.has(name as string)) fail(n, `duplicate input name ${JSON.stringify(name)}`);
      inputNames.add(name as string);
    }
    let want: TensorType;
    try {
      want = def.infer(n.inputs.map((i) => i.type), n.attrs);
    } catch (e) {
      return fail(n, `its shape rule rejects it: ${e instanceof Error ? e.message : String(e)}`);
    }
    if (want.dtype !== n.type.dtype || !shapeEq(want.shape, n.type.shape)) fail(n, `stored type differs from the shape rule's ${typeToString(want)}`);
    seen.add(n);
  }
  for (const o of graph.outputs) if (!seen.has(o)) fail(o, "an output is not a node of this graph");
}

/** The older name of `verify`. */
export const verifyGraph = verify;
