// The graph IR: a topologically ordered list of nodes, each producing one tensor value.
import type { Tensor, TensorType } from "../tensor/index.js";
import type { Attrs, OpName } from "../ops/index.js";
import { type GraphJSON, decodeGraphJSON, graphToJSON } from "./json.js";
import { printGraph } from "./printer.js";
import { verify } from "./verify.js";

export type { InputKind } from "./input-kind.js";

export interface Node {
  /** Unique within its graph (GraphBuilder numbers nodes by position); printers renumber. */
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

  /** The canonical text form (see printer.ts). */
  toString(): string {
    return printGraph(this);
  }

  /** Throws InternalError when an invariant is broken (see verify.ts); returns the graph for chaining. */
  verify(): this {
    verify(this);
    return this;
  }

  /** A JSON form that `Graph.fromJSON` turns back into a graph that prints identically. */
  toJSON(): GraphJSON {
    return graphToJSON(this);
  }

  /** Decodes and re-checks every node with its op's shape rule; malformed input is an ArgumentError. */
  static fromJSON(json: unknown): Graph {
    const { symbols, nodes, outputs } = decodeGraphJSON(json);
    return new Graph(symbols, nodes, outputs);
  }

  /** For each node, the nodes that use it (in node order). */
  users(): Map<Node, Node[]> {
    const m = new Map<Node, Node[]>(this.nodes.map((n) => [n, []]));
    for (const n of this.nodes) for (const i of n.inputs) m.get(i)?.push(n);
    return m;
  }
}

/** `Graph.fromJSON` as a function (the counterpart of `graphToJSON`). */
export function graphFromJSON(json: unknown): Graph {
  return Graph.fromJSON(json);
}

export type NodeValues = Map<Node, Tensor>;
