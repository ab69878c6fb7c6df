// Movement ops: reshape (with -1), permute, expand, slice (views in eager mode) and cat.
import {
  type Dim, type Shape, Tensor, type TensorType, contiguousStrides, dimAdd, dimDivExact, dimEq, dimSub, isSym, numel, shapeToString,
} from "../tensor/index.js";
import { DTypeError, ShapeError } from "../util/index.js";
import type { AttrValue, OpDef } from "./op-def.js";
import type { MovementOp } from "./op-names.js";
import { normalizeAxis, requireRank } from "./shape-rules.js";

function dimList(op: string, v: AttrValue | undefined, what: string): Dim[] {
  if (!Array.isArray(v)) throw new ShapeError(op, `${what} as an array of dims`, String(v));
  for (const d of v) {
    if (!(isSym(d) || (typeof d === "number" && Number.isInteger(d)))) throw new ShapeError(op, `integer or symbolic dims in ${what}`, v);
  }
  return v as Dim[];
}

/** Resolves a reshape target (at most one -1) against the input's element count. */
export function resolveReshape(from: Shape, to: readonly Dim[]): Dim[] {
  const holes = to.filter((d) => d === -1).length;
  if (holes > 1) throw new ShapeError("reshape", "at most one -1", to);
  for (const d of to) if (typeof d === "number" && d < -1) throw new ShapeError("reshape", "dims >= -1", to);
  const total = numel(from);
  if (holes === 1) {
    const known = numel(to.filter((d) => d !== -1));
    const hole = known === 0 ? undefined : dimDivExact(total, known);
    if (hole === undefined) throw new ShapeError("reshape", `a shape whose -1 can be inferred from ${shapeToString(from)}`, to);
    return to.map((d) => (d === -1 ? hole : d));
  }
  if (!dimEq(numel(to), total)) {
    throw new ShapeError("reshape", `a shape with ${String(total)} elements (from ${shapeToString(from)})`, to);
  }
  return [...to];
}

const reshape: OpDef = {
  name: "reshape",
  category: "movement",
  arity: 1,
  attrs: { shape: "dims" },
  infer: ([x], attrs) => ({ dtype: x!.dtype, shape: resolveReshape(x!.shape, dimList("reshape", attrs.shape, "shape")) }),
  ref([x], _attrs, out) {
    const c = x!.isContiguous() ? x! : x!.contiguous();
    const shape = out.shape as number[];
    return c.asStrided(shape, contiguousStrides(shape), c.offset);
  },
};

export function checkPerm(perm: AttrValue | undefined, rank: number): number[] {
  if (!Array.isArray(perm) || perm.length !== rank) throw new ShapeError("permute", `a permutation of ${rank} axes`, String(perm));
  const axes = perm.map((a) => normalizeAxis("permute", a, rank));
  if (new Set(axes).size !== rank) throw new ShapeError("permute", "each axis exactly once", perm);
  return axes;
}

const permute: OpDef = {
  name: "permute",
  category: "movement",
  arity: 1,
  attrs: { perm: "ints" },
  infer([x], attrs) {
    const perm = checkPerm(attrs.perm, x!.shape.length);
    return { dtype: x!.dtype, shape: perm.map((a) => x!.shape[a]!) };
  },
  ref([x], attrs) {
    const perm = checkPerm(attrs.perm, x!.rank);
    return x!.asStrided(perm.map((a) => x!.dims[a]!), perm.map((a) => x!.strides[a]!), x!.offset);
  },
};

/** Target of expand: -1 keeps the input's dim; new leading dims are allowed; only size-1 dims grow. */
function expandShape(x: TensorType, target: readonly Dim[]): Dim[] {
  const lead = target.length - x.shape.length;
  if (lead < 0) throw new ShapeError("expand", `a target of rank >= ${x.shape.length}`, target);
  return target.map((d, i) => {
    const src = i >= lead ? x.shape[i - lead]! : undefined;
    if (d === -1) {
      if (src === undefined) throw new ShapeError("expand", "no -1 in new leading dims", target);
      return src;
    }
    if (typeof d === "number" && d < 0) throw new ShapeError("expand", "dims >= 0 (or -1 to keep a dim)", target);
    if (src !== undefined && !dimEq(src, d) && src !== 1) {
      throw new ShapeError("expand", `dim ${i} to be 1 or ${String(d)} in ${shapeToString(x.shape)}`, target);
    }
    return d;
  });
}

