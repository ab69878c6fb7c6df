// The graph's JSON codec: nodes refer to their inputs by position; decoding re-checks every node
// with its op's shape rule, so a decoded graph is as well-formed as one built with GraphBuilder.
import { type DType, type TensorType, isDType, isSym, shapeEq, typeToString } from "../tensor/index.js";
import { type AttrValue, OPS, type OpName, isOpName } from "../ops/index.js";
import { ArgumentError } from "../util/index.js";
import type { Graph, Node, SymbolInfo } from "./graph.js";
import { attrSymbols, decodeAttr, decodeDim, encodeAttr, showValue } from "./attr-codec.js";
import { isInputKind } from "./input-kind.js";

export const GRAPH_JSON_FORMAT = 1;

export interface NodeJSON {
  readonly op: OpName;
  /** Positions of the input nodes in `nodes` (always earlier ones). */
  readonly inputs: readonly number[];
  readonly attrs: Readonly<Record<string, unknown>>;
  readonly type: { readonly dtype: DType; readonly shape: readonly unknown[] };
  readonly source?: string;
}

export interface GraphJSON {
  readonly format: typeof GRAPH_JSON_FORMAT;
  readonly symbols: readonly SymbolInfo[];
  readonly nodes: readonly NodeJSON[];
  /** Positions of the output nodes in `nodes`. */
  readonly outputs: readonly number[];
}

/** What `decodeGraphJSON` returns: the parts of a Graph (graph.ts assembles them, keeping this file free of a value import of it). */
export interface GraphParts {
  readonly symbols: SymbolInfo[];
  readonly nodes: Node[];
  readonly outputs: Node[];
}

export function graphToJSON(graph: Graph): GraphJSON {
  const index = new Map(graph.nodes.map((n, i) => [n, i]));
  const at = (n: Node): number => {
    const i = index.get(n);
    if (i === undefined) throw new ArgumentError("graphToJSON", `node %${n.id} (${n.op}) is not a node of this graph`);
    return i;
  };
  return {
    format: GRAPH_JSON_FORMAT,
    symbols: graph.symbols.map(({ name, min, max, hint }) => ({ name, min, max, hint })),
    nodes: graph.nodes.map((n) => ({
      op: n.op,
      inputs: n.inputs.map(at),
      attrs: Object.fromEntries(Object.entries(n.attrs).map(([k, v]) => [k, encodeAttr(v)])),
      type: { dtype: n.type.dtype, shape: n.type.shape.map((d) => (isSym(d) ? d.toJSON() : d)) },
      ...(n.source !== undefined ? { source: n.source } : {}),
    })),
    outputs: graph.outputs.map(at),
  };
}

const isRecord = (j: unknown): j is Record<string, unknown> => typeof j === "object" && j !== null && !Array.isArray(j);

function bad(why: string): never {
  throw new ArgumentError("Graph.fromJSON", why);
}

function decodeSymbol(j: unknown, i: number): SymbolInfo {
  if (!isRecord(j) || typeof j.name !== "string" || !/^[a-z_][a-z0-9_]*$/i.test(j.name)) bad(`symbol ${i}: expected {name, min, max, hint} with a name like s0, got ${showValue(j)}`);
  const { name, min, max, hint } = j;
  for (const [k, v] of [["min", min], ["max", max], ["hint", hint]] as const) {
    if (!Number.isSafeInteger(v) || (v as number) < 0) bad(`symbol ${name}: ${k} must be a non-negative integer, got ${showValue(v)}`);
  }
  if ((min as number) > (max as number)) bad(`symbol ${name}: min ${String(min)} > max ${String(max)}`);
  return { name, min: min as number, max: max as number, hint: hint as number };
}

