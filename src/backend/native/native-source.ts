// assembleNativeSource(): a program's C translation unit — the runtime header, the caller's code and its entry table.
// The runtime itself (thread pool, kernel templates, N-API glue) is linked in from its objects (runtime-object.ts).
import { type NativeEntry, napiGlue } from "./module-glue.js";

export interface NativeSourceParts {
  /** C code defining the entries (e.g. a generated `void kiln_run(void** bufs, const int64_t* syms)`). */
  readonly code: string;
  readonly entries: readonly NativeEntry[];
}

export function assembleNativeSource(parts: NativeSourceParts): string {
  return ['#include "kiln_runtime.h"', parts.code, napiGlue(parts.entries)].join("\n");
}
