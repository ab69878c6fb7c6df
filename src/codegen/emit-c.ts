// The C emitter: loop IR → one C translation unit with a static function per kernel and
// `kiln_run(void **bufs, const int64_t *syms)` running them all (one native call per forward).
// Float math is done in float (each op rounds to f32 as the reference does), sums accumulate
// in double; bf16/f16 are converted with the runtime header's round-to-nearest-even helpers.
import { type DType, isSym } from "../tensor/index.js";
import type { BinaryOp, UnaryOp } from "../ops/index.js";
import { type IExpr, type Kernel, type MatmulOperand, type Stmt, type VExpr, attentionArgs, ipoly } from "./loop-ir.js";
import { parallelLoops } from "./parallel.js";
import { distinctKernels } from "./distinct-kernels.js";
import { C_ENTRY_POINTS, cCall } from "./c-entry-points.js";
import { UnsupportedOpError } from "../util/index.js";

const C_STORAGE: Readonly<Record<DType, string>> = { f32: "float", bf16: "uint16_t", f16: "uint16_t", i32: "int32_t", i64: "int64_t", bool: "uint8_t" };
const C_VALUE: Readonly<Record<DType, string>> = { f32: "float", bf16: "float", f16: "float", i32: "int32_t", i64: "int64_t", bool: "int" };
const isFloat = (d: DType) => d === "f32" || d === "bf16" || d === "f16";

/** Generated code includes the runtime's header: its scalar helpers (bf16/f16 rounding, NaN-aware max/min, SiLU, GELU,
    index wrapping) and the template entry points (C_ENTRY_POINTS), whose objects the backend links in. */
export const C_PRELUDE = '#include "kiln_runtime.h"\n';

function num(v: number, dtype: DType): string {
  if (Number.isNaN(v)) return "NAN";
  if (v === Infinity) return "INFINITY";
  if (v === -Infinity) return "(-INFINITY)";
  if (!isFloat(dtype)) return `((${C_VALUE[dtype]})${Math.trunc(v)})`;
  return `${Number.isInteger(v) ? v.toFixed(1) : v.toPrecision(9)}f`;
}

export function emitIndexC(e: IExpr): string {
  switch (e.k) {
    case "poly": {
      if (!isSym(e.p)) return `(int64_t)${e.p}`;
      const terms = [...e.p.terms].map(([mono, c]) => (mono === "" ? `(int64_t)${c}` : c === 1 ? mono : `(int64_t)${c}*${mono}`));
      return `(${terms.join(" + ")})`;
    }
    case "add":
      return `(${emitIndexC(e.a)} + ${emitIndexC(e.b)})`;
    case "mul":
      return `(${emitIndexC(e.a)} * ${emitIndexC(e.b)})`;
    case "div":
      return `(${emitIndexC(e.a)} / ${emitIndexC(e.b)})`;
    case "mod":
      return `(${emitIndexC(e.a)} % ${emitIndexC(e.b)})`;
    case "fromValue":
      return `kiln_wrap_index((int64_t)(${emitValueC(e.v)}), ${emitIndexC(e.size)})`;
    default:
      return e satisfies never;
  }
}

function loadC(buf: number, index: string, dtype: DType): string {
  const raw = `b${buf}[${index}]`;
  return dtype === "bf16" ? `kiln_bf16_to_f32(${raw})` : dtype === "f16" ? `kiln_f16_to_f32(${raw})` : raw;
}

function storeC(value: string, dtype: DType): string {
  switch (dtype) {
    case "bf16":
      return `kiln_f32_to_bf16(${value})`;
    case "f16":
      return `kiln_f32_to_f16(${value})`;
    case "bool":
      return `(uint8_t)((${value}) ? 1 : 0)`;
    case "f32":
      return `(float)(${value})`;
    case "i32":
      return `(int32_t)(${value})`;
    case "i64":
      return `(int64_t)(${value})`;
    default:
      return dtype satisfies never;
  }
}

function round(expr: string, dtype: DType): string {
  return dtype === "bf16" ? `kiln_round_bf16(${expr})` : dtype === "f16" ? `kiln_round_f16(${expr})` : expr;
}