function decodeNode(raw: unknown, id: number, earlier: readonly Node[], declared: ReadonlySet<string>, inputNames: Set<string>): Node {
  if (!isRecord(raw)) bad(`node ${id}: not an object`);
  const op = raw.op;
  if (!isOpName(op)) bad(`node ${id}: unknown op ${showValue(op)}`);
  const at = `node ${id} (${op})`;

  if (!Array.isArray(raw.inputs)) bad(`${at}: inputs must be an array`);
  for (const i of raw.inputs as unknown[]) {
    if (!Number.isInteger(i) || (i as number) < 0 || (i as number) >= id) bad(`${at}: bad input reference ${showValue(i)} (inputs are earlier nodes)`);
  }
  const inputs = (raw.inputs as number[]).map((i) => earlier[i]!);
  const def = OPS[op];
  const [lo, hi] = typeof def.arity === "number" ? [def.arity, def.arity] : def.arity;
  if (inputs.length < lo || inputs.length > hi) bad(`${at}: ${inputs.length} inputs, the op takes ${lo === hi ? lo : `${lo} to ${hi}`}`);

  if (raw.attrs !== undefined && !isRecord(raw.attrs)) bad(`${at}: attrs must be an object`);
  const attrs: Record<string, AttrValue> = Object.fromEntries(
    Object.entries(raw.attrs ?? {}).map(([k, v]) => [k, decodeAttr(v, `${at} attribute ${k}`)]),
  );

  const t = raw.type;
  if (!isRecord(t) || !isDType(t.dtype) || !Array.isArray(t.shape)) bad(`${at}: type must be {dtype, shape} with a known dtype, got ${showValue(t)}`);
  const stored: TensorType = { dtype: t.dtype as DType, shape: Array.from(t.shape as unknown[], (d, a) => decodeDim(d, `${at} type dim ${a}`)) };

  if (raw.source !== undefined && typeof raw.source !== "string") bad(`${at}: source must be a string`);
  const used = attrSymbols(stored.shape);
  for (const v of Object.values(attrs)) attrSymbols(v, used);
  for (const s of used) if (!declared.has(s)) bad(`${at}: symbol ${s} is not declared in the graph's symbols`);

  if (op === "input") {
    if (typeof attrs.name !== "string" || !isInputKind(attrs.kind)) bad(`${at}: an input needs a string name and a kind of arg|param|buffer`);
    if (inputNames.has(attrs.name)) bad(`${at}: duplicate input name ${showValue(attrs.name)}`);
    inputNames.add(attrs.name);
  }

  let type: TensorType;
  try {
    type = def.infer(inputs.map((i) => i.type), attrs);
  } catch (e) {
    return bad(`${at}: its shape rule rejects it: ${e instanceof Error ? e.message : String(e)}`);
  }
  if (type.dtype !== stored.dtype || !shapeEq(type.shape, stored.shape)) {
    bad(`${at}: stored type ${typeToString(stored)} does not match its shape rule's ${typeToString(type)}`);
  }
  return { id, op, inputs, attrs, type, ...(raw.source !== undefined ? { source: raw.source as string } : {}) };
}

/** Decodes a GraphJSON (parsed, of unknown shape); anything malformed is an ArgumentError naming the node. */
export function decodeGraphJSON(json: unknown): GraphParts {
  if (!isRecord(json) || json.format !== GRAPH_JSON_FORMAT) bad(`not a graph in JSON format ${GRAPH_JSON_FORMAT}`);
  const { symbols, nodes, outputs } = json;
  if (!Array.isArray(symbols) || !Array.isArray(nodes) || !Array.isArray(outputs)) bad("symbols, nodes and outputs must be arrays");
  // Array.from visits holes too (a hand-made array may have them; JSON.parse never makes them).
  const syms = Array.from(symbols as unknown[], decodeSymbol);
  const declared = new Set<string>();
  for (const s of syms) {
    if (declared.has(s.name)) bad(`symbol ${s.name} is declared twice`);
    declared.add(s.name);
  }
  const decoded: Node[] = [];
  const inputNames = new Set<string>();
  for (let id = 0; id < nodes.length; id++) decoded.push(decodeNode(nodes[id], id, decoded, declared, inputNames));
  for (const o of outputs as unknown[]) {
    if (!Number.isInteger(o) || (o as number) < 0 || (o as number) >= decoded.length) bad(`bad output reference ${showValue(o)}`);
  }
  return { symbols: syms, nodes: decoded, outputs: (outputs as number[]).map((o) => decoded[o]!) };
}
