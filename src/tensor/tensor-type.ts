// TensorType: what a graph value is before it has data — a dtype and a (possibly symbolic) shape.
import type { DType } from "./dtype.js";
import { type Shape, shapeToString } from "./sym.js";

export interface TensorType {
  readonly dtype: DType;
  readonly shape: Shape;
}

export function typeToString(t: TensorType): string {
  return `${t.dtype}${shapeToString(t.shape)}`;
}
