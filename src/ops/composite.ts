// Composite ops: defined by decompositions into primitive ops, kept whole in traced graphs
// so that later fused kernels (rms_norm, rotary, softmax) can match them before the decompose pass.
import { type Dim, type Tensor, type TensorType, dimDivExact, dimEq, isFloat, promoteTypes } from "../tensor/index.js";
import { DTypeError, ShapeError } from "../util/index.js";
import type { Attrs, OpCaller, OpDef } from "./op-def.js";
import type { CompositeOp } from "./op-names.js";
import { reducedType } from "./reduce.js";
import { pagedAttention } from "./kv-cache.js";
import { broadcastShapes, normalizeAxis, requireDType, requireFloat, requireRank } from "./shape-rules.js";

const scalar = (call: OpCaller, value: number, dtype: string): Tensor => call("full", [], { shape: [], value, dtype });

/** The element count along `axis` as a 0-d tensor: a constant when static, a traced sum when symbolic. */
function countAlong(call: OpCaller, x: Tensor, axis: number, dtype: string): Tensor {
  const n = x.shape[axis] ?? 1; // a 0-d tensor has one element
  if (typeof n === "number") return scalar(call, n, dtype);
  return call("sum", [call("full", [], { shape: [n], value: 1, dtype })], { axis: 0 });
}

const mean: OpDef = {
  name: "mean",
  category: "composite",
  arity: 1,
  attrs: { axis: "int", keepdim: "bool?" },
  infer([x], attrs) {
    requireFloat("mean", x!);
    return reducedType("mean", x!, attrs, x!.dtype);
  },
  decompose([x], attrs, call) {
    const axis = normalizeAxis("mean", attrs.axis, x!.rank);
    return call("div", [call("sum", [x!], attrs), countAlong(call, x!, axis, x!.dtype)]);
  },
};

/** Softmax computed in f32 (as torch does for half types), stable: exp(x - max) / sum. */
const softmax: OpDef = {
  name: "softmax",
  category: "composite",
  arity: 1,
  attrs: { axis: "int" },
  infer([x], attrs) {
    requireFloat("softmax", x!);
    normalizeAxis("softmax", attrs.axis, x!.shape.length);
    return { dtype: x!.dtype, shape: x!.shape };
  },
  decompose([x], attrs, call) {
    const xf = x!.dtype === "f32" ? x! : call("cast", [x!], { dtype: "f32" });
    const at = { axis: attrs.axis!, keepdim: true };
    const e = call("exp", [call("sub", [xf, call("max", [xf], at)])]);
    const y = call("div", [e, call("sum", [e], at)]);
    return x!.dtype === "f32" ? y : call("cast", [y], { dtype: x!.dtype });
  },
};

/** y = x @ wᵀ (+ b), with w of shape [out, in] as in torch.nn.Linear. */
const linear: OpDef = {
  name: "linear",
  category: "composite",
  arity: [2, 3],
  attrs: {},
  infer([x, w, b]) {
    requireRank("linear", x!, 1, "x");
    if (w!.shape.length !== 2) throw new ShapeError("linear", "a weight of shape [out, in]", w!.shape);
    const k = x!.shape[x!.shape.length - 1]!;
    if (!dimEq(k, w!.shape[1]!)) throw new ShapeError("linear", `weight [out, ${String(k)}] for input features ${String(k)}`, w!.shape);
    const shape: Dim[] = [...x!.shape.slice(0, -1), w!.shape[0]!];
    const dtype = promoteTypes(x!.dtype, w!.dtype);
    if (b) {
      if (b.shape.length !== 1 || !dimEq(b.shape[0]!, w!.shape[0]!)) throw new ShapeError("linear", `bias of shape [${String(w!.shape[0])}]`, b.shape);
      return { dtype: promoteTypes(dtype, b.dtype), shape };
    }
    return { dtype, shape };
  },
  decompose([x, w, b], _attrs, call) {
    const y = call("matmul", [x!, call("permute", [w!], { perm: [1, 0] })]);
    return b ? call("add", [y, b]) : y;
  },
};

/** embedding(ids, weight): rows of weight [vocab, dim] picked by integer ids of any shape. */
const embedding: OpDef = {
  name: "embedding",
  category: "composite",
  arity: 2,
  attrs: {},
  infer([ids, w]) {
    requireDType("embedding", ids!, ["i32", "i64"], "ids");
    if (w!.shape.length !== 2) throw new ShapeError("embedding", "a weight of shape [vocab, dim]", w!.shape);
    return { dtype: w!.dtype, shape: [...ids!.shape, w!.shape[1]!] };
  },
  decompose([ids, w], _attrs, call) {
    const flat = call("reshape", [ids!], { shape: [-1] });
    const rows = call("index_select", [w!, flat], { axis: 0 });
    return call("reshape", [rows], { shape: [...ids!.shape, w!.shape[1]!] });
  },
};

