// The JS emitter: loop IR → a specialised JavaScript function per distinct kernel (static
// shapes and strides folded into constants, symbols as arguments, bf16/f16 decoded on load and
// encoded with round-to-nearest-even on store, i64 through BigInt64Array) and a `run` wrapper
// calling them in order. Runtime helpers (bf16/f16 codecs, erf, …) come in as `rt`, so their
// one definition stays in src/tensor and src/ops.
import { type DType, Tensor, isSym } from "../tensor/index.js";
import type { BinaryOp, UnaryOp } from "../ops/index.js";
import { InternalError } from "../util/index.js";
import { type IExpr, type Kernel, type MatmulOperand, type Stmt, type VExpr, attentionArgs } from "./loop-ir.js";
import { distinctKernels } from "./distinct-kernels.js";

/** Names of the runtime helpers a JS program may call (the backend supplies them). */
export const JS_RUNTIME_HELPERS = ["bf2f", "f2bf", "h2f", "f2h", "bfr", "hr", "erf", "gelu", "geluTanh", "fmax", "fmin", "sigmoid", "silu", "ix", "pagedAttention"] as const;

function num(v: number): string {
  if (Number.isNaN(v)) return "NaN";
  if (v === Infinity) return "Infinity";
  if (v === -Infinity) return "-Infinity";
  return Object.is(v, -0) ? "-0" : String(v);
}

/** A constant as the dtype would store it (f32 rounding, bf16 RNE, int truncation). */
function rounded(v: number, dtype: DType): number {
  return Tensor.fromValues(dtype, [1], [v]).values()[0]!;
}

export function emitIndex(e: IExpr): string {
  switch (e.k) {
    case "poly": {
      if (!isSym(e.p)) return num(e.p);
      const terms = [...e.p.terms].map(([mono, c]) => (mono === "" ? num(c) : c === 1 ? mono : `${num(c)}*${mono}`));
      return `(${terms.join(" + ")})`;
    }
    case "add":
      return `(${emitIndex(e.a)} + ${emitIndex(e.b)})`;
    case "mul":
      return `(${emitIndex(e.a)} * ${emitIndex(e.b)})`;
    case "div":
      return `Math.floor(${emitIndex(e.a)} / ${emitIndex(e.b)})`;
    case "mod":
      return `(${emitIndex(e.a)} % ${emitIndex(e.b)})`;
    case "fromValue":
      return `ix(${emitValue(e.v)}, ${emitIndex(e.size)})`;
    default:
      return e satisfies never;
  }
}

function load(buf: number, index: string, dtype: DType): string {
  const raw = `b${buf}[${index}]`;
  switch (dtype) {
    case "bf16":
      return `bf2f(${raw})`;
    case "f16":
      return `h2f(${raw})`;
    case "i64":
      return `Number(${raw})`;
    case "f32": case "i32": case "bool":
      return raw;
    default:
      return dtype satisfies never;
  }
}

function encode(value: string, dtype: DType): string {
  switch (dtype) {
    case "bf16":
      return `f2bf(${value})`;
    case "f16":
      return `f2h(${value})`;
    case "i64":
      return `BigInt(Math.trunc(${value}))`;
    case "bool":
      return `(${value} ? 1 : 0)`;
    case "f32": case "i32":
      return value;
    default:
      return dtype satisfies never;
  }
}

const UNARY_JS: Readonly<Record<Exclude<UnaryOp, "cast" | "gelu">, (a: string) => string>> = {
  neg: (a) => `(-${a})`,
  abs: (a) => `Math.abs(${a})`,
  exp: (a) => `Math.exp(${a})`,
  log: (a) => `Math.log(${a})`,
  sqrt: (a) => `Math.sqrt(${a})`,
  rsqrt: (a) => `(1 / Math.sqrt(${a}))`,
  sin: (a) => `Math.sin(${a})`,
  cos: (a) => `Math.cos(${a})`,
  tanh: (a) => `Math.tanh(${a})`,
  sigmoid: (a) => `sigmoid(${a})`,
  silu: (a) => `silu(${a})`,
  relu: (a) => `fmax(${a}, 0)`,
  reciprocal: (a) => `(1 / ${a})`,
  logical_not: (a) => `(${a} ? 0 : 1)`,
};

