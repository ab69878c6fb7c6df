// `npm run bench -- serve [--model DIR] [--dtype bf16|f32] [--concurrency 1,4,16] [--prompt-tokens 32] [--max-tokens 64]
// [--requests-per-client 2] [--threads N]`: `kiln serve` measured over real HTTP, as a fleet sees it — the qwen3-0.6b
// preset (made with `kiln make-model` when absent) served from a warm cache:
// - process start → `/health` 200, and → the first streamed token of a short prompt (fresh processes);
// - output throughput at each concurrency (clients each sending requests back to back, streaming), against the
//   single-stream rate and the decode bandwidth bound (measured bandwidth ÷ weight bytes a step reads);
// - TTFT and TPOT (time per output token after the first) p50/p99 at each concurrency;
// - `/health` latency p50/p99 while a 1,024-token prompt is prefilled.
// Table, then one JSON line; a ratio to a limit above 1 fails the run.
import { type ChildProcess, spawn } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { loadCheckpoint } from "../src/models/index.js";
import { type LimitRatio, bandwidthLimit, failOnBrokenLimits, limitProbes, limitsJson, limitsSummary } from "./limits.js";
import { freePort } from "../test/helpers/free-port.js";
import { modelDir, weightBytesPerToken } from "./llm.js";
import { arg, printJsonLine, printTable, type Row } from "./report.js";

const cli = fileURLToPath(new URL("../src/cli/main.js", import.meta.url));

const percentile = (xs: readonly number[], p: number): number => {
  if (xs.length === 0) return NaN;
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))]!;
};
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const promptOf = (n: number, salt: number, vocab: number) => Array.from({ length: n }, (_, i) => (i * 7919 + salt * 104729 + 13) % vocab);

interface Served {
  readonly child: ChildProcess;
  readonly base: string;
  readonly startedAt: number;
  /** performance.now() when /health first answered 200. */
  readonly healthyAt: number;
  stop(): Promise<void>;
}

async function startServer(dir: string, env: NodeJS.ProcessEnv, extra: string[], onHealthy?: (base: string) => Promise<void>): Promise<Served> {
  const port = await freePort();
  const base = `http://127.0.0.1:${port}`;
  const startedAt = performance.now();
  const child = spawn(process.execPath, [cli, "serve", "--model", dir, "--port", String(port), "--served-model-name", "bench", ...extra], {
    env, stdio: ["ignore", "ignore", "pipe"],
  });
  let stderr = "";
  child.stderr!.on("data", (d) => (stderr += String(d)));
  let exited = false;
  child.on("exit", () => (exited = true));
  for (;;) {
    if (exited) throw new Error(`kiln serve exited before it was ready:\n${stderr}`);
    if (performance.now() - startedAt > 600_000) throw new Error(`kiln serve not ready after 10 minutes:\n${stderr}`);
    const ok = await fetch(`${base}/health`).then((r) => r.status === 200, () => false);
    if (ok) break;
    await sleep(2);
  }
  const healthyAt = performance.now();
  if (onHealthy) await onHealthy(base);
  return {
    child, base, startedAt, healthyAt,
    stop: () =>
      new Promise((resolve) => {
        if (exited) return resolve();
        child.on("exit", () => resolve());
        child.kill("SIGTERM");
      }),
  };
}

interface StreamResult {
  readonly sentAt: number;
  readonly firstTokenAt: number;
  readonly doneAt: number;
  readonly tokens: number;
}

