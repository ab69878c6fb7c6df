// trace(): runs a function or a module's forward on tracer tensors and records a Graph.
import { readFileSync } from "node:fs";
import { type DType, type Dim, type SymExpr, Tensor, setSymCoerceHandler, sym } from "../tensor/index.js";
import { type OpDef, withInterpreter } from "../ops/index.js";
import { type Graph, GraphBuilder, type Node, SymbolicTensor, recordingInterpreter } from "../graph/index.js";
import { ArgumentError, TraceError, bump, sha256Hex } from "../util/index.js";
import { type DynamicSpec, type ResolvedRange, resolveDynamic } from "./dynamic-dims.js";
import { type SlotKind, type TraceableModule, isTraceableModule } from "./module-like.js";
import { type TreeSpec, flattenTree } from "./pytree.js";
import { signatureOf } from "./signature.js";
import { checkSpecialisable } from "./specialised-value.js";
import { TracerTensor } from "./tracer-tensor.js";
import { captureStack, userFrame, userFrames } from "./user-frame.js";

export interface TraceOptions {
  /** Dynamic dims per argument (index or parameter name): `{ 0: [0] }`, `{ x: { 0: { min: 1, max: 4096 } } }`. */
  readonly dynamic?: DynamicSpec;
  /** Name used in error messages (defaults to the function's or class's name). */
  readonly name?: string;
}

export type ArgSpec =
  | { readonly kind: "tensor"; readonly name: string; readonly dtype: DType; readonly shape: readonly Dim[] }
  | { readonly kind: "value"; readonly name: string; readonly value: unknown };

/** A module tensor bound as a graph input (after the tensor arguments, in this order). */
export interface SlotSpec {
  readonly name: string;
  readonly kind: SlotKind;
}

/** A module tensor that was the very same tensor as an earlier slot (tied weights): it shares that slot's input. */
export interface TiedSlot extends SlotSpec {
  readonly sameAs: string;
}

export interface TraceResult {
  readonly graph: Graph;
  /** What each positional argument was: a tensor (its graph input) or a specialised value. */
  readonly args: readonly ArgSpec[];
  /** Module tensors bound after the tensor args, in graph-input order (one per distinct tensor). */
  readonly slots: readonly SlotSpec[];
  /** Module tensors that were the same tensor as one in `slots`. */
  readonly tiedSlots: readonly TiedSlot[];
  readonly outputSpec: TreeSpec;
  /** sha256 of the traced code: function/forward texts and the user files that recorded ops. */
  readonly fingerprint: string;
}

/** Largest concrete tensor that may be embedded as a constant; larger ones must be buffers. */
export const MAX_CONSTANT_ELEMENTS = 4096;

const isTensor = (x: unknown): x is Tensor => x instanceof Tensor;

/**
 * Symbols for the dynamic dims, within the intersection of the ranges of the dims sharing one:
 * dims of a named group share theirs; other dims use duck sizing (equal example size, one symbol).
 */
function assignSymbols(args: readonly unknown[], dynamic: readonly Map<number, ResolvedRange>[], builder: GraphBuilder): (arg: number, dim: number) => SymExpr {
  const keyOf = (i: number, d: number) => {
    const group = dynamic[i]!.get(d)!.group;
    return group !== undefined ? `group ${group}` : `size ${(args[i] as Tensor).dims[d]!}`;
  };
  const ranges = new Map<string, { min: number; max: number; size: number }>();
  args.forEach((arg, i) => {
    for (const [d, r] of dynamic[i]!) {
      const size = (arg as Tensor).dims[d]!;
      const key = keyOf(i, d);
      const prev = ranges.get(key);
      if (prev && prev.size !== size) throw new ArgumentError("dynamic", `dims of group '${r.group}' differ in the example call: ${prev.size} and ${size}`);
      ranges.set(key, prev ? { min: Math.max(prev.min, r.min), max: Math.min(prev.max, r.max), size } : { min: r.min, max: r.max, size });
    }
  });
  const byKey = new Map<string, SymExpr>();
  for (const [key, r] of ranges) {
    const name = `s${byKey.size}`;
    byKey.set(key, sym(name));
    builder.addSymbol({ name, min: r.min, max: r.max, hint: r.size });
  }
  return (i, d) => byKey.get(keyOf(i, d))!;
}

