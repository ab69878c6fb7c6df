// KernelBuilder: lowers graph nodes to value expressions at an index (Inductor-style "inner
// functions") and assembles one kernel's loops. Movement ops become index remaps, pointwise ops
// inline, and each reduction becomes a `reduce` statement hoisted into the loop scope where its
// row index is known, so a softmax or an RMSNorm over rows is one kernel: outer loops, reduction
// loops, store loop. Subexpressions used twice, or invariant in inner loops, are bound to locals
// once, in the outermost scope they can live in.
import type { Dim } from "../tensor/index.js";
import { type UnaryOp, normalizeAxis, sliceBounds } from "../ops/index.js";
import type { Node } from "../graph/index.js";
import { dimAdd, dimMul } from "../tensor/index.js";
import { InternalError, UnsupportedOpError } from "../util/index.js";
import { type IExpr, type Kernel, type ReduceOp, type Stmt, type VExpr, iadd, imul, ipoly, ivar, namesIn } from "./loop-ir.js";
import { broadcastIndex, linearize, reshapeIndex } from "./index-math.js";
import { ExprInterner } from "./expr-interner.js";
import { mapValue, visitValue } from "./expr-walk.js";
import { finishKernel } from "./finish-kernel.js";

interface Scope {
  /** Names defined here: the loop variable, reduction accumulators, let-bound locals. */
  readonly names: Set<string>;
  readonly stmts: Stmt[];
  /** The loop whose body this scope is (absent for the kernel's top scope). */
  readonly loop?: { readonly v: string; readonly extent: Dim };
}

/** Value kinds worth computing once into a local. */
const BINDABLE: ReadonlySet<VExpr["k"]> = new Set(["unary", "binary", "select", "load"]);

/** A node a kernel computes, and the buffer it goes to. */
export interface KernelOutput {
  readonly node: Node;
  readonly out: number;
}

/** The shape a node's kernel loops over: its own, or a kv_store's values'; undefined for nodes no loop nest computes. */
export function loopDomain(n: Node): readonly Dim[] | undefined {
  if (n.op === "kv_store") return n.inputs[1]!.type.shape;
  return n.op === "input" || n.op === "matmul" || n.op === "paged_attention" ? undefined : n.type.shape;
}

/** Builds one kernel's statements; `bufferOf` gives the buffer of realised nodes. */
export class KernelBuilder {
  readonly #scopes: Scope[] = [];
  readonly #interner = new ExprInterner();
  /** Memo of `expr(node, idx)` by node id and index ids: sharing makes the DAG, not a tree. */
  readonly #values = new Map<string, VExpr>();
  /** Subexpressions already bound to a let, with the scope holding it. */
  readonly #bound = new Map<number, { readonly local: VExpr; readonly scope: Scope }>();
  readonly #nodes = new Set<number>();
  /** Reductions this kernel would recompute inside loops their value does not depend on: they want a buffer. */
  readonly redundant = new Set<Node>();
  #counter = 0;

  constructor(
    readonly bufferOf: (n: Node) => number | undefined,
    readonly constantOf: (n: Node) => number | undefined,
  ) {}

