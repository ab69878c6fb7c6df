// Lowering: graph nodes → value expressions at an index (Inductor-style "inner functions").
// Movement ops become index remaps, pointwise ops inline, and each reduction becomes a
// `reduce` statement hoisted into the loop scope where its row index is known, so a
// softmax or an RMSNorm over rows is one kernel: outer loops, reduction loops, store loop.
import { type Dim, type Shape, dimAdd, dimDivExact, dimEq, dimMul } from "../tensor/index.js";
import { type UnaryOp, normalizeAxis, sliceBounds } from "../ops/index.js";
import type { Node } from "../graph/index.js";
import { InternalError, UnsupportedOpError } from "../util/index.js";
import {
  type IExpr, type Kernel, type KernelBuffer, type ReduceOp, type Stmt, type VExpr,
  iadd, idiv, imod, imul, ipoly, ivar, namesIn, namesInValue,
} from "./loop-ir.js";

/** Row-major linear index of `idx` in `shape`. */
export function linearize(idx: readonly IExpr[], shape: Shape): IExpr {
  let out: IExpr = ipoly(0);
  let stride: Dim = 1;
  for (let a = shape.length - 1; a >= 0; a--) {
    out = iadd(out, imul(idx[a]!, ipoly(stride)));
    stride = dimMul(stride, shape[a]!);
  }
  return out;
}

/** Splits `linear` (an index into `shape`'s elements) back into per-axis indices. */
function unravel(linear: IExpr, shape: Shape): IExpr[] {
  const out: IExpr[] = [];
  let inner: Dim = 1;
  for (let a = shape.length - 1; a >= 0; a--) {
    const q = idiv(linear, ipoly(inner));
    out[a] = a === 0 ? q : imod(q, ipoly(shape[a]!));
    inner = dimMul(inner, shape[a]!);
  }
  return out;
}

/** Pairs of (input dims, output dims) with equal element counts, or undefined when none exist. */
function groupDims(inShape: Shape, outShape: Shape): [number[], number[]][] | undefined {
  const groups: [number[], number[]][] = [];
  let i = 0;
  let o = 0;
  while (i < inShape.length && o < outShape.length) {
    const gi = [i];
    const go = [o];
    let pin = inShape[i++]!;
    let pout = outShape[o++]!;
    while (!dimEq(pin, pout)) {
      if (i < inShape.length && dimDivExact(pout, pin) !== undefined) {
        gi.push(i);
        pin = dimMul(pin, inShape[i++]!);
      } else if (o < outShape.length && dimDivExact(pin, pout) !== undefined) {
        go.push(o);
        pout = dimMul(pout, outShape[o++]!);
      } else return undefined;
    }
    groups.push([gi, go]);
  }
  // Whatever is left must be size-1 dims: an input one is indexed by 0.
  for (; i < inShape.length; i++) if (inShape[i] !== 1) return undefined; else groups.push([[i], []]);
  for (; o < outShape.length; o++) if (outShape[o] !== 1) return undefined;
  return groups;
}

/**
 * The input index of a reshape: dims are grouped where input and output products agree,
 * so `[s0,1024] ↔ [s0,16,64]` needs no division on s0; each group is linearised and unravelled.
 */
export function reshapeIndex(inShape: Shape, outShape: Shape, idx: readonly IExpr[]): IExpr[] {
  const groups = groupDims(inShape, outShape);
  if (!groups) return unravel(linearize(idx, outShape), inShape);
  const result: IExpr[] = new Array(inShape.length);
  for (const [gi, go] of groups) {
    const linear = linearize(go.map((a) => idx[a]!), go.map((a) => outShape[a]!));
    const parts = unravel(linear, gi.map((a) => inShape[a]!));
    gi.forEach((a, j) => (result[a] = parts[j]!));
  }
  return result;
}

/** Index into an input broadcast (NumPy rules) to `outShape`. */
function broadcastIndex(inShape: Shape, outShape: Shape, idx: readonly IExpr[]): IExpr[] {
  const lead = outShape.length - inShape.length;
  return inShape.map((d, a) => (d === 1 && outShape[a + lead] !== 1 ? ipoly(0) : idx[a + lead]!));
}

interface Scope {
  readonly names: Set<string>;
  readonly stmts: Stmt[];
}

