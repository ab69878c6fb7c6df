// Index arithmetic of lowering: row-major linearisation, unravelling, and the index remaps of
// reshape and broadcasting, all on loop-IR index expressions with symbolic extents.
import { type Dim, type Shape, dimDivExact, dimEq, dimMul } from "../tensor/index.js";
import { type IExpr, iadd, idiv, imod, imul, ipoly } from "./loop-ir.js";

/** Row-major linear index of `idx` in `shape`. */
export function linearize(idx: readonly IExpr[], shape: Shape): IExpr {
  let out: IExpr = ipoly(0);
  let stride: Dim = 1;
  for (let a = shape.length - 1; a >= 0; a--) {
    out = iadd(out, imul(idx[a]!, ipoly(stride)));
    stride = dimMul(stride, shape[a]!);
  }
  return out;
}

/** Splits `linear` (an index into `shape`'s elements) back into per-axis indices. */
export function unravel(linear: IExpr, shape: Shape): IExpr[] {
  const out: IExpr[] = [];
  let inner: Dim = 1;
  for (let a = shape.length - 1; a >= 0; a--) {
    const q = idiv(linear, ipoly(inner));
    out[a] = a === 0 ? q : imod(q, ipoly(shape[a]!));
    inner = dimMul(inner, shape[a]!);
  }
  return out;
}

/** Pairs of (input dims, output dims) with equal element counts, or undefined when none exist. */
function groupDims(inShape: Shape, outShape: Shape): [number[], number[]][] | undefined {
  const groups: [number[], number[]][] = [];
  let i = 0;
  let o = 0;
  while (i < inShape.length && o < outShape.length) {
    const gi = [i];
    const go = [o];
    let pin = inShape[i++]!;
    let pout = outShape[o++]!;
    while (!dimEq(pin, pout)) {
      if (i < inShape.length && dimDivExact(pout, pin) !== undefined) {
        gi.push(i);
        pin = dimMul(pin, inShape[i++]!);
      } else if (o < outShape.length && dimDivExact(pin, pout) !== undefined) {
        go.push(o);
        pout = dimMul(pout, outShape[o++]!);
      } else return undefined;
    }
    groups.push([gi, go]);
  }
  // Whatever is left must be size-1 dims: an input one is indexed by 0.
  for (; i < inShape.length; i++) if (inShape[i] !== 1) return undefined; else groups.push([[i], []]);
  for (; o < outShape.length; o++) if (outShape[o] !== 1) return undefined;
  return groups;
}

/**
 * The input index of a reshape: dims are grouped where input and output products agree,
 * so `[s0,1024] ↔ [s0,16,64]` needs no division on s0; each group is linearised and unravelled.
 */
export function reshapeIndex(inShape: Shape, outShape: Shape, idx: readonly IExpr[]): IExpr[] {
  const groups = groupDims(inShape, outShape);
  if (!groups) return unravel(linearize(idx, outShape), inShape);
  const result: IExpr[] = new Array(inShape.length);
  for (const [gi, go] of groups) {
    const linear = linearize(go.map((a) => idx[a]!), go.map((a) => outShape[a]!));
    const parts = unravel(linear, gi.map((a) => inShape[a]!));
    gi.forEach((a, j) => (result[a] = parts[j]!));
  }
  return result;
}

/** Index into an input broadcast (NumPy rules) to `outShape`. */
export function broadcastIndex(inShape: Shape, outShape: Shape, idx: readonly IExpr[]): IExpr[] {
  const lead = outShape.length - inShape.length;
  return inShape.map((d, a) => (d === 1 && outShape[a + lead] !== 1 ? ipoly(0) : idx[a + lead]!));
}
