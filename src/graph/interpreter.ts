// The reference interpreter: runs a graph node by node with the ops' reference kernels.
// It is the living definition that every backend is tested against.
import { type Tensor, dimEq, evalDim, isSym, shapeToString, typeToString } from "../tensor/index.js";
import { type AttrValue, type Attrs, OPS, eagerInterpreter, withInterpreter } from "../ops/index.js";
import { ArgumentError, DTypeError, ShapeError } from "../util/index.js";
import type { Graph, Node } from "./graph.js";

/** Binds runtime sizes to the graph's symbols from the input shapes, checking static dims and ranges. */
export function bindSymbols(graph: Graph, inputs: readonly Tensor[]): Record<string, number> {
  const ins = graph.inputs;
  if (inputs.length !== ins.length) {
    throw new ArgumentError("graph", `expected ${ins.length} inputs (${ins.map((n) => n.attrs.name).join(", ")}), got ${inputs.length}`);
  }
  const env: Record<string, number> = {};
  ins.forEach((node, i) => {
    const t = inputs[i]!;
    const name = String(node.attrs.name);
    if (t.dtype !== node.type.dtype) throw new DTypeError(`input '${name}'`, node.type.dtype, t.dtype);
    if (t.rank !== node.type.shape.length) throw new ShapeError(`input '${name}'`, typeToString(node.type), t.shape);
    node.type.shape.forEach((d, a) => {
      const got = t.dims[a]!;
      if (isSym(d) && d.symbols().length === 1 && String(d) === d.symbols()[0]) {
        const s = String(d);
        if (env[s] !== undefined && env[s] !== got) {
          throw new ShapeError(`input '${name}'`, `dim ${a} = ${s} = ${env[s]} (as bound by an earlier input)`, t.dims);
        }
        env[s] = got;
      }
    });
  });
  ins.forEach((node, i) => {
    const t = inputs[i]!;
    node.type.shape.forEach((d, a) => {
      if (!dimEq(evalDim(d, env), t.dims[a]!)) {
        throw new ShapeError(`input '${String(node.attrs.name)}'`, `shape ${shapeToString(node.type.shape)} with ${JSON.stringify(env)}`, t.dims);
      }
    });
  });
  for (const s of graph.symbols) {
    const v = env[s.name];
    if (v !== undefined && (v < s.min || v > s.max)) throw new ShapeError("graph", `${s.name} in [${s.min}, ${s.max}]`, v);
  }
  return env;
}

/** Attributes with every symbolic dim replaced by its value (eager kernels need numbers). */
export function concreteAttrs(attrs: Attrs, env: Readonly<Record<string, number>>): Attrs {
  const sub = (v: AttrValue): AttrValue => (isSym(v) ? evalDim(v, env) : Array.isArray(v) ? v.map(sub) : v);
  let changed = false;
  const out: Record<string, AttrValue> = {};
  for (const [k, v] of Object.entries(attrs)) {
    out[k] = sub(v);
    changed ||= out[k] !== v;
  }
  return changed ? out : attrs;
}

/** Evaluates `graph` on concrete inputs (in `graph.inputs` order) and returns its outputs. */
export function interpret(graph: Graph, inputs: readonly Tensor[]): Tensor[] {
  const env = bindSymbols(graph, inputs);
  const values = new Map<Node, Tensor>();
  graph.inputs.forEach((n, i) => values.set(n, inputs[i]!));
  withInterpreter(eagerInterpreter, () => {
    for (const node of graph.nodes) {
      if (node.op === "input") continue;
      const args = node.inputs.map((i) => values.get(i)!);
      values.set(node, eagerInterpreter.apply(OPS[node.op], args, concreteAttrs(node.attrs, env)));
    }
  });
  return graph.outputs.map((o) => values.get(o)!);
}