  #fresh(prefix: string): string {
    return `${prefix}${this.#counter++}`;
  }

  /**
   * Emits one kernel computing every output into its buffer, in one loop nest over their common loop domain
   * (loopDomain): a multi-output kernel when there are several (RoPE's cos and sin, the K and V stores), whose
   * shared inputs are computed once per element.
   */
  build(name: string, outputs: readonly KernelOutput[]): Kernel {
    const shape = loopDomain(outputs[0]!.node)!;
    return this.#loopKernel(name, outputs.map((o) => o.node.id), shape, (idx) => outputs.map((o) => (o.node.op === "kv_store" ? this.#kvStore(o, idx) : this.#store(o, idx))));
  }

  #store({ node, out }: KernelOutput, idx: IExpr[]): Stmt {
    return { k: "store", buf: out, index: linearize(idx, node.type.shape), value: this.#bind(this.#compute(node, idx)), dtype: node.type.dtype };
  }

  /**
   * kv_store(cache, values, slots) as a scatter into the cache's own buffer `out`, over the values' shape: each
   * row stored at its slot (values and slots fuse in).
   */
  #kvStore({ node, out }: KernelOutput, idx: IExpr[]): Stmt {
    const [cache, values, slots] = node.inputs as [Node, Node, Node];
    const rowShape = values.type.shape.slice(1);
    const slotCount = dimMul(cache.type.shape[0]!, cache.type.shape[1]!);
    const slot: IExpr = { k: "fromValue", v: this.expr(slots, [idx[0]!]), size: ipoly(slotCount) };
    const row = rowShape.reduce<Dim>((a, d) => dimMul(a, d), 1);
    const index = iadd(imul(slot, ipoly(row)), linearize(idx.slice(1), rowShape));
    return { k: "store", buf: out, index, value: this.#bind(this.expr(values, idx)), dtype: cache.type.dtype };
  }

  /** One loop per dim of `shape` (size-1 dims get index 0) around the stores `storesAt(idx)`. */
  #loopKernel(name: string, nodes: readonly number[], shape: readonly Dim[], storesAt: (idx: IExpr[]) => Stmt[]): Kernel {
    this.#scopes.push({ names: new Set(), stmts: [] });
    const loops = shape.flatMap((extent) => (extent === 1 ? [] : [{ v: this.#fresh("i"), extent }]));
    for (const loop of loops) this.#scopes.push({ names: new Set([loop.v]), stmts: [], loop });
    let next = 0;
    const idx = shape.map((d) => (d === 1 ? ipoly(0) : ivar(loops[next++]!.v)));
    for (const store of storesAt(idx)) this.#scopes[this.#scopes.length - 1]!.stmts.push(store);
    for (let d = loops.length - 1; d >= 0; d--) {
      const scope = this.#scopes.pop()!;
      this.#scopes[this.#scopes.length - 1]!.stmts.push({ k: "for", v: loops[d]!.v, extent: ipoly(loops[d]!.extent), body: scope.stmts });
    }
    const body = this.#scopes.pop()!.stmts;
    return finishKernel(name, body, [...this.#nodes, ...nodes]);
  }

  /** The value of `node` at `idx`, inlining everything that is not realised. */
  expr(node: Node, idx: readonly IExpr[]): VExpr {
    const key = `${node.id}@${idx.map((e) => this.#interner.id(e)).join(",")}`;
    let v = this.#values.get(key);
    if (!v) {
      const buf = this.bufferOf(node);
      v = buf !== undefined ? { k: "load", buf, index: linearize(idx, node.type.shape), dtype: node.type.dtype } : this.#compute(node, idx);
      v = this.#interner.canonical(v);
      this.#values.set(key, v);
    }
    return v;
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
      case "kv_store":
      case "paged_attention":
        throw new InternalError(`${node.op} results are always realised`);
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
    const used = new Set<string>();
    for (const e of idx) namesIn(e, used);
    const depth = this.#depthOf(used);
    // Loops between the kernel's top and `depth` that the row index ignores would recompute it.
    for (let d = 1; d <= depth; d++) {
      const loop = this.#scopes[d]!.loop;
      if (loop && loop.extent !== 1 && !used.has(loop.v)) this.redundant.add(node);
    }
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
    const extent = x.type.shape[axis]!;
    const scope: Scope = { names: new Set([r]), stmts: [], loop: { v: r, extent } };
    this.#scopes.push(scope);
    const value = this.#bind(this.expr(x, inIdx));
    this.#scopes.pop();
    const acc = this.#fresh("acc");
    const op = node.op as ReduceOp;
    this.#scopes[depth]!.stmts.push({ k: "reduce", acc, op, v: r, extent: ipoly(extent), body: scope.stmts, value, dtype: x.type.dtype });
    this.#scopes[depth]!.names.add(acc).add(`${acc}_i`);
    this.#scopes.push(...saved);
    return { k: "local", name: op === "argmax" ? `${acc}_i` : acc, dtype: node.type.dtype };
  }

  /** The deepest scope defining one of `names` (0, the kernel's top, for symbols). */
  #depthOf(names: Iterable<string>): number {
    let depth = 0;
    for (const n of names) {
      for (let d = this.#scopes.length - 1; d > depth; d--) {
        if (this.#scopes[d]!.names.has(n)) {
          depth = d;
          break;
        }
      }
    }
    return depth;
  }

  /**
   * Prepares a statement's value for the innermost scope: each subexpression used more than once,
   * or invariant in the loops around its use, is computed once into a `let` placed in the
   * outermost scope that defines everything it reads. Select branches are never bound (they
   * may read out of bounds when not taken, as in cat).
   */
  #bind(root: VExpr): VExpr {
    const I = this.#interner;
    const refs = new Map<number, number>();
    const count = (v: VExpr): void => {
      const id = I.id(v);
      const n = (refs.get(id) ?? 0) + 1;
      refs.set(id, n);
      if (n === 1) visitValue(v, new Set(), count);
    };
    count(root);
    const depths = new Map<number, number>();
    const depthOf = (v: VExpr): number => {
      const id = I.id(v);
      let d = depths.get(id);
      if (d === undefined) {
        const names = new Set<string>();
        let inner = 0;
        visitValue(v, names, (c) => (inner = Math.max(inner, depthOf(c))));
        d = Math.max(inner, this.#depthOf(names));
        depths.set(id, d);
      }
      return d;
    };
    const rebuilt = new Map<string, VExpr>();
    const rebuild = (v: VExpr, at: number, conditional: boolean): VExpr => {
      const id = I.id(v);
      const bound = this.#bound.get(id);
      if (bound && this.#scopes.includes(bound.scope)) return bound.local;
      const key = `${id}:${at}:${conditional}`;
      let out = rebuilt.get(key);
      if (!out) rebuilt.set(key, (out = rebuildOnce(v, id, at, conditional)));
      return out;
    };
    const rebuildOnce = (v: VExpr, id: number, at: number, conditional: boolean): VExpr => {
      const d = depthOf(v);
      const bind = !conditional && BINDABLE.has(v.k) && (d < at || (refs.get(id)! > 1 && (v.k !== "load" || v.index.k !== "poly")));
      const inner = bind ? d : at;
      const value = mapValue(v, (c, cond) => rebuild(c, inner, conditional || cond));
      if (!bind) return value;
      const name = this.#fresh("t");
      const scope = this.#scopes[d]!;
      scope.stmts.push({ k: "let", name, value, dtype: v.dtype });
      scope.names.add(name);
      const local: VExpr = { k: "local", name, dtype: v.dtype };
      this.#bound.set(id, { local, scope });
      return local;
    };
    return rebuild(root, this.#scopes.length - 1, false);
  }
}