/** One streamed completion of token ids; times each token's arrival (every SSE chunk with text is a token). */
async function streamCompletion(base: string, prompt: readonly number[], maxTokens: number): Promise<StreamResult> {
  const sentAt = performance.now();
  const res = await fetch(`${base}/v1/completions`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ model: "bench", prompt, max_tokens: maxTokens, temperature: 0, ignore_eos: true, stream: true, stream_options: { include_usage: true } }),
  });
  if (res.status !== 200 || !res.body) throw new Error(`completion failed: HTTP ${res.status} ${await res.text()}`);
  let firstTokenAt = NaN;
  let tokens = 0;
  let buffered = "";
  const decoder = new TextDecoder();
  for await (const part of res.body as unknown as AsyncIterable<Uint8Array>) {
    buffered += decoder.decode(part, { stream: true });
    let cut: number;
    while ((cut = buffered.indexOf("\n\n")) >= 0) {
      const event = buffered.slice(0, cut);
      buffered = buffered.slice(cut + 2);
      if (!event.startsWith("data: ") || event === "data: [DONE]") continue;
      const chunk = JSON.parse(event.slice(6)) as { choices: { text?: string }[]; usage?: { completion_tokens: number } | null };
      if (chunk.choices.length > 0 && Number.isNaN(firstTokenAt)) firstTokenAt = performance.now();
      if (chunk.usage) tokens = chunk.usage.completion_tokens;
    }
  }
  return { sentAt, firstTokenAt, doneAt: performance.now(), tokens };
}

