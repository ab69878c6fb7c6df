// Public face of src/trace.
export { trace, traceModule, MAX_CONSTANT_ELEMENTS, type TraceOptions, type TraceResult, type ArgSpec, type SlotSpec, type TiedSlot } from "./trace.js";
export { type DynamicSpec, type DimRange, type ResolvedRange, DEFAULT_MAX_DIM, resolveDynamic, isDynamicDim } from "./dynamic-dims.js";
export { TracerTensor } from "./tracer-tensor.js";
export { type TraceableModule, type TensorSlot, type SlotKind, isTraceableModule } from "./module-like.js";
export { flattenTree, unflattenTree, type TreeSpec } from "./pytree.js";
export { userFrame, userFrames, type UserFrame } from "./user-frame.js";
export { signatureOf, paramNames, type Signature } from "./signature.js";
export { checkSpecialisable, sameValue, describeValue } from "./specialised-value.js";
