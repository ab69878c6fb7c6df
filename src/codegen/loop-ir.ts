// The loop IR shared by every emitter (JS and C): index expressions, value expressions,
// statements (loops, reductions into accumulators, let-bound locals, stores, matmul template
// calls) and kernels. Plain data; its JSON form (kernel-json.ts) goes into programs and bundles.
//
// Affine index arithmetic reuses the canonical integer polynomials of src/tensor (`Dim`):
// loop variables (i0, r3, …) and shape symbols (s0, …) are both just names in a polynomial,
// so `i0*1024 + i1*64 + i2` folds and prints in one canonical form.
import { type DType, type Dim, dimAdd, dimMul, isSym, sym } from "../tensor/index.js";
import type { BinaryOp, UnaryOp } from "../ops/index.js";

export type IExpr =
  | { readonly k: "poly"; readonly p: Dim }
  | { readonly k: "div"; readonly a: IExpr; readonly b: IExpr }
  | { readonly k: "mod"; readonly a: IExpr; readonly b: IExpr }
  | { readonly k: "add"; readonly a: IExpr; readonly b: IExpr }
  | { readonly k: "mul"; readonly a: IExpr; readonly b: IExpr }
  /** An index read from data (gather/index_select); negative values wrap by `size`. */
  | { readonly k: "fromValue"; readonly v: VExpr; readonly size: IExpr };

/** Index comparisons that yield a 0/1 value (cat, triu/tril). */
export type IndexCmp = "lt" | "ge" | "le";

export type VExpr =
  | { readonly k: "load"; readonly buf: number; readonly index: IExpr; readonly dtype: DType }
  | { readonly k: "const"; readonly v: number; readonly dtype: DType }
  | { readonly k: "unary"; readonly op: UnaryOp; readonly a: VExpr; readonly dtype: DType; readonly approximate?: string }
  | { readonly k: "binary"; readonly op: BinaryOp; readonly a: VExpr; readonly b: VExpr; readonly dtype: DType }
  | { readonly k: "select"; readonly c: VExpr; readonly a: VExpr; readonly b: VExpr; readonly dtype: DType }
  | { readonly k: "icmp"; readonly op: IndexCmp; readonly a: IExpr; readonly b: IExpr; readonly dtype: "bool" }
  | { readonly k: "index"; readonly i: IExpr; readonly dtype: DType }
  | { readonly k: "local"; readonly name: string; readonly dtype: DType };

export type ReduceOp = "sum" | "max" | "min" | "argmax";

/** A matmul operand: a strided view of a buffer (batch strides may be 0 for broadcast). */
export interface MatmulOperand {
  readonly buf: number;
  readonly dtype: DType;
  readonly offset: IExpr;
  /** Strides of the batch dims (aligned with the output's batch dims), then the two matrix dims. */
  readonly batchStrides: readonly IExpr[];
  readonly rowStride: IExpr;
  readonly colStride: IExpr;
}

export type Stmt =
  | { readonly k: "for"; readonly v: string; readonly extent: IExpr; readonly body: readonly Stmt[] }
  /** A reduction into local `acc` (and `acc_i` for argmax) over `v` in [0, extent). */
  | { readonly k: "reduce"; readonly acc: string; readonly op: ReduceOp; readonly v: string; readonly extent: IExpr; readonly body: readonly Stmt[]; readonly value: VExpr; readonly dtype: DType }
  | { readonly k: "store"; readonly buf: number; readonly index: IExpr; readonly value: VExpr; readonly dtype: DType }
  /** Binds a value computed once to a local (a common subexpression of the statements after it). */
  | { readonly k: "let"; readonly name: string; readonly value: VExpr; readonly dtype: DType }
  | {
      readonly k: "matmul";
      readonly out: number;
      readonly outDType: DType;
      readonly batch: readonly IExpr[];
      readonly m: IExpr;
      readonly n: IExpr;
      readonly kdim: IExpr;
      readonly a: MatmulOperand;
      readonly b: MatmulOperand;
    }
  /** Paged causal attention (the runtime's template) over contiguous buffers; see OPS.paged_attention. */
  | {
      readonly k: "attention";
      readonly out: number;
      readonly q: number;
      readonly kcache: number;
      readonly vcache: number;
      readonly blockTable: number;
      readonly seqIds: number;
      readonly positions: number;
      readonly cacheDType: DType;
      readonly tokens: IExpr;
      readonly heads: number;
      readonly kvHeads: number;
      readonly headDim: number;
      readonly blockSize: number;
      readonly maxBlocks: IExpr;
      readonly scale: number;
    };

