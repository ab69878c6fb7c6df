// generateProgram(): a graph → a Program — plain JSON data (buffers, memory plan, loop IR,
// emitted sources) that a backend can load now or a bundle can carry to another process.
import type { Graph, SymbolInfo } from "../graph/index.js";
import type { DType } from "../tensor/index.js";
import type { Kernel } from "./loop-ir.js";
import { bump } from "../util/index.js";
import { planMemory } from "./memory-plan.js";
import { type BufferKind, schedule } from "./schedule.js";
import { emitProgramJs } from "./emit-js.js";
import { emitProgramC } from "./emit-c.js";

/** A dim in JSON form: a number or `{sym: …}` (see src/tensor/sym.ts). */
export type DimJSON = number | { sym: [number, string[]][] };

export interface ProgramBuffer {
  readonly id: number;
  readonly kind: BufferKind;
  readonly dtype: DType;
  readonly size: DimJSON;
  readonly inputIndex?: number;
  /** Constant values; non-finite ones as the strings "NaN", "Infinity", "-Infinity" (JSON has no such numbers). */
  readonly values?: readonly (number | string)[];
}

export interface Program {
  readonly format: 1;
  readonly symbols: readonly SymbolInfo[];
  /** Graph inputs in call order, with their (symbolic) shapes. */
  readonly inputs: readonly { readonly name: string; readonly dtype: DType; readonly shape: readonly DimJSON[] }[];
  readonly outputs: readonly { readonly buf: number; readonly shape: readonly DimJSON[] }[];
  readonly buffers: readonly ProgramBuffer[];
  readonly plan: { readonly slots: readonly { readonly dtype: DType; readonly sizes: readonly DimJSON[] }[]; readonly slotOf: Readonly<Record<number, number>> };
  /** The loop IR, for emitters other than JS and for inspection. */
  readonly kernels: readonly Kernel[];
  readonly js: { readonly source: string };
  /** The C translation unit (with `kiln_run`), when generated for the native backend. */
  readonly c?: { readonly source: string; readonly symbols: readonly string[] };
  readonly report: { readonly scheduleMs: number; readonly emitMs: number; readonly kernels: number };
}

/** JSON round trip: turns symbolic dims (objects with toJSON) into their plain data form. */
const plain = <T>(x: unknown): T => JSON.parse(JSON.stringify(x)) as T;

export interface GenerateOptions {
  /** Also emit C for the native backend. */
  readonly native?: boolean;
}

export function generateProgram(graph: Graph, options: GenerateOptions = {}): Program {
  bump("codegens");
  const t0 = performance.now();
  const sched = schedule(graph);
  const plan = planMemory(sched.buffers, sched.kernels);
  const t1 = performance.now();
  const source = emitProgramJs(sched.kernels);
  const symbols = graph.symbols.map((s) => s.name);
  const c = options.native ? { source: emitProgramC(sched.kernels, symbols, sched.buffers.map((b) => b.dtype)), symbols } : undefined;
  const t2 = performance.now();
  return {
    format: 1,
    symbols: graph.symbols.map((s) => ({ ...s })),
    inputs: graph.inputs.map((n) => ({ name: String(n.attrs.name), dtype: n.type.dtype, shape: plain(n.type.shape) })),
    outputs: graph.outputs.map((o, i) => ({ buf: sched.outputs[i]!, shape: plain(o.type.shape) })),
    buffers: plain(sched.buffers.map(({ node: _node, values, ...b }) => (values ? { ...b, values: values.map((v) => (Number.isFinite(v) ? v : String(v))) } : b))),
    plan: plain(plan),
    kernels: plain(sched.kernels),
    js: { source },
    ...(c ? { c } : {}),
    report: { scheduleMs: t1 - t0, emitMs: t2 - t1, kernels: sched.kernels.length },
  };
}
