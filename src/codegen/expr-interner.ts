// Hash-consing of loop-IR expressions: structurally equal expressions get one id (and one
// canonical object), in time linear in the DAG, so lowering can memoise and share subexpressions.
import type { IExpr, VExpr } from "./loop-ir.js";

type Expr = IExpr | VExpr;

export class ExprInterner {
  readonly #ids = new WeakMap<Expr, number>();
  readonly #byKey = new Map<string, number>();
  readonly #canonical: Expr[] = [];

  /** The id of `e`'s structure; equal structures share ids. */
  id(e: Expr): number {
    const hit = this.#ids.get(e);
    if (hit !== undefined) return hit;
    const key = this.#key(e);
    let id = this.#byKey.get(key);
    if (id === undefined) {
      id = this.#canonical.length;
      this.#byKey.set(key, id);
      this.#canonical.push(e);
    }
    this.#ids.set(e, id);
    return id;
  }

  /** The first object seen with `e`'s structure. */
  canonical<T extends Expr>(e: T): T {
    return this.#canonical[this.id(e)] as T;
  }

  /** A key naming each child by its id, so keys stay short however much the DAG shares. */
  #key(e: Expr): string {
    switch (e.k) {
      case "poly":
        return `p:${String(e.p)}`;
      case "div":
      case "mod":
      case "add":
      case "mul":
        return `${e.k}:${this.id(e.a)},${this.id(e.b)}`;
      case "fromValue":
        return `fv:${this.id(e.v)},${this.id(e.size)}`;
      case "load":
        return `ld:${e.buf},${e.dtype},${this.id(e.index)}`;
      case "const":
        return `c:${e.dtype},${Object.is(e.v, -0) ? "-0" : String(e.v)}`;
      case "unary":
        return `u:${e.op},${e.dtype},${e.approximate ?? ""},${this.id(e.a)}`;
      case "binary":
        return `b:${e.op},${e.dtype},${this.id(e.a)},${this.id(e.b)}`;
      case "select":
        return `s:${e.dtype},${this.id(e.c)},${this.id(e.a)},${this.id(e.b)}`;
      case "icmp":
        return `ic:${e.op},${this.id(e.a)},${this.id(e.b)}`;
      case "index":
        return `ix:${e.dtype},${this.id(e.i)}`;
      case "local":
        return `l:${e.name},${e.dtype}`;
      default:
        return e satisfies never;
    }
  }
}
