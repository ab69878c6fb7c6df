// Public face of src/engine.
export { Sampler, argmaxOf, validateSampling, type SamplingParams } from "./sampler.js";