export const REDUCE_INIT: Readonly<Record<ReduceOp, number>> = { sum: 0, max: -Infinity, min: Infinity, argmax: -Infinity };

/** Builds one kernel's statements; `bufferOf` gives the buffer of realised nodes. */
export class KernelBuilder {
  readonly #scopes: Scope[] = [];
  readonly #memo = new Map<string, VExpr>();
  readonly #nodes = new Set<number>();
  #counter = 0;

  constructor(
    readonly bufferOf: (n: Node) => number | undefined,
    readonly constantOf: (n: Node) => number | undefined,
  ) {}

  #fresh(prefix: string): string {
    return `${prefix}${this.#counter++}`;
  }

  /** Emits a kernel computing `node` into its buffer over the node's whole shape. */
  build(name: string, node: Node, out: number): Kernel {
    const shape = node.type.shape;
    this.#scopes.push({ names: new Set(), stmts: [] });
    const vars = shape.map(() => this.#fresh("i"));
    for (const v of vars) this.#scopes.push({ names: new Set([v]), stmts: [] });
    const value = this.#compute(node, vars.map(ivar));
    this.#scopes[this.#scopes.length - 1]!.stmts.push({ k: "store", buf: out, index: linearize(vars.map(ivar), shape), value, dtype: node.type.dtype });
    for (let d = vars.length - 1; d >= 0; d--) {
      const scope = this.#scopes.pop()!;
      this.#scopes[this.#scopes.length - 1]!.stmts.push({ k: "for", v: vars[d]!, extent: ipoly(shape[d]!), body: scope.stmts });
    }
    const body = this.#scopes.pop()!.stmts;
    return finishKernel(name, body, [...this.#nodes, node.id]);
  }

  /** The value of `node` at `idx`, inlining everything that is not realised. */
  expr(node: Node, idx: readonly IExpr[]): VExpr {
    const buf = this.bufferOf(node);
    if (buf !== undefined) return { k: "load", buf, index: linearize(idx, node.type.shape), dtype: node.type.dtype };
    return this.#compute(node, idx);
  }

  #compute(node: Node, idx: readonly IExpr[]): VExpr {
    this.#nodes.add(node.id);
    const t = node.type;
    const [x, y, z] = node.inputs;
    const at = (n: Node) => this.expr(n, broadcastIndex(n.type.shape, t.shape, idx));
    switch (node.op) {
      case "input":
        throw new InternalError("graph inputs are always realised");
      case "constant": {
        const c = this.constantOf(node);
        if (c !== undefined) return { k: "load", buf: c, index: linearize(idx, t.shape), dtype: t.dtype };
        return { k: "const", v: (node.attrs.values as number[])[0]!, dtype: t.dtype };
      }
      case "full":
        return { k: "const", v: node.attrs.value as number, dtype: t.dtype };
      case "arange": {
        const start = (node.attrs.start as number | undefined) ?? 0;
        const step = (node.attrs.step as number | undefined) ?? 1;
        const i: VExpr = { k: "index", i: idx[0]!, dtype: t.dtype };
        const scaled: VExpr = step === 1 ? i : { k: "binary", op: "mul", a: i, b: { k: "const", v: step, dtype: t.dtype }, dtype: t.dtype };
        return start === 0 ? scaled : { k: "binary", op: "add", a: scaled, b: { k: "const", v: start, dtype: t.dtype }, dtype: t.dtype };
      }
      case "neg": case "abs": case "exp": case "log": case "sqrt": case "rsqrt": case "sin": case "cos": case "tanh":
      case "sigmoid": case "silu": case "gelu": case "relu": case "reciprocal": case "logical_not": case "cast":
        return {
          k: "unary", op: node.op as UnaryOp, a: at(x!), dtype: t.dtype,
          ...(node.op === "gelu" ? { approximate: String(node.attrs.approximate ?? "none") } : {}),
        };
      case "add": case "sub": case "mul": case "div": case "pow": case "maximum": case "minimum":
      case "eq": case "ne": case "lt": case "le": case "gt": case "ge": case "logical_and": case "logical_or":
        return { k: "binary", op: node.op, a: at(x!), b: at(y!), dtype: t.dtype };
      case "where":
        return { k: "select", c: at(x!), a: at(y!), b: at(z!), dtype: t.dtype };
      case "triu":
      case "tril": {
        const r = t.shape.length;
        const k = (node.attrs.k as number | undefined) ?? 0;
        const limit = iadd(idx[r - 2]!, ipoly(k));
        const cond: VExpr = { k: "icmp", op: node.op === "triu" ? "ge" : "le", a: idx[r - 1]!, b: limit, dtype: "bool" };
        return { k: "select", c: cond, a: this.expr(x!, idx), b: { k: "const", v: 0, dtype: t.dtype }, dtype: t.dtype };
      }
      case "sum": case "max": case "min": case "argmax":
        return this.#reduction(node, idx);
      case "reshape":
        return this.expr(x!, reshapeIndex(x!.type.shape, t.shape, idx));
      case "permute": {
        const perm = (node.attrs.perm as number[]).map((p) => normalizeAxis("permute", p, t.shape.length));
        const inIdx: IExpr[] = new Array(perm.length);
        perm.forEach((p, i) => (inIdx[p] = idx[i]!));
        return this.expr(x!, inIdx);
      }
      case "expand":
        return this.expr(x!, broadcastIndex(x!.type.shape, t.shape, idx));
      case "slice": {
        const b = sliceBounds(x!.type, node.attrs);
        const inIdx = [...idx];
        inIdx[b.axis] = iadd(ipoly(b.start), imul(idx[b.axis]!, ipoly(b.step)));
        return this.expr(x!, inIdx);
      }
      case "cat": {
        const axis = normalizeAxis("cat", node.attrs.axis, t.shape.length);
        const offsets: Dim[] = [0];
        for (const n of node.inputs) offsets.push(dimAdd(offsets[offsets.length - 1]!, n.type.shape[axis]!));
        const part = (j: number): VExpr => {
          const inIdx = [...idx];
          inIdx[axis] = iadd(idx[axis]!, ipoly(dimMul(offsets[j]!, -1)));
          return this.expr(node.inputs[j]!, inIdx);
        };
        let v = part(node.inputs.length - 1);
        for (let j = node.inputs.length - 2; j >= 0; j--) {
          v = { k: "select", c: { k: "icmp", op: "lt", a: idx[axis]!, b: ipoly(offsets[j + 1]!), dtype: "bool" }, a: part(j), b: v, dtype: t.dtype };
        }
        return v;
      }
      case "index_select": {
        const axis = normalizeAxis("index_select", node.attrs.axis, t.shape.length);
        const inIdx = [...idx];
        inIdx[axis] = { k: "fromValue", v: this.expr(y!, [idx[axis]!]), size: ipoly(x!.type.shape[axis]!) };
        return this.expr(x!, inIdx);
      }
      case "gather": {
        const axis = normalizeAxis("gather", node.attrs.axis, t.shape.length);
        const inIdx = [...idx];
        inIdx[axis] = { k: "fromValue", v: this.expr(y!, idx), size: ipoly(x!.type.shape[axis]!) };
        return this.expr(x!, inIdx);
      }
      case "matmul":
        throw new InternalError("matmul results are always realised");
      case "mean": case "softmax": case "linear": case "embedding": case "stack": case "rms_norm": case "rotary":
        throw new UnsupportedOpError(node.op, "codegen (run the decompose pass first)");
      default:
        return node.op satisfies never;
    }
  }

  /** A reduction at `idx`: hoisted into the deepest scope defining a name its row index uses. */
  #reduction(node: Node, idx: readonly IExpr[]): VExpr {
    const x = node.inputs[0]!;
    const rank = x.type.shape.length;
    const axis = normalizeAxis(node.op, node.attrs.axis, rank);
    const key = `${node.id}@${idx.map(printIndexKey).join(",")}`;
    const hit = this.#memo.get(key);
    if (hit) return hit;

    const used = new Set<string>();
    for (const e of idx) namesIn(e, used);
    let depth = 0;
    this.#scopes.forEach((s, d) => {
      for (const n of used) if (s.names.has(n)) depth = Math.max(depth, d);
    });
    const r = this.#fresh("r");
    const inIdx: IExpr[] = [];
    const keep = node.type.shape.length === rank;
    for (let a = 0, o = 0; a < rank; a++) {
      if (a === axis) {
        inIdx.push(ivar(r));
        if (keep) o++;
      } else inIdx.push(idx[o++]!);
    }
    // Build the reduced value in a scope of its own, then hoist it (and what it hoisted) to `depth`.
    const saved = this.#scopes.splice(depth + 1);
    const scope: Scope = { names: new Set([r]), stmts: [] };
    this.#scopes.push(scope);
    const value = this.expr(x, inIdx);
    this.#scopes.pop();
    const acc = this.#fresh("acc");
    const op = node.op as ReduceOp;
    this.#scopes[depth]!.stmts.push({ k: "reduce", acc, op, v: r, extent: ipoly(x.type.shape[axis]!), body: scope.stmts, value, dtype: x.type.dtype });
    this.#scopes[depth]!.names.add(acc);
    this.#scopes.push(...saved);
    const result: VExpr = { k: "local", name: op === "argmax" ? `${acc}_i` : acc, dtype: node.type.dtype };
    this.#memo.set(key, result);
    return result;
  }
}

