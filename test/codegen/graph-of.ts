// Test helper: builds a graph by running the functional API on symbolic inputs (composites
// decomposed, as codegen expects), and runs a graph on the JS backend next to the reference.
import {
  type DType, type Dim, Graph, GraphBuilder, type InputKind, SymbolicTensor, type Tensor, interpret, recordingInterpreter, sym,
  withInterpreter,
} from "../../src/index.js";
import { type Program, generateProgram } from "../../src/codegen/index.js";
import { type Executable, loadJsProgram } from "../../src/backend/index.js";

export interface InputSpec {
  readonly name: string;
  /** Dims; a string names a symbol (a dynamic dim). */
  readonly shape: readonly (number | string)[];
  readonly dtype?: DType;
  readonly kind?: InputKind;
}

/** The graph of `fn` applied to symbolic inputs; small concrete tensors it uses become constants. */
export function graphOf(inputs: readonly InputSpec[], fn: (...xs: Tensor[]) => Tensor | readonly Tensor[]): Graph {
  const b = new GraphBuilder();
  const symbols = new Set<string>();
  const xs = inputs.map((spec) => {
    const shape: Dim[] = spec.shape.map((d) => {
      if (typeof d === "number") return d;
      if (!symbols.has(d)) b.addSymbol({ name: d, min: 1, max: 1 << 20, hint: 8 });
      symbols.add(d);
      return sym(d);
    });
    return new SymbolicTensor(b.input(spec.name, spec.kind ?? "arg", { dtype: spec.dtype ?? "f32", shape }), b);
  });
  const lift = (t: Tensor) => b.node("constant", [], { dtype: t.dtype, shape: [...t.dims], values: [...t.values()] });
  const interp = recordingInterpreter(b, { keepComposites: false, lift });
  const out = withInterpreter(interp, () => fn(...xs));
  const outs = Array.isArray(out) ? (out as readonly Tensor[]) : [out as Tensor];
  return b.build(outs.map((t) => (t instanceof SymbolicTensor ? t.node : lift(t))));
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
