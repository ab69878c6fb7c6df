// generateProgram(): a graph → a Program — plain JSON data (buffers, memory plan, loop IR,
// emitted sources) that a backend can load now or a bundle can carry to another process.
import type { Graph, SymbolInfo } from "../graph/index.js";
import type { DType } from "../tensor/index.js";
import { ArgumentError, bump, logTopic, readEnv } from "../util/index.js";
import { planMemory } from "./memory-plan.js";
import { kernelsToJSON } from "./kernel-json.js";
import { printIndex, printKernel } from "./print-kernel.js";
import type { Kernel } from "./loop-ir.js";
import { type BufferKind, schedule } from "./schedule.js";
import { type JsSources, emitProgramJs } from "./emit-js.js";
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
  /**
   * The loop IR in JSON form (index polynomials as `{sym: …}`), for other emitters and for
   * inspection; `kernelsFromJSON` turns it back into `Kernel`s.
   */
  readonly kernels: readonly unknown[];
  /** The emitted JavaScript: a function per distinct kernel and the wrapper calling them in order. */
  readonly js: JsSources;
  /** The C translation unit (with `kiln_run`), when generated for the native backend. */
  readonly c?: { readonly source: string; readonly symbols: readonly string[] };
  readonly report: ProgramReport;
}

export interface ProgramReport {
  /** Milliseconds spent scheduling (fusion decisions, lowering, memory plan) and emitting sources. */
  readonly scheduleMs: number;
  readonly emitMs: number;
  /** Kernels launched per run, and how many distinct kernel functions the JS source holds. */
  readonly kernels: number;
  readonly distinctKernels: number;
  /** For each kernel in run order: its name and the graph nodes (by id) it computes, fused. */
  readonly fusion: readonly { readonly kernel: string; readonly nodes: readonly number[] }[];
  /** Buffers of intermediate results and the memory-plan slots they share. */
  readonly temps: number;
  readonly slots: number;
}

/** JSON round trip: turns symbolic dims (objects with toJSON) into their plain data form. */
const plain = <T>(x: unknown): T => JSON.parse(JSON.stringify(x)) as T;

export interface GenerateOptions {
  /** Also emit C for the native backend. */
  readonly native?: boolean;
}

/** Ops that only move or broadcast data: left out of a kernel's label. */
const MOVEMENT: ReadonlySet<string> = new Set(["reshape", "permute", "expand", "slice", "full", "constant"]);

/** What a kernel computes, for the profile: a template call's shape, else the ops it fuses. */
function kernelLabel(k: Kernel, graph: Graph): string {
  const s = k.body[0];
  if (k.body.length === 1 && s?.k === "matmul") {
    return `matmul ${[...s.batch, s.m, s.n, s.kdim].map(printIndex).join("x")} (MxNxK) ${s.b.dtype}`;
  }
  if (k.body.length === 1 && s?.k === "attention") return `paged attention ${s.heads}/${s.kvHeads} heads x ${s.headDim}, ${s.cacheDType} cache`;
  const ops = new Set(k.nodes.map((id) => graph.nodes[id]!.op).filter((op) => !MOVEMENT.has(op)));
  return [...ops].join(" ");
}

export function generateProgram(graph: Graph, options: GenerateOptions = {}): Program {
  bump("codegens");
  // Symbols become parameter names in the emitted JS and C, beside the emitters' own locals.
  for (const s of graph.symbols) {
    if (!/^s\d+$/.test(s.name)) throw new ArgumentError("generateProgram", `symbol '${s.name}': codegen expects symbols named s0, s1, … (as the tracer names them)`);
  }
  const t0 = performance.now();
  const sched = schedule(graph);
  const plan = planMemory(sched.buffers, sched.kernels);
  const t1 = performance.now();
  const js = emitProgramJs(sched.kernels);
  const symbols = graph.symbols.map((s) => s.name);
  const c = options.native ? { source: emitProgramC(sched.kernels, symbols, sched.buffers.map((b) => b.dtype), sched.kernels.map((k) => kernelLabel(k, graph))), symbols } : undefined;
  const t2 = performance.now();
  logTopic("codegen", `${sched.kernels.length} kernels (${js.kernels.length} distinct), ${Object.keys(plan.slotOf).length} temporaries in ${plan.slots.length} slots; schedule ${(t1 - t0).toFixed(1)} ms, emit ${(t2 - t1).toFixed(1)} ms`);
  if (readEnv().log.has("codegen")) for (const k of sched.kernels) logTopic("codegen", printKernel(k));
  return {
    format: 1,
    symbols: graph.symbols.map((s) => ({ ...s })),
    inputs: graph.inputs.map((n) => ({ name: String(n.attrs.name), dtype: n.type.dtype, shape: plain(n.type.shape) })),
    outputs: graph.outputs.map((o, i) => ({ buf: sched.outputs[i]!, shape: plain(o.type.shape) })),
    buffers: plain(sched.buffers.map(({ node: _node, values, ...b }) => (values ? { ...b, values: values.map((v) => (Number.isFinite(v) ? v : String(v))) } : b))),
    plan: plain(plan),
    kernels: kernelsToJSON(sched.kernels),
    js,
    ...(c ? { c } : {}),
    report: {
      scheduleMs: t1 - t0,
      emitMs: t2 - t1,
      kernels: sched.kernels.length,
      distinctKernels: js.kernels.length,
      fusion: sched.kernels.map((k) => ({ kernel: k.name, nodes: k.nodes })),
      temps: Object.keys(plan.slotOf).length,
      slots: plan.slots.length,
    },
  };
}
