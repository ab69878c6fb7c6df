// Public face of src/ops.
export * from "./op-names.js";
export type { OpDef, OpCategory, Attrs, AttrValue, OpCaller } from "./op-def.js";
export { OPS } from "./registry.js";
export { bind, withInterpreter, currentInterpreter, eagerInterpreter, type Interpreter } from "./dispatch.js";
export { BINARY_FNS, UNARY_FNS, gelu as geluScalar, erf } from "./scalar-math.js";
export { broadcastShapes, normalizeAxis } from "./shape-rules.js";
export { resolveReshape, sliceBounds, checkPerm, type SliceBounds } from "./movement.js";
export * as api from "./api.js";
export * from "./api.js";
// Loading this module installs the method forms (x.add(y), x.reshape([...]), …) on Tensor.prototype.
export { TENSOR_METHODS, type TensorMethods } from "./tensor-methods.js";
