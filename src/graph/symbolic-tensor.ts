// SymbolicTensor: a Tensor without data that stands for a graph node; the recording interpreter
// turns op calls on such tensors into new nodes. The tracer and the decompose pass both use it.
import { Tensor, type TensorType } from "../tensor/index.js";
import { type Attrs, type Interpreter, type OpDef, OPS } from "../ops/index.js";
import { InternalError } from "../util/index.js";
import type { GraphBuilder } from "./builder.js";
import type { Node } from "./graph.js";

export class SymbolicTensor extends Tensor {
  constructor(
    readonly node: Node,
    readonly owner: GraphBuilder,
  ) {
    super(node.type.dtype, node.type.shape, null);
  }
  protected override requireConcrete(what: string): never {
    throw new InternalError(`${what}: tensor %${this.node.id} is symbolic (it has no data while a graph is being built)`);
  }
}

export interface RecordingHooks {
  /** Turns a tensor that is not a node of this builder (a concrete constant, say) into a node, or throws. */
  lift(t: Tensor, op: OpDef): Node;
  /** Makes the tensor returned for a new node (tracers subclass SymbolicTensor). */
  wrap?(node: Node): SymbolicTensor;
  /** The source line to record on a new node. */
  source?(): string | undefined;
  /** Whether to record composites whole (true) or run their decomposition (false). */
  keepComposites: boolean;
}

/** An interpreter that records every op into `builder` instead of computing it. */
export function recordingInterpreter(builder: GraphBuilder, hooks: RecordingHooks): Interpreter {
  const wrap = hooks.wrap ?? ((n: Node) => new SymbolicTensor(n, builder));
  const interp: Interpreter = {
    apply(op: OpDef, inputs: readonly Tensor[], attrs: Attrs): Tensor {
      if (op.decompose && !hooks.keepComposites) {
        op.infer(inputs, attrs); // validate at the composite's own boundary, with its own op name
        return op.decompose(inputs, attrs, (name, xs, a = {}) => interp.apply(OPS[name], xs, a));
      }
      const nodes = inputs.map((t) => (t instanceof SymbolicTensor && t.owner === builder ? t.node : hooks.lift(t, op)));
      return wrap(builder.node(op.name, nodes, attrs, hooks.source?.()));
    },
  };
  return interp;
}

export function typeOfTensor(t: Tensor): TensorType {
  return { dtype: t.dtype, shape: t.shape };
}
