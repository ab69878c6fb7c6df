// Public face of src/codegen.
export { generateProgram, type Program, type ProgramBuffer, type ProgramReport, type DimJSON, type GenerateOptions } from "./program.js";
export { emitProgramC, emitKernelC } from "./emit-c.js";
export { C_ENTRY_POINTS, cCall, type CEntryPoint, type CParam, type CArgs } from "./c-entry-points.js";
export type { Kernel, Stmt, VExpr, IExpr, MatmulOperand, KernelBuffer, ReduceOp } from "./loop-ir.js";
export { kernelsFromJSON, kernelsToJSON } from "./kernel-json.js";
export { schedule, type Schedule, type BufferInfo, type BufferKind } from "./schedule.js";
export { planMemory, type MemoryPlan } from "./memory-plan.js";
export { emitProgramJs, emitKernelJs, JS_RUNTIME_HELPERS, type JsSources } from "./emit-js.js";
export { printKernel, printIndex, printValue } from "./print-kernel.js";
export { distinctKernels, type DistinctKernels, type KernelCall } from "./distinct-kernels.js";
