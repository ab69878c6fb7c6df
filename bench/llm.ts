// `npm run bench -- llm [--model DIR] [--dtype bf16|f32] [--reps n] [--contexts 128,1024,4096] [--kv-cache-dtype f32,bf16]`:
// the qwen3-0.6b preset (made with `kiln make-model` when absent) in bf16 and f32 — process start → first token, cold
// (empty cache) and warm (bundle loaded); prefill tokens/s at 128 and 512 tokens against the measured FLOP/s peak;
// decode tokens/s at each context (default 128 and 1024) with each KV cache dtype (default f32) against the
// memory-bandwidth bound (bytes per step — weights, and the K/V rows attention reads — ÷ measured bandwidth).
// Table, then one JSON line.
import { execFileSync } from "node:child_process";
import { existsSync, mkdtempSync, rmSync } from "node:fs";
import { homedir, tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { LLM } from "../src/engine/index.js";
import type { ModelConfig } from "../src/models/index.js";
import { measureLimits } from "./limits.js";
import { printJsonLine, printTable, type Row } from "./report.js";

const cli = fileURLToPath(new URL("../src/cli/main.js", import.meta.url));

function arg(args: string[], name: string): string | undefined {
  const i = args.indexOf(`--${name}`);
  return i >= 0 ? args[i + 1] : undefined;
}

/** Deterministic token ids in [0, vocab). */
const promptOf = (n: number, vocab: number) => Array.from({ length: n }, (_, i) => (i * 7919 + 13) % vocab);

function modelDir(dtype: string, given: string | undefined): string {
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

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

/** Weights of one decoder layer's matmuls: q and o, k and v, the MLP's three. */
function layerWeights(c: ModelConfig): number {
  const { hiddenSize: h, numAttentionHeads: nh, numKeyValueHeads: nkv, headDim: d, intermediateSize: i } = c;
  return h * nh * d * 2 + h * nkv * d * 2 + 3 * h * i;
}

/** Bytes of weights one decode step streams: every layer's matmuls and the LM head (the embedding when tied). */
function weightBytesPerToken(c: ModelConfig, bytes: number): number {
  return (c.numHiddenLayers * layerWeights(c) + c.vocabSize * c.hiddenSize) * bytes;
}

/** Bytes of K and V one decode step reads at context ctx: every layer's rows of every position. */
function kvBytesPerToken(c: ModelConfig, ctx: number, bytes: number): number {
  return c.numHiddenLayers * ctx * 2 * c.numKeyValueHeads * c.headDim * bytes;
}

/** FLOPs of a prefill of n tokens: 2 per weight per token (LM head for one row), plus causal attention. */
function prefillFlops(c: ModelConfig, n: number): number {
  const attention = c.numHiddenLayers * 2 * 2 * c.numAttentionHeads * c.headDim * ((n * (n + 1)) / 2);
  return 2 * c.numHiddenLayers * layerWeights(c) * n + attention + 2 * c.vocabSize * c.hiddenSize;
}

export async function run(args: string[]): Promise<void> {
  const reps = Number(arg(args, "reps") ?? 3);
  const dtypes = arg(args, "dtype") ? [arg(args, "dtype")!] : ["bf16", "f32"];
  const contexts = (arg(args, "contexts") ?? "128,1024").split(",").map(Number);
  const kvDtypes = (arg(args, "kv-cache-dtype") ?? "f32").split(",") as ("f32" | "bf16")[];
  const kvTokens = Math.max(4096, ...contexts.map((n) => n + 32));
  const limits = await measureLimits();
  console.log(`machine: ${limits.threads} threads, f32 peak ${limits.peakGflops.toFixed(0)} GFLOP/s, read bandwidth ${limits.bandwidthGBs.toFixed(1)} GB/s`);
  const rows: Row[] = [];
  const results: Record<string, unknown>[] = [];
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
      const steps = 16;
      // Per decode step: wall time, and the host's part of it (JS and sampling: wall minus the native call).
      const decode = (on: LLM, ctx: number) => {
        const runs = Array.from({ length: ctx > 1024 ? 1 : reps }, () => on.generateSync(promptOf(ctx, c.vocabSize), { maxTokens: steps + 1, stopIds: [] }).timings);
        return { ms: median(runs.map((t) => t.decode_ms / steps)), hostMs: median(runs.map((t) => (t.decode_ms - (t.decode_native_ms ?? 0)) / steps)) };
      };
      const bound = (limits.bandwidthGBs * 1e9) / weightBytesPerToken(c, bytes);
      const row = (what: string, value: number, unit: string, ratio: number, of: string): Row => ({ dtype, what, value, unit, ratio, of });
      const out: Record<string, number> = { cold_first_token_ms: coldMs, warm_first_token_ms: warmMs, warm_exit_ms: warmExitMs, cold_exit_ms: cold.exitMs };
      rows.push(
        row("start → first token, cold", coldMs, "ms", NaN, "-"), row("start → first token, warm", warmMs, "ms", warmMs / 1000, "target 1000 ms"),
        row("start → exit, warm", warmExitMs, "ms", NaN, "-"),
      );
      for (const n of [128, 512]) {
        const ms = prefill(n);
        const gflops = prefillFlops(c, n) / (ms / 1000) / 1e9;
        rows.push(row(`prefill ${n} tokens`, n / (ms / 1000), "tok/s", gflops / limits.peakGflops, `peak (${gflops.toFixed(0)} GFLOP/s)`));
        out[`prefill_${n}_tok_s`] = n / (ms / 1000);
        out[`prefill_${n}_of_peak`] = gflops / limits.peakGflops;
      }
      for (const [kv, on] of llms) {
        for (const ctx of contexts) {
          // Each step reads the weights and the K/V rows of the context so far (mid-window: ctx + steps / 2).
          const stepBytes = weightBytesPerToken(c, bytes) + kvBytesPerToken(c, ctx + steps / 2, kv === "bf16" ? 2 : 4);
          const ctxBound = (limits.bandwidthGBs * 1e9) / stepBytes;
          const step = decode(on, ctx);
          const tokS = 1000 / step.ms;
          const name = kv === "f32" ? `decode_${ctx}` : `decode_${ctx}_kv_${kv}`;
          rows.push(row(`decode at context ${ctx}, ${kv} KV cache`, tokS, "tok/s", tokS / ctxBound, `bound (${ctxBound.toFixed(1)} tok/s)`));
          rows.push(row("  host (JS) time per step", step.hostMs, "ms", NaN, "target ≤ 0.5 ms"));
          out[`${name}_tok_s`] = tokS;
          out[`${name}_host_ms`] = step.hostMs;
          out[`${name}_of_bound`] = tokS / ctxBound;
        }
      }
      results.push({ dtype, weight_bytes_per_token: weightBytesPerToken(c, bytes), bound_tok_s: bound, ...out });
    } finally {
      delete process.env.KILN_CACHE_DIR;
      rmSync(cache, { recursive: true, force: true });
    }
  }
  printTable("LLM inference (qwen3-0.6b preset, random weights)", rows);
  printJsonLine("llm", { threads: limits.threads, peak_gflops: limits.peakGflops, bandwidth_gbs: limits.bandwidthGBs, results });
}
