// Public face of src/compile.
export { compile, type CompileOptions, type CompileStats, type CompileReport, type CompiledFn } from "./compile.js";
export { setStance, getStance, withStance, STANCES, type Stance } from "./stance.js";
export { buildGuards, type GuardFailure } from "./guards.js";
export { compileGraph, type CompiledGraph, type Executable, type PhaseTimes } from "./compile-graph.js";
export { aotCompile, loadCompiledFunction, verifyBundle, keyFactors, CompiledFunction, callable, type CompiledCallable, type AotOptions, type Manifest, type LoadOptions as BundleLoadOptions } from "./aot.js";
export { hostFactors, compilerFingerprint } from "./host.js";
export { KILN_VERSION } from "./version.js";
export { loadOrCompile, readManifest, type CacheOutcome } from "./cached.js";
export { Fleet } from "./fleet.js";
export { supportsCompile, type SupportsCompileOptions, type CompileActivity } from "./supports-compile.js";