const UNARY_C: Readonly<Record<Exclude<UnaryOp, "cast" | "gelu">, (a: string, d: DType) => string>> = {
  neg: (a) => `(-(${a}))`,
  abs: (a, d) => (isFloat(d) ? `fabsf(${a})` : `((${a}) < 0 ? -(${a}) : (${a}))`),
  exp: (a) => `expf(${a})`,
  log: (a) => `logf(${a})`,
  sqrt: (a) => `sqrtf(${a})`,
  rsqrt: (a) => `(1.0f / sqrtf(${a}))`,
  sin: (a) => `sinf(${a})`,
  cos: (a) => `cosf(${a})`,
  tanh: (a) => `tanhf(${a})`,
  sigmoid: (a) => `kiln_sigmoid(${a})`,
  silu: (a) => `kiln_silu(${a})`,
  relu: (a, d) => (isFloat(d) ? `kiln_fmax(${a}, 0.0f)` : `((${a}) > 0 ? (${a}) : 0)`),
  reciprocal: (a) => `(1.0f / (${a}))`,
  logical_not: (a) => `(!(${a}))`,
};

const ARITH: ReadonlySet<BinaryOp> = new Set(["add", "sub", "mul", "div", "pow", "maximum", "minimum"]);

function binaryC(op: BinaryOp, a: string, b: string, d: DType): string {
  if (ARITH.has(op)) {
    const t = C_VALUE[d];
    [a, b] = [`((${t})(${a}))`, `((${t})(${b}))`];
  }
  switch (op) {
    case "add": return `(${a} + ${b})`;
    case "sub": return `(${a} - ${b})`;
    case "mul": return `(${a} * ${b})`;
    case "div": return `(${a} / ${b})`;
    case "pow": return `powf(${a}, ${b})`;
    case "maximum": return isFloat(d) ? `kiln_fmax(${a}, ${b})` : `(${a} > ${b} ? ${a} : ${b})`;
    case "minimum": return isFloat(d) ? `kiln_fmin(${a}, ${b})` : `(${a} < ${b} ? ${a} : ${b})`;
    case "eq": return `(${a} == ${b})`;
    case "ne": return `(${a} != ${b})`;
    case "lt": return `(${a} < ${b})`;
    case "le": return `(${a} <= ${b})`;
    case "gt": return `(${a} > ${b})`;
    case "ge": return `(${a} >= ${b})`;
    case "logical_and": return `((${a}) != 0 && (${b}) != 0)`;
    case "logical_or": return `((${a}) != 0 || (${b}) != 0)`;
    default: return op satisfies never;
  }
}

export function emitValueC(v: VExpr): string {
  switch (v.k) {
    case "load":
      return loadC(v.buf, emitIndexC(v.index), v.dtype);
    case "const":
      return round(num(v.v, v.dtype), v.dtype);
    case "unary": {
      const a = emitValueC(v.a);
      if (v.op === "cast") {
        if (isFloat(v.dtype)) return round(`((float)(${a}))`, v.dtype);
        return v.dtype === "bool" ? `((${a}) ? 1 : 0)` : `((${C_VALUE[v.dtype]})(${a}))`;
      }
      if (v.op === "gelu") return round(v.approximate === "tanh" ? `kiln_gelu_tanh(${a})` : `kiln_gelu(${a})`, v.dtype);
      return round(UNARY_C[v.op](a, v.dtype), v.dtype);
    }
    case "binary":
      return round(binaryC(v.op, emitValueC(v.a), emitValueC(v.b), v.dtype), v.dtype);
    case "select":
      return `((${emitValueC(v.c)}) ? (${C_VALUE[v.dtype]})(${emitValueC(v.a)}) : (${C_VALUE[v.dtype]})(${emitValueC(v.b)}))`;
    case "icmp": {
      const op = v.op === "lt" ? "<" : v.op === "ge" ? ">=" : "<=";
      return `(${emitIndexC(v.a)} ${op} ${emitIndexC(v.b)})`;
    }
    case "index":
      return isFloat(v.dtype) ? `((float)${emitIndexC(v.i)})` : emitIndexC(v.i);
    case "local":
      return isFloat(v.dtype) ? round(`((float)${v.name})`, v.dtype) : v.name;
    default:
      return v satisfies never;
  }
}

