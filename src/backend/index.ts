// Public face of src/backend.
export { loadJsProgram } from "./js-backend.js";
export { type Executable, type RunOptions, createExecutable } from "./program-runner.js";
export { JS_RUNTIME } from "./js-runtime.js";
export { loadNativeProgram, nativeSource, nativeTarget, hostCpuFeatures, defaultObjectStore, type NativeExecutable } from "./native-backend.js";
export {
  getToolchain, hasToolchain, NodeHeadersNotFoundError, type Toolchain, type Compiler,
} from "./native-toolchain.js";
// The native toolchain, builder, loader, runtime and GEMM/GEMV templates (src/backend/native/).
export * from "./native/index.js";
