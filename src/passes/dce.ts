// dce: drops nodes no output depends on; graph inputs always stay (they are the signature).
import { Graph, type Node } from "../graph/index.js";
import { OPS } from "../ops/index.js";
import { type Pass, copyNode, rebuild } from "./pass.js";

export const dce: Pass = {
  name: "dce",
  run(graph) {
    // Outputs are live, and so are in-place writes (kv_store) whether or not anything reads them after.
    const live = new Set<Node>([...graph.outputs, ...graph.nodes.filter((n) => OPS[n.op].mutates !== undefined)]);
    for (let i = graph.nodes.length - 1; i >= 0; i--) {
      const n = graph.nodes[i]!;
      if (live.has(n)) for (const x of n.inputs) live.add(x);
    }
    const kept = graph.nodes.filter((n) => live.has(n) || n.op === "input");
    if (kept.length === graph.nodes.length) return graph;
    // A live node's inputs are live, so the kept list is closed; rebuilding renumbers ids by position.
    return rebuild(new Graph(graph.symbols, kept, graph.outputs), copyNode);
  },
};
