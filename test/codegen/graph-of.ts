// Test helper: the graph-kit builder with composites decomposed (as codegen expects), and a graph
// run on the JS backend next to the reference interpreter.
import { Graph, type Tensor, interpret } from "../../src/index.js";
import { type InputSpec, buildGraph } from "../graph/graph-kit.js";
import { type Program, generateProgram } from "../../src/codegen/index.js";
import { type Executable, loadJsProgram } from "../../src/backend/index.js";

export type { InputSpec };

/** The graph of `fn` on symbolic inputs with composites decomposed, as codegen expects (symbols up to 2^20). */
export function graphOf(inputs: readonly InputSpec[], fn: (...xs: Tensor[]) => Tensor | readonly Tensor[]): Graph {
  return buildGraph(inputs, fn, { keepComposites: false, range: { min: 1, max: 1 << 20, hint: 8 } });
}

export interface Compiled {
  readonly program: Program;
  readonly exe: Executable;
  /** Runs the JS backend and the reference interpreter on the same inputs. */
  both(inputs: readonly Tensor[]): { got: Tensor[]; want: Tensor[] };
}

export function compileJs(graph: Graph): Compiled {
  const program = generateProgram(graph);
  // The program must survive a JSON round trip (it is what a bundle stores).
  const exe = loadJsProgram(JSON.parse(JSON.stringify(program)) as Program);
  return { program, exe, both: (inputs) => ({ got: exe.run(inputs), want: interpret(graph, inputs) }) };
}

export { Graph };