function cast(a: string, to: DType): string {
  switch (to) {
    case "f32":
      return `Math.fround(${a})`;
    case "bf16":
      return `bfr(${a})`;
    case "f16":
      return `hr(${a})`;
    case "i32":
      return `(${a} | 0)`;
    case "i64":
      return `Math.trunc(${a})`;
    case "bool":
      return `(${a} ? 1 : 0)`;
    default:
      return to satisfies never;
  }
}

const BINARY_JS: Readonly<Record<BinaryOp, (a: string, b: string) => string>> = {
  add: (a, b) => `(${a} + ${b})`,
  sub: (a, b) => `(${a} - ${b})`,
  mul: (a, b) => `(${a} * ${b})`,
  div: (a, b) => `(${a} / ${b})`,
  pow: (a, b) => `Math.pow(${a}, ${b})`,
  maximum: (a, b) => `fmax(${a}, ${b})`,
  minimum: (a, b) => `fmin(${a}, ${b})`,
  eq: (a, b) => `(${a} === ${b} ? 1 : 0)`,
  ne: (a, b) => `(${a} !== ${b} ? 1 : 0)`,
  lt: (a, b) => `(${a} < ${b} ? 1 : 0)`,
  le: (a, b) => `(${a} <= ${b} ? 1 : 0)`,
  gt: (a, b) => `(${a} > ${b} ? 1 : 0)`,
  ge: (a, b) => `(${a} >= ${b} ? 1 : 0)`,
  logical_and: (a, b) => `((${a}) !== 0 && (${b}) !== 0 ? 1 : 0)`,
  logical_or: (a, b) => `((${a}) !== 0 || (${b}) !== 0 ? 1 : 0)`,
};

/** Rounds an op's result to its dtype, as the reference kernels do when they store each op's output (i32 wraps). */
function roundTo(expr: string, dtype: DType): string {
  switch (dtype) {
    case "f32":
      return `Math.fround(${expr})`;
    case "bf16":
      return `bfr(${expr})`;
    case "f16":
      return `hr(${expr})`;
    case "i32":
      return `(${expr} | 0)`;
    case "i64": case "bool":
      return expr;
    default:
      return dtype satisfies never;
  }
}

export function emitValue(v: VExpr): string {
  switch (v.k) {
    case "load":
      return load(v.buf, emitIndex(v.index), v.dtype);
    case "const":
      return num(rounded(v.v, v.dtype));
    case "unary": {
      const a = emitValue(v.a);
      if (v.op === "cast") return cast(a, v.dtype);
      if (v.op === "gelu") return roundTo(v.approximate === "tanh" ? `geluTanh(${a})` : `gelu(${a})`, v.dtype);
      return roundTo(UNARY_JS[v.op](a), v.dtype);
    }
    case "binary":
      // Math.imul: an i32 product wraps exactly where a float64 product would lose low bits.
      if (v.op === "mul" && v.dtype === "i32") return `Math.imul(${emitValue(v.a)}, ${emitValue(v.b)})`;
      return roundTo(BINARY_JS[v.op](emitValue(v.a), emitValue(v.b)), v.dtype);
    case "select":
      return `(${emitValue(v.c)} ? ${emitValue(v.a)} : ${emitValue(v.b)})`;
    case "icmp": {
      const op = v.op === "lt" ? "<" : v.op === "ge" ? ">=" : "<=";
      return `(${emitIndex(v.a)} ${op} ${emitIndex(v.b)} ? 1 : 0)`;
    }
    case "index":
      return emitIndex(v.i);
    case "local":
      return roundTo(v.name, v.dtype);
    default:
      return v satisfies never;
  }
}

/** `base + v*stride`, leaving out a multiplication by a static 1. */
function offsetBy(base: string, v: string, stride: IExpr): string {
  const st = emitIndex(stride);
  return st === "0" ? base : st === "1" ? `${base} + ${v}` : `${base} + ${v}*${st}`;
}

