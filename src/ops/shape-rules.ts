// Shared pieces of shape/dtype rules: NumPy broadcasting on symbolic dims, axis normalisation, dtype checks.
import { type DType, type Dim, type Shape, type TensorType, dimEq, isFloat, shapeToString } from "../tensor/index.js";
import { DTypeError, ShapeError } from "../util/index.js";

/** NumPy broadcasting; a symbolic dim only broadcasts against 1 or an equal dim. */
export function broadcastShapes(op: string, a: Shape, b: Shape): Dim[] {
  const rank = Math.max(a.length, b.length);
  const out: Dim[] = [];
  for (let i = 0; i < rank; i++) {
    const da = a[a.length - rank + i] ?? 1;
    const db = b[b.length - rank + i] ?? 1;
    if (dimEq(da, db) || db === 1) out.push(da);
    else if (da === 1) out.push(db);
    else {
      throw new ShapeError(op, `shapes that broadcast (NumPy rules) with ${shapeToString(a)}`, b, `dim ${i - rank} is ${String(da)} vs ${String(db)}`);
    }
  }
  return out;
}

export function broadcastAll(op: string, shapes: readonly Shape[]): Dim[] {
  return shapes.reduce<Dim[]>((acc, s) => broadcastShapes(op, acc, s), []);
}

/** Maps a possibly negative axis into [0, rank); a 0-d tensor accepts 0 and -1, as in torch. */
export function normalizeAxis(op: string, axis: unknown, rank: number): number {
  const r = Math.max(rank, 1);
  if (typeof axis !== "number" || !Number.isInteger(axis) || axis < -r || axis >= r) {
    throw new ShapeError(op, `an axis in [${-r}, ${r})`, String(axis));
  }
  return axis < 0 ? axis + r : axis;
}

export function requireFloat(op: string, t: TensorType): void {
  if (!isFloat(t.dtype)) throw new DTypeError(op, "a float dtype (f32, bf16, f16)", t.dtype);
}

export function requireDType(op: string, t: TensorType, allowed: readonly DType[], what = "input"): void {
  if (!allowed.includes(t.dtype)) throw new DTypeError(op, `${allowed.join("|")} for ${what}`, t.dtype);
}

export function requireRank(op: string, t: TensorType, min: number, what = "input"): void {
  if (t.shape.length < min) throw new ShapeError(op, `${what} of rank >= ${min}`, t.shape);
}