/** Traces `target` (a function, or a module's forward) on `args`. */
export function trace(target: Function | TraceableModule<Tensor>, args: readonly unknown[], options: TraceOptions = {}): TraceResult {
  const module = isTraceableModule(target) ? (target as TraceableModule<Tensor>) : undefined;
  const fn = module ? module.forward : target;
  if (typeof fn !== "function") throw new ArgumentError("trace", "expected a function or a module with forward()");
  const fnName = options.name ?? (module ? module.constructor.name : fn.name || "the traced function");
  const sig = signatureOf(fn);
  const names = sig.names;
  const argName = (i: number) => names[i] ?? `arg${i}`;
  if (!sig.variadic && args.length > names.length) {
    throw new ArgumentError(fnName, `takes ${names.length} argument${names.length === 1 ? "" : "s"} (${names.map((n, i) => n ?? `arg${i}`).join(", ")}), got ${args.length}`);
  }
  const dynamic = resolveDynamic(options.dynamic, args, names, isTensor, fnName);
  args.forEach((arg, i) => isTensor(arg) || checkSpecialisable(arg, `argument '${argName(i)}' (${i})`, fnName));

  bump("traces");
  const builder = new GraphBuilder();
  const files = new Set<string>();
  const symbolOf = assignSymbols(args, dynamic, builder);
  const slots = module ? module.namedTensorSlots() : [];
  // Graph input names are unique: module tensors keep their dotted paths, a clashing argument gets its index.
  const taken = new Set(slots.map((s) => s.name));
  const inputName = (name: string, i: number) => {
    const unique = taken.has(name) ? `${name}@${i}` : name;
    taken.add(unique);
    return unique;
  };
  const argSpecs: ArgSpec[] = [];
  const traced = args.map((arg, i) => {
    const name = argName(i);
    if (!isTensor(arg)) {
      argSpecs.push({ kind: "value", name, value: arg });
      return arg;
    }
    const shape: Dim[] = arg.dims.map((size, d) => (dynamic[i]!.has(d) ? symbolOf(i, d) : size));
    argSpecs.push({ kind: "tensor", name, dtype: arg.dtype, shape });
    return new TracerTensor(builder.input(inputName(name, i), "arg", { dtype: arg.dtype, shape }), builder);
  });

  // Module tensors: one graph input per distinct tensor, so tied weights stay tied.
  const saved = slots.map((s) => s.get());
  const uniqueSlots: SlotSpec[] = [];
  const tiedSlots: TiedSlot[] = [];
  const tracerOf = new Map<Tensor, { tracer: TracerTensor; name: string }>();
  slots.forEach((s, i) => {
    const t = saved[i]!;
    const seen = tracerOf.get(t);
    if (seen) {
      tiedSlots.push({ name: s.name, kind: s.kind, sameAs: seen.name });
      return;
    }
    tracerOf.set(t, { tracer: new TracerTensor(builder.input(s.name, s.kind, { dtype: t.dtype, shape: t.shape }), builder), name: s.name });
    uniqueSlots.push({ name: s.name, kind: s.kind });
  });

  const lift = (t: Tensor, opName: string): Node => {
    if (t instanceof SymbolicTensor) throw new TraceError(`op ${opName} received a tensor from another trace`, userFrame()?.line);
    if (t.size > MAX_CONSTANT_ELEMENTS) {
      throw new TraceError(
        `op ${opName} uses a concrete ${t.dtype}[${t.dims}] tensor that is neither an argument nor a module parameter; ` +
          `register it as a buffer (or pass it in) so it is not baked into the graph (constants hold at most ${MAX_CONSTANT_ELEMENTS} elements)`,
        userFrame()?.line,
      );
    }
    return builder.node("constant", [], { dtype: t.dtype, shape: [...t.dims], values: Array.from(t.values()) }, userFrame()?.line);
  };
  const interp = recordingInterpreter(builder, {
    keepComposites: true,
    lift: (t: Tensor, op: OpDef) => lift(t, op.name),
    wrap: (n) => new TracerTensor(n, builder),
    source() {
      // The line: the innermost user frame (the trace's caller when only Kiln's own modules ran).
      // The fingerprint: files of frames inside the traced code only, never of its caller.
      const frames = userFrames(captureStack(), kilnTraceBoundary.name);
      for (const f of frames) if (f.traced) files.add(f.file);
      return frames[0]?.line;
    },
  });

  const previous = setSymCoerceHandler((e) => {
    throw new TraceError(`dynamic dim ${e} was turned into a plain number; pass shapes (e.g. x.shape[0]) to ops as they are`, userFrame()?.line);
  });
  let result: unknown;
  try {
    slots.forEach((s, i) => s.set(tracerOf.get(saved[i]!)!.tracer));
    result = withInterpreter(interp, () => kilnTraceBoundary(() => (module ? module.forward(...(traced as never[])) : fn(...traced))));
  } catch (e) {
    // An argument the caller left out reached an op: say which one.
    const missing = names.slice(args.length).map((n, i) => n ?? `arg${args.length + i}`);
    if (missing.length && e instanceof ArgumentError && /got undefined/.test(e.message)) {
      throw new ArgumentError(fnName, `missing argument${missing.length === 1 ? "" : "s"} ${missing.map((n) => `'${n}'`).join(", ")}: called with ${args.length} of ${names.length} (${e.message})`);
    }
    throw e;
  } finally {
    setSymCoerceHandler(previous);
    slots.forEach((s, i) => s.set(saved[i]!));
  }
  if (result instanceof Promise) throw new TraceError("the traced function returned a Promise; forward must be synchronous");
  const { leaves, spec } = flattenTree(result);
  const outputs = leaves.map((t) => (t instanceof SymbolicTensor && t.owner === builder ? t.node : lift(t, "output")));

  return {
    graph: builder.build(outputs),
    args: argSpecs,
    slots: uniqueSlots,
    tiedSlots,
    outputSpec: spec,
    fingerprint: sourceFingerprint(module ? module.sourceTexts() : [Function.prototype.toString.call(fn)], files),
  };
}

/** Calls the traced code; its name marks, in stack traces, where the traced code begins. */
function kilnTraceBoundary<T>(run: () => T): T {
  return run();
}

/** Traces a module's forward; its parameters and buffers become graph inputs named by their dotted paths. */
export function traceModule(module: TraceableModule<Tensor>, args: readonly unknown[], options: TraceOptions = {}): TraceResult {
  if (!isTraceableModule(module)) throw new ArgumentError("traceModule", "expected a module (with forward() and namedTensorSlots())");
  return trace(module, args, options);
}

/** Hash of code texts and of the contents (never the paths) of the user files that recorded ops. */
function sourceFingerprint(texts: readonly string[], files: ReadonlySet<string>): string {
  const contents = [...files].map((f) => {
    try {
      return sha256Hex(readFileSync(f));
    } catch {
      return "unreadable";
    }
  });
  // Sorted contents, never paths: the same code in another folder gives the same fingerprint.
  return sha256Hex(JSON.stringify({ texts, files: [...new Set(contents)].sort() }));
}
