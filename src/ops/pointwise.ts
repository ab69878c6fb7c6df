// Pointwise op definitions: unary, binary, where, triu/tril and cast, from the scalar tables.
import { type DType, type Tensor, type TensorType, isFloat, parseDType, promoteTypes, Tensor as T } from "../tensor/index.js";
import { DTypeError, ShapeError } from "../util/index.js";
import type { Attrs, OpDef } from "./op-def.js";
import type { BinaryOp, IndexedPointwiseOp, UnaryOp } from "./op-names.js";
import { broadcastWalk } from "./ref-util.js";
import { BINARY_FNS, UNARY_FNS, gelu } from "./scalar-math.js";
import { broadcastAll, broadcastShapes, requireFloat, requireRank } from "./shape-rules.js";

const FLOAT_ONLY: ReadonlySet<UnaryOp> = new Set([
  "exp", "log", "sqrt", "rsqrt", "sin", "cos", "tanh", "sigmoid", "silu", "gelu", "reciprocal",
]);

function unaryType(op: UnaryOp, x: TensorType, attrs: Attrs): TensorType {
  if (op === "cast") return { dtype: parseDType(attrs.dtype, "cast"), shape: x.shape };
  if (op === "logical_not") return { dtype: "bool", shape: x.shape };
  if (FLOAT_ONLY.has(op)) requireFloat(op, x);
  else if (x.dtype === "bool") throw new DTypeError(op, "a numeric dtype", x.dtype);
  if (op === "gelu" && attrs.approximate !== undefined && attrs.approximate !== "none" && attrs.approximate !== "tanh") {
    throw new ShapeError("gelu", "approximate = 'none' | 'tanh'", String(attrs.approximate));
  }
  return { dtype: x.dtype, shape: x.shape };
}

function unaryFn(op: UnaryOp, attrs: Attrs): (x: number) => number {
  if (op === "cast") return (x) => x;
  if (op === "gelu") {
    const approximate = String(attrs.approximate ?? "none");
    return (x) => gelu(x, approximate);
  }
  return UNARY_FNS[op];
}

function makeUnary(op: UnaryOp): OpDef {
  return {
    name: op,
    category: "pointwise",
    arity: 1,
    attrs: op === "cast" ? { dtype: "dtype" } : op === "gelu" ? { approximate: "string?" } : {},
    infer: ([x], attrs) => unaryType(op, x!, attrs),
    ref([x], attrs, out) {
      const fn = unaryFn(op, attrs);
      const v = x!.values();
      const res = new Float64Array(v.length);
      for (let i = 0; i < v.length; i++) res[i] = fn(v[i]!);
      return T.fromValues(out.dtype, x!.dims, res);
    },
  };
}

const COMPARE: ReadonlySet<BinaryOp> = new Set(["eq", "ne", "lt", "le", "gt", "ge"]);
const LOGICAL: ReadonlySet<BinaryOp> = new Set(["logical_and", "logical_or"]);

function binaryDType(op: BinaryOp, a: DType, b: DType): DType {
  if (LOGICAL.has(op)) return "bool";
  const p = promoteTypes(a, b);
  if (COMPARE.has(op)) return "bool";
  if (p === "bool") throw new DTypeError(op, "numeric operands", `${a}, ${b}`);
  if ((op === "div" || op === "pow") && !isFloat(p)) return "f32";
  return p;
}

function makeBinary(op: BinaryOp): OpDef {
  const fn = BINARY_FNS[op];
  return {
    name: op,
    category: "pointwise",
    arity: 2,
    attrs: {},
    infer: ([a, b]) => ({ dtype: binaryDType(op, a!.dtype, b!.dtype), shape: broadcastShapes(op, a!.shape, b!.shape) }),
    ref([a, b], _attrs, out) {
      const va = a!.values();
      const vb = b!.values();
      const shape = out.shape as number[];
      const res = new Float64Array(shape.reduce((x, y) => x * y, 1));
      broadcastWalk(shape, [a!.dims, b!.dims], (i, [oa, ob]) => {
        res[i] = fn(va[oa!]!, vb[ob!]!);
      });
      return T.fromValues(out.dtype, shape, res);
    },
  };
}

const where: OpDef = {
  name: "where",
  category: "pointwise",
  arity: 3,
  attrs: {},
  infer([c, a, b]) {
    if (c!.dtype !== "bool") throw new DTypeError("where", "bool condition", c!.dtype);
    return { dtype: promoteTypes(a!.dtype, b!.dtype), shape: broadcastAll("where", [c!.shape, a!.shape, b!.shape]) };
  },
  ref([c, a, b], _attrs, out) {
    const [vc, va, vb] = [c!.values(), a!.values(), b!.values()];
    const shape = out.shape as number[];
    const res = new Float64Array(shape.reduce((x, y) => x * y, 1));
    broadcastWalk(shape, [c!.dims, a!.dims, b!.dims], (i, [oc, oa, ob]) => {
      res[i] = vc[oc!] ? va[oa!]! : vb[ob!]!;
    });
    return T.fromValues(out.dtype, shape, res);
  },
};

/** triu keeps elements with col - row >= k; tril those with col - row <= k; the rest become 0. */
function makeTriangle(op: "triu" | "tril"): OpDef {
  return {
    name: op,
    category: "pointwise",
    arity: 1,
    attrs: { k: "int" },
    infer([x], attrs) {
      requireRank(op, x!, 2);
      if (attrs.k !== undefined && !Number.isInteger(attrs.k)) throw new ShapeError(op, "an integer diagonal k", String(attrs.k));
      return { dtype: x!.dtype, shape: x!.shape };
    },
    ref([x], attrs, out) {
      const k = (attrs.k as number | undefined) ?? 0;
      const dims = x!.dims;
      const [rows, cols] = [dims[dims.length - 2]!, dims[dims.length - 1]!];
      const v = x!.values();
      const res = new Float64Array(v.length);
      for (let i = 0; i < v.length; i++) {
        const c = i % cols;
        const r = Math.floor(i / cols) % rows;
        const keep = op === "triu" ? c - r >= k : c - r <= k;
        res[i] = keep ? v[i]! : 0;
      }
      return T.fromValues(out.dtype, dims, res);
    },
  };
}

export const UNARY_DEFS: Readonly<Record<UnaryOp, OpDef>> = Object.fromEntries(
  (["neg", "abs", "exp", "log", "sqrt", "rsqrt", "sin", "cos", "tanh", "sigmoid", "silu", "gelu", "relu", "reciprocal", "logical_not", "cast"] as const).map((op) => [op, makeUnary(op)]),
) as Record<UnaryOp, OpDef>;

export const BINARY_DEFS: Readonly<Record<BinaryOp, OpDef>> = Object.fromEntries(
  (Object.keys(BINARY_FNS) as BinaryOp[]).map((op) => [op, makeBinary(op)]),
) as Record<BinaryOp, OpDef>;

export const INDEXED_POINTWISE_DEFS: Readonly<Record<IndexedPointwiseOp, OpDef>> = {
  where,
  triu: makeTriangle("triu"),
  tril: makeTriangle("tril"),
};


