// Indexing ops: index_select (whole slices by a 1-D index) and gather (torch.gather, per element).
import { Tensor, type TensorType, contiguousStrides, dimEq, isSym } from "../tensor/index.js";
import { ShapeError } from "../util/index.js";
import type { OpDef } from "./op-def.js";
import type { IndexOp } from "./op-names.js";
import { normalizeAxis, requireDType, requireRank } from "./shape-rules.js";
import { kvStore } from "./kv-cache.js";

const INDEX_DTYPES = ["i32", "i64"] as const;

function checkIndexValue(op: string, v: number, size: number): number {
  if (!(v >= -size && v < size)) throw new ShapeError(op, `indices in [${-size}, ${size})`, v);
  return v < 0 ? v + size : v;
}

const indexSelect: OpDef = {
  name: "index_select",
  category: "index",
  arity: 2,
  attrs: { axis: "int" },
  infer([x, index], attrs): TensorType {
    requireRank("index_select", x!, 1);
    const axis = normalizeAxis("index_select", attrs.axis, x!.shape.length);
    requireDType("index_select", index!, INDEX_DTYPES, "index");
    if (index!.shape.length !== 1) throw new ShapeError("index_select", "a 1-D index", index!.shape);
    return { dtype: x!.dtype, shape: x!.shape.map((d, a) => (a === axis ? index!.shape[0]! : d)) };
  },
  ref([x, index], attrs, out) {
    const dims = x!.dims;
    const axis = normalizeAxis("index_select", attrs.axis, dims.length);
    const outer = dims.slice(0, axis).reduce((a, b) => a * b, 1);
    const inner = dims.slice(axis + 1).reduce((a, b) => a * b, 1);
    const v = x!.values();
    const idx = index!.values();
    const res = new Float64Array(outer * idx.length * inner);
    for (let o = 0; o < outer; o++) {
      for (let k = 0; k < idx.length; k++) {
        const src = checkIndexValue("index_select", idx[k]!, dims[axis]!);
        const from = (o * dims[axis]! + src) * inner;
        const to = (o * idx.length + k) * inner;
        for (let j = 0; j < inner; j++) res[to + j] = v[from + j]!;
      }
    }
    return Tensor.fromValues(out.dtype, out.shape as number[], res);
  },
};

const gather: OpDef = {
  name: "gather",
  category: "index",
  arity: 2,
  attrs: { axis: "int" },
  infer([x, index], attrs): TensorType {
    requireRank("gather", x!, 1);
    const axis = normalizeAxis("gather", attrs.axis, x!.shape.length);
    requireDType("gather", index!, INDEX_DTYPES, "index");
    if (index!.shape.length !== x!.shape.length) throw new ShapeError("gather", `an index of rank ${x!.shape.length}`, index!.shape);
    index!.shape.forEach((d, a) => {
      if (a === axis) return;
      const xd = x!.shape[a]!;
      const fits = isSym(d) || isSym(xd) ? dimEq(d, xd) : d <= xd;
      if (!fits) throw new ShapeError("gather", `index dim ${a} <= ${String(xd)}`, index!.shape);
    });
    return { dtype: x!.dtype, shape: index!.shape };
  },
  ref([x, index], attrs, out) {
    const dims = x!.dims;
    const axis = normalizeAxis("gather", attrs.axis, dims.length);
    const iDims = index!.dims;
    const xStrides = contiguousStrides(dims);
    const v = x!.values();
    const idx = index!.values();
    const res = new Float64Array(idx.length);
    const pos = new Array<number>(iDims.length).fill(0);
    for (let i = 0; i < idx.length; i++) {
      let off = 0;
      for (let a = 0; a < iDims.length; a++) {
        const c = a === axis ? checkIndexValue("gather", idx[i]!, dims[axis]!) : pos[a]!;
        off += c * xStrides[a]!;
      }
      res[i] = v[off]!;
      for (let a = iDims.length - 1; a >= 0; a--) {
        if (++pos[a]! < iDims[a]!) break;
        pos[a] = 0;
      }
    }
    return Tensor.fromValues(out.dtype, out.shape as number[], res);
  },
};

export const INDEX_DEFS: Readonly<Record<IndexOp, OpDef>> = { gather, index_select: indexSelect, kv_store: kvStore };
