// fold-constants: evaluates small all-constant subexpressions into `constant` nodes, keeps uniform
// values as `full` nodes whatever their (possibly symbolic) shape, drops identity views and casts,
// merges reshape∘reshape and permute∘permute, and simplifies x*1, 1*x, x+0, 0+x, x-0 and x/1.
import { Tensor, isSym, isStaticShape, shapeEq, typeToString } from "../tensor/index.js";
import { type AttrValue, type Attrs, BINARY_OPS, OPS, type OpName, UNARY_OPS, eagerInterpreter, withInterpreter } from "../ops/index.js";
import type { GraphBuilder, Node } from "../graph/index.js";
import { InternalError, KilnError } from "../util/index.js";
import { type Pass, copyNode, rebuild } from "./pass.js";

/** Largest result folded into a `constant` node (a larger uniform value stays a `full`). */
export const MAX_FOLDED_ELEMENTS = 4096;

/** Ops whose value on all-uniform inputs is uniform: elementwise ones (not triu/tril, which look at the index). */
const ELEMENTWISE: ReadonlySet<OpName> = new Set<OpName>([...UNARY_OPS, ...BINARY_OPS, "where"]);
/** Views that only move elements around: a uniform input gives a uniform output. */
const REARRANGING: ReadonlySet<OpName> = new Set<OpName>(["reshape", "permute", "expand", "slice", "cat"]);
/** Source ops whose value is known at compile time. */
const CONSTANT_SOURCES: ReadonlySet<OpName> = new Set<OpName>(["constant", "full", "arange"]);

const mentionsSymbol = (v: AttrValue): boolean => isSym(v) || (Array.isArray(v) && v.some(mentionsSymbol));
const hasSymbolicAttr = (attrs: Attrs): boolean => Object.values(attrs).some(mentionsSymbol);

/** Runs the op's reference kernel; undefined when it throws a KilnError (an out-of-range index, say), which is left for run time. */
function evaluate(op: OpName, inputs: readonly Tensor[], attrs: Attrs): Tensor | undefined {
  try {
    return withInterpreter(eagerInterpreter, () => eagerInterpreter.apply(OPS[op], inputs, attrs));
  } catch (e) {
    if (e instanceof KilnError && !(e instanceof InternalError)) return undefined;
    throw e;
  }
}

/** The number every element of a constant/full node holds, when they all hold the same one. */
function uniformValue(n: Node): number | undefined {
  if (n.op === "full") return n.attrs.value as number;
  if (n.op === "constant") {
    const vs = n.attrs.values as readonly number[];
    return vs.length > 0 && vs.every((v) => Object.is(v, vs[0])) ? vs[0] : undefined;
  }
  return undefined;
}

const sameType = (a: Node, b: Node): boolean => a.type.dtype === b.type.dtype && shapeEq(a.type.shape, b.type.shape);
const staticSize = (n: Node): number | undefined => (isStaticShape(n.type.shape) ? n.type.shape.reduce((a, c) => a * c, 1) : undefined);

/** A node whose elements all equal one number, as a `full` of the node's own shape; undefined if not uniform. */
function foldUniform(node: Node, inputs: readonly Node[], b: GraphBuilder): Node | undefined {
  const values = inputs.map(uniformValue);
  if (values.some((v) => v === undefined)) return undefined;
  let value: number;
  if (ELEMENTWISE.has(node.op)) {
    // Evaluate the op once, on 0-d tensors: the same rounding as the whole tensor would get.
    const scalars = inputs.map((x, i) => Tensor.fromValues(x.type.dtype, [], [values[i]!]));
    const t = evaluate(node.op, scalars, node.attrs);
    if (!t) return undefined;
    value = t.item();
  } else if (REARRANGING.has(node.op) && values.every((v) => Object.is(v, values[0]))) {
    value = Tensor.fromValues(inputs[0]!.type.dtype, [], [values[0]!]).item();
  } else {
    return undefined;
  }
  return b.node("full", [], { shape: [...node.type.shape], value, dtype: node.type.dtype }, node.source);
}

/** A node whose inputs are all small known values and whose result is small, as a `constant`. */
function foldSmall(node: Node, inputs: readonly Node[], b: GraphBuilder, known: Map<Node, Tensor>): Node | undefined {
  const size = staticSize(node);
  if (size === undefined || size > MAX_FOLDED_ELEMENTS || hasSymbolicAttr(node.attrs)) return undefined;
  const args: Tensor[] = [];
  for (const x of inputs) {
    let t = known.get(x);
    if (!t) {
      const n = staticSize(x);
      if (!CONSTANT_SOURCES.has(x.op) || n === undefined || n > MAX_FOLDED_ELEMENTS || hasSymbolicAttr(x.attrs)) return undefined;
      t = evaluate(x.op, [], x.attrs);
      if (!t) return undefined;
      known.set(x, t);
    }
    args.push(t);
  }
  const t = evaluate(node.op, args, node.attrs);
  if (!t) return undefined;
  if (t.dtype !== node.type.dtype || !shapeEq(t.shape, node.type.shape)) {
    throw new InternalError(`fold-constants: ${node.op} evaluated to ${t.dtype}[${t.dims}], its node says ${typeToString(node.type)}`);
  }
  const made = b.node("constant", [], { dtype: t.dtype, shape: [...t.dims], values: Array.from(t.values()) }, node.source);
  known.set(made, t);
  return made;
}

/** Identity views and casts, view compositions, and arithmetic with a neutral constant. */
function simplify(node: Node, inputs: readonly Node[], b: GraphBuilder): Node | undefined {
  const [x, y] = inputs;
  switch (node.op) {
    case "reshape":
      if (shapeEq(x!.type.shape, node.type.shape)) return x;
      if (x!.op === "reshape") {
        const source = x!.inputs[0]!;
        if (shapeEq(source.type.shape, node.type.shape)) return source;
        return b.node("reshape", [source], { shape: [...node.type.shape] }, node.source);
      }
      return undefined;
    case "expand":
    case "slice":
      return shapeEq(x!.type.shape, node.type.shape) ? x : undefined;
    case "permute": {
      const r = node.type.shape.length;
      const perm = (node.attrs.perm as readonly number[]).map((p) => (p + r) % r);
      if (perm.every((p, i) => p === i)) return x;
      if (x!.op === "permute") {
        // permute(permute(s, inner), perm)[i] = s[inner[perm[i]]]
        const inner = (x!.attrs.perm as readonly number[]).map((p) => (p + r) % r);
        const composed = perm.map((p) => inner[p]!);
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
  run(graph) {
    const known = new Map<Node, Tensor>();
    return rebuild(graph, (node, inputs, b) => {
      if (inputs.length === 0) return copyNode(node, inputs, b);
      return foldUniform(node, inputs, b) ?? foldSmall(node, inputs, b, known) ?? simplify(node, inputs, b) ?? copyNode(node, inputs, b);
    });
  },
};
