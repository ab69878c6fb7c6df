// What crosses the thread boundary between the HTTP side (main thread) and the engine worker: the engine's
// spec, its load phases, and the messages each way.
import type { LLMOptions, SchedulerStats, SequenceOutput, SequenceRequest } from "../engine/index.js";

/** Load phases reported by /health until the engine is ready (the order they happen in). */
export type LoadPhase = "loading_weights" | "loading_bundle" | "compiling" | "warmup";

/** Everything the worker needs to build the engine (plain data: it is cloned into the worker). */
export interface EngineSpec extends Pick<LLMOptions, "model" | "dtype" | "backend" | "kvCacheTokens" | "kvCacheDtype" | "threads" | "compileSizes"> {
  readonly maxNumSeqs: number;
  readonly maxNumBatchedTokens: number;
  readonly enablePrefixCaching: boolean;
  /** Run one prefill and one decode before reporting ready. */
  readonly warmup: boolean;
}

/** The continuous-batching scheduler as the worker drives it (src/engine/scheduler.ts's Scheduler). */
export interface StepScheduler {
  add(req: SequenceRequest): void;
  abort(id: string): SequenceOutput | undefined;
  readonly hasWork: boolean;
  step(): SequenceOutput[];
  stats(): SchedulerStats;
}

/** What the HTTP side learns about the model once it is loaded. */
export interface EngineInfo {
  /** The longest sequence (prompt + generated) one request may have. */
  readonly maxContext: number;
  readonly vocabSize: number;
  /** "loaded" (bundle from the cache), "compiled", "memory"… as LLM.compileActivity reports them. */
  readonly compileOutcomes: readonly string[];
  /** Seconds spent in each load phase. */
  readonly phaseSeconds: Readonly<Partial<Record<LoadPhase, number>>>;
}

/** A module the worker loads to build its engine: the real one is ./llm-engine.js; tests may pass their own. */
export interface EngineModule {
  openEngine(spec: EngineSpec, phase: (p: LoadPhase) => void): { scheduler: StepScheduler; info: Omit<EngineInfo, "phaseSeconds"> };
}

export interface WorkerData {
  readonly spec: EngineSpec;
  /** URL of the EngineModule to build the engine with. */
  readonly engineModule: string;
}

export type ToWorker =
  | { readonly type: "add"; readonly requests: readonly SequenceRequest[] }
  | { readonly type: "abort"; readonly ids: readonly string[] };

export type FromWorker =
  | { readonly type: "phase"; readonly phase: LoadPhase }
  | { readonly type: "log"; readonly line: string }
  | { readonly type: "ready"; readonly info: EngineInfo; readonly stats: SchedulerStats }
  /** Loading failed: the error's code and one-line message. */
  | { readonly type: "failed"; readonly code: string; readonly message: string }
  /** `add` refused a sequence (ArgumentError from the scheduler). */
  | { readonly type: "rejected"; readonly id: string; readonly code: string; readonly message: string }
  | { readonly type: "outputs"; readonly outputs: readonly SequenceOutput[]; readonly stats: SchedulerStats }
  /** A step threw: the engine can no longer be trusted; every live sequence is lost. */
  | { readonly type: "crashed"; readonly code: string; readonly message: string };
