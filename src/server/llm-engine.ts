// The engine the worker builds for `kiln serve`: an LLM over the model folder, compiled (a bundle from the cache,
// or a compile), its continuous-batching scheduler, and a one-step warmup (one prefill, one decode) before ready.
import { LLM } from "../engine/index.js";
import type { EngineModule, EngineSpec, LoadPhase, StepScheduler } from "./engine-protocol.js";

/** Tokens of the warmup prompt: enough for a prefill of more than one token. */
const WARMUP_PROMPT = 8;

export const openEngine: EngineModule["openEngine"] = (spec: EngineSpec, phase: (p: LoadPhase) => void) => {
  phase("loading_weights");
  const llm = new LLM({
    model: spec.model,
    ...(spec.dtype ? { dtype: spec.dtype } : {}),
    ...(spec.backend ? { backend: spec.backend } : {}),
    ...(spec.kvCacheTokens !== undefined ? { kvCacheTokens: spec.kvCacheTokens } : {}),
    ...(spec.kvCacheDtype ? { kvCacheDtype: spec.kvCacheDtype } : {}),
    ...(spec.threads !== undefined ? { threads: spec.threads } : {}),
    ...(spec.compileSizes ? { compileSizes: spec.compileSizes } : {}),
  });
  phase("loading_bundle"); // becomes "compiling" when the cache misses (the worker watches the log)
  llm.compile();
  const scheduler: StepScheduler = llm.scheduler({
    maxNumSeqs: spec.maxNumSeqs,
    maxNumBatchedTokens: spec.maxNumBatchedTokens,
    enablePrefixCaching: spec.enablePrefixCaching,
  });
  if (spec.warmup) {
    phase("warmup");
    const prompt = Array.from({ length: Math.min(WARMUP_PROMPT, llm.maxContext - 2) }, (_, i) => i % llm.config.vocabSize);
    scheduler.add({ id: "warmup", promptIds: prompt, maxTokens: 2, sampling: { temperature: 0 }, ignoreEos: true });
    while (scheduler.hasWork) scheduler.step();
  }
  return {
    scheduler,
    info: { maxContext: llm.maxContext, vocabSize: llm.config.vocabSize, compileOutcomes: [...llm.compileActivity.outcomes] },
  };
};
