// Public face of src/trace.
export { trace, MAX_CONSTANT_ELEMENTS, type TraceOptions, type TraceResult, type ArgSpec, type DynamicSpec, type DimRange } from "./trace.js";
export { TracerTensor } from "./tracer-tensor.js";
export { type TraceableModule, type TensorSlot, type SlotKind, isTraceableModule } from "./module-like.js";
export { flattenTree, unflattenTree, type TreeSpec } from "./pytree.js";
export { userFrame, type UserFrame } from "./user-frame.js";
export { paramNames } from "./param-names.js";
