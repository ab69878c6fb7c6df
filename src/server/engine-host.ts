// The main thread's handle on the engine worker: starts it, tracks its load phase, routes each sequence's
// outputs to whoever submitted it, and forwards aborts. Nothing here waits on compute.
import { Worker } from "node:worker_threads";
import type { SchedulerStats, SequenceOutput, SequenceRequest } from "../engine/index.js";
import { logLine } from "../util/index.js";
import type { EngineInfo, EngineSpec, FromWorker, LoadPhase, ToWorker, WorkerData } from "./engine-protocol.js";

/** Receives one sequence's outputs, or the reason it will get none (rejected by the scheduler, engine crashed). */
export interface SequenceSink {
  output(out: SequenceOutput): void;
  fail(code: string, message: string): void;
}

export type EngineState =
  | { readonly status: "loading"; readonly phase: LoadPhase }
  | { readonly status: "ready"; readonly info: EngineInfo }
  | { readonly status: "failed"; readonly code: string; readonly message: string };

export interface EngineHostEvents {
  /** Each step's stats (and the baseline at ready). */
  onStats?(stats: SchedulerStats): void;
  onReady?(info: EngineInfo): void;
  /** Loading failed or a step crashed. */
  onFailed?(code: string, message: string): void;
  onLog?(line: string): void;
}

const ZERO_STATS: SchedulerStats = {
  running: 0, waiting: 0, kvCacheUsage: 0, preemptions: 0, prefixCacheQueries: 0, prefixCacheHits: 0, promptTokens: 0, generationTokens: 0, steps: 0,
};

export class EngineHost {
  readonly startedAt = performance.now();
  #state: EngineState = { status: "loading", phase: "loading_weights" };
  #stats: SchedulerStats = ZERO_STATS;
  #worker: Worker | undefined;
  readonly #sinks = new Map<string, SequenceSink>();
  readonly #events: EngineHostEvents;

  constructor(
    readonly spec: EngineSpec,
    events: EngineHostEvents = {},
    /** The module that builds the engine in the worker (tests pass a fake). */
    readonly engineModule: string = new URL("./llm-engine.js", import.meta.url).href,
  ) {
    this.#events = events;
  }

  get state(): EngineState {
    return this.#state;
  }

  get stats(): SchedulerStats {
    return this.#stats;
  }

  /** Sequences submitted and not finished yet. */
  get liveSequences(): number {
    return this.#sinks.size;
  }

  /** Starts the worker (after the HTTP port is bound: the port opens first). */
  start(): void {
    if (this.#worker) return;
    const data: WorkerData = { spec: this.spec, engineModule: this.engineModule };
    const worker = new Worker(new URL("./engine-worker.js", import.meta.url), { workerData: data, stdout: false, stderr: false });
    this.#worker = worker;
    worker.on("message", (m: FromWorker) => this.#onMessage(m));
    worker.on("error", (e) => this.#fail("E_INTERNAL", `engine thread failed: ${e.message.split("\n")[0]}`));
    worker.on("exit", (code) => {
      this.#worker = undefined;
      if (this.#state.status !== "failed" && !this.#closing) this.#fail("E_INTERNAL", `engine thread exited (code ${code})`);
    });
  }

  /** Hands sequences to the scheduler; each one's outputs go to its sink until the one with a finishReason. */
  submit(requests: readonly SequenceRequest[], sink: (id: string) => SequenceSink): void {
    for (const r of requests) this.#sinks.set(r.id, sink(r.id));
    this.#post({ type: "add", requests });
  }

  /** Aborts sequences wherever they are (queued, prefilling, decoding); their sinks are dropped now. */
  abort(ids: readonly string[]): void {
    const live = ids.filter((id) => this.#sinks.delete(id));
    if (live.length) this.#post({ type: "abort", ids: live });
  }

  #closing = false;

  /** Stops the worker (whatever it is doing). */
  async close(): Promise<void> {
    this.#closing = true;
    const w = this.#worker;
    this.#worker = undefined;
    if (w) await w.terminate();
  }

  #post(m: ToWorker): void {
    this.#worker?.postMessage(m);
  }

  #onMessage(m: FromWorker): void {
    switch (m.type) {
      case "phase":
        if (this.#state.status === "loading") this.#state = { status: "loading", phase: m.phase };
        break;
      case "log":
        if (this.#events.onLog) this.#events.onLog(m.line);
        else logLine(m.line.replace(/^kiln: /, ""));
        break;
      case "ready":
        this.#state = { status: "ready", info: m.info };
        this.#stats = m.stats;
        this.#events.onStats?.(m.stats);
        this.#events.onReady?.(m.info);
        break;
      case "failed":
        this.#fail(m.code, m.message);
        break;
      case "rejected": {
        const sink = this.#sinks.get(m.id);
        this.#sinks.delete(m.id);
        sink?.fail(m.code, m.message);
        break;
      }
      case "outputs":
        this.#stats = m.stats;
        this.#events.onStats?.(m.stats);
        for (const out of m.outputs) {
          const sink = this.#sinks.get(out.id);
          if (!sink) continue; // aborted here already
          if (out.finishReason) this.#sinks.delete(out.id);
          sink.output(out);
        }
        break;
      case "crashed":
        this.#fail(m.code, m.message);
        break;
      default:
        m satisfies never;
    }
  }

  #fail(code: string, message: string): void {
    this.#state = { status: "failed", code, message };
    const sinks = [...this.#sinks.values()];
    this.#sinks.clear();
    for (const s of sinks) s.fail(code, message);
    this.#events.onFailed?.(code, message);
  }
}
