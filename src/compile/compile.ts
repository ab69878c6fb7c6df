// compile(): JIT-compiles a function or module on first call, then serves calls from compiled
// entries guarded on their inputs, recompiling (up to a limit) when a guard fails.
import { Tensor } from "../tensor/index.js";
import { currentInterpreter, eagerInterpreter } from "../ops/index.js";
import {
  type ArgSpec, type DynamicSpec, type TensorSlot, type TraceResult, type TraceableModule, describeValue, isTraceableModule, signatureOf, trace, unflattenTree,
} from "../trace/index.js";
import { ArgumentError, RecompileError, logLine, logTopic } from "../util/index.js";
import { type CompiledGraph, compileGraph } from "./compile-graph.js";
import { type GuardFailure, type GuardResult, buildGuards, buildSlotGuards } from "./guards.js";
import { getStance } from "./stance.js";

export interface CompileOptions {
  /** Dynamic dims per argument (index or name): `{ 0: [0] }`, `{ x: { 0: { min: 1, max: 4096 } } }`. */
  readonly dynamic?: DynamicSpec;
  /** Compiled entries kept per function before falling back to eager (default 8). */
  readonly recompileLimit?: number;
  /** `native` (C), `js`, or `auto` (default: KILN_BACKEND, else native when a C compiler exists). */
  readonly backend?: "native" | "js" | "auto";
  /** Name used in logs and errors (defaults to the function's or class's name). */
  readonly name?: string;
}

export interface CompileStats {
  calls: number;
  traces: number;
  compiles: number;
  /** Calls served by an existing compiled entry. */
  cacheHits: number;
  /** Calls that no compiled entry's guards accepted. */
  guardFailures: number;
  /** Calls run eagerly because the recompile limit was reached. */
  eagerFallbacks: number;
  /** Calls into native code (the native backend makes exactly one per forward). */
  nativeCalls: number;
}

/** Milliseconds per phase of the last compile. */
export interface CompileReport {
  backend: string;
  trace: number;
  passes: number;
  codegen: number;
  load: number;
  kernels: number;
}

export interface CompiledFn<F extends (...args: never[]) => unknown> {
  (...args: Parameters<F>): ReturnType<F>;
  readonly stats: Readonly<CompileStats>;
  readonly lastCompileReport: Readonly<CompileReport> | undefined;
}

type SlotMap = ReadonlyMap<string, TensorSlot<Tensor>>;

interface Entry {
  readonly traced: TraceResult;
  readonly compiled: CompiledGraph;
  readonly check: (args: readonly unknown[]) => GuardResult;
  readonly checkSlots: (slots: SlotMap) => GuardFailure | undefined;
}

type AnyFn = (...args: never[]) => unknown;

/** The forward's own signature when M declares one. */
type ForwardOf<M> = M extends { forward: infer F } ? (F extends (...args: infer A) => infer R ? (...args: A) => R : AnyFn) : AnyFn;

const NO_SLOTS: SlotMap = new Map();

