// Graph → runnable code: the pass pipeline, code generation and the backend, with phase times.
import type { Graph } from "../graph/index.js";
import { runPipeline } from "../passes/index.js";
import { type Program, generateProgram } from "../codegen/index.js";
import { type Executable, hasToolchain, loadJsProgram, loadNativeProgram } from "../backend/index.js";
import { ArgumentError, type Backend, logLine, readEnv } from "../util/index.js";

export type { Executable };

let noticed = false;

/** The backend to use: an explicit choice, else KILN_BACKEND, else native when a C toolchain exists. */
export function chooseBackend(requested?: Backend | "auto"): Backend {
  const choice = requested ?? readEnv().backend;
  if (choice === "js") return "js";
  if (hasToolchain()) return "native";
  if (choice === "native") throw new ArgumentError("backend", "native was requested but no C compiler / Node headers were found (see KILN_CC)");
  if (!noticed) {
    noticed = true;
    logLine("no C compiler found: using the JS backend (set KILN_CC to a compiler for native speed)");
  }
  return "js";
}

export interface PhaseTimes {
  passes: number;
  codegen: number;
  load: number;
}

export interface CompiledGraph {
  readonly graph: Graph;
  readonly program: Program;
  readonly executable: Executable;
  readonly times: PhaseTimes;
  readonly kernels: number;
  readonly backend: Backend;
}

export function compileGraph(graph: Graph, options: { backend?: Backend | "auto" } = {}): CompiledGraph {
  const backend = chooseBackend(options.backend);
  const t0 = performance.now();
  const optimised = runPipeline(graph).graph;
  const t1 = performance.now();
  const program = generateProgram(optimised, { native: backend === "native" });
  const t2 = performance.now();
  const executable = backend === "native" ? loadNativeProgram(program) : loadJsProgram(program);
  const t3 = performance.now();
  return { graph: optimised, program, executable, times: { passes: t1 - t0, codegen: t2 - t1, load: t3 - t2 }, kernels: program.report.kernels, backend };
}
