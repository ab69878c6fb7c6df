// Reductions along one axis: sum, max, min, argmax (argmax gives i32 indices).
import { type DType, Tensor, type TensorType } from "../tensor/index.js";
import { DTypeError, ShapeError } from "../util/index.js";
import type { Attrs, OpDef } from "./op-def.js";
import type { ReductionOp } from "./op-names.js";
import { normalizeAxis } from "./shape-rules.js";

/** Output type of a one-axis reduction; shared with the composites (mean). */
export function reducedType(op: string, x: TensorType, attrs: Attrs, dtype: DType): TensorType {
  const axis = normalizeAxis(op, attrs.axis, x.shape.length);
  const shape = attrs.keepdim ? x.shape.map((d, i) => (i === axis ? 1 : d)) : x.shape.filter((_, i) => i !== axis);
  return { dtype, shape };
}

function outDType(op: ReductionOp, x: DType): DType {
  if (op === "argmax") return "i32";
  if (op === "sum" && (x === "bool" || x === "i32")) return "i32";
  if (x === "bool") throw new DTypeError(op, "a numeric dtype", x);
  return x;
}

type Combine = (values: ArrayLike<number>, start: number, n: number, stride: number) => number;

const COMBINE: Readonly<Record<ReductionOp, Combine>> = {
  sum(v, s, n, st) {
    let acc = 0;
    for (let r = 0; r < n; r++) acc += v[s + r * st]!;
    return acc;
  },
  max(v, s, n, st) {
    let acc = -Infinity;
    for (let r = 0; r < n; r++) {
      const x = v[s + r * st]!;
      if (x > acc || x !== x) acc = x;
      if (acc !== acc) break;
    }
    return acc;
  },
  min(v, s, n, st) {
    let acc = Infinity;
    for (let r = 0; r < n; r++) {
      const x = v[s + r * st]!;
      if (x < acc || x !== x) acc = x;
      if (acc !== acc) break;
    }
    return acc;
  },
  /** First index of the maximum; NaN counts as the maximum, as in torch. */
  argmax(v, s, n, st) {
    let best = -Infinity;
    let at = 0;
    for (let r = 0; r < n; r++) {
      const x = v[s + r * st]!;
      if (x !== x) return r;
      if (x > best || r === 0) {
        best = x;
        at = r;
      }
    }
    return at;
  },
};

function makeReduction(op: ReductionOp): OpDef {
  return {
    name: op,
    category: "reduction",
    arity: 1,
    attrs: { axis: "int", keepdim: "bool?" },
    infer: ([x], attrs) => {
      const t = reducedType(op, x!, attrs, outDType(op, x!.dtype));
      const axis = normalizeAxis(op, attrs.axis, x!.shape.length);
      if (op !== "sum" && x!.shape[axis] === 0) throw new ShapeError(op, "a non-empty reduced axis", x!.shape);
      return t;
    },
    ref([x], attrs, out) {
      const dims = x!.dims;
      const axis = normalizeAxis(op, attrs.axis, dims.length);
      const outer = dims.slice(0, axis).reduce((a, b) => a * b, 1);
      const n = dims[axis] ?? 1; // a 0-d tensor reduces over its one element
      const inner = dims.slice(axis + 1).reduce((a, b) => a * b, 1);
      const v = x!.values();
      const res = new Float64Array(outer * inner);
      for (let o = 0; o < outer; o++) {
        for (let i = 0; i < inner; i++) res[o * inner + i] = COMBINE[op](v, o * n * inner + i, n, inner);
      }
      return Tensor.fromValues(out.dtype, out.shape as number[], res);
    },
  };
}

export const REDUCTION_DEFS: Readonly<Record<ReductionOp, OpDef>> = {
  sum: makeReduction("sum"),
  max: makeReduction("max"),
  min: makeReduction("min"),
  argmax: makeReduction("argmax"),
};