export function compile<M extends TraceableModule<Tensor>>(module: M, options?: CompileOptions): CompiledFn<ForwardOf<M>>;
export function compile<F extends AnyFn>(fn: F, options?: CompileOptions): CompiledFn<F>;
export function compile(target: AnyFn | TraceableModule<Tensor>, options: CompileOptions = {}): CompiledFn<AnyFn> {
  const module = isTraceableModule(target) ? (target as TraceableModule<Tensor>) : undefined;
  if (!module && typeof target !== "function") throw new ArgumentError("compile", "expected a function or a module with forward()");
  const name = options.name ?? (module ? module.constructor.name : (target as AnyFn).name || "anonymous");
  const limit = options.recompileLimit ?? 8;
  if (!Number.isInteger(limit) || limit < 1) throw new ArgumentError("compile", `recompileLimit must be a positive integer, got ${limit}`);
  const signature = signatureOf(module ? module.forward : (target as AnyFn));
  const eager = (args: readonly unknown[]) => (module ? module.forward(...(args as never[])) : (target as AnyFn)(...(args as never[])));
  const stats: CompileStats = { calls: 0, traces: 0, compiles: 0, cacheHits: 0, guardFailures: 0, eagerFallbacks: 0, nativeCalls: 0 };
  const entries: Entry[] = [];
  let report: CompileReport | undefined;
  let warnedFallback = false;

  const slotMap = (): SlotMap => (module ? new Map(module.namedTensorSlots().map((s) => [s.name, s])) : NO_SLOTS);

  const run = (entry: Entry, args: readonly unknown[], slots: SlotMap, env?: Record<string, number>): unknown => {
    const inputs: Tensor[] = [];
    entry.traced.args.forEach((spec, i) => spec.kind === "tensor" && inputs.push(args[i] as Tensor));
    for (const s of entry.traced.slots) inputs.push(slots.get(s.name)!.get());
    return unflattenTree(entry.traced.outputSpec, entry.compiled.executable.run(inputs, env));
  };

  const compileFor = (args: readonly unknown[], failure: GuardFailure | undefined): Entry => {
    const t0 = performance.now();
    const traced = trace(module ?? (target as AnyFn), args, { dynamic: options.dynamic, name });
    stats.traces++;
    const t1 = performance.now();
    const compiled = compileGraph(traced.graph, { backend: options.backend });
    stats.compiles++;
    report = { backend: compiled.backend, trace: t1 - t0, ...compiled.times, kernels: compiled.kernels };
    const types = new Map(traced.graph.inputs.map((n) => [String(n.attrs.name), { dtype: n.type.dtype, dims: n.type.shape as number[] }]));
    const entry: Entry = {
      traced,
      compiled,
      check: buildGuards(traced.args, traced.graph.symbols),
      checkSlots: module ? buildSlotGuards(traced.slots, traced.tiedSlots, types) : () => undefined,
    };
    entries.push(entry);
    if (failure) logLine(`recompiled ${name} (${entries.length} of ${limit}): guard ${failure.guard} expected ${failure.expected}, got ${failure.got}`);
    const ms = (x: number) => `${x.toFixed(1)} ms`;
    logTopic("compile", `${name}: trace ${ms(report.trace)}, passes ${ms(report.passes)}, codegen ${ms(report.codegen)}, load ${ms(report.load)}; ${report.kernels} kernels (${report.backend})`);
    return entry;
  };

  /** A call that no traced signature can take is the caller's mistake, not a reason to recompile. */
  const checkArguments = (args: readonly unknown[]): void => {
    if (!signature.variadic && args.length > signature.names.length) {
      const names = signature.names.map((n, i) => n ?? `arg${i}`);
      throw new ArgumentError(name, `takes ${names.length} argument${names.length === 1 ? "" : "s"} (${names.join(", ")}), got ${args.length}`);
    }
    args.forEach((a, i) => {
      if (a === undefined || a instanceof Tensor) return;
      const specs = entries.map((e) => e.traced.args[i]);
      if (specs.every((s) => s?.kind === "tensor")) {
        const s = specs[0] as Extract<ArgSpec, { kind: "tensor" }>;
        throw new ArgumentError(name, `argument '${s.name}' (${i}) was traced as a Tensor (${s.dtype}[${s.shape.map(String).join(",")}]), got ${describeValue(a)}`);
      }
    });
  };

  const compiled = ((...args: unknown[]) => {
    stats.calls++;
    // Under the eager stance, or inside another trace (a compiled function called by a traced one), run the code itself.
    if (getStance() === "eager" || currentInterpreter() !== eagerInterpreter) return eager(args);
    const slots = slotMap();
    let failure: GuardFailure | undefined;
    for (const entry of entries) {
      const checked = entry.check(args);
      const f = checked.failure ?? entry.checkSlots(slots);
      if (!f) {
        stats.cacheHits++;
        return run(entry, args, slots, checked.env);
      }
      failure ??= f;
    }
    if (failure) {
      stats.guardFailures++;
      checkArguments(args);
      if (getStance() === "fail_on_recompile") throw new RecompileError(name, failure.guard, failure.expected, failure.got);
      if (entries.length >= limit) {
        stats.eagerFallbacks++;
        if (!warnedFallback) {
          warnedFallback = true;
          logLine(`${name}: recompile limit (${limit}) reached; running eagerly from now on (last guard: ${failure.guard} expected ${failure.expected}, got ${failure.got})`);
        }
        return eager(args);
      }
    }
    return run(compileFor(args, failure), args, slots);
  }) as unknown as CompiledFn<AnyFn>;

  const nativeCalls = () => entries.reduce((n, e) => n + ((e.compiled.executable as { nativeCalls?: () => number }).nativeCalls?.() ?? 0), 0);
  Object.defineProperty(compiled, "stats", { get: () => ({ ...stats, nativeCalls: nativeCalls() }) });
  Object.defineProperty(compiled, "lastCompileReport", { get: () => report });
  return compiled;
}
