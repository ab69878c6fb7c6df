// decompose: expands composite ops (rms_norm, softmax, linear, …) into primitives, keeping each node's source.
import { type Tensor } from "../tensor/index.js";
import { OPS, withInterpreter } from "../ops/index.js";
import { type Node, SymbolicTensor, recordingInterpreter } from "../graph/index.js";
import { InternalError } from "../util/index.js";
import { type Pass, copyNode, rebuild } from "./pass.js";

export const decompose: Pass = {
  name: "decompose",
  run: (graph) =>
    rebuild(graph, (node, inputs, b) => {
      const def = OPS[node.op];
      if (!def.decompose) return copyNode(node, inputs, b);
      const interp = recordingInterpreter(b, {
        keepComposites: false,
        lift: () => {
          throw new InternalError(`decompose of ${node.op} produced a concrete tensor`);
        },
        source: () => node.source,
      });
      const args = inputs.map((n) => new SymbolicTensor(n, b));
      const out: Tensor = withInterpreter(interp, () => def.decompose!(args, node.attrs, (name, xs, a = {}) => interp.apply(OPS[name], xs, a)));
      if (!(out instanceof SymbolicTensor)) throw new InternalError(`decompose of ${node.op} returned a foreign tensor`);
      return out.node as Node;
    }),
};
