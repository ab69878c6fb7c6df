// `kiln generate`: text (or token ids) from a Hugging Face model folder through the LLM API —
// compiled ahead of time via the cache, streamed to stdout, with a summary line on stderr.
// `kiln compile`: the same model loaded or compiled into the cache, without generating.
import { type LLMOutput, LLM, type LLMParams } from "../engine/index.js";
import { ArgumentError, MAX_THREADS, counters, setLogSink } from "../util/index.js";

export interface ModelOptions {
  readonly model: string;
  readonly backend?: string;
  readonly dtype?: string;
  readonly kvCacheTokens?: string;
  readonly kvCacheDtype?: string;
  readonly threads?: string;
}

export interface GenerateOptions extends ModelOptions {
  readonly promptIds?: string;
  readonly prompt?: string;
  readonly maxTokens: string;
  readonly temperature: string;
  readonly topK?: string;
  readonly topP?: string;
  readonly repetitionPenalty?: string;
  readonly stop?: string[];
  readonly seed: string;
  readonly json?: boolean;
  readonly chat?: boolean;
  readonly think?: boolean;
}


function parseIds(text: string): number[] {
  const ids = text.split(",").map((s) => s.trim()).filter(Boolean).map(Number);
  if (!ids.length || ids.some((n) => !Number.isInteger(n) || n < 0)) throw new ArgumentError("--prompt-ids", `expected comma-separated token ids, got '${text}'`);
  return ids;
}

function number(flag: string, text: string | undefined, check: (n: number) => boolean, what: string): number | undefined {
  if (text === undefined) return undefined;
  const n = Number(text);
  if (!check(n)) throw new ArgumentError(flag, `expected ${what}, got '${text}'`);
  return n;
}
const isCount = (n: number) => Number.isSafeInteger(n) && n > 0;
const isFiniteAtLeast = (min: number) => (n: number) => Number.isFinite(n) && n >= min;

function choice<T extends string>(flag: string, text: string | undefined, allowed: readonly T[]): T | undefined {
  if (text === undefined || (allowed as readonly string[]).includes(text)) return text as T | undefined;
  throw new ArgumentError(flag, `expected ${allowed.join(" | ")}, got '${text}'`);
}

/** Builds the LLM for the model flags (passed as options: the command writes no environment variable). */
export function openModel(o: ModelOptions): LLM {
  const threads = number("--threads", o.threads, (n) => Number.isInteger(n) && n >= 1 && n <= MAX_THREADS, `an integer from 1 to ${MAX_THREADS}`);
  const backend = choice("--backend", o.backend, ["native", "js", "auto"] as const);
  const dtype = choice("--dtype", o.dtype, ["f32", "bf16"] as const);
  const kvCacheTokens = number("--kv-cache-tokens", o.kvCacheTokens, isCount, "a positive integer");
  const kvCacheDtype = choice("--kv-cache-dtype", o.kvCacheDtype, ["f32", "bf16"] as const);
  return new LLM({ model: o.model, backend, ...(threads !== undefined ? { threads } : {}), ...(dtype ? { dtype } : {}), ...(kvCacheTokens ? { kvCacheTokens } : {}), ...(kvCacheDtype ? { kvCacheDtype } : {}) });
}

