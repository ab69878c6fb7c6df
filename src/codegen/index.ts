// Public face of src/codegen.
export { generateProgram, type Program, type ProgramBuffer, type DimJSON, type GenerateOptions } from "./program.js";
export { emitProgramC, emitKernelC } from "./emit-c.js";
export type { Kernel, Stmt, VExpr, IExpr, MatmulOperand, KernelBuffer, ReduceOp } from "./loop-ir.js";
export { schedule, type Schedule, type BufferInfo, type BufferKind } from "./schedule.js";
export { planMemory, type MemoryPlan } from "./memory-plan.js";
export { emitProgramJs, emitKernelJs, JS_RUNTIME_HELPERS } from "./emit-js.js";
export { printKernel } from "./print-kernel.js";
export { distinctKernels, type DistinctKernels, type KernelCall } from "./distinct-kernels.js";
