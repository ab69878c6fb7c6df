// Completes a kernel from its statements: its buffers (loaded ones are inputs, stored ones
// outputs) and the shape symbols it reads (every name that no loop or local defines).
import type { IExpr, Kernel, KernelBuffer, Stmt, VExpr } from "./loop-ir.js";
import { attentionInputs, namesIn, namesInValue } from "./loop-ir.js";
import { walkLoads } from "./expr-walk.js";

export function finishKernel(name: string, body: readonly Stmt[], nodes: readonly number[]): Kernel {
  const bufs = new Map<number, KernelBuffer>();
  const names = new Set<string>();
  const locals = new Set<string>();
  const input = (buf: number, dtype: VExpr["dtype"]) => {
    if (!bufs.has(buf)) bufs.set(buf, { buf, dtype, role: "in" });
  };
  const visitV = (v: VExpr): void => {
    namesInValue(v, names);
    walkLoads(v, input);
  };
  const visitI = (e: IExpr): void => {
    namesIn(e, names);
    // Indices read from data may sit anywhere in the expression (a scatter's slot * row + offset).
    const loads = (x: IExpr): void => {
      if (x.k === "fromValue") walkLoads(x.v, input);
      else if (x.k !== "poly") (loads(x.a), loads(x.b));
    };
    loads(e);
  };
  const visit = (s: Stmt): void => {
    switch (s.k) {
      case "for":
        locals.add(s.v);
        visitI(s.extent);
        s.body.forEach(visit);
        return;
      case "reduce":
        locals.add(s.v).add(s.acc).add(`${s.acc}_i`);
        visitI(s.extent);
        s.body.forEach(visit);
        visitV(s.value);
        return;
      case "let":
        locals.add(s.name);
        visitV(s.value);
        return;
      case "store":
        visitI(s.index);
        visitV(s.value);
        bufs.set(s.buf, { buf: s.buf, dtype: s.dtype, role: "out" });
        return;
      case "matmul":
        for (const e of [...s.batch, s.m, s.n, s.kdim, s.a.offset, s.b.offset, ...s.a.batchStrides, ...s.b.batchStrides, s.a.rowStride, s.a.colStride, s.b.rowStride, s.b.colStride]) visitI(e);
        input(s.a.buf, s.a.dtype);
        input(s.b.buf, s.b.dtype);
        bufs.set(s.out, { buf: s.out, dtype: s.outDType, role: "out" });
        return;
      case "attention":
        visitI(s.tokens);
        visitI(s.maxBlocks);
        attentionInputs(s).forEach((b, i) => input(b, i === 0 ? "f32" : i < 3 ? s.cacheDType : "i32"));
        bufs.set(s.out, { buf: s.out, dtype: "f32", role: "out" });
        return;
      default:
        return s satisfies never;
    }
  };
  body.forEach(visit);
  const symbols = [...names].filter((n) => !locals.has(n)).sort();
  return { name, buffers: [...bufs.values()].sort((a, b) => a.buf - b.buf), symbols, body, nodes: [...new Set(nodes)].sort((a, b) => a - b) };
}
