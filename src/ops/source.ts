// Source ops (no tensor inputs): graph inputs, embedded constants, full and arange.
import { type Dim, Tensor, dimSub, isSym, parseDType } from "../tensor/index.js";
import { ArgumentError, ShapeError } from "../util/index.js";
import type { AttrValue, OpDef } from "./op-def.js";
import type { SourceOp } from "./op-names.js";

function dims(op: string, v: AttrValue | undefined): Dim[] {
  if (!Array.isArray(v)) throw new ShapeError(op, "a shape (array of dims)", String(v));
  for (const d of v) {
    if (!(isSym(d) || (typeof d === "number" && Number.isInteger(d) && d >= 0))) throw new ShapeError(op, "non-negative integer dims", v);
  }
  return v as Dim[];
}

/** A graph input; its value is bound by whoever runs the graph. `kind` is arg, param or buffer. */
const input: OpDef = {
  name: "input",
  category: "source",
  arity: 0,
  attrs: { name: "string", kind: "string", dtype: "dtype", shape: "dims" },
  infer: (_, attrs) => ({ dtype: parseDType(attrs.dtype, "input"), shape: dims("input", attrs.shape) }),
};

/** A small tensor whose values are part of the graph (never weights: those are inputs). */
const constant: OpDef = {
  name: "constant",
  category: "source",
  arity: 0,
  attrs: { dtype: "dtype", shape: "ints", values: "numbers" },
  infer(_, attrs) {
    const shape = dims("constant", attrs.shape);
    const values = attrs.values;
    const n = (shape as number[]).reduce((a, b) => a * b, 1);
    if (!Array.isArray(values) || values.length !== n) throw new ShapeError("constant", `${n} values`, Array.isArray(values) ? values.length : String(values));
    return { dtype: parseDType(attrs.dtype, "constant"), shape };
  },
  ref: (_, attrs, out) => Tensor.fromValues(out.dtype, out.shape as number[], attrs.values as number[]),
};

const full: OpDef = {
  name: "full",
  category: "source",
  arity: 0,
  attrs: { shape: "dims", value: "number", dtype: "dtype" },
  infer(_, attrs) {
    if (typeof attrs.value !== "number") throw new ArgumentError("full", `value must be a number, got ${String(attrs.value)}`);
    return { dtype: parseDType(attrs.dtype ?? "f32", "full"), shape: dims("full", attrs.shape) };
  },
  ref(_, attrs, out) {
    const shape = out.shape as number[];
    const n = shape.reduce((a, b) => a * b, 1);
    return Tensor.fromValues(out.dtype, shape, new Float64Array(n).fill(attrs.value as number));
  },
};

/** arange(start, end, step); a symbolic end needs step 1 and a static start. */
function arangeLength(attrs: Readonly<Record<string, AttrValue>>): Dim {
  const start = attrs.start ?? 0;
  const end = attrs.end;
  const step = attrs.step ?? 1;
  if (typeof start !== "number" || typeof step !== "number" || step === 0) {
    throw new ArgumentError("arange", `start and a non-zero step must be numbers, got ${String(start)}, ${String(step)}`);
  }
  if (isSym(end)) {
    if (step !== 1) throw new ShapeError("arange", "step 1 with a symbolic end", step);
    return dimSub(end, start);
  }
  if (typeof end !== "number") throw new ArgumentError("arange", `end must be a number or a symbolic dim, got ${String(end)}`);
  return Math.max(0, Math.ceil((end - start) / step));
}

const arange: OpDef = {
  name: "arange",
  category: "source",
  arity: 0,
  attrs: { start: "number?", end: "dim", step: "number?", dtype: "dtype?" },
  infer: (_, attrs) => ({ dtype: parseDType(attrs.dtype ?? "i32", "arange"), shape: [arangeLength(attrs)] }),
  ref(_, attrs, out) {
    const n = out.shape[0] as number;
    const start = (attrs.start as number | undefined) ?? 0;
    const step = (attrs.step as number | undefined) ?? 1;
    return Tensor.fromValues(out.dtype, [n], Float64Array.from({ length: n }, (_, i) => start + i * step));
  },
};

export const SOURCE_DEFS: Readonly<Record<SourceOp, OpDef>> = { input, constant, full, arange };