function stmtC(s: Stmt, pad: string): string[] {
  switch (s.k) {
    case "for":
      return [`${pad}for (int64_t ${s.v} = 0; ${s.v} < ${emitIndexC(s.extent)}; ${s.v}++) {`, ...s.body.flatMap((b) => stmtC(b, pad + "  ")), `${pad}}`];
    case "reduce": {
      const inner = pad + "  ";
      const t = `${s.acc}_t`;
      const accType = !isFloat(s.dtype) ? "int64_t" : s.op === "sum" ? "double" : "float";
      const init = { sum: "0", max: isFloat(s.dtype) ? "(-INFINITY)" : "INT64_MIN", min: isFloat(s.dtype) ? "INFINITY" : "INT64_MAX", argmax: isFloat(s.dtype) ? "(-INFINITY)" : "INT64_MIN" }[s.op];
      const combine = {
        sum: `${s.acc} += ${t};`,
        max: `if (${t} > ${s.acc} || ${t} != ${t}) ${s.acc} = ${t};`,
        min: `if (${t} < ${s.acc} || ${t} != ${t}) ${s.acc} = ${t};`,
        argmax: `if (!(${t} <= ${s.acc}) && ${s.acc} == ${s.acc}) { ${s.acc} = ${t}; ${s.acc}_i = ${s.v}; }`,
      }[s.op];
      return [
        `${pad}${accType} ${s.acc} = ${init};${s.op === "argmax" ? ` int64_t ${s.acc}_i = 0;` : ""}`,
        `${pad}for (int64_t ${s.v} = 0; ${s.v} < ${emitIndexC(s.extent)}; ${s.v}++) {`,
        ...s.body.flatMap((b) => stmtC(b, inner)),
        `${inner}${C_VALUE[s.dtype]} ${t} = ${emitValueC(s.value)};`,
        `${inner}${combine}`,
        `${pad}}`,
      ];
    }
    case "store":
      return [`${pad}b${s.buf}[${emitIndexC(s.index)}] = ${storeC(emitValueC(s.value), s.dtype)};`];
    case "let":
      return [`${pad}const ${C_VALUE[s.dtype]} ${s.name} = ${emitValueC(s.value)};`];
    case "matmul":
      return matmulC(s, pad);
    case "attention":
      if (s.cacheDType !== "f32" && s.cacheDType !== "bf16") throw new UnsupportedOpError("paged_attention", `a ${s.cacheDType} cache in C`);
      return [`${pad}${cCall(PAGED_ATTENTION[s.cacheDType], attentionArgs(s, (b) => `b${b}`, emitIndexC))};`];
    default:
      return s satisfies never;
  }
}

function operandC(o: MatmulOperand, base: string, row: string, col: string): string {
  return loadC(o.buf, `${base} + ${row}*${emitIndexC(o.rowStride)} + ${col}*${emitIndexC(o.colStride)}`, o.dtype);
}

const isUnit = (e: IExpr) => e.k === "poly" && e.p === 1;

type MatmulEntry = (typeof C_ENTRY_POINTS)["linearF32" | "linearBf16" | "gemmNnF32" | "gemmNnBf16"];

/** The runtime's templates by B's dtype: a Linear weight [N,K] (GEMV for few rows, blocked GEMM otherwise), or [K,N]. */
const LINEAR = { f32: C_ENTRY_POINTS.linearF32, bf16: C_ENTRY_POINTS.linearBf16 } as const;
const GEMM_NN = { f32: C_ENTRY_POINTS.gemmNnF32, bf16: C_ENTRY_POINTS.gemmNnBf16 } as const;
const PAGED_ATTENTION = { f32: C_ENTRY_POINTS.pagedAttentionF32, bf16: C_ENTRY_POINTS.pagedAttentionBf16 } as const;

/**
 * The runtime's tuned GEMM/GEMV template for this matmul, with its B leading dimension, when the
 * layout fits: A f32 with unit column stride, B f32 or bf16 as [N,K] or [K,N], f32 output.
 * Other layouts use the generic loop.
 */
