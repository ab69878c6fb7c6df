// Public face of src/engine.
export { Sampler, argmaxOf, validateSampling, type SamplingParams } from "./sampler.js";
export { generate, type GenerateParams, type Generation, type LogitsFn } from "./generate.js";