function emitStmt(s: Stmt, pad: string): string[] {
  switch (s.k) {
    case "for":
      return [`${pad}for (let ${s.v} = 0; ${s.v} < ${emitIndex(s.extent)}; ${s.v}++) {`, ...s.body.flatMap((b) => emitStmt(b, pad + "  ")), `${pad}}`];
    case "reduce": {
      const t = `${s.acc}_t`;
      const inner = pad + "  ";
      const combine = {
        sum: [`${inner}${s.acc} += ${t};`],
        max: [`${inner}if (${t} > ${s.acc} || ${t} !== ${t}) ${s.acc} = ${t};`],
        min: [`${inner}if (${t} < ${s.acc} || ${t} !== ${t}) ${s.acc} = ${t};`],
        argmax: [`${inner}if (!(${t} <= ${s.acc}) && ${s.acc} === ${s.acc}) { ${s.acc} = ${t}; ${s.acc}_i = ${s.v}; }`],
      }[s.op];
      const init = { sum: "0", max: "-Infinity", min: "Infinity", argmax: "-Infinity" }[s.op];
      return [
        `${pad}let ${s.acc} = ${init}${s.op === "argmax" ? `, ${s.acc}_i = 0` : ""};`,
        `${pad}for (let ${s.v} = 0; ${s.v} < ${emitIndex(s.extent)}; ${s.v}++) {`,
        ...s.body.flatMap((b) => emitStmt(b, inner)),
        `${inner}const ${t} = ${emitValue(s.value)};`,
        ...combine,
        `${pad}}`,
      ];
    }
    case "store":
      return [`${pad}b${s.buf}[${emitIndex(s.index)}] = ${encode(emitValue(s.value), s.dtype)};`];
    case "let":
      return [`${pad}const ${s.name} = ${emitValue(s.value)};`];
    case "matmul":
      return emitMatmul(s, pad);
    case "attention":
      return [`${pad}pagedAttention(${attentionArgs(s, (b) => `b${b}`, emitIndex).join(", ")});`];
    default:
      return s satisfies never;
  }
}

/**
 * Batched matmul C = A·B over strided operand views. The loop order comes from the strides known
 * at compile time: when B is K-contiguous (a transposed weight, `x @ w.T`), dot products of
 * contiguous rows with four accumulators; otherwise i-k-j, streaming rows of B into a row of C.
 * Accumulation is in float64, like the reference kernel.
 */
function emitMatmul(s: Extract<Stmt, { k: "matmul" }>, pad: string): string[] {
  const lines: string[] = [];
  const bv = s.batch.map((_, i) => `t${i}`);
  let p = pad;
  bv.forEach((v, i) => {
    lines.push(`${p}for (let ${v} = 0; ${v} < ${emitIndex(s.batch[i]!)}; ${v}++) {`);
    p += "  ";
  });
  const off = (o: MatmulOperand) => [emitIndex(o.offset), ...bv.map((v, i) => `${v}*${emitIndex(o.batchStrides[i]!)}`)].join(" + ");
  const [M, N, K] = [emitIndex(s.m), emitIndex(s.n), emitIndex(s.kdim)];
  const outBase = bv.reduce((acc, v, i) => `(${acc})*${emitIndex(s.batch[i]!)} + ${v}`, "0");
  const A = (base: string, k: string) => load(s.a.buf, offsetBy(base, k, s.a.colStride), s.a.dtype);
  const B = (base: string, v: string, stride: IExpr) => load(s.b.buf, offsetBy(base, v, stride), s.b.dtype);
  const out = (j: string, value: string) => `b${s.out}[oi + ${j}] = ${encode(value, s.outDType)};`;
  lines.push(`${p}const ao = ${off(s.a)}, bo = ${off(s.b)}, oo = (${outBase})*${M}*${N};`);
  const kContiguousB = emitIndex(s.b.rowStride) === "1";
  if (kContiguousB) {
    // 2×2 register tile: four dot products share each load of A and B.
    const tile = (rows: number[], cols: number[]) =>
      [
        ...rows.map((r) => `const x${r} = ${A(`ar${r}`, "k")};`),
        ...cols.map((c) => `const y${c} = ${B(`br${c}`, "k", s.b.rowStride)};`),
        ...rows.flatMap((r) => cols.map((c) => `c${r}${c} += x${r} * y${c};`)),
      ].join(" ");
    const block = (i1: boolean, j1: boolean, ind: string) => {
      const rows = i1 ? [0, 1] : [0];
      const cols = j1 ? [0, 1] : [0];
      const accs = rows.flatMap((r) => cols.map((c) => `c${r}${c}`));
      return [
        ...cols.map((c) => `${ind}const br${c} = ${offsetBy("bo", c ? "(j + 1)" : "j", s.b.colStride)};`),
        `${ind}let ${accs.map((x) => `${x} = 0`).join(", ")};`,
        `${ind}for (let k = 0; k < ${K}; k++) { ${tile(rows, cols)} }`,
        ...rows.flatMap((r) => cols.map((c) => `${ind}b${s.out}[oi${r} + j${c ? " + 1" : ""}] = ${encode(`c${r}${c}`, s.outDType)};`)),
      ];
    };
    const rowPair = (i1: boolean, ind: string) => [
      `${ind}const ar0 = ${offsetBy("ao", "i", s.a.rowStride)}, oi0 = oo + i*${N};`,
      ...(i1 ? [`${ind}const ar1 = ${offsetBy("ao", "(i + 1)", s.a.rowStride)}, oi1 = oi0 + ${N};`] : []),
      `${ind}let j = 0;`,
      `${ind}for (; j + 1 < ${N}; j += 2) {`,
      ...block(i1, true, ind + "  "),
      `${ind}}`,
      `${ind}if (j < ${N}) {`,
      ...block(i1, false, ind + "  "),
      `${ind}}`,
    ];
    lines.push(
      `${p}let i = 0;`,
      `${p}for (; i + 1 < ${M}; i += 2) {`,
      ...rowPair(true, p + "  "),
      `${p}}`,
      `${p}if (i < ${M}) {`,
      ...rowPair(false, p + "  "),
      `${p}}`,
    );
  } else {
    lines.push(
      `${p}const row = new Float64Array(${N});`,
      `${p}for (let i = 0; i < ${M}; i++) {`,
      `${p}  const ar = ${offsetBy("ao", "i", s.a.rowStride)}, oi = oo + i*${N};`,
      `${p}  row.fill(0);`,
      `${p}  for (let k = 0; k < ${K}; k++) {`,
      `${p}    const a = ${A("ar", "k")}, br = ${offsetBy("bo", "k", s.b.rowStride)};`,
      `${p}    for (let j = 0; j < ${N}; j++) row[j] += a * ${B("br", "j", s.b.colStride)};`,
      `${p}  }`,
      `${p}  for (let j = 0; j < ${N}; j++) ${out("j", "row[j]")}`,
      `${p}}`,
    );
  }
  for (let i = bv.length - 1; i >= 0; i--) {
    p = p.slice(2);
    lines.push(`${p}}`);
  }
  return lines;
}

