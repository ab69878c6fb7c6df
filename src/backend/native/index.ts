// Public face of src/backend/native: toolchain, builder, loader, runtime and kernel-template C sources.
export { type CCompiler, findCCompiler, hasCCompiler, findNodeApiInclude } from "./c-compiler.js";
export { detectCpuFeatures, realCpuFeatures, setCpuFeaturesOverride, parseCpuFeatures, physicalCoreCount } from "./cpu-features.js";
export {
  type NativeTarget, type NativeIsa, TARGET_FEATURES, bestNativeTarget, targetFlags, targetRequiredFeatures, targetIsa,
} from "./native-target.js";
export {
  NativeBuilder, type NativeBuilderOptions, type NativeObject, defaultNativeBuilder, NATIVE_BUILD_VERSION,
} from "./native-builder.js";
export { loadNativeModule, type NativeModule, type NativeSymbols } from "./native-module.js";
export { loadAddon, NativeLoadError } from "./addon-loader.js";
export { ObjectStore } from "./object-store.js";
export { type VerifiedObject, verifyObject, hashedObject } from "./verified-object.js";
export { napiGlue, type NativeEntry, GLUE_EXPORTS } from "./module-glue.js";
export { assembleNativeSource, type NativeSourceParts, KERNEL_TEMPLATES_C } from "./native-source.js";
export { RUNTIME_C } from "./runtime-source.js";
