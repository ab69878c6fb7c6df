// Helpers for reference kernels: broadcast index walks and typed outputs.
import { type Tensor, contiguousStrides } from "../tensor/index.js";

/**
 * Strides of `inShape` viewed as broadcast to `outShape` (0 on broadcast dims), for a
 * contiguous input: reading input element `sum(idx[a] * strides[a])` for output index `idx`.
 */
export function broadcastStrides(inShape: readonly number[], outShape: readonly number[]): number[] {
  const base = contiguousStrides(inShape);
  const lead = outShape.length - inShape.length;
  return outShape.map((d, a) => (a < lead || inShape[a - lead] === 1 ? 0 : base[a - lead]!));
}

/** For each output element in row-major order, the flat input offsets of every broadcast input. */
export function broadcastWalk(
  outShape: readonly number[],
  inShapes: readonly (readonly number[])[],
  fn: (outIndex: number, inOffsets: readonly number[]) => void,
): void {
  const rank = outShape.length;
  const strides = inShapes.map((s) => broadcastStrides(s, outShape));
  const n = outShape.reduce((a, b) => a * b, 1);
  if (n === 0) return;
  const idx = new Array<number>(rank).fill(0);
  const offs = new Array<number>(inShapes.length).fill(0);
  for (let i = 0; i < n; i++) {
    fn(i, offs);
    for (let a = rank - 1; a >= 0; a--) {
      idx[a]!++;
      for (let k = 0; k < offs.length; k++) offs[k]! += strides[k]![a]!;
      if (idx[a]! < outShape[a]!) break;
      for (let k = 0; k < offs.length; k++) offs[k]! -= strides[k]![a]! * outShape[a]!;
      idx[a] = 0;
    }
  }
}

export function staticShapeOf(t: Tensor): readonly number[] {
  return t.dims;
}
