// Generic walks over loop-IR value expressions: visiting a value's direct value children and the
// names its own index expressions read, and rebuilding a value with its children replaced.
import { isSym } from "../tensor/index.js";
import type { IExpr, VExpr } from "./loop-ir.js";

/** Calls `child` on each value directly under `v` (through index expressions too) and adds the names `v`'s own indices read. */
export function visitValue(v: VExpr, names: Set<string>, child: (c: VExpr) => void): void {
  const index = (e: IExpr): void => {
    switch (e.k) {
      case "poly":
        if (isSym(e.p)) for (const s of e.p.symbols()) names.add(s);
        return;
      case "fromValue":
        child(e.v);
        index(e.size);
        return;
      case "div": case "mod": case "add": case "mul":
        index(e.a);
        index(e.b);
        return;
      default:
        return e satisfies never;
    }
  };
  switch (v.k) {
    case "load":
      return index(v.index);
    case "const":
      return;
    case "unary":
      return child(v.a);
    case "binary":
      child(v.a);
      return child(v.b);
    case "select":
      child(v.c);
      child(v.a);
      return child(v.b);
    case "icmp":
      index(v.a);
      return index(v.b);
    case "index":
      return index(v.i);
    case "local":
      names.add(v.name);
      return;
    default:
      return v satisfies never;
  }
}

/** `v` with each direct value child `c` replaced by `f(c, conditional)`; select branches are conditional. */
export function mapValue(v: VExpr, f: (c: VExpr, conditional: boolean) => VExpr): VExpr {
  const index = (e: IExpr): IExpr => {
    switch (e.k) {
      case "poly":
        return e;
      case "fromValue":
        return { ...e, v: f(e.v, false), size: index(e.size) };
      case "div": case "mod": case "add": case "mul":
        return { ...e, a: index(e.a), b: index(e.b) };
      default:
        return e satisfies never;
    }
  };
  switch (v.k) {
    case "load":
      return { ...v, index: index(v.index) };
    case "unary":
      return { ...v, a: f(v.a, false) };
    case "binary":
      return { ...v, a: f(v.a, false), b: f(v.b, false) };
    case "select":
      return { ...v, c: f(v.c, false), a: f(v.a, true), b: f(v.b, true) };
    case "icmp":
      return { ...v, a: index(v.a), b: index(v.b) };
    case "index":
      return { ...v, i: index(v.i) };
    case "const":
    case "local":
      return v;
    default:
      return v satisfies never;
  }
}

/** Calls `fn` on every load under `v`. */
export function walkLoads(v: VExpr, fn: (buf: number, dtype: VExpr["dtype"]) => void): void {
  if (v.k === "load") fn(v.buf, v.dtype);
  visitValue(v, new Set(), (c) => walkLoads(c, fn));
}
