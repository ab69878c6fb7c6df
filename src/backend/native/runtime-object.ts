// The native runtime built once per builder (target, compiler identity, flags) into relocatable objects, which every
// program's shared object links: csrc's translation units (all but the weights mapper), one object each, compiled in
// parallel compiler processes through the builder's store, so a second program reuses them.
import type { BuildInputs, NativeBuilder } from "./native-builder.js";
import { runtimeSourceDir, runtimeSourcesHash } from "./runtime-files.js";

/**
 * The runtime's translation units, the longest compiles first: the builder runs them in waves of its job count, so
 * on 2 CPUs the two attention kernels (~1.2 s each at -O3 for AVX-512) pair up, then the GEMMs, then the rest.
 */
export const RUNTIME_UNITS = ["attention_f32.c", "attention_bf16kv.c", "gemm.c", "gemv.c", "runtime.c", "attention.c", "napi_glue.c"] as const;

/** A unit's build source: an include of its file, keyed by the hash of every runtime file (the headers it includes). */
function unitSource(unit: string): string {
  return `/* kiln native runtime, sources ${runtimeSourcesHash()} */\n#include "${unit}"\n`;
}

function unitInputs(): BuildInputs {
  return { includeDirs: [runtimeSourceDir()], relocatable: true };
}

/** What a program's object is built with: the runtime's header folder and its objects (compiled on first use). */
export function runtimeInputs(builder: NativeBuilder): BuildInputs {
  const inputs = unitInputs();
  return { includeDirs: inputs.includeDirs, linkWith: builder.buildManySync(RUNTIME_UNITS.map(unitSource), inputs) };
}

/** runtimeInputs without blocking: the units compile in parallel processes. */
export async function runtimeInputsAsync(builder: NativeBuilder): Promise<BuildInputs> {
  const inputs = unitInputs();
  return { includeDirs: inputs.includeDirs, linkWith: await builder.buildMany(RUNTIME_UNITS.map(unitSource), inputs) };
}
