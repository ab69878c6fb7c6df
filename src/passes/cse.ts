// cse: merges nodes with the same op, inputs and attributes (graph inputs are never merged).
import { attrText } from "../graph/index.js";
import { type Pass, copyNode, rebuild } from "./pass.js";
import type { Node } from "../graph/index.js";

export const cse: Pass = {
  name: "cse",
  run(graph) {
    const seen = new Map<string, Node>();
    return rebuild(graph, (node, inputs, b) => {
      if (node.op === "input") return copyNode(node, inputs, b);
      const attrs = Object.keys(node.attrs).sort().map((k) => `${k}=${attrText(node.attrs[k]!)}`);
      const key = `${node.op}(${inputs.map((i) => i.id).join(",")};${attrs.join(",")})`;
      const hit = seen.get(key);
      if (hit) return hit;
      const made = copyNode(node, inputs, b);
      seen.set(key, made);
      return made;
    });
  },
};
