// The graph IR: a topologically ordered list of nodes, each producing one tensor value.
import type { Tensor, TensorType } from "../tensor/index.js";
import type { Attrs, OpName } from "../ops/index.js";

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

  /** For each node, the nodes that use it (in node order). */
  users(): Map<Node, Node[]> {
    const m = new Map<Node, Node[]>(this.nodes.map((n) => [n, []]));
    for (const n of this.nodes) for (const i of n.inputs) m.get(i)!.push(n);
    return m;
  }
}

export type NodeValues = Map<Node, Tensor>;
