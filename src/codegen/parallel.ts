// Which loops of a kernel run on the thread pool: a top-level loop whose iterations are independent (each
// writes its own elements, none reads what the kernel writes) is split into contiguous ranges of rows, and
// the work of one iteration (loop trip counts × the cost of what it computes) sets the grain, so small
// kernels stay on the calling thread. A row is always computed whole by one thread, in the order the
// single-threaded kernel computes it: results are bit-identical whatever the thread count.
import { type Dim, dimAdd, dimMul } from "../tensor/index.js";
import type { IExpr, Kernel, Stmt, VExpr } from "./loop-ir.js";
import { namesIn } from "./loop-ir.js";
import { visitValue } from "./expr-walk.js";

export interface ParallelLoop {
  /** Index of the loop in the kernel's top-level statements. */
  readonly at: number;
  /** Cost of one iteration, in rough element-operations (symbolic when trip counts are). */
  readonly work: Dim;
}

/** Unary ops that cost a libm call: worth several plain arithmetic ops each. */
const COSTLY: ReadonlySet<string> = new Set(["exp", "log", "sin", "cos", "tanh", "sigmoid", "silu", "gelu", "pow"]);
const COSTLY_WEIGHT = 8;

function valueCost(v: VExpr): number {
  let cost = 1;
  if ((v.k === "unary" || v.k === "binary") && COSTLY.has(v.op)) cost = COSTLY_WEIGHT;
  visitValue(v, new Set(), (c) => (cost += valueCost(c)));
  return cost;
}

const extentOf = (e: IExpr): Dim | undefined => (e.k === "poly" ? e.p : undefined);

/** The cost of running `stmts` once, or undefined when a trip count is not a polynomial. */
function cost(stmts: readonly Stmt[]): Dim | undefined {
  let total: Dim = 0;
  for (const s of stmts) {
    let c: Dim | undefined;
    switch (s.k) {
      case "for": {
        const [n, body] = [extentOf(s.extent), cost(s.body)];
        c = n === undefined || body === undefined ? undefined : dimMul(n, body);
        break;
      }
      case "reduce": {
        const [n, body] = [extentOf(s.extent), cost(s.body)];
        c = n === undefined || body === undefined ? undefined : dimMul(n, dimAdd(body, valueCost(s.value) + 1));
        break;
      }
      case "store":
      case "let":
        c = valueCost(s.value);
        break;
      case "matmul":
      case "attention":
        return undefined;
      default:
        return s satisfies never;
    }
    if (c === undefined) return undefined;
    total = dimAdd(total, c);
  }
  return total;
}

/** Buffers loaded anywhere in `stmts` (values, store indices, trip counts) and buffers stored, with each store's index. */
function accesses(stmts: readonly Stmt[], loads: Set<number>, stores: IExpr[], stored: Set<number>): boolean {
  const value = (v: VExpr): void => {
    if (v.k === "load") loads.add(v.buf);
    visitValue(v, new Set(), value);
  };
  const index = (e: IExpr): void => {
    if (e.k === "fromValue") (value(e.v), index(e.size));
    else if (e.k !== "poly") (index(e.a), index(e.b));
  };
  for (const s of stmts) {
    switch (s.k) {
      case "for":
        index(s.extent);
        if (!accesses(s.body, loads, stores, stored)) return false;
        break;
      case "reduce":
        index(s.extent);
        value(s.value);
        if (!accesses(s.body, loads, stores, stored)) return false;
        break;
      case "let":
        value(s.value);
        break;
      case "store":
        index(s.index);
        value(s.value);
        stores.push(s.index);
        stored.add(s.buf);
        break;
      case "matmul":
      case "attention":
        return false;
      default:
        return s satisfies never;
    }
  }
  return true;
}

/**
 * The top-level loops of `k` that may run on the pool: every store in the loop is indexed by the loop's
 * variable (iterations write distinct elements), and the kernel reads no buffer it writes.
 */
export function parallelLoops(k: Kernel): ParallelLoop[] {
  const out: ParallelLoop[] = [];
  k.body.forEach((s, at) => {
    if (s.k !== "for") return;
    const loads = new Set<number>();
    const stored = new Set<number>();
    const stores: IExpr[] = [];
    if (!accesses(s.body, loads, stores, stored) || stores.length === 0) return;
    if (stores.some((e) => !namesIn(e).has(s.v)) || [...stored].some((b) => loads.has(b))) return;
    const work = cost(s.body);
    if (work !== undefined) out.push({ at, work });
  });
  return out;
}
