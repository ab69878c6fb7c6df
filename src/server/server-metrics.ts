// Prometheus metrics of `kiln serve` (prom-client, a registry per server), named like vLLM's under `kiln:`, every
// series labelled with model_name. Engine counters come from the scheduler's cumulative stats; latencies are
// measured in the main thread from request arrival (so TTFT includes tokenizing, as vLLM's does).
import { Counter, Gauge, Histogram, Registry } from "prom-client";
import type { SchedulerStats } from "../engine/index.js";
import type { EngineInfo, LoadPhase } from "./engine-protocol.js";

const LATENCY_BUCKETS = [0.001, 0.005, 0.01, 0.02, 0.04, 0.06, 0.08, 0.1, 0.25, 0.5, 0.75, 1, 2.5, 5, 7.5, 10, 20, 40, 80, 160, 640, 2560];
const TOKEN_BUCKETS = [1, 2, 5, 10, 20, 50, 100, 200, 500, 1000, 2000, 5000, 10000, 20000, 50000];

type CountedStat = "promptTokens" | "generationTokens" | "preemptions" | "prefixCacheQueries" | "prefixCacheHits";

export type FinishedReason = "stop" | "length" | "abort";

export class ServerMetrics {
  readonly registry = new Registry();
  readonly #labels: { model_name: string };
  readonly #running: Gauge<"model_name">;
  readonly #waiting: Gauge<"model_name">;
  readonly #kvUsage: Gauge<"model_name">;
  readonly #counters: Record<CountedStat, Counter<"model_name">>;
  readonly #success: Counter<"model_name" | "finished_reason">;
  readonly ttft: Histogram<"model_name">;
  readonly itl: Histogram<"model_name">;
  readonly e2e: Histogram<"model_name">;
  readonly #promptLen: Histogram<"model_name">;
  readonly #generationLen: Histogram<"model_name">;
  readonly #phaseSeconds: Gauge<"model_name" | "phase">;
  readonly #bundle: Counter<"model_name" | "outcome">;
  #last: SchedulerStats | undefined;

  constructor(modelName: string) {
    this.#labels = { model_name: modelName };
    const registers = [this.registry];
    const gauge = (name: string, help: string) => new Gauge({ name, help, labelNames: ["model_name"] as const, registers });
    const counter = (name: string, help: string) => new Counter({ name, help, labelNames: ["model_name"] as const, registers });
    const histogram = (name: string, help: string, buckets: number[]) => new Histogram({ name, help, labelNames: ["model_name"] as const, buckets, registers });
    this.#running = gauge("kiln:num_requests_running", "Sequences in the running batch (prefilling or decoding).");
    this.#waiting = gauge("kiln:num_requests_waiting", "Sequences waiting to be scheduled.");
    this.#kvUsage = gauge("kiln:kv_cache_usage_perc", "KV cache blocks in use, 0-1.");
    this.#counters = {
      promptTokens: counter("kiln:prompt_tokens_total", "Prompt tokens prefilled (computed or from the prefix cache)."),
      generationTokens: counter("kiln:generation_tokens_total", "Tokens generated."),
      preemptions: counter("kiln:num_preemptions_total", "Sequences preempted (recomputed later) because KV blocks ran out."),
      prefixCacheQueries: counter("kiln:prefix_cache_queries_total", "Prompt tokens looked up in the prefix cache."),
      prefixCacheHits: counter("kiln:prefix_cache_hits_total", "Prompt tokens found in the prefix cache."),
    };
    this.#success = new Counter({ name: "kiln:request_success_total", help: "Finished sequences by finish reason.", labelNames: ["model_name", "finished_reason"] as const, registers });
    this.ttft = histogram("kiln:time_to_first_token_seconds", "From request arrival to its first token.", LATENCY_BUCKETS);
    this.itl = histogram("kiln:inter_token_latency_seconds", "Between consecutive tokens of a sequence.", LATENCY_BUCKETS);
    this.e2e = histogram("kiln:e2e_request_latency_seconds", "From request arrival to its last token.", LATENCY_BUCKETS);
    this.#promptLen = histogram("kiln:request_prompt_tokens", "Prompt tokens per request.", TOKEN_BUCKETS);
    this.#generationLen = histogram("kiln:request_generation_tokens", "Generated tokens per request (all choices).", TOKEN_BUCKETS);
    this.#phaseSeconds = new Gauge({ name: "kiln:startup_phase_seconds", help: "Seconds the engine spent in each load phase.", labelNames: ["model_name", "phase"] as const, registers });
    this.#bundle = new Counter({ name: "kiln:bundle_cache_total", help: "Compiled-model loads by outcome: loaded (local cache hit), remote (fleet cache hit), compiled (miss), memory.", labelNames: ["model_name", "outcome"] as const, registers });
    // Counters start at 0 (so every series is present before the first request).
    for (const c of Object.values(this.#counters)) c.inc(this.#labels, 0);
    for (const reason of ["stop", "length", "abort"] as const) this.#success.inc({ ...this.#labels, finished_reason: reason }, 0);
  }

  /** The scheduler's stats after a step: gauges set, counters advanced by what the stats moved. */
  update(stats: SchedulerStats): void {
    this.#running.set(this.#labels, stats.running);
    this.#waiting.set(this.#labels, stats.waiting);
    this.#kvUsage.set(this.#labels, stats.kvCacheUsage);
    const last = this.#last;
    this.#last = stats;
    if (!last) return; // the first stats (at ready, after warmup) are the baseline
    for (const [key, c] of Object.entries(this.#counters) as [CountedStat, Counter<"model_name">][]) {
      const delta = stats[key] - last[key];
      if (delta > 0) c.inc(this.#labels, delta);
    }
  }

  ready(info: EngineInfo): void {
    for (const [phase, s] of Object.entries(info.phaseSeconds) as [LoadPhase, number][]) this.#phaseSeconds.set({ ...this.#labels, phase }, s);
    for (const outcome of info.compileOutcomes) this.#bundle.inc({ ...this.#labels, outcome });
  }

  finished(reason: FinishedReason): void {
    this.#success.inc({ ...this.#labels, finished_reason: reason });
  }

  request(promptTokens: number, generationTokens: number, e2eSeconds: number): void {
    this.#promptLen.observe(this.#labels, promptTokens);
    this.#generationLen.observe(this.#labels, generationTokens);
    this.e2e.observe(this.#labels, e2eSeconds);
  }

  firstToken(seconds: number): void {
    this.ttft.observe(this.#labels, seconds);
  }

  interToken(seconds: number): void {
    this.itl.observe(this.#labels, seconds);
  }

  text(): Promise<string> {
    return this.registry.metrics();
  }

  get contentType(): string {
    return this.registry.contentType;
  }
}
