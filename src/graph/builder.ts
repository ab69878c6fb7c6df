// GraphBuilder: the one way to make nodes — it runs the op's shape rule, so every node is well-typed.
import type { TensorType } from "../tensor/index.js";
import { type Attrs, OPS, type OpName } from "../ops/index.js";
import { ArgumentError, assert } from "../util/index.js";
import { Graph, type InputKind, type Node, type SymbolInfo } from "./graph.js";

export class GraphBuilder {
  readonly #nodes: Node[] = [];
  readonly #symbols = new Map<string, SymbolInfo>();
  readonly #inputNames = new Set<string>();

  addSymbol(info: SymbolInfo): void {
    this.#symbols.set(info.name, info);
  }

  input(name: string, kind: InputKind, type: TensorType, source?: string): Node {
    if (this.#inputNames.has(name)) throw new ArgumentError("GraphBuilder.input", `duplicate input name '${name}'`);
    this.#inputNames.add(name);
    return this.node("input", [], { name, kind, dtype: type.dtype, shape: [...type.shape] }, source);
  }

  /** Adds a node after checking its inputs belong to this builder and inferring its type. */
  node(op: OpName, inputs: readonly Node[], attrs: Attrs = {}, source?: string): Node {
    const def = OPS[op];
    for (const i of inputs) assert(this.#nodes[i.id] === i, `node %${i.id} is not part of this graph`);
    const type = def.infer(inputs.map((i) => i.type), attrs);
    const node: Node = { id: this.#nodes.length, op, inputs: [...inputs], attrs, type, ...(source ? { source } : {}) };
    this.#nodes.push(node);
    return node;
  }

  get nodes(): readonly Node[] {
    return this.#nodes;
  }

  build(outputs: readonly Node[]): Graph {
    return new Graph([...this.#symbols.values()], [...this.#nodes], [...outputs]);
  }
}
