// supportsCompile(ModelClass, options): like vLLM's @support_torch_compile — the first forward
// loads the model's bundle from the cache (or compiles and saves it); every call after goes
// straight to compiled code. KILN_USE_AOT_COMPILE=0 keeps the JIT path and saves nothing.
import type { Tensor } from "../tensor/index.js";
import type { DynamicSpec, TraceableModule } from "../trace/index.js";
import { GuardMismatchError, RecompileError, readEnv } from "../util/index.js";
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
}

type ModuleClass = abstract new (...args: never[]) => TraceableModule<Tensor>;

/** What the wrapped model did, for scripts and tests (`--json` of the CLI reports it). */
export interface CompileActivity {
  readonly outcomes: readonly CacheOutcome["source"][];
  readonly missReasons: readonly string[];
}

export function supportsCompile<C extends ModuleClass>(Base: C, options: SupportsCompileOptions = {}): C {
  abstract class Compiled extends (Base as unknown as abstract new (...args: unknown[]) => TraceableModule<Tensor>) {
    #aot: CompiledFunction[] = [];
    #jit: CompiledFn<(...args: never[]) => unknown> | undefined;
    #inside = false;
    #outcomes: CacheOutcome["source"][] = [];
    #misses: string[] = [];

    get compileActivity(): CompileActivity {
      return { outcomes: [...this.#outcomes], missReasons: [...this.#misses] };
    }

    override forward(...args: never[]): unknown {
      // While tracing (or eager), the model's own forward runs.
      if (this.#inside || getStance() === "eager") return super.forward(...args);
      if (!readEnv().useAotCompile) {
        this.#jit ??= compile(this.#ownForward(), { dynamic: options.dynamicArgDims, backend: options.backend, name: options.prefix });
        return this.#jit(...args);
      }
      let failure: GuardMismatchError | undefined;
      for (const fn of this.#aot) {
        try {
          return fn.call(...args);
        } catch (e) {
          if (!(e instanceof GuardMismatchError)) throw e;
          failure = e;
        }
      }
      if (failure && getStance() === "fail_on_recompile") throw new RecompileError(options.prefix ?? "model", failure.guard, failure.expected, failure.got);
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
      return outcome.fn.call(...args);
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
