// Public face of src/backend/native: toolchain, builder, loader, and the native runtime (C files in csrc/, built once).
export { type CCompiler, findCCompiler, hasCCompiler, findNodeApiInclude } from "./c-compiler.js";
export { detectCpuFeatures, realCpuFeatures, setCpuFeaturesOverride, parseCpuFeatures, physicalCoreCount } from "./cpu-features.js";
export {
  type NativeTarget, type NativeIsa, TARGET_FEATURES, bestNativeTarget, targetFlags, targetRequiredFeatures, targetIsa,
} from "./native-target.js";
export {
  NativeBuilder, type NativeBuilderOptions, type NativeObject, type BuildInputs, defaultNativeBuilder, NATIVE_BUILD_VERSION,
} from "./native-builder.js";
export { loadNativeModule, loadedNativeModules, formatProfile, type NativeModule, type NativeSymbols, type NativeProfile, type KernelProfile } from "./native-module.js";
export { loadAddon, NativeLoadError } from "./addon-loader.js";
export { ObjectStore } from "./object-store.js";
export { type VerifiedObject, verifyObject, hashedObject } from "./verified-object.js";
export { napiGlue, type NativeEntry, GLUE_EXPORTS } from "./module-glue.js";
export { assembleNativeSource, type NativeSourceParts } from "./native-source.js";
export { runtimeSourceDir, runtimeFiles, runtimeFile, runtimeSourcesHash, mapperSource, type RuntimeFile } from "./runtime-files.js";
export { runtimeInputs, runtimeInputsAsync, RUNTIME_UNITS } from "./runtime-object.js";
