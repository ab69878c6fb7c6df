// The graph printer: one canonical text form, nodes renumbered %0..%n-1 in order, attributes sorted.
import { typeToString } from "../tensor/index.js";
import type { Graph, Node } from "./graph.js";
import { attrText } from "./attr-codec.js";

/** Attributes an input node repeats from its type are left out of the text. */
const TYPE_ATTRS: ReadonlySet<string> = new Set(["dtype", "shape"]);
const NONE: ReadonlySet<string> = new Set();

/** One node's line (without indentation); `names` gives each node's printed name, unknown inputs print as `%?<id>`. */
export function printNode(node: Node, names: ReadonlyMap<Node, string>): string {
  const args = node.inputs.map((i) => names.get(i) ?? `%?${i.id}`);
  const skip = node.op === "input" ? TYPE_ATTRS : NONE;
  const attrs = Object.keys(node.attrs)
    .filter((k) => !skip.has(k) && node.attrs[k] !== undefined)
    .sort()
    .map((k) => `${k}=${node.op === "input" && k === "kind" ? String(node.attrs[k]) : attrText(node.attrs[k]!)}`);
  return `${names.get(node) ?? `%?${node.id}`}: ${typeToString(node.type)} = ${node.op}(${[...args, ...attrs].join(", ")})`;
}

/** The canonical text of a graph: equal graphs print identically whatever their node ids (sources are not printed). */
export function printGraph(graph: Graph): string {
  const names = new Map<Node, string>(graph.nodes.map((n, i) => [n, `%${i}`]));
  const header = graph.symbols.map((s) => `${s.name}: ${s.min}..${s.max}`).join(", ");
  const lines = [`graph(${header}) {`];
  for (const n of graph.nodes) lines.push(`  ${printNode(n, names)}`);
  lines.push(`  return (${graph.outputs.map((o) => names.get(o) ?? `%?${o.id}`).join(", ")})`, "}");
  return lines.join("\n") + "\n";
}
