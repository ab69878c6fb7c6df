// trace(): runs a function or a module's forward on tracer tensors and records a Graph.
import { readFileSync } from "node:fs";
import { type DType, type Dim, SymExpr, Tensor, setSymCoerceHandler, sym } from "../tensor/index.js";
import { type OpDef, withInterpreter } from "../ops/index.js";
import { type Graph, GraphBuilder, type Node, SymbolicTensor, recordingInterpreter } from "../graph/index.js";
import { ArgumentError, TraceError, bump, sha256Hex } from "../util/index.js";
import { type SlotKind, type TraceableModule, isTraceableModule } from "./module-like.js";
import { paramNames } from "./param-names.js";
import { type TreeSpec, flattenTree } from "./pytree.js";
import { TracerTensor } from "./tracer-tensor.js";
import { userFrame } from "./user-frame.js";

export interface DimRange {
  readonly min?: number;
  readonly max?: number;
}
/** Per argument (index or parameter name): the dynamic dims, as a list or with ranges. */
export type DynamicSpec = Readonly<Record<string | number, readonly number[] | Readonly<Record<number, DimRange>>>>;

export interface TraceOptions {
  readonly dynamic?: DynamicSpec;
}

export type ArgSpec =
  | { readonly kind: "tensor"; readonly name: string; readonly dtype: DType; readonly shape: readonly Dim[] }
  | { readonly kind: "value"; readonly name: string; readonly value: unknown };

export interface TraceResult {
  readonly graph: Graph;
  /** What each positional argument was: a tensor (its graph input) or a specialised value. */
  readonly args: readonly ArgSpec[];
  /** Module tensors bound after the tensor args, in graph-input order. */
  readonly slots: readonly { name: string; kind: SlotKind }[];
  readonly outputSpec: TreeSpec;
  /** sha256 of the traced code: function/forward texts and the user files that recorded ops. */
  readonly fingerprint: string;
}

/** Largest concrete tensor that may be embedded as a constant; larger ones must be buffers. */
export const MAX_CONSTANT_ELEMENTS = 4096;
const DEFAULT_MAX_DIM = 2 ** 31 - 1;

function dynamicDimsOf(spec: DynamicSpec | undefined, index: number, name: string | undefined): Map<number, DimRange> {
  const entry = spec?.[index] ?? (name !== undefined ? spec?.[name] : undefined);
  if (!entry) return new Map();
  if (Array.isArray(entry)) return new Map(entry.map((d: number) => [d, {}]));
  return new Map(Object.entries(entry).map(([d, r]) => [Number(d), r as DimRange]));
}

export function trace(target: Function | TraceableModule<Tensor>, args: readonly unknown[], options: TraceOptions = {}): TraceResult {
  const module = isTraceableModule(target) ? (target as TraceableModule<Tensor>) : undefined;
  const fn = module ? module.forward : (target as Function);
  if (typeof fn !== "function") throw new ArgumentError("trace", "expected a function or a module with forward()");
  const names = paramNames(fn);
  for (const key of Object.keys(options.dynamic ?? {})) {
    const ok = /^\d+$/.test(key) ? Number(key) < args.length : names.includes(key);
    if (!ok) throw new ArgumentError("trace", `dynamic names argument '${key}', which ${fn.name || "the function"} does not have (arguments: ${names.map((n, i) => n ?? i).join(", ")})`);
  }

  bump("traces");
  const builder = new GraphBuilder();
  const files = new Set<string>();
  const symbolBySize = new Map<number, SymExpr>();
  const argSpecs: ArgSpec[] = [];
  const traced: unknown[] = [];

  args.forEach((arg, i) => {
    const name = names[i] ?? `arg${i}`;
    if (!(arg instanceof Tensor)) {
      argSpecs.push({ kind: "value", name, value: arg });
      traced.push(arg);
      return;
    }
    const dynamic = dynamicDimsOf(options.dynamic, i, names[i]);
    const shape: Dim[] = arg.dims.map((size, d) => {
      const range = dynamic.get(d);
      if (!range) return size;
      // Duck sizing: dynamic dims of equal example size share one symbol.
      let s = symbolBySize.get(size);
      if (!s) {
        s = sym(`s${symbolBySize.size}`);
        symbolBySize.set(size, s);
        builder.addSymbol({ name: String(s), min: range.min ?? 1, max: range.max ?? DEFAULT_MAX_DIM, hint: size });
      }
      return s;
    });
    for (const d of dynamic.keys()) if (d >= arg.rank) throw new ArgumentError("trace", `dynamic dim ${d} of '${name}' is out of range for rank ${arg.rank}`);
    const node = builder.input(name, "arg", { dtype: arg.dtype, shape });
    argSpecs.push({ kind: "tensor", name, dtype: arg.dtype, shape });
    traced.push(new TracerTensor(node, builder));
  });

  const slots = module ? module.namedTensorSlots() : [];
  const saved = slots.map((s) => s.get());
  const lift = (t: Tensor, opName: string): Node => {
    if (t instanceof SymbolicTensor) throw new TraceError(`op ${opName} received a tensor from another trace`, userFrame()?.line);
    if (t.size > MAX_CONSTANT_ELEMENTS) {
      throw new TraceError(
        `op ${opName} uses a concrete ${t.dtype}[${t.dims}] tensor that is neither an argument nor a module parameter; ` +
          `register it as a buffer (or pass it in) so it is not baked into the graph`,
        userFrame()?.line,
      );
    }
    return builder.node("constant", [], { dtype: t.dtype, shape: [...t.dims], values: Array.from(t.values()) });
  };
  const interp = recordingInterpreter(builder, {
    keepComposites: true,
    lift: (t: Tensor, op: OpDef) => lift(t, op.name),
    wrap: (n) => new TracerTensor(n, builder),
    source() {
      const f = userFrame();
      if (f) files.add(f.file);
      return f?.line;
    },
  });

  const previous = setSymCoerceHandler((e) => {
    throw new TraceError(`dynamic dim ${e} was turned into a plain number; pass shapes (e.g. x.shape[0]) to ops as they are`, userFrame()?.line);
  });
  let result: unknown;
  try {
    slots.forEach((s) => {
      const t = s.get();
      s.set(new TracerTensor(builder.input(s.name, s.kind, { dtype: t.dtype, shape: t.shape }), builder));
    });
    result = withInterpreter(interp, () => (module ? module.forward(...(traced as never[])) : fn(...traced)));
  } finally {
    setSymCoerceHandler(previous);
    slots.forEach((s, i) => s.set(saved[i]!));
  }
  if (result instanceof Promise) throw new TraceError("the traced function returned a Promise; forward must be synchronous");
  const { leaves, spec } = flattenTree(result);
  const outputs = leaves.map((t) => (t instanceof SymbolicTensor && t.owner === builder ? t.node : lift(t, "output")));

  const texts = module ? module.sourceTexts() : [Function.prototype.toString.call(fn)];
  const fileTexts = [...files].sort().map((f) => {
    try {
      return readFileSync(f, "utf8");
    } catch {
      return "";
    }
  });
  // Sorted contents, never paths: the same code in another folder gives the same fingerprint.
  const fingerprint = sha256Hex(JSON.stringify({ texts, files: fileTexts.map((t) => sha256Hex(t)).sort() }));

  return {
    graph: builder.build(outputs),
    args: argSpecs,
    slots: slots.map((s) => ({ name: s.name, kind: s.kind })),
    outputSpec: spec,
    fingerprint,
  };
}