export async function runGenerate(o: GenerateOptions, out: (s: string) => void, err: (s: string) => void): Promise<void> {
  if ((o.prompt === undefined) === (o.promptIds === undefined)) throw new ArgumentError("kiln generate", "give the prompt as --prompt \"text\" or --prompt-ids 1,2,3 (one of them)");
  const params: LLMParams = {
    maxTokens: number("--max-tokens", o.maxTokens, (n) => Number.isInteger(n) && n >= 0, "a non-negative integer")!,
    temperature: number("--temperature", o.temperature, isFiniteAtLeast(0), "a finite number >= 0")!,
    seed: number("--seed", o.seed, Number.isInteger, "an integer")!,
    ...(o.topK !== undefined ? { topK: number("--top-k", o.topK, (n) => Number.isInteger(n) && n >= 0, "a non-negative integer")! } : {}),
    ...(o.topP !== undefined ? { topP: number("--top-p", o.topP, (n) => n > 0 && n <= 1, "a number in (0, 1]")! } : {}),
    ...(o.repetitionPenalty !== undefined ? { repetitionPenalty: number("--repetition-penalty", o.repetitionPenalty, (n) => Number.isFinite(n) && n > 0, "a finite number > 0")! } : {}),
    ...(o.stop?.length ? { stop: o.stop } : {}),
  };
  const log: string[] = [];
  const restore = setLogSink((line) => (o.json ? log.push(line) : err(line)));
  try {
    const t0 = performance.now();
    const llm = openModel(o);
    const promptIds = o.promptIds !== undefined
      ? parseIds(o.promptIds)
      : o.chat
        ? llm.chat([{ role: "user", content: o.prompt! }], o.think === undefined ? {} : { enableThinking: o.think })
        : llm.encode(o.prompt!);
    // Before compiling: the whole request must fit the context (the model's, or the KV cache's when smaller).
    const context = llm.maxContext;
    if (promptIds.length + params.maxTokens > context) {
      const flag = promptIds.length > context ? (o.promptIds !== undefined ? "--prompt-ids" : "--prompt") : "--max-tokens";
      const whose = context < llm.config.maxPositionEmbeddings ? "the KV cache's (--kv-cache-tokens)" : "the model's (max_position_embeddings)";
      throw new ArgumentError(flag, `a prompt of ${promptIds.length} tokens and ${params.maxTokens} more exceed the context of ${context} tokens, ${whose}; nothing was generated`);
    }
    const t1 = performance.now();
    llm.compile();
    const compileMs = performance.now() - t1;
    const cold = llm.compileActivity.outcomes.includes("compiled");
    let result: LLMOutput;
    const t2 = performance.now();
    if (o.json) {
      result = (await llm.generate([promptIds], params))[0]!;
    } else {
      // Stream: text as it is decoded (ids when the folder has no tokenizer).
      const it = llm.stream(promptIds, params);
      let r = await it.next();
      for (; !r.done; r = await it.next()) process.stdout.write(llm.tokenizer ? r.value.text : `${r.value.token} `);
      result = r.value;
      out("");
    }
    const c = counters();
    const timings = { load_ms: llm.loadMs, compile_ms: compileMs, ...result.timings, generate_ms: performance.now() - t2, total_ms: performance.now() - t0 };
    if (o.json) {
      out(JSON.stringify({
        prompt_ids: promptIds, generated_ids: result.generatedIds, text: result.text, finish_reason: result.finishReason, timings,
        compile: {
          traces: c.traces, compiler_invocations: c.compilerInvocations, bundles_loaded: c.bundlesLoaded, bundles_saved: c.bundlesSaved,
          objects_rejected: c.objectsRejected, objects_extracted: c.objectsExtracted,
          outcomes: llm.compileActivity.outcomes, cache_misses: llm.compileActivity.missReasons, log,
        },
      }));
    } else {
      const rate = (n: number, ms: number) => (ms > 0 ? `${(n / (ms / 1000)).toFixed(1)} tok/s` : "-");
      const decoded = Math.max(0, result.generatedIds.length - 1);
      err(
        `kiln: load ${llm.loadMs.toFixed(0)} ms, ${cold ? "cold: compiled" : "warm: loaded"} in ${compileMs.toFixed(0)} ms, ` +
          `prompt ${promptIds.length} tokens at ${rate(promptIds.length, result.timings.prefill_ms)}, ` +
          `generated ${result.generatedIds.length} tokens at ${rate(decoded, result.timings.decode_ms)} (${result.finishReason})`,
      );
    }
  } finally {
    setLogSink(restore);
  }
}

export function runCompile(o: ModelOptions & { readonly out?: string }, say: (s: string) => void): void {
  // --out DIR: a cache folder of its own, to ship; run with KILN_CACHE_DIR=DIR (and KILN_FORCE_AOT_LOAD=1) where it is deployed.
  if (o.out) process.env.KILN_CACHE_DIR = o.out;
  const restore = setLogSink(say);
  try {
    const t0 = performance.now();
    const llm = openModel(o);
    llm.compile();
    const outcome = llm.compileActivity.outcomes[0];
    say(`kiln: ${outcome === "loaded" ? "already in the cache (loaded)" : outcome === "compiled" ? "compiled and saved" : "compiled in memory only (no writable cache)"} in ${(performance.now() - t0).toFixed(0)} ms` +
      (o.out ? `; ship ${o.out} and run with KILN_CACHE_DIR=${o.out}` : ""));
  } finally {
    setLogSink(restore);
  }
}
