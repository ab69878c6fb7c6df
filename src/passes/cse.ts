// cse: merges nodes with the same op, inputs and attributes (sources are ignored; graph inputs are never merged).
import { type Node, attrText } from "../graph/index.js";
import { OPS } from "../ops/index.js";
import { type Pass, copyNode, rebuild } from "./pass.js";

/** The structural key of a node whose inputs are already merged: op, input ids, attributes in sorted order. */
function keyOf(node: Node, inputs: readonly Node[]): string {
  const attrs = Object.keys(node.attrs)
    .filter((k) => node.attrs[k] !== undefined)
    .sort()
    .map((k) => `${k}=${attrText(node.attrs[k]!)}`);
  return `${node.op}(${inputs.map((i) => `%${i.id}`).join(",")};${attrs.join(",")})`;
}

export const cse: Pass = {
  name: "cse",
  run(graph) {
    const seen = new Map<string, Node>();
    return rebuild(graph, (node, inputs, b) => {
      if (node.op === "input" || OPS[node.op].mutates !== undefined) return copyNode(node, inputs, b);
      const key = keyOf(node, inputs);
      const hit = seen.get(key);
      if (hit) return hit;
      const made = copyNode(node, inputs, b);
      seen.set(key, made);
      return made;
    });
  },
};
