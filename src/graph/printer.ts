// The graph printer: one canonical text form, with nodes renumbered in order.
import { typeToString } from "../tensor/index.js";
import type { Graph, Node } from "./graph.js";
import { attrText } from "./attr-codec.js";

/** Attributes an input node repeats from its type are left out of the text. */
const TYPE_ATTRS = new Set(["dtype", "shape"]);

export function printNode(node: Node, names: ReadonlyMap<Node, string>): string {
  const args = node.inputs.map((i) => names.get(i) ?? `%?${i.id}`);
  const skip = node.op === "input" ? TYPE_ATTRS : new Set<string>();
  const attrs = Object.keys(node.attrs)
    .filter((k) => !skip.has(k) && node.attrs[k] !== undefined)
    .sort()
    .map((k) => `${k}=${k === "kind" ? String(node.attrs[k]) : attrText(node.attrs[k]!)}`);
  return `${names.get(node)}: ${typeToString(node.type)} = ${node.op}(${[...args, ...attrs].join(", ")})`;
}

export function printGraph(graph: Graph): string {
  const names = new Map<Node, string>(graph.nodes.map((n, i) => [n, `%${i}`]));
  const header = graph.symbols.map((s) => `${s.name}: ${s.min}..${s.max}`).join(", ");
  const lines = [`graph(${header}) {`];
  for (const n of graph.nodes) lines.push(`  ${printNode(n, names)}`);
  lines.push(`  return (${graph.outputs.map((o) => names.get(o)).join(", ")})`, "}");
  return lines.join("\n") + "\n";
}
