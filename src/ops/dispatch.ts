// The one dispatch point: every op call goes to the innermost interpreter (eager, trace, graph-building).
import type { Tensor } from "../tensor/index.js";
import { ArgumentError, TraceError } from "../util/index.js";
import type { Attrs, OpDef } from "./op-def.js";
import type { OpName } from "./op-names.js";
import { OPS } from "./registry.js";

/** An interpretation of ops: eager runs reference kernels; the tracer records graph nodes. */
export interface Interpreter {
  apply(op: OpDef, inputs: readonly Tensor[], attrs: Attrs): Tensor;
}

/** Eager: check types with the shape rule, then run the reference kernel (or the decomposition). */
export const eagerInterpreter: Interpreter = {
  apply(op, inputs, attrs) {
    for (const t of inputs) {
      if (!t.isConcrete) throw new TraceError(`op ${op.name} received a traced tensor outside of its trace (did a tracer escape forward()?)`);
    }
    const out = op.infer(inputs, attrs);
    if (op.decompose) return op.decompose(inputs, attrs, bind);
    if (!op.ref) throw new ArgumentError(op.name, "has no reference kernel and cannot run eagerly");
    return op.ref(inputs, attrs, out);
  },
};

const stack: Interpreter[] = [eagerInterpreter];

export function currentInterpreter(): Interpreter {
  return stack[stack.length - 1]!;
}

/** Runs `fn` with `interp` handling every op it calls, restoring the previous one after. */
export function withInterpreter<T>(interp: Interpreter, fn: () => T): T {
  stack.push(interp);
  try {
    return fn();
  } finally {
    stack.pop();
  }
}

function checkArity(op: OpDef, n: number): void {
  const [lo, hi] = typeof op.arity === "number" ? [op.arity, op.arity] : op.arity;
  if (n < lo || n > hi) {
    const want = lo === hi ? `${lo}` : hi === Infinity ? `at least ${lo}` : `${lo} to ${hi}`;
    throw new ArgumentError(op.name, `expected ${want} tensor inputs, got ${n}`);
  }
}

/** Applies op `name` to `inputs` under the current interpreter. */
export function bind(name: OpName, inputs: readonly Tensor[], attrs: Attrs = {}): Tensor {
  const op = OPS[name];
  checkArity(op, inputs.length);
  return currentInterpreter().apply(op, inputs, attrs);
}
