// Graph → runnable code: the pass pipeline, code generation and the backend, with phase times.
import type { Graph } from "../graph/index.js";
import { runPipeline } from "../passes/index.js";
import { type Program, generateProgram } from "../codegen/index.js";
import { type Executable, loadJsProgram } from "../backend/index.js";

export type { Executable };

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
}

export function compileGraph(graph: Graph): CompiledGraph {
  const t0 = performance.now();
  const optimised = runPipeline(graph).graph;
  const t1 = performance.now();
  const program = generateProgram(optimised);
  const t2 = performance.now();
  const executable = loadJsProgram(program);
  const t3 = performance.now();
  return { graph: optimised, program, executable, times: { passes: t1 - t0, codegen: t2 - t1, load: t3 - t2 }, kernels: program.report.kernels };
}