function matmulTemplate(s: Extract<Stmt, { k: "matmul" }>): [MatmulEntry, string] | undefined {
  if (s.a.dtype !== "f32" || s.outDType !== "f32" || !isUnit(s.a.colStride)) return undefined;
  if (s.b.dtype !== "f32" && s.b.dtype !== "bf16") return undefined;
  if (isUnit(s.b.rowStride)) return [LINEAR[s.b.dtype], emitIndexC(s.b.colStride)];
  if (isUnit(s.b.colStride)) return [GEMM_NN[s.b.dtype], emitIndexC(s.b.rowStride)];
  return undefined;
}

function matmulC(s: Extract<Stmt, { k: "matmul" }>, pad: string): string[] {
  const [M, N, K] = [emitIndexC(s.m), emitIndexC(s.n), emitIndexC(s.kdim)];
  const batch = s.batch.map(emitIndexC);
  const nb = batch.length ? batch.join(" * ") : "1";
  // Unravel the flat batch index t into per-dim offsets of A and B.
  const unravel = (o: MatmulOperand) => {
    if (!batch.length) return emitIndexC(o.offset);
    let rest = "t";
    const terms = [emitIndexC(o.offset)];
    for (let i = batch.length - 1; i >= 0; i--) {
      terms.push(`((${rest}) % ${batch[i]}) * ${emitIndexC(o.batchStrides[i]!)}`);
      rest = `(${rest}) / ${batch[i]}`;
    }
    return terms.join(" + ");
  };
  const template = matmulTemplate(s);
  if (template) {
    const [fn, ldb] = template;
    return [
      `${pad}{`,
      `${pad}  const int64_t M = ${M}, N = ${N}, K = ${K}, NB = ${nb};`,
      `${pad}  for (int64_t t = 0; t < NB; t++) {`,
      `${pad}    const int64_t ao = ${unravel(s.a)}, bo = ${unravel(s.b)};`,
      `${pad}    ${cCall(fn, ["M", "N", "K", `b${s.a.buf} + ao`, emitIndexC(s.a.rowStride), `b${s.b.buf} + bo`, ldb, `b${s.out} + t * M * N`, "N", "0"])};`,
      `${pad}  }`,
      `${pad}}`,
    ];
  }
  return [
    `${pad}{`,
    `${pad}  const int64_t M = ${M}, N = ${N}, K = ${K}, NB = ${nb};`,
    `${pad}  #pragma omp parallel for collapse(2) schedule(static)`,
    `${pad}  for (int64_t t = 0; t < NB; t++)`,
    `${pad}  for (int64_t i = 0; i < M; i++) {`,
    `${pad}    const int64_t ao = ${unravel(s.a)}, bo = ${unravel(s.b)};`,
    `${pad}    for (int64_t j = 0; j < N; j++) {`,
    `${pad}      float acc = 0.0f;`,
    `${pad}      #pragma omp simd reduction(+:acc)`,
    `${pad}      for (int64_t k = 0; k < K; k++) acc += ${operandC(s.a, "ao", "i", "k")} * ${operandC(s.b, "bo", "k", "j")};`,
    `${pad}      b${s.out}[(t * M + i) * N + j] = ${storeC("acc", s.outDType)};`,
    `${pad}    }`,
    `${pad}  }`,
    `${pad}}`,
  ];
}

/** The C declarations of a top-level statement's locals (what a parallel loop's rows function gets from the kernel). */
function localsOf(s: Stmt): string[] {
  if (s.k === "let") return [`${C_VALUE[s.dtype]} ${s.name}`];
  if (s.k !== "reduce") return [];
  const acc = `${!isFloat(s.dtype) ? "int64_t" : s.op === "sum" ? "double" : "float"} ${s.acc}`;
  return s.op === "argmax" ? [acc, `int64_t ${s.acc}_i`] : [acc];
}

