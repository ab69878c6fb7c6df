// The graph IR: a topologically ordered list of nodes, each producing one tensor value.
import { type Tensor, type TensorType, dimFromJSON, isDType } from "../tensor/index.js";
import { type Attrs, type AttrValue, OPS, type OpName, isOpName } from "../ops/index.js";
import { ArgumentError } from "../util/index.js";
import { decodeAttr, encodeAttr } from "./attr-codec.js";
import { printGraph } from "./printer.js";
import { verifyGraph } from "./verify.js";

export type InputKind = "arg" | "param" | "buffer";

export interface Node {
  /** Position in `graph.nodes`; printers renumber, so ids only need to be unique. */
  readonly id: number;
  readonly op: OpName;
  readonly inputs: readonly Node[];
  readonly attrs: Attrs;
  readonly type: TensorType;
  /** The user's source line that created it (trace provenance), when known. */
  readonly source?: string;
}

/** A dynamic dimension: its name, the range it may take at run time, and the size seen when tracing. */
export interface SymbolInfo {
  readonly name: string;
  readonly min: number;
  readonly max: number;
  readonly hint: number;
}

export class Graph {
  constructor(
    readonly symbols: readonly SymbolInfo[],
    /** Every node, inputs included, in an order where each node follows its inputs. */
    readonly nodes: readonly Node[],
    readonly outputs: readonly Node[],
  ) {}

  /** The `input` nodes, in the order callers bind values to them. */
  get inputs(): readonly Node[] {
    return this.nodes.filter((n) => n.op === "input");
  }

  toString(): string {
    return printGraph(this);
  }

  /** Throws InternalError when an invariant is broken (see verify.ts). */
  verify(): this {
    verifyGraph(this);
    return this;
  }

  /** A JSON form that `Graph.fromJSON` turns back into an identical graph. */
  toJSON(): GraphJSON {
    const index = new Map(this.nodes.map((n, i) => [n, i]));
    return {
      format: 1,
      symbols: this.symbols.map((s) => ({ ...s })),
      nodes: this.nodes.map((n) => ({
        op: n.op,
        inputs: n.inputs.map((i) => index.get(i)!),
        attrs: Object.fromEntries(Object.entries(n.attrs).map(([k, v]) => [k, encodeAttr(v)])),
        type: { dtype: n.type.dtype, shape: n.type.shape.map((d) => (typeof d === "number" ? d : d.toJSON())) },
        ...(n.source ? { source: n.source } : {}),
      })),
      outputs: this.outputs.map((o) => index.get(o)!),
    };
  }

  /** Decodes and re-checks every node with its op's shape rule; malformed input is an ArgumentError. */
  static fromJSON(json: unknown): Graph {
    const bad = (why: string): never => {
      throw new ArgumentError("Graph.fromJSON", why);
    };
    const j = json as GraphJSON;
    if (!j || j.format !== 1 || !Array.isArray(j.nodes) || !Array.isArray(j.outputs) || !Array.isArray(j.symbols)) bad("not a graph (format 1)");
    const nodes: Node[] = [];
    j.nodes.forEach((raw, id) => {
      if (!isOpName(raw?.op)) bad(`node ${id}: unknown op ${JSON.stringify(raw?.op)}`);
      if (!Array.isArray(raw.inputs) || raw.inputs.some((i) => !Number.isInteger(i) || i < 0 || i >= id)) bad(`node ${id}: bad input reference`);
      const inputs = raw.inputs.map((i) => nodes[i]!);
      const attrs = Object.fromEntries(Object.entries(raw.attrs ?? {}).map(([k, v]) => [k, decodeAttr(v)])) as Record<string, AttrValue>;
      if (!isDType(raw.type?.dtype) || !Array.isArray(raw.type.shape)) bad(`node ${id}: bad type`);
      const type = OPS[raw.op].infer(inputs.map((i) => i.type), attrs);
      const stored = raw.type.shape.map(dimFromJSON);
      if (type.dtype !== raw.type.dtype || type.shape.map(String).join() !== stored.map(String).join()) bad(`node ${id} (${raw.op}): stored type does not match its shape rule`);
      nodes.push({ id, op: raw.op, inputs, attrs, type, ...(raw.source ? { source: raw.source } : {}) });
    });
    for (const o of j.outputs) if (!Number.isInteger(o) || !nodes[o]) bad(`bad output reference ${o}`);
    return new Graph(j.symbols.map((s) => ({ ...s })), nodes, j.outputs.map((o) => nodes[o]!));
  }

  /** For each node, the nodes that use it (in node order). */
  users(): Map<Node, Node[]> {
    const m = new Map<Node, Node[]>(this.nodes.map((n) => [n, []]));
    for (const n of this.nodes) for (const i of n.inputs) m.get(i)!.push(n);
    return m;
  }
}

export type NodeValues = Map<Node, Tensor>;

export interface GraphJSON {
  readonly format: 1;
  readonly symbols: SymbolInfo[];
  readonly nodes: { op: OpName; inputs: number[]; attrs: Record<string, unknown>; type: { dtype: string; shape: unknown[] }; source?: string }[];
  readonly outputs: number[];
}
