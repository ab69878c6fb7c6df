// decompose: expands composite ops (rms_norm, softmax, linear, …) into primitives, keeping each node's source.
import { type Tensor, shapeEq, typeToString } from "../tensor/index.js";
import { OPS, withInterpreter } from "../ops/index.js";
import { type Node, SymbolicTensor, recordingInterpreter } from "../graph/index.js";
import { InternalError } from "../util/index.js";
import { type Pass, copyNode, rebuild } from "./pass.js";

/** Largest concrete tensor a decomposition may create that is embedded as a `constant` node. */
const MAX_LIFTED_ELEMENTS = 4096;

export const decompose: Pass = {
  name: "decompose",
  run: (graph) =>
    rebuild(graph, (node, inputs, b) => {
      const def = OPS[node.op];
      if (!def.decompose || def.keepWhole) return copyNode(node, inputs, b);
      const interp = recordingInterpreter(b, {
        keepComposites: false,
        lift(t) {
          // A decomposition that builds a small concrete tensor (a table, say) gets it as a constant.
          if (!t.isConcrete || t.size > MAX_LIFTED_ELEMENTS) throw new InternalError(`decompose of ${node.op} produced a foreign tensor of shape [${t.shape.map(String)}]`);
          return b.node("constant", [], { dtype: t.dtype, shape: [...t.dims], values: Array.from(t.values()) }, node.source);
        },
        source: () => node.source,
      });
      const args = inputs.map((n) => new SymbolicTensor(n, b));
      const out: Tensor = withInterpreter(interp, () => def.decompose!(args, node.attrs, (name, xs, a = {}) => interp.apply(OPS[name], xs, a)));
      if (!(out instanceof SymbolicTensor) || out.owner !== b) throw new InternalError(`decompose of ${node.op} returned a tensor that is not a node of the new graph`);
      const made: Node = out.node;
      if (made.type.dtype !== node.type.dtype || !shapeEq(made.type.shape, node.type.shape)) {
        throw new InternalError(`decompose of ${node.op} gives ${typeToString(made.type)}, the composite's type is ${typeToString(node.type)}`);
      }
      return made;
    }),
};
