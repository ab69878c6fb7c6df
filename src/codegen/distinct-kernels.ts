// Identical kernels (the N layers of a transformer: same structure, other buffers) become one
// function called N times: buffers are renamed to positional parameters and kernels deduped by text.
import type { IExpr, Kernel, MatmulOperand, Stmt, VExpr } from "./loop-ir.js";

export interface KernelCall {
  /** Index into `functions`. */
  readonly fn: number;
  /** The actual buffers, in the function's parameter order. */
  readonly buffers: readonly number[];
}

export interface DistinctKernels {
  /** Canonical kernels: buffers are 0..n-1 in parameter order. */
  readonly functions: readonly Kernel[];
  readonly calls: readonly KernelCall[];
}

function remapIndex(e: IExpr, m: (b: number) => number): IExpr {
  switch (e.k) {
    case "poly":
      return e;
    case "fromValue":
      return { ...e, v: remapValue(e.v, m), size: remapIndex(e.size, m) };
    default:
      return { ...e, a: remapIndex(e.a, m), b: remapIndex(e.b, m) };
  }
}

function remapValue(v: VExpr, m: (b: number) => number): VExpr {
  switch (v.k) {
    case "load":
      return { ...v, buf: m(v.buf), index: remapIndex(v.index, m) };
    case "unary":
      return { ...v, a: remapValue(v.a, m) };
    case "binary":
      return { ...v, a: remapValue(v.a, m), b: remapValue(v.b, m) };
    case "select":
      return { ...v, c: remapValue(v.c, m), a: remapValue(v.a, m), b: remapValue(v.b, m) };
    case "icmp":
      return { ...v, a: remapIndex(v.a, m), b: remapIndex(v.b, m) };
    case "index":
      return { ...v, i: remapIndex(v.i, m) };
    case "const":
    case "local":
      return v;
    default:
      return v satisfies never;
  }
}

const remapOperand = (o: MatmulOperand, m: (b: number) => number): MatmulOperand => ({ ...o, buf: m(o.buf) });

function remapStmt(s: Stmt, m: (b: number) => number): Stmt {
  switch (s.k) {
    case "for":
      return { ...s, body: s.body.map((x) => remapStmt(x, m)) };
    case "reduce":
      return { ...s, body: s.body.map((x) => remapStmt(x, m)), value: remapValue(s.value, m) };
    case "store":
      return { ...s, buf: m(s.buf), index: remapIndex(s.index, m), value: remapValue(s.value, m) };
    case "let":
      return { ...s, value: remapValue(s.value, m) };
    case "matmul":
      return { ...s, out: m(s.out), a: remapOperand(s.a, m), b: remapOperand(s.b, m) };
    case "attention":
      return {
        ...s, out: m(s.out), q: m(s.q), kcache: m(s.kcache), vcache: m(s.vcache),
        blockTable: m(s.blockTable), seqIds: m(s.seqIds), positions: m(s.positions),
      };
    default:
      return s satisfies never;
  }
}

/** Dedupes kernels by their emitted text (`emit` renders a canonical kernel without its name). */
export function distinctKernels(kernels: readonly Kernel[], emit: (k: Kernel) => string): DistinctKernels {
  const functions: Kernel[] = [];
  const byText = new Map<string, number>();
  const calls = kernels.map((k) => {
    const position = new Map(k.buffers.map((b, i) => [b.buf, i]));
    const m = (b: number) => position.get(b)!;
    const canonical: Kernel = {
      ...k,
      name: "",
      buffers: k.buffers.map((b, i) => ({ ...b, buf: i })),
      body: k.body.map((s) => remapStmt(s, m)),
    };
    const text = emit(canonical);
    let fn = byText.get(text);
    if (fn === undefined) {
      fn = functions.length;
      byText.set(text, fn);
      functions.push({ ...canonical, name: `${k.name.replace(/^k\d+_/, `f${fn}_`)}` });
    }
    return { fn, buffers: k.buffers.map((b) => b.buf) };
  });
  return { functions, calls };
}