/**
 * A kernel as C. Each top-level loop that parallelLoops() allows is split across Kiln's pool: its body becomes a rows
 * function over [lo, hi) taking the kernel's buffers, symbols and the locals computed before the loop through a context
 * struct, and kiln_parallel_for runs it with a grain from the work of one row (kiln_grain), so a kernel too small to be
 * worth a dispatch (a decode step's) runs inline on the caller.
 */
export function emitKernelC(k: Kernel): string {
  const params = [...k.buffers.map((b) => `${b.role === "in" ? "const " : ""}${C_STORAGE[b.dtype]} *restrict b${b.buf}`), ...k.symbols.map((s) => `int64_t ${s}`)];
  const parallel = new Map(parallelLoops(k).map((p) => [p.at, p]));
  const helpers: string[] = [];
  const body = k.body.flatMap((s, at) => {
    const p = parallel.get(at);
    if (!p || s.k !== "for") return stmtC(s, "  ");
    const [ctx, rows] = [`${k.name}_ctx${at}`, `${k.name}_rows${at}`];
    const fields = [...params, ...k.body.slice(0, at).flatMap(localsOf)];
    const names = fields.map((f) => f.slice(f.search(/\w+$/)));
    const field = (f: string) => f.replace("*restrict ", "*");
    helpers.push(
      `typedef struct { ${fields.map((f) => `${field(f)};`).join(" ")} } ${ctx};`,
      `static void ${rows}(void *ctx, int64_t lo, int64_t hi) {`,
      `  const ${ctx} *c = (const ${ctx} *)ctx;`,
      ...fields.map((f, i) => `  ${f.startsWith("const ") || f.includes("*") ? "" : "const "}${f} = c->${names[i]}; (void)${names[i]};`),
      `  for (int64_t ${s.v} = lo; ${s.v} < hi; ${s.v}++) {`,
      ...s.body.flatMap((b) => stmtC(b, "    ")),
      "  }",
      "}",
    );
    return [`  { ${ctx} c = { ${names.join(", ")} }; kiln_parallel_for(${emitIndexC(s.extent)}, kiln_grain(${emitIndexC(ipoly(p.work))}), ${rows}, &c); }`];
  });
  return [...helpers, `KILN_KERNEL void ${k.name}(${params.join(", ")}) {`, ...body, "}"].join("\n");
}

/**
 * The whole program as C: prelude, kernels and `kiln_run`. `symbols` fixes the order of `syms`; `labels` (by kernel, in
 * run order) say what each computes in the profile. With profiling on (kiln_set_profile, KILN_PROFILE=1) kiln_run laps
 * the clock after each kernel into its distinct function's entry; off, that is one predictable branch per kernel.
 */
export function emitProgramC(kernels: readonly Kernel[], symbols: readonly string[], bufferDTypes: readonly DType[], labels: readonly string[] = []): string {
  const { functions, calls } = distinctKernels(kernels, emitKernelC);
  const what: string[] = functions.map(() => "");
  calls.forEach((c, i) => (what[c.fn] ||= labels[i] ?? ""));
  const lines = calls.flatMap((c) => {
    const f = functions[c.fn]!;
    const args = [...c.buffers.map((b) => `(${C_STORAGE[bufferDTypes[b]!]}*)bufs[${b}]`), ...f.symbols.map((s) => `syms[${symbols.indexOf(s)}]`)];
    return [`  ${f.name}(${args.join(", ")});`, `  if (prof) t = kiln_profile_lap(&kiln_profile[${c.fn}], t);`];
  });
  const table = functions.map((f, i) => `  {${JSON.stringify(f.name)}, ${JSON.stringify(what[i])}, 0, 0},`);
  return [
    C_PRELUDE,
    ...functions.map(emitKernelC),
    `static kiln_profile_entry kiln_profile[${Math.max(1, functions.length)}] = {`, ...table, "};",
    "void kiln_run(void **bufs, const int64_t *syms) {",
    "  (void)syms;",
    "  const int prof = kiln_profile_enabled();",
    `  const int64_t start = prof ? kiln_profile_begin(kiln_profile, ${functions.length}) : 0;`,
    "  int64_t t = start;",
    ...lines,
    "  if (prof) kiln_profile_end(start);",
    "  (void)t;",
    "}",
    "",
  ].join("\n");
}