/** One kernel as a JS function taking its buffers and symbols as arguments. */
export function emitKernelJs(k: Kernel): string {
  const params = [...k.buffers.map((b) => `b${b.buf}`), ...k.symbols];
  return [`function ${k.name}(${params.join(", ")}) {`, ...k.body.flatMap((s) => emitStmt(s, "  ")), "}"].join("\n");
}

/**
 * The emitted JavaScript of a program: one function per distinct kernel and the wrapper, and
 * both joined into the `source` a backend compiles. (A Program read back for running only,
 * as from a bundle, may carry just `source`.)
 */
export interface JsSources {
  /** Function declarations `function <name>(b…, s…) {…}`; kernels of identical structure share one. */
  readonly kernels?: readonly { readonly name: string; readonly source: string }[];
  /** `function run(B, S) {…}`: calls the kernels in order on the buffers `B` (by buffer id) and symbol values `S`. */
  readonly wrapper?: string;
  /**
   * Everything as the body of one function of the runtime helpers `rt` returning `run`: what a
   * backend compiles (`new Function("rt", source)`), and what a bundle stores.
   */
  readonly source: string;
}

/** The whole program; kernel sources call the runtime helpers (JS_RUNTIME_HELPERS) by name. */
export function emitProgramJs(kernels: readonly Kernel[]): Required<JsSources> {
  for (const k of kernels) if (!/^[A-Za-z_]\w*$/.test(k.name)) throw new InternalError(`bad kernel name ${k.name}`);
  const { functions, calls } = distinctKernels(kernels, emitKernelJs);
  const lines = calls.map((c) => {
    const f = functions[c.fn]!;
    return `  ${f.name}(${[...c.buffers.map((b) => `B[${b}]`), ...f.symbols.map((s) => `S.${s}`)].join(", ")});`;
  });
  const sources = functions.map((f) => ({ name: f.name, source: emitKernelJs(f) }));
  const wrapper = ["function run(B, S) {", ...lines, "}"].join("\n");
  const source = [`"use strict";`, `const { ${JS_RUNTIME_HELPERS.join(", ")} } = rt;`, ...sources.map((k) => k.source), `return ${wrapper};`].join("\n");
  return { kernels: sources, wrapper, source };
}