/** The buffers an attention statement reads, in the template's argument order. */
export const attentionInputs = (s: Extract<Stmt, { k: "attention" }>): number[] => [s.q, s.kcache, s.vcache, s.blockTable, s.seqIds, s.positions];

export interface KernelBuffer {
  readonly buf: number;
  readonly dtype: DType;
  readonly role: "in" | "out";
}

export interface Kernel {
  readonly name: string;
  readonly buffers: readonly KernelBuffer[];
  /** Shape symbols the kernel reads (passed as integer arguments). */
  readonly symbols: readonly string[];
  readonly body: readonly Stmt[];
  /** Graph nodes computed by this kernel (for tests and reports). */
  readonly nodes: readonly number[];
}

// Constructors that fold polynomial arithmetic.
export const ipoly = (p: Dim): IExpr => ({ k: "poly", p });
export const ivar = (name: string): IExpr => ({ k: "poly", p: sym(name) });

export function iadd(a: IExpr, b: IExpr): IExpr {
  if (a.k === "poly" && b.k === "poly") return ipoly(dimAdd(a.p, b.p));
  if (a.k === "poly" && a.p === 0) return b;
  if (b.k === "poly" && b.p === 0) return a;
  return { k: "add", a, b };
}
export function imul(a: IExpr, b: IExpr): IExpr {
  if (a.k === "poly" && b.k === "poly") return ipoly(dimMul(a.p, b.p));
  if ((a.k === "poly" && a.p === 0) || (b.k === "poly" && b.p === 0)) return ipoly(0);
  if (a.k === "poly" && a.p === 1) return b;
  if (b.k === "poly" && b.p === 1) return a;
  return { k: "mul", a, b };
}
export function idiv(a: IExpr, b: IExpr): IExpr {
  if (b.k === "poly" && b.p === 1) return a;
  if (a.k === "poly" && b.k === "poly" && typeof a.p === "number" && typeof b.p === "number") return ipoly(Math.floor(a.p / b.p));
  return { k: "div", a, b };
}
export function imod(a: IExpr, b: IExpr): IExpr {
  if (b.k === "poly" && b.p === 1) return ipoly(0);
  if (a.k === "poly" && b.k === "poly" && typeof a.p === "number" && typeof b.p === "number") return ipoly(a.p % b.p);
  return { k: "mod", a, b };
}

/** Names (loop variables and symbols) an index expression reads. */
export function namesIn(e: IExpr, out = new Set<string>()): Set<string> {
  switch (e.k) {
    case "poly":
      if (isSym(e.p)) for (const s of e.p.symbols()) out.add(s);
      return out;
    case "div":
    case "mod":
    case "add":
    case "mul":
      namesIn(e.a, out);
      return namesIn(e.b, out);
    case "fromValue":
      namesInValue(e.v, out);
      return namesIn(e.size, out);
    default:
      return e satisfies never;
  }
}

export function namesInValue(v: VExpr, out = new Set<string>()): Set<string> {
  switch (v.k) {
    case "load":
      return namesIn(v.index, out);
    case "const":
      return out;
    case "unary":
      return namesInValue(v.a, out);
    case "binary":
      namesInValue(v.a, out);
      return namesInValue(v.b, out);
    case "select":
      namesInValue(v.c, out);
      namesInValue(v.a, out);
      return namesInValue(v.b, out);
    case "icmp":
      namesIn(v.a, out);
      return namesIn(v.b, out);
    case "index":
      return namesIn(v.i, out);
    case "local":
      out.add(v.name);
      return out;
    default:
      return v satisfies never;
  }
}

/** The arguments of a paged-attention call, in the order of the runtime's entry points (and the JS runtime's). */
export type AttentionArgs = readonly [
  tokens: string, heads: string, kvHeads: string, headDim: string, blockSize: string, maxBlocks: string, q: string,
  kcache: string, vcache: string, blockTable: string, seqIds: string, positions: string, scale: string, out: string,
];

/**
 * The attention template's arguments, as both emitters pass them: S, NH, NKV, D, BS, maxBlocks,
 * q, kcache, vcache, blockTable, seqIds, positions, scale, out.
 */
export function attentionArgs(s: Extract<Stmt, { k: "attention" }>, buf: (b: number) => string, index: (e: IExpr) => string): AttentionArgs {
  return [
    index(s.tokens), String(s.heads), String(s.kvHeads), String(s.headDim), String(s.blockSize), index(s.maxBlocks),
    buf(s.q), buf(s.kcache), buf(s.vcache), buf(s.blockTable), buf(s.seqIds), buf(s.positions), String(s.scale), buf(s.out),
  ];
}
