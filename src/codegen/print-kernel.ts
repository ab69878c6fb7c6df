// The loop IR's text form (for tests, golden files and KILN_LOG=codegen): one line per
// statement, infix index arithmetic, buffers as b<id>, dtypes shown where they are not f32.
import type { IExpr, Kernel, MatmulOperand, Stmt, VExpr } from "./loop-ir.js";

const INFIX: Readonly<Record<string, string>> = { add: "+", sub: "-", mul: "*", div: "/" };

export function printIndex(e: IExpr): string {
  switch (e.k) {
    case "poly":
      return String(e.p);
    case "add":
      return `(${printIndex(e.a)} + ${printIndex(e.b)})`;
    case "mul":
      return `(${printIndex(e.a)} * ${printIndex(e.b)})`;
    case "div":
      return `(${printIndex(e.a)} // ${printIndex(e.b)})`;
    case "mod":
      return `(${printIndex(e.a)} % ${printIndex(e.b)})`;
    case "fromValue":
      return `wrap(${printValue(e.v)}, ${printIndex(e.size)})`;
    default:
      return e satisfies never;
  }
}

const typed = (text: string, dtype: string) => (dtype === "f32" ? text : `${text}:${dtype}`);

export function printValue(v: VExpr): string {
  switch (v.k) {
    case "load":
      return typed(`b${v.buf}[${printIndex(v.index)}]`, v.dtype);
    case "const":
      return typed(Object.is(v.v, -0) ? "-0" : String(v.v), v.dtype);
    case "unary":
      return v.op === "cast" ? `cast<${v.dtype}>(${printValue(v.a)})` : typed(`${v.op}${v.approximate && v.approximate !== "none" ? `[${v.approximate}]` : ""}(${printValue(v.a)})`, v.dtype);
    case "binary": {
      const op = INFIX[v.op];
      return typed(op ? `(${printValue(v.a)} ${op} ${printValue(v.b)})` : `${v.op}(${printValue(v.a)}, ${printValue(v.b)})`, v.dtype);
    }
    case "select":
      return `select(${printValue(v.c)}, ${printValue(v.a)}, ${printValue(v.b)})`;
    case "icmp":
      return `(${printIndex(v.a)} ${v.op === "lt" ? "<" : v.op === "ge" ? ">=" : "<="} ${printIndex(v.b)})`;
    case "index":
      return typed(`index(${printIndex(v.i)})`, v.dtype);
    case "local":
      return v.name;
    default:
      return v satisfies never;
  }
}

const operand = (o: MatmulOperand): string =>
  `b${o.buf}${o.dtype === "f32" ? "" : `:${o.dtype}`}{offset ${printIndex(o.offset)}, batch [${o.batchStrides.map(printIndex).join(", ")}], row ${printIndex(o.rowStride)}, col ${printIndex(o.colStride)}}`;

function printStmt(s: Stmt, pad: string): string[] {
  switch (s.k) {
    case "for":
      return [`${pad}for ${s.v} < ${printIndex(s.extent)}:`, ...s.body.flatMap((b) => printStmt(b, pad + "  "))];
    case "reduce":
      return [
        `${pad}${s.op === "argmax" ? `${s.acc}, ${s.acc}_i` : s.acc} = ${s.op} over ${s.v} < ${printIndex(s.extent)}:`,
        ...s.body.flatMap((b) => printStmt(b, pad + "  ")),
        `${pad}  ${printValue(s.value)}`,
      ];
    case "let":
      return [`${pad}${s.name} = ${printValue(s.value)}`];
    case "store":
      return [`${pad}b${s.buf}[${printIndex(s.index)}] = ${printValue(s.value)}`];
    case "matmul":
      return [
        `${pad}b${s.out}${s.outDType === "f32" ? "" : `:${s.outDType}`} = matmul(batch [${s.batch.map(printIndex).join(", ")}], m ${printIndex(s.m)}, n ${printIndex(s.n)}, k ${printIndex(s.kdim)},`,
        `${pad}  a ${operand(s.a)},`,
        `${pad}  b ${operand(s.b)})`,
      ];
    case "attention":
      return [
        `${pad}b${s.out} = paged_attention(q b${s.q}, k b${s.kcache}, v b${s.vcache}${s.cacheDType === "f32" ? "" : `:${s.cacheDType}`}, table b${s.blockTable}, seq b${s.seqIds}, pos b${s.positions};`,
        `${pad}  tokens ${printIndex(s.tokens)}, heads ${s.heads}/${s.kvHeads} × ${s.headDim}, block ${s.blockSize}, max blocks ${printIndex(s.maxBlocks)}, scale ${s.scale})`,
      ];
    default:
      return s satisfies never;
  }
}

/** A kernel's text: its signature (buffers with roles, symbols, graph nodes) and its statements. */
export function printKernel(k: Kernel): string {
  const bufs = k.buffers.map((b) => `${b.role} b${b.buf}: ${b.dtype}`).join(", ");
  const syms = k.symbols.length ? `; ${k.symbols.join(", ")}` : "";
  return [`kernel ${k.name}(${bufs}${syms})  # nodes ${k.nodes.map((n) => `%${n}`).join(" ")}`, ...k.body.flatMap((s) => printStmt(s, "  "))].join("\n");
}