export async function run(args: string[]): Promise<void> {
  const dtype = arg(args, "dtype") ?? "bf16";
  const dir = modelDir(dtype, arg(args, "model"));
  const concurrencies = (arg(args, "concurrency") ?? "1,4,16").split(",").map(Number);
  const promptTokens = Number(arg(args, "prompt-tokens") ?? 32);
  const maxTokens = Number(arg(args, "max-tokens") ?? 64);
  const perClient = Number(arg(args, "requests-per-client") ?? 2);
  const threads = arg(args, "threads");
  const config = loadCheckpoint(dir).config;
  const probes = await limitProbes();
  console.log(`before: ${limitsSummary(probes.measure())}`);
  const cache = mkdtempSync(join(tmpdir(), "kiln-bench-serve-"));
  const env = { ...process.env, KILN_CACHE_DIR: cache };
  const extra = [...(threads ? ["--threads", threads] : []), "--max-num-seqs", String(Math.max(16, ...concurrencies))];
  const out: Record<string, number> = {};
  const rows: Row[] = [];
  const ratios: LimitRatio[] = [];
  try {
    // A cold start fills the cache (and is reported); every later start is warm.
    const cold = await startServer(dir, env, extra);
    out.cold_start_to_health_ms = cold.healthyAt - cold.startedAt;
    await cold.stop();
    const starts: number[] = [];
    const firsts: number[] = [];
    for (let i = 0; i < 3; i++) {
      let first = NaN;
      const s = await startServer(dir, env, extra, async (base) => {
        const r = await streamCompletion(base, promptOf(8, i, config.vocabSize), 1);
        first = r.firstTokenAt;
      });
      starts.push(s.healthyAt - s.startedAt);
      firsts.push(first - s.startedAt);
      await s.stop();
    }
    out.warm_start_to_health_ms = percentile(starts, 50);
    out.warm_start_to_first_token_ms = percentile(firsts, 50);
    rows.push(
      { what: "start → /health 200, cold", value: out.cold_start_to_health_ms, unit: "ms", target: "-" },
      { what: "start → /health 200, warm", value: out.warm_start_to_health_ms, unit: "ms", target: "≤ 500" },
      { what: "start → first streamed token, warm", value: out.warm_start_to_first_token_ms, unit: "ms", target: "≤ 600" },
    );

    const server = await startServer(dir, env, extra);
    try {
      let single = NaN;
      for (const c of concurrencies) {
        const results: StreamResult[] = [];
        const t0 = performance.now();
        await Promise.all(Array.from({ length: c }, async (_, client) => {
          for (let r = 0; r < perClient; r++) results.push(await streamCompletion(server.base, promptOf(promptTokens, client * 100 + r, config.vocabSize), maxTokens));
        }));
        const wall = (performance.now() - t0) / 1000;
        const tokens = results.reduce((n, r) => n + r.tokens, 0);
        const tokS = tokens / wall;
        if (c === 1) single = tokS;
        const ttft = results.map((r) => r.firstTokenAt - r.sentAt);
        const tpot = results.filter((r) => r.tokens > 1).map((r) => (r.doneAt - r.firstTokenAt) / (r.tokens - 1));
        Object.assign(out, {
          [`c${c}_output_tok_s`]: tokS, [`c${c}_ttft_p50_ms`]: percentile(ttft, 50), [`c${c}_ttft_p99_ms`]: percentile(ttft, 99),
          [`c${c}_tpot_p50_ms`]: percentile(tpot, 50), [`c${c}_tpot_p99_ms`]: percentile(tpot, 99),
        });
        rows.push({ what: `output throughput, concurrency ${c}`, value: tokS, unit: "tok/s", target: c === 16 ? "≥ 6× concurrency 1" : "-" });
        if (c > 1 && single > 0) rows.push({ what: `  × concurrency 1`, value: tokS / single, unit: "×", target: "-" });
        rows.push(
          { what: `  TTFT p50 / p99`, value: `${percentile(ttft, 50).toFixed(0)} / ${percentile(ttft, 99).toFixed(0)}`, unit: "ms", target: "-" },
          { what: `  TPOT p50 / p99`, value: `${percentile(tpot, 50).toFixed(1)} / ${percentile(tpot, 99).toFixed(1)}`, unit: "ms", target: "-" },
        );
      }
      // Single-stream decode against the bandwidth bound: its TPOT is a decode step with the host and HTTP around it.
      const tpot1 = out.c1_tpot_p50_ms;
      if (tpot1 !== undefined && tpot1 > 0) {
        probes.measureBandwidth(0.25);
        const l = probes.best;
        const b = (l.bandwidthGBs * 1e9) / weightBytesPerToken(config, dtype === "bf16" ? 2 : 4);
        out.c1_decode_of_bound = 1000 / tpot1 / b;
        ratios.push({ what: "single-stream decode through the server", ratio: out.c1_decode_of_bound, of: `the bandwidth bound (${b.toFixed(1)} tok/s)`, limit: bandwidthLimit(l) });
        rows.push({ what: "single-stream decode ÷ bandwidth bound", value: out.c1_decode_of_bound, unit: "ratio", target: "-" });
      }
      // /health while a long prompt is prefilled: the HTTP side must not wait on compute.
      const health: number[] = [];
      let prefilling = true;
      const long = streamCompletion(server.base, promptOf(1024, 999, config.vocabSize), 1).finally(() => (prefilling = false));
      await sleep(20);
      while (prefilling) {
        const h0 = performance.now();
        await fetch(`${server.base}/health`).then((r) => r.arrayBuffer());
        health.push(performance.now() - h0);
        await sleep(10);
      }
      await long;
      out.health_during_prefill_p50_ms = percentile(health, 50);
      out.health_during_prefill_p99_ms = percentile(health, 99);
      out.health_probes_during_prefill = health.length;
      rows.push({ what: `/health during a 1,024-token prefill, p50 / p99 (${health.length} probes)`, value: `${out.health_during_prefill_p50_ms.toFixed(1)} / ${out.health_during_prefill_p99_ms.toFixed(1)}`, unit: "ms", target: "p99 < 50" });
    } finally {
      await server.stop();
    }
  } finally {
    rmSync(cache, { recursive: true, force: true });
  }
  probes.measure();
  const limits = probes.best;
  printTable(`kiln serve (qwen3-0.6b preset ${dtype}, random weights, prompt ${promptTokens} tokens, ${maxTokens} generated; ${limitsSummary(limits)})`, rows);
  printJsonLine("serve", { dtype, prompt_tokens: promptTokens, max_tokens: maxTokens, limits: limitsJson(limits), ...out });
  failOnBrokenLimits(ratios);
}
