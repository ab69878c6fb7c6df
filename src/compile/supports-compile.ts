// supportsCompile(ModelClass, options): like vLLM's @support_torch_compile — the first forward
// loads the model's bundle from the cache (or compiles and saves it); every call after goes
// straight to compiled code. KILN_USE_AOT_COMPILE=0 keeps the JIT path and saves nothing.
import type { Tensor } from "../tensor/index.js";
import type { DynamicSpec, TraceableModule } from "../trace/index.js";
import { RecompileError, readEnv } from "../util/index.js";
import type { GuardFailure } from "./guards.js";
import type { CompiledFunction } from "./aot.js";
import { type CacheOutcome, loadOrCompile } from "./cached.js";
import { type CompiledFn, compile } from "./compile.js";
import { getStance } from "./stance.js";

export interface SupportsCompileOptions {
  readonly dynamicArgDims?: DynamicSpec;
  readonly compileSizes?: readonly number[];
  readonly prefix?: string;
  readonly backend?: "native" | "js" | "auto";
  readonly rank?: number;
  readonly worldSize?: number;
  /**
   * A forward's results may live in memory the next forward overwrites: for callers that consume them before calling
   * again (an engine sampling from logits), so a decode step allocates nothing for its outputs.
   */
  readonly reuseOutputs?: boolean;
  /** Threads of the native kernels (default: KILN_NUM_THREADS, else the physical cores). */
  readonly threads?: number;
}

type ModuleClass = abstract new (...args: never[]) => TraceableModule<Tensor>;

/** What the wrapped model did, for scripts and tests (`--json` of the CLI reports it). */
export interface CompileActivity {
  readonly outcomes: readonly CacheOutcome["source"][];
  readonly missReasons: readonly string[];
}

export function supportsCompile<C extends ModuleClass>(Base: C, options: SupportsCompileOptions = {}): C {
  const runOptions = { reuseOutputs: options.reuseOutputs ?? false };
  abstract class Compiled extends (Base as unknown as abstract new (...args: unknown[]) => TraceableModule<Tensor>) {
    #aot: CompiledFunction[] = [];
    #jit: CompiledFn<(...args: never[]) => unknown> | undefined;
    #inside = false;
    #outcomes: CacheOutcome["source"][] = [];
    #misses: string[] = [];

    get compileActivity(): CompileActivity {
      return { outcomes: [...this.#outcomes], missReasons: [...this.#misses] };
    }

    /** KILN_USE_AOT_COMPILE, read once per model: the per-call path reads no environment. */
    #useAot: boolean | undefined;
    #aotEnabled(): boolean {
      return (this.#useAot ??= readEnv().useAotCompile);
    }

    override forward(...args: never[]): unknown {
      // While tracing (or eager), the model's own forward runs.
      if (this.#inside || getStance() === "eager") return super.forward(...args);
      if (!this.#aotEnabled()) {
        this.#jit ??= compile(this.#ownForward(), { dynamic: options.dynamicArgDims, backend: options.backend, name: options.prefix });
        return this.#jit(...args);
      }
      // The first compiled function whose guards take the call runs it: no exception, no second check.
      let failure: GuardFailure | undefined;
      for (const fn of this.#aot) {
        const checked = fn.match(args);
        if (!checked.failure) return fn.run(args, checked, runOptions);
        failure ??= checked.failure;
      }
      if (failure && getStance() === "fail_on_recompile") throw new RecompileError(options.prefix ?? "model", failure.guard, failure.expected, failure.got);
      return this.#loadOrCompile(args).fn.call(...args);
    }

    /**
     * Loads the compiled forward for inputs like `example` from the cache, or compiles and saves it, without
     * running it (what `kiln compile` and `LLM.compile()` need). Returns where it came from.
     */
    compileFor(...example: never[]): CacheOutcome["source"] | "ready" {
      if (!this.#aotEnabled()) {
        // The JIT path compiles on a call: this one call is the compile (nothing is saved).
        this.forward(...example);
        return "memory";
      }
      if (this.#aot.some((fn) => !fn.match(example).failure)) return "ready";
      return this.#loadOrCompile(example).source;
    }

    #loadOrCompile(args: readonly unknown[]): CacheOutcome {
      this.#inside = true;
      let outcome: CacheOutcome;
      try {
        outcome = loadOrCompile(this, args, {
          dynamic: options.dynamicArgDims, compileSizes: options.compileSizes, prefix: options.prefix, backend: options.backend,
          rank: options.rank, worldSize: options.worldSize,
        });
      } finally {
        this.#inside = false;
      }
      this.#outcomes.push(outcome.source);
      if (outcome.reason) this.#misses.push(outcome.reason);
      this.#aot.push(outcome.fn.bind(this));
      if (options.threads !== undefined) outcome.fn.setThreads(options.threads);
      return outcome;
    }

    /** A plain function running this model's own forward (for the JIT path). */
    #ownForward(): (...args: never[]) => unknown {
      const self = this;
      const run = (...args: never[]) => {
        self.#inside = true;
        try {
          return self.forward(...args);
        } finally {
          self.#inside = false;
        }
      };
      return Object.assign(run, { namedTensorSlots: () => self.namedTensorSlots(), sourceTexts: () => self.sourceTexts(), forward: run });
    }
  }
  Object.defineProperty(Compiled, "name", { value: `Compiled${Base.name}` });
  return Compiled as unknown as C;
}
