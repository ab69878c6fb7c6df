// `npm run bench -- llm [--model DIR] [--dtype bf16|f32] [--reps n] [--contexts 128,1024,4096] [--kv-cache-dtype f32,bf16]`:
// the qwen3-0.6b preset (made with `kiln make-model` when absent) in bf16 and f32 — process start → first token,
// cold (empty cache) and warm (bundle loaded); prefill tokens/s at 128 and 512 tokens against the measured f32 FMA
// peak; decode tokens/s at each context (default 128 and 1024) with each KV cache dtype (default f32) against the
// memory-bandwidth bound (measured bandwidth ÷ the bytes one decode step reads: weights and the KV cache of its
// context), and the host (JS) time per decode step.
// The limits (bench/limits.ts) are measured before and after the model runs, each figure at its best.
// Table, then one JSON line; a ratio to a limit above 1 fails the run.
import { execFileSync } from "node:child_process";
import { existsSync, mkdtempSync, rmSync } from "node:fs";
import { homedir, tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { LLM } from "../src/engine/index.js";
import { type ModelConfig, expectedTensors } from "../src/models/index.js";
import {
  type LimitRatio, type MachineLimits, bandwidthLimit, failOnBrokenLimits, limitProbes, limitsJson, limitsSummary, ofPeak,
} from "./limits.js";
import { arg, median, printJsonLine, printTable, type Row } from "./report.js";

const cli = fileURLToPath(new URL("../src/cli/main.js", import.meta.url));

/** Deterministic token ids in [0, vocab). */
const promptOf = (n: number, vocab: number) => Array.from({ length: n }, (_, i) => (i * 7919 + 13) % vocab);

/** The qwen3-0.6b preset folder in `dtype` (made with `kiln make-model` when absent), or the one given. */
export function modelDir(dtype: string, given: string | undefined): string {
  if (given) return given;
  const dir = join(process.env.KILN_BENCH_DIR ?? join(homedir(), ".cache", "kiln", "bench"), `qwen3-0.6b-${dtype}`);
  if (!existsSync(join(dir, "config.json"))) {
    console.error(`making ${dir} (kiln make-model --preset qwen3-0.6b --dtype ${dtype})`);
    execFileSync(process.execPath, [cli, "make-model", "--preset", "qwen3-0.6b", "--dtype", dtype, "--out", dir], { stdio: "inherit" });
  }
  return dir;
}

/**
 * A fresh `kiln generate` process: milliseconds from its start to its first token (the child's
 * own clock, `timings.first_token_at_ms`, plus the spawn before its clock started) and to its exit.
 */
function startToFirstToken(dir: string, cache: string): { firstTokenMs: number; exitMs: number } {
  const t0 = performance.now();
  const out = execFileSync(process.execPath, [cli, "generate", "--model", dir, "--prompt-ids", promptOf(8, 1000).join(","), "--max-tokens", "1", "--json"], {
    env: { ...process.env, KILN_CACHE_DIR: cache }, stdio: ["ignore", "pipe", "pipe"], encoding: "utf8",
  });
  const exitMs = performance.now() - t0;
  const firstTokenAt = (JSON.parse(out) as { timings: { first_token_at_ms: number } }).timings.first_token_at_ms;
  return { firstTokenMs: firstTokenAt, exitMs };
}

/** Bytes of an element of the engine's KV cache (f32). */
export const KV_CACHE_ITEM_BYTES = 4;

/** Elements of one decoder layer's matmul weights: q and o, k and v, the MLP's three. */
function layerWeights(c: ModelConfig): number {
  const { hiddenSize: h, numAttentionHeads: nh, numKeyValueHeads: nkv, headDim: d, intermediateSize: i } = c;
  return h * nh * d * 2 + h * nkv * d * 2 + 3 * h * i;
}

/**
 * Bytes of weights one decode step reads, each element `bytes` wide: every parameter once (matmuls, biases, norms),
 * the embedding one row (the token's), and the LM head whole (the embedding matrix again when tied).
 */
export function weightBytesPerToken(c: ModelConfig, bytes: number): number {
  let elements = 0;
  for (const [name, dims] of expectedTensors(c)) elements += name === "model.embed_tokens.weight" ? c.hiddenSize : dims.reduce((a, b) => a * b, 1);
  if (c.tieWordEmbeddings) elements += c.vocabSize * c.hiddenSize;
  return elements * bytes;
}

/** Bytes of K and V one decode step reads when it attends to `context` positions (every layer's, each KV head's). */
export function kvBytesPerToken(c: ModelConfig, context: number, itemBytes = KV_CACHE_ITEM_BYTES): number {
  return c.numHiddenLayers * 2 * context * c.numKeyValueHeads * c.headDim * itemBytes;
}

/** Bytes of the decode steps after a prompt of `context` tokens, on average per step: step i attends to context + i positions. */
export function decodeBytesPerToken(c: ModelConfig, weightBytes: number, context: number, steps: number, kvItemBytes = KV_CACHE_ITEM_BYTES): number {
  return weightBytesPerToken(c, weightBytes) + kvBytesPerToken(c, context + (steps + 1) / 2, kvItemBytes);
}

/** FLOPs of a prefill of n tokens: 2 per weight per token (LM head for one row), plus causal attention. */
export function prefillFlops(c: ModelConfig, n: number): number {
  const attention = c.numHiddenLayers * 2 * 2 * c.numAttentionHeads * c.headDim * ((n * (n + 1)) / 2);
  return 2 * c.numHiddenLayers * layerWeights(c) * n + attention + 2 * c.vocabSize * c.hiddenSize;
}

export async function run(args: string[]): Promise<void> {
  const reps = Number(arg(args, "reps") ?? 3);
  const dtypes = arg(args, "dtype") ? [arg(args, "dtype")!] : ["bf16", "f32"];
  const probes = await limitProbes();
  const before = probes.measure();
  console.log(`before the model runs: ${limitsSummary(before)}`);
  const steps = 16;
  const contexts = (arg(args, "contexts") ?? "128,1024").split(",").map(Number);
  const kvDtypes = (arg(args, "kv-cache-dtype") ?? "f32").split(",") as ("f32" | "bf16")[];
  const kvTokens = Math.max(4096, ...contexts.map((n) => n + 32));
  /** Each measured figure, and how to hold it to the limits once they are final. */
  const measured: { dtype: string; what: string; value: number; unit: string; held?: { key: string; hold: (l: MachineLimits) => LimitRatio } }[] = [];
  const results: { dtype: string; out: Record<string, number> }[] = [];
  for (const dtype of dtypes) {
    const dir = modelDir(dtype, arg(args, "model"));
    const cache = mkdtempSync(join(tmpdir(), "kiln-bench-llm-"));
    try {
      const cold = startToFirstToken(dir, cache);
      const warmRuns = Array.from({ length: reps }, () => startToFirstToken(dir, cache));
      const [coldMs, warmMs, warmExitMs] = [cold.firstTokenMs, median(warmRuns.map((r) => r.firstTokenMs)), median(warmRuns.map((r) => r.exitMs))];
      process.env.KILN_CACHE_DIR = cache;
      const llms = new Map(kvDtypes.map((kv) => [kv, new LLM({ model: dir, backend: "native", kvCacheDtype: kv, kvCacheTokens: kvTokens })]));
      for (const l of llms.values()) l.compile();
      const llm = llms.get(kvDtypes[0]!)!;
      const c = llm.config;
      const bytes = dtype === "bf16" ? 2 : 4;
      const prefill = (n: number) => median(Array.from({ length: reps }, () => llm.generateSync(promptOf(n, c.vocabSize), { maxTokens: 1 }).timings.prefill_ms));
      // Per decode step: wall time, and the host's part of it (JS and sampling: wall minus the native call).
      const decode = (on: LLM, ctx: number) => {
        const runs = Array.from({ length: ctx > 1024 ? 1 : reps }, () => on.generateSync(promptOf(ctx, c.vocabSize), { maxTokens: steps + 1, stopIds: [] }).timings);
        return { ms: median(runs.map((t) => t.decode_ms / steps)), hostMs: median(runs.map((t) => (t.decode_ms - (t.decode_native_ms ?? 0)) / steps)) };
      };
      const out: Record<string, number> = { cold_first_token_ms: coldMs, warm_first_token_ms: warmMs, warm_exit_ms: warmExitMs, cold_exit_ms: cold.exitMs };
      out.weight_bytes_per_token = weightBytesPerToken(c, bytes);
      measured.push(
        { dtype, what: "start → first token, cold", value: coldMs, unit: "ms" },
        { dtype, what: "start → first token, warm", value: warmMs, unit: "ms" },
        { dtype, what: "start → exit, warm", value: warmExitMs, unit: "ms" },
      );
      for (const n of [128, 512]) {
        const ms = prefill(n);
        probes.measurePeaks(0.25);
        const gflops = prefillFlops(c, n) / (ms / 1000) / 1e9;
        out[`prefill_${n}_tok_s`] = n / (ms / 1000);
        out[`prefill_${n}_gflops`] = gflops;
        const hold = (l: MachineLimits) => ofPeak(l, `${dtype} prefill of ${n} tokens (${gflops.toFixed(0)} GFLOP/s)`, gflops);
        measured.push({ dtype, what: `prefill ${n} tokens`, value: n / (ms / 1000), unit: "tok/s", held: { key: `prefill_${n}_of_peak`, hold } });
      }
      for (const [kv, on] of llms) {
        for (const ctx of contexts) {
          const step = decode(on, ctx);
          const tokS = 1000 / step.ms;
          probes.measureBandwidth(0.25);
          const stepBytes = decodeBytesPerToken(c, bytes, ctx, steps, kv === "bf16" ? 2 : 4);
          const name = kv === "f32" ? `decode_${ctx}` : `decode_${ctx}_kv_${kv}`;
          out[`${name}_tok_s`] = tokS;
          out[`${name}_host_ms`] = step.hostMs;
          out[`${name}_bytes_per_token`] = stepBytes;
          const hold = (l: MachineLimits): LimitRatio => {
            const bound = (l.bandwidthGBs * 1e9) / stepBytes;
            out[`${name}_bound_tok_s`] = bound;
            return { what: `${dtype} decode at context ${ctx}, ${kv} KV cache`, ratio: tokS / bound, of: `the bandwidth bound (${bound.toFixed(1)} tok/s)`, limit: bandwidthLimit(l) };
          };
          measured.push({ dtype, what: `decode at context ${ctx}, ${kv} KV cache`, value: tokS, unit: "tok/s", held: { key: `${name}_of_bound`, hold } });
          measured.push({ dtype, what: "  host (JS) time per step (target ≤ 0.5 ms)", value: step.hostMs, unit: "ms" });
        }
      }
      results.push({ dtype, out });
    } finally {
      delete process.env.KILN_CACHE_DIR;
      rmSync(cache, { recursive: true, force: true });
    }
  }
  probes.measure();
  const limits = probes.best;
  console.log(`after: ${limitsSummary(limits)}`);
  const ratios: LimitRatio[] = [];
  const rows: Row[] = measured.map(({ dtype, what, value, unit, held }) => {
    if (!held) return { dtype, what, value, unit, ratio: NaN, of: "-" };
    const r = held.hold(limits);
    ratios.push(r);
    results.find((x) => x.dtype === dtype)!.out[held.key] = r.ratio;
    return { dtype, what, value, unit, ratio: r.ratio, of: r.of };
  });
  printTable(`LLM inference (qwen3-0.6b preset, random weights, ${limits.threads} threads; ${limitsSummary(limits)})`, rows);
  printJsonLine("llm", { threads: limits.threads, limits: limitsJson(limits), results: results.map((r) => ({ dtype: r.dtype, ...r.out })) });
  failOnBrokenLimits(ratios);
}
