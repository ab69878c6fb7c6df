// assembleNativeSource(): one self-contained C translation unit — runtime, kernel templates, the caller's code, N-API glue.
import { ATTENTION_C } from "./attention-source.js";
import { GEMM_C } from "./gemm-source.js";
import { GEMV_C } from "./gemv-source.js";
import { type NativeEntry, napiGlue } from "./module-glue.js";
import { RUNTIME_C } from "./runtime-source.js";
import { SIMD_C } from "./simd-source.js";

/** The kernel templates (GEMM, GEMV, paged attention) with the vector layer they are written against. */
export const KERNEL_TEMPLATES_C = SIMD_C + GEMM_C + GEMV_C + ATTENTION_C;

export interface NativeSourceParts {
  /** C code defining the entries (e.g. a generated `void kiln_run(void** bufs, const int64_t* syms)`). */
  readonly code: string;
  readonly entries: readonly NativeEntry[];
  /** Include the kernel templates (default true); the runtime is always included. */
  readonly templates?: boolean;
}

export function assembleNativeSource(parts: NativeSourceParts): string {
  return [RUNTIME_C, parts.templates === false ? "" : KERNEL_TEMPLATES_C, "/* ---- code ---- */", parts.code, napiGlue(parts.entries)].join("\n");
}
