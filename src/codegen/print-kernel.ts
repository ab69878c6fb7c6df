// A readable text form of a loop-IR kernel (for tests and KILN_LOG=codegen), via the JS emitter's syntax.
import { emitKernelJs } from "./emit-js.js";
import type { Kernel } from "./loop-ir.js";

export function printKernel(k: Kernel): string {
  return emitKernelJs(k);
}
