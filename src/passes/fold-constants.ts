// fold-constants: evaluates small all-constant subexpressions, drops identity views/casts,
// merges reshape∘reshape and permute∘permute, and simplifies x*1, x+0, x-0, x/1.
import { Tensor, shapeEq, isStaticShape } from "../tensor/index.js";
import { OPS, eagerInterpreter, withInterpreter } from "../ops/index.js";
import type { GraphBuilder, Node } from "../graph/index.js";
import { type Pass, copyNode, rebuild } from "./pass.js";

/** Largest result folded into a `constant` node. */
const MAX_FOLDED = 4096;

function constantValue(n: Node): Tensor | undefined {
  if (!isStaticShape(n.type.shape)) return undefined;
  if (n.op === "constant" || (n.op === "full" && (n.type.shape as number[]).reduce((a, b) => a * b, 1) <= MAX_FOLDED)) {
    return withInterpreter(eagerInterpreter, () => eagerInterpreter.apply(OPS[n.op], [], n.attrs));
  }
  return undefined;
}

/** The scalar every element of a constant/full node holds, if they all hold the same one. */
function uniformValue(n: Node): number | undefined {
  if (n.op === "full") return n.attrs.value as number;
  if (n.op === "constant") {
    const vs = n.attrs.values as number[];
    return vs.length > 0 && vs.every((v) => v === vs[0]) ? vs[0] : undefined;
  }
  return undefined;
}

const sameType = (a: Node, b: Node) => a.type.dtype === b.type.dtype && shapeEq(a.type.shape, b.type.shape);

function simplify(node: Node, inputs: readonly Node[], b: GraphBuilder): Node | undefined {
  const [x, y] = inputs;
  switch (node.op) {
    case "reshape":
    case "expand":
      if (shapeEq(x!.type.shape, node.type.shape)) return x;
      if (node.op === "reshape" && x!.op === "reshape") {
        const source = x!.inputs[0]!;
        if (shapeEq(source.type.shape, node.type.shape)) return source;
        return b.node("reshape", [x!.inputs[0]!], { shape: [...node.type.shape] }, node.source);
      }
      return undefined;
    case "permute": {
      const perm = node.attrs.perm as number[];
      if (perm.every((p, i) => p === i || p === i - perm.length)) return x;
      if (x!.op === "permute") {
        const inner = x!.attrs.perm as number[];
        const r = perm.length;
        const composed = perm.map((p) => (inner[(p + r) % r]! + r) % r);
        if (composed.every((p, i) => p === i)) return x!.inputs[0]!;
        return b.node("permute", [x!.inputs[0]!], { perm: composed }, node.source);
      }
      return undefined;
    }
    case "cast":
      return x!.type.dtype === node.type.dtype ? x : undefined;
    case "mul":
      if (uniformValue(y!) === 1 && sameType(x!, node)) return x;
      if (uniformValue(x!) === 1 && sameType(y!, node)) return y;
      return undefined;
    case "add":
      if (uniformValue(y!) === 0 && sameType(x!, node)) return x;
      if (uniformValue(x!) === 0 && sameType(y!, node)) return y;
      return undefined;
    case "sub":
      return uniformValue(y!) === 0 && sameType(x!, node) ? x : undefined;
    case "div":
      return uniformValue(y!) === 1 && sameType(x!, node) ? x : undefined;
    default:
      return undefined;
  }
}

export const foldConstants: Pass = {
  name: "fold-constants",
  run: (graph) =>
    rebuild(graph, (node, inputs, b) => {
      if (inputs.length > 0 && isStaticShape(node.type.shape)) {
        const values = inputs.map(constantValue);
        const n = (node.type.shape as number[]).reduce((a, c) => a * c, 1);
        if (n <= MAX_FOLDED && values.every((v) => v !== undefined)) {
          const t = withInterpreter(eagerInterpreter, () => eagerInterpreter.apply(OPS[node.op], values as Tensor[], node.attrs));
          return b.node("constant", [], { dtype: t.dtype, shape: [...t.dims], values: Array.from(t.values()) }, node.source);
        }
      }
      return simplify(node, inputs, b) ?? copyNode(node, inputs, b);
    }),
};
