// Parameter: a Tensor marked as a module's weight (it becomes a graph input, never a constant).
import { Tensor } from "../tensor/index.js";

export class Parameter extends Tensor {
  /** Wraps `t` without copying: the parameter shares its storage. */
  constructor(t: Tensor) {
    super(t.dtype, t.dims, t.heldStorage, t.strides, t.offset);
  }
}