const stack: OpDef = {
  name: "stack",
  category: "composite",
  arity: [1, Infinity],
  attrs: { axis: "int" },
  infer(xs, attrs) {
    const first = xs[0]!;
    const axis = normalizeAxis("stack", attrs.axis, first.shape.length + 1);
    for (const [i, x] of xs.entries()) {
      if (x.dtype !== first.dtype) throw new DTypeError("stack", `${first.dtype} for every input`, `${x.dtype} at input ${i}`);
      if (x.shape.length !== first.shape.length || !x.shape.every((d, a) => dimEq(d, first.shape[a]!))) {
        throw new ShapeError("stack", `input ${i} of the same shape as input 0`, x.shape);
      }
    }
    return { dtype: first.dtype, shape: [...first.shape.slice(0, axis), xs.length, ...first.shape.slice(axis)] };
  },
  decompose(xs, attrs, call) {
    const axis = normalizeAxis("stack", attrs.axis, xs[0]!.rank + 1);
    const parts = xs.map((x) => call("reshape", [x], { shape: [...x.shape.slice(0, axis), 1, ...x.shape.slice(axis)] }));
    return call("cat", parts, { axis });
  },
};

/** RMSNorm as in HF Llama/Qwen3: normalise in f32, cast back, then scale by the weight. */
const rmsNorm: OpDef = {
  name: "rms_norm",
  category: "composite",
  arity: 2,
  attrs: { eps: "number" },
  infer([x, w], attrs) {
    requireFloat("rms_norm", x!);
    requireRank("rms_norm", x!, 1);
    const d = x!.shape[x!.shape.length - 1]!;
    if (w!.shape.length !== 1 || !dimEq(w!.shape[0]!, d)) throw new ShapeError("rms_norm", `a weight of shape [${String(d)}]`, w!.shape);
    if (typeof attrs.eps !== "number") throw new ShapeError("rms_norm", "a numeric eps", String(attrs.eps));
    return { dtype: promoteTypes(x!.dtype, w!.dtype), shape: x!.shape };
  },
  decompose([x, w], attrs, call) {
    const xf = x!.dtype === "f32" ? x! : call("cast", [x!], { dtype: "f32" });
    const ms = call("mean", [call("mul", [xf, xf])], { axis: -1, keepdim: true });
    const inv = call("rsqrt", [call("add", [ms, scalar(call, attrs.eps as number, "f32")])]);
    const normed = call("mul", [xf, inv]);
    const back = x!.dtype === "f32" ? normed : call("cast", [normed], { dtype: x!.dtype });
    return call("mul", [back, w!]);
  },
};

/** Rotary embedding, "rotate half" form (HF Llama/Qwen): x*cos + cat(-x2, x1)*sin over the last dim. */
const rotary: OpDef = {
  name: "rotary",
  category: "composite",
  arity: 3,
  attrs: {},
  infer([x, cos, sin]) {
    requireFloat("rotary", x!);
    requireRank("rotary", x!, 1);
    const d = x!.shape[x!.shape.length - 1]!;
    if (typeof d === "number" ? d % 2 !== 0 : dimDivExact(d, 2) === undefined) throw new ShapeError("rotary", "an even last dim", x!.shape);
    const shape = broadcastShapes("rotary", broadcastShapes("rotary", x!.shape, cos!.shape), sin!.shape);
    if (shape.length !== x!.shape.length || !shape.every((s, i) => dimEq(s, x!.shape[i]!))) {
      throw new ShapeError("rotary", `cos/sin that broadcast to x's shape [${x!.shape.map(String)}]`, [cos!.shape.map(String), sin!.shape.map(String)]);
    }
    for (const t of [cos!, sin!]) if (!isFloat(t.dtype)) throw new DTypeError("rotary", "float cos/sin", t.dtype);
    return { dtype: promoteTypes(x!.dtype, promoteTypes(cos!.dtype, sin!.dtype)), shape };
  },
  decompose([x, cos, sin], _attrs, call) {
    const half = dimDivExact(x!.shape[x!.rank - 1]!, 2)!;
    const x1 = call("slice", [x!], { axis: -1, start: 0, end: half });
    const x2 = call("slice", [x!], { axis: -1, start: half, end: null });
    const rotated = call("cat", [call("neg", [x2]), x1], { axis: -1 });
    return call("add", [call("mul", [x!, cos!]), call("mul", [rotated, sin!])]);
  },
};

export const COMPOSITE_DEFS: Readonly<Record<CompositeOp, OpDef>> = {
  mean, softmax, linear, embedding, stack, rms_norm: rmsNorm, rotary, paged_attention: pagedAttention,
};

export type { Attrs, TensorType };
