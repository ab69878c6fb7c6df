// verify(): the graph's structural invariants; a failure is a Kiln bug (InternalError) naming the node.
import { shapeEq, isSym } from "../tensor/index.js";
import { OPS } from "../ops/index.js";
import { InternalError } from "../util/index.js";
import type { Graph, Node } from "./graph.js";
import { printNode } from "./printer.js";

export function verifyGraph(graph: Graph): void {
  const seen = new Set<Node>();
  const ids = new Set<number>();
  const names = new Map<Node, string>(graph.nodes.map((n, i) => [n, `%${i}`]));
  const declared = new Set(graph.symbols.map((s) => s.name));
  const fail = (n: Node, why: string): never => {
    throw new InternalError(`graph verify: ${why}\n  at ${printNode(n, names)}`);
  };
  for (const n of graph.nodes) {
    if (ids.has(n.id)) fail(n, `duplicate node id ${n.id}`);
    ids.add(n.id);
    for (const i of n.inputs) if (!seen.has(i)) fail(n, "an input is not an earlier node of this graph");
    for (const d of n.type.shape) {
      if (isSym(d)) for (const s of d.symbols()) if (!declared.has(s)) fail(n, `symbol ${s} is not declared`);
    }
    let want;
    try {
      want = OPS[n.op].infer(n.inputs.map((i) => i.type), n.attrs);
    } catch (e) {
      fail(n, `shape rule rejects the node: ${(e as Error).message}`);
    }
    if (want!.dtype !== n.type.dtype || !shapeEq(want!.shape, n.type.shape)) fail(n, `stored type differs from the shape rule's ${want!.dtype}[${want!.shape.map(String)}]`);
    seen.add(n);
  }
  for (const o of graph.outputs) if (!seen.has(o)) throw new InternalError("graph verify: an output is not a node of this graph");
}
