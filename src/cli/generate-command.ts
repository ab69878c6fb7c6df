// `kiln generate`: token generation from a Hugging Face model folder, compiled ahead of time through
// the cache (a second run loads the bundle). Text prompts need the tokenizer (not yet): use --prompt-ids.
import { supportsCompile, type CompileActivity } from "../compile/index.js";
import { CausalLM, loadCheckpoint } from "../models/index.js";
import { generate } from "../engine/index.js";
import { ArgumentError, counters, setLogSink } from "../util/index.js";

export interface GenerateOptions {
  readonly model: string;
  readonly promptIds?: string;
  readonly prompt?: string;
  readonly maxTokens: string;
  readonly temperature: string;
  readonly topK?: string;
  readonly topP?: string;
  readonly seed: string;
  readonly backend?: "native" | "js" | "auto";
  readonly json?: boolean;
}

function parseIds(text: string): number[] {
  const ids = text.split(",").map((s) => s.trim()).filter(Boolean).map(Number);
  if (!ids.length || ids.some((n) => !Number.isInteger(n) || n < 0)) throw new ArgumentError("--prompt-ids", `expected comma-separated token ids, got '${text}'`);
  return ids;
}

export function runGenerate(o: GenerateOptions, out: (s: string) => void, err: (s: string) => void): void {
  if (o.prompt !== undefined && o.promptIds === undefined) {
    throw new ArgumentError("kiln generate", "text prompts need the tokenizer, which is not implemented yet: pass --prompt-ids 1,2,3");
  }
  const promptIds = parseIds(o.promptIds ?? "");
  const misses: string[] = [];
  const restore = setLogSink((line) => (o.json ? misses.push(line) : err(line)));
  try {
    const t0 = performance.now();
    const ckpt = loadCheckpoint(o.model);
    const Model = supportsCompile(CausalLM, { dynamicArgDims: { 0: [0] }, prefix: "model", backend: o.backend });
    const model = new Model(ckpt.config, "f32");
    const names = new Set(model.namedParameters().map(([n]) => n));
    model.loadStateDict(Object.fromEntries([...ckpt.tensors].filter(([n]) => names.has(n))), { strict: false });
    const loadMs = performance.now() - t0;
    const result = generate((ids) => model.forward(ids), promptIds, {
      maxTokens: Number(o.maxTokens), temperature: Number(o.temperature), seed: Number(o.seed),
      ...(o.topK ? { topK: Number(o.topK) } : {}), ...(o.topP ? { topP: Number(o.topP) } : {}),
      stopIds: ckpt.config.eosTokenIds, maxContext: ckpt.config.maxPositionEmbeddings,
    });
    const activity = (model as unknown as { compileActivity: CompileActivity }).compileActivity;
    const c = counters();
    const timings = { load_ms: loadMs, ...result.timings, total_ms: performance.now() - t0 };
    if (o.json) {
      out(JSON.stringify({
        prompt_ids: result.promptIds, generated_ids: result.generatedIds, text: null, finish_reason: result.finishReason, timings,
        compile: {
          traces: c.traces, compiler_invocations: c.compilerInvocations, bundles_loaded: c.bundlesLoaded, bundles_saved: c.bundlesSaved,
          outcomes: activity.outcomes, cache_misses: activity.missReasons, log: misses,
        },
      }));
    } else {
      out(result.generatedIds.join(" "));
      const gen = result.generatedIds.length;
      const compiled = activity.outcomes.includes("compiled");
      const prompt = `prompt ${(promptIds.length / (result.timings.prefill_ms / 1000)).toFixed(0)} tok/s${compiled ? " (this first call included compiling)" : ""}`;
      err(`kiln: load ${loadMs.toFixed(0)} ms, ${compiled ? "cold (compiled)" : "warm (bundle loaded)"}, ${prompt}, generated ${gen} tokens in ${result.timings.decode_ms.toFixed(0)} ms`);
    }
  } finally {
    setLogSink(restore);
  }
}
