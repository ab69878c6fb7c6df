// Public face of src/engine.
export { Sampler, argmaxOf, validateSampling, type SamplingParams } from "./sampler.js";
export { generate, type GenerateParams, type Generation, type LogitsFn } from "./generate.js";
export {
  PagedKvCache, SequenceBlocks, KvCacheFullError, batchInputs,
  type KvCacheShape, type KvCacheOptions, type BatchEntry,
} from "./kv-cache.js";
export { PagedEngine, type PagedForward, type PagedModelInfo, type TokenEvent } from "./paged-engine.js";
export { LLM, type LLMOptions, type LLMParams, type LLMOutput, type Prompt, type TextCodec } from "./llm.js";
export type { SequenceRequest, SequenceOutput, TokenLogprob, FinishReason, SchedulerStats } from "./sequence-request.js";
export { Scheduler, type SchedulerOptions, type SchedulerModelInfo } from "./scheduler.js";
export { tokenLogprob, MAX_LOGPROBS } from "./logprobs.js";
export { blockHash } from "./block-hash.js";
