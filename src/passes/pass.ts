// Pass: a named graph → graph rewrite; `rebuild` is the walk most passes are made of.
import { type Graph, GraphBuilder, type Node } from "../graph/index.js";

export interface Pass {
  readonly name: string;
  run(graph: Graph): Graph;
}

/** How a rewrite handles one node: given its inputs already rebuilt, return the new node standing for it. */
export type NodeRewrite = (node: Node, inputs: readonly Node[], b: GraphBuilder) => Node;

/** Copies the node as it is (with its inputs already mapped), keeping its source. */
export function copyNode(node: Node, inputs: readonly Node[], b: GraphBuilder): Node {
  return b.node(node.op, inputs, node.attrs, node.source);
}

/** Rebuilds `graph` node by node through `rewrite` (in order), keeping its symbols and mapping its outputs. */
export function rebuild(graph: Graph, rewrite: NodeRewrite): Graph {
  const b = new GraphBuilder();
  for (const s of graph.symbols) b.addSymbol(s);
  const map = new Map<Node, Node>();
  for (const n of graph.nodes) map.set(n, rewrite(n, n.inputs.map((i) => map.get(i)!), b));
  return b.build(graph.outputs.map((o) => map.get(o)!));
}