function printIndexKey(e: IExpr): string {
  switch (e.k) {
    case "poly":
      return String(e.p);
    case "fromValue":
      return `v(${JSON.stringify(e.v)})`;
    default:
      return `${e.k}(${printIndexKey(e.a)},${printIndexKey(e.b)})`;
  }
}

/** Collects a kernel's buffers (loads are inputs, stores outputs) and the symbols it reads. */
export function finishKernel(name: string, body: readonly Stmt[], nodes: readonly number[]): Kernel {
  const bufs = new Map<number, KernelBuffer>();
  const names = new Set<string>();
  const locals = new Set<string>();
  const visitV = (v: VExpr): void => {
    namesInValue(v, names);
    walkLoads(v, (buf, dtype) => {
      if (!bufs.has(buf)) bufs.set(buf, { buf, dtype, role: "in" });
    });
  };
  const visit = (s: Stmt): void => {
    switch (s.k) {
      case "for":
        locals.add(s.v);
        namesIn(s.extent, names);
        s.body.forEach(visit);
        return;
      case "reduce":
        locals.add(s.v).add(s.acc).add(`${s.acc}_i`);
        namesIn(s.extent, names);
        s.body.forEach(visit);
        visitV(s.value);
        return;
      case "store":
        namesIn(s.index, names);
        visitV(s.value);
        bufs.set(s.buf, { buf: s.buf, dtype: s.dtype, role: "out" });
        return;
      case "matmul":
        for (const e of [...s.batch, s.m, s.n, s.kdim, s.a.offset, s.b.offset, ...s.a.batchStrides, ...s.b.batchStrides, s.a.rowStride, s.a.colStride, s.b.rowStride, s.b.colStride]) namesIn(e, names);
        if (!bufs.has(s.a.buf)) bufs.set(s.a.buf, { buf: s.a.buf, dtype: s.a.dtype, role: "in" });
        if (!bufs.has(s.b.buf)) bufs.set(s.b.buf, { buf: s.b.buf, dtype: s.b.dtype, role: "in" });
        bufs.set(s.out, { buf: s.out, dtype: s.outDType, role: "out" });
        return;
      default:
        return s satisfies never;
    }
  };
  body.forEach(visit);
  const symbols = [...names].filter((n) => !locals.has(n)).sort();
  return { name, buffers: [...bufs.values()].sort((a, b) => a.buf - b.buf), symbols, body, nodes: [...new Set(nodes)].sort((a, b) => a - b) };
}

export function walkLoads(v: VExpr, fn: (buf: number, dtype: VExpr["dtype"]) => void): void {
  const walkI = (e: IExpr): void => {
    if (e.k === "fromValue") {
      walkLoads(e.v, fn);
      walkI(e.size);
    } else if (e.k !== "poly") {
      walkI(e.a);
      walkI(e.b);
    }
  };
  switch (v.k) {
    case "load":
      fn(v.buf, v.dtype);
      walkI(v.index);
      return;
    case "unary":
      walkLoads(v.a, fn);
      return;
    case "binary":
      walkLoads(v.a, fn);
      walkLoads(v.b, fn);
      return;
    case "select":
      walkLoads(v.c, fn);
      walkLoads(v.a, fn);
      walkLoads(v.b, fn);
      return;
    case "icmp":
      walkI(v.a);
      walkI(v.b);
      return;
    case "index":
      walkI(v.i);
      return;
    case "const":
    case "local":
      return;
    default:
      return v satisfies never;
  }
}