const expand: OpDef = {
  name: "expand",
  category: "movement",
  arity: 1,
  attrs: { shape: "dims" },
  infer: ([x], attrs) => ({ dtype: x!.dtype, shape: expandShape(x!, dimList("expand", attrs.shape, "shape")) }),
  ref([x], _attrs, out) {
    const shape = out.shape as number[];
    const lead = shape.length - x!.rank;
    const strides = shape.map((d, i) => (i < lead || x!.dims[i - lead] !== d ? 0 : x!.strides[i - lead]!));
    return x!.asStrided(shape, strides, x!.offset);
  },
};

export interface SliceBounds {
  axis: number;
  start: Dim;
  length: Dim;
  step: number;
}

/**
 * Python slicing on static dims and bounds (negatives wrap, out-of-range clamps). With a
 * symbolic dim or bound, a negative static bound counts from the end and no clamping is done
 * (the bounds must be in range; step must be 1).
 */
export function sliceBounds(x: TensorType, attrs: Readonly<Record<string, AttrValue>>): SliceBounds {
  const rank = x.shape.length;
  requireRank("slice", x, 1);
  const axis = normalizeAxis("slice", attrs.axis, rank);
  const dim = x.shape[axis]!;
  const step = attrs.step === undefined || attrs.step === null ? 1 : attrs.step;
  if (typeof step !== "number" || !Number.isInteger(step) || step < 1) throw new ShapeError("slice", "a positive integer step", String(step));
  const rawStart = (attrs.start ?? 0) as Dim | null;
  const rawEnd = (attrs.end ?? null) as Dim | null;
  if (typeof dim === "number" && !isSym(rawStart) && !isSym(rawEnd)) {
    const clamp = (v: number) => Math.min(Math.max(v < 0 ? v + dim : v, 0), dim);
    const start = clamp(rawStart ?? 0);
    const end = rawEnd === null ? dim : clamp(rawEnd);
    return { axis, start, length: Math.max(0, Math.ceil((end - start) / step)), step };
  }
  if (step !== 1) throw new ShapeError("slice", "step 1 on a symbolic dim or bound", step);
  const fromEnd = (v: Dim) => (typeof v === "number" && v < 0 ? dimAdd(dim, v) : v);
  const start = fromEnd(rawStart ?? 0);
  const end = rawEnd === null ? dim : fromEnd(rawEnd);
  return { axis, start, length: dimSub(end, start), step };
}

const slice: OpDef = {
  name: "slice",
  category: "movement",
  arity: 1,
  attrs: { axis: "int", start: "dim?", end: "dim?", step: "int?" },
  infer([x], attrs) {
    const b = sliceBounds(x!, attrs);
    return { dtype: x!.dtype, shape: x!.shape.map((d, i) => (i === b.axis ? b.length : d)) };
  },
  ref([x], attrs, out) {
    const b = sliceBounds(x!, attrs);
    const strides = x!.strides.map((s, i) => (i === b.axis ? s * b.step : s));
    return x!.asStrided(out.shape as number[], strides, x!.offset + (b.start as number) * x!.strides[b.axis]!);
  },
};

const cat: OpDef = {
  name: "cat",
  category: "movement",
  arity: [1, Infinity],
  attrs: { axis: "int" },
  infer(xs, attrs) {
    const first = xs[0]!;
    requireRank("cat", first, 1, "inputs");
    const axis = normalizeAxis("cat", attrs.axis, first.shape.length);
    let total: Dim = 0;
    for (const [i, x] of xs.entries()) {
      if (x.dtype !== first.dtype) throw new DTypeError("cat", `${first.dtype} for every input`, `${x.dtype} at input ${i}`);
      const ok = x.shape.length === first.shape.length && x.shape.every((d, a) => a === axis || dimEq(d, first.shape[a]!));
      if (!ok) throw new ShapeError("cat", `input ${i} to match ${shapeToString(first.shape)} except on axis ${axis}`, x.shape);
      total = dimAdd(total, x.shape[axis]!);
    }
    return { dtype: first.dtype, shape: first.shape.map((d, a) => (a === axis ? total : d)) };
  },
  ref(xs, attrs, out) {
    const shape = out.shape as number[];
    const axis = normalizeAxis("cat", attrs.axis, shape.length);
    const outer = shape.slice(0, axis).reduce((a, b) => a * b, 1);
    const inner = shape.slice(axis + 1).reduce((a, b) => a * b, 1);
    const res = new Float64Array(outer * shape[axis]! * inner);
    let at = 0;
    for (const x of xs) {
      const v = x.values();
      const width = x.dims[axis]! * inner;
      for (let o = 0; o < outer; o++) {
        for (let j = 0; j < width; j++) res[o * shape[axis]! * inner + at + j] = v[o * width + j]!;
      }
      at += width;
    }
    return Tensor.fromValues(out.dtype, shape, res);
  },
};

export const MOVEMENT_DEFS: Readonly<Record<MovementOp, OpDef>> = { reshape, permute, expand, slice, cat };
