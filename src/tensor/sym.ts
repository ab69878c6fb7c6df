// Symbolic dimensions: integer polynomials over named symbols (s0, s1, …) in one canonical form.
//
// They live in tensor/ rather than graph/ because the op shape rules (ops/, a lower layer
// than graph/) must compute with them.
import { ShapeError, TraceError } from "../util/index.js";

/** A monomial is a sorted list of symbol names (repeats are powers); "" keys the constant. */
type Terms = ReadonlyMap<string, number>;

/** Called when user code turns a symbolic dim into a number; the tracer installs a hook naming the line. */
let onCoerce: (e: SymExpr) => never = (e) => {
  throw new TraceError(`symbolic dim ${e} was used as a plain number; pass it to ops as is instead`);
};
/** Installs `h` and returns the handler it replaces (restore it when done). */
export function setSymCoerceHandler(h: (e: SymExpr) => never): (e: SymExpr) => never {
  const prev = onCoerce;
  onCoerce = h;
  return prev;
}

export class SymExpr {
  readonly #terms: Terms;
  readonly #text: string;
  private constructor(terms: Terms) {
    this.#terms = terms;
    this.#text = renderTerms(terms);
  }

  /** Builds a canonical value: constant polynomials collapse to plain numbers. */
  static of(terms: Map<string, number>): Dim {
    for (const [k, c] of terms) if (c === 0) terms.delete(k);
    if (terms.size === 0) return 0;
    if (terms.size === 1 && terms.has("")) return terms.get("")!;
    return new SymExpr(new Map([...terms].sort(([a], [b]) => cmpMonomial(a, b))));
  }
  static symbol(name: string): SymExpr {
    if (!/^[a-z_][a-z0-9_]*$/i.test(name)) throw new ShapeError("sym", "a symbol name like s0", name);
    return new SymExpr(new Map([[name, 1]]));
  }

  get terms(): Terms {
    return this.#terms;
  }
  /** The symbol names it mentions. */
  symbols(): string[] {
    const names = new Set<string>();
    for (const k of this.#terms.keys()) for (const n of splitMonomial(k)) names.add(n);
    return [...names].sort();
  }
  toString(): string {
    return this.#text;
  }
  toJSON(): unknown {
    return { sym: [...this.#terms].map(([k, c]) => [c, splitMonomial(k)]) };
  }
  /** JS would silently make a number of it (`x.shape[0] * 2`): the tracer turns that into a TraceError. */
  [Symbol.toPrimitive](hint: string): string | number {
    if (hint === "string") return this.#text;
    return onCoerce(this);
  }
}

/** A dimension: a plain non-negative integer, or a symbolic expression. */
export type Dim = number | SymExpr;
export type Shape = readonly Dim[];

function splitMonomial(k: string): string[] {
  return k === "" ? [] : k.split("*");
}
function cmpMonomial(a: string, b: string): number {
  // Higher degree first, then lexical; the constant last.
  const da = splitMonomial(a).length;
  const db = splitMonomial(b).length;
  if (da !== db) return db - da;
  return a < b ? -1 : a > b ? 1 : 0;
}
function renderTerms(terms: Terms): string {
  const parts: string[] = [];
  for (const [k, c] of terms) {
    if (k === "") parts.push(String(c));
    else if (c === 1) parts.push(k);
    else if (c === -1) parts.push(`-${k}`);
    else parts.push(`${c}*${k}`);
  }
  return parts.join(" + ").replace(/\+ -/g, "- ");
}

function termsOf(d: Dim): Map<string, number> {
  return typeof d === "number" ? new Map(d === 0 ? [] : [["", d]]) : new Map(d.terms);
}

export function sym(name: string): SymExpr {
  return SymExpr.symbol(name);
}
export function isSym(d: unknown): d is SymExpr {
  return d instanceof SymExpr;
}
export function isStaticShape(shape: Shape): shape is readonly number[] {
  return shape.every((d) => typeof d === "number");
}

export function dimAdd(a: Dim, b: Dim): Dim {
  if (typeof a === "number" && typeof b === "number") return a + b;
  const t = termsOf(a);
  for (const [k, c] of termsOf(b)) t.set(k, (t.get(k) ?? 0) + c);
  return SymExpr.of(t);
}
export function dimSub(a: Dim, b: Dim): Dim {
  return dimAdd(a, dimMul(b, -1));
}
export function dimMul(a: Dim, b: Dim): Dim {
  if (typeof a === "number" && typeof b === "number") return a * b;
  const out = new Map<string, number>();
  for (const [ka, ca] of termsOf(a)) {
    for (const [kb, cb] of termsOf(b)) {
      const k = [...splitMonomial(ka), ...splitMonomial(kb)].sort().join("*");
      out.set(k, (out.get(k) ?? 0) + ca * cb);
    }
  }
  return SymExpr.of(out);
}

/**
 * Exact division: `a / b` when every term of `a` divides by `b` (a constant or a single
 * monomial); undefined otherwise. Used by reshape's -1 and by view arithmetic.
 */
export function dimDivExact(a: Dim, b: Dim): Dim | undefined {
  if (typeof a === "number" && typeof b === "number") return b !== 0 && a % b === 0 ? a / b : undefined;
  const tb = termsOf(b);
  if (tb.size !== 1) return dimEq(a, b) ? 1 : undefined;
  const [[kb, cb]] = [...tb];
  const divisor = splitMonomial(kb!);
  const out = new Map<string, number>();
  for (const [ka, ca] of termsOf(a)) {
    if (ca % cb! !== 0) return undefined;
    const rest = splitMonomial(ka);
    for (const s of divisor) {
      const i = rest.indexOf(s);
      if (i < 0) return undefined;
      rest.splice(i, 1);
    }
    out.set(rest.join("*"), ca / cb!);
  }
  return SymExpr.of(out);
}

export function dimEq(a: Dim, b: Dim): boolean {
  if (typeof a === "number" && typeof b === "number") return a === b;
  return String(a) === String(b);
}
export function shapeEq(a: Shape, b: Shape): boolean {
  return a.length === b.length && a.every((d, i) => dimEq(d, b[i]!));
}
export function shapeToString(s: Shape): string {
  return `[${s.map(String).join(",")}]`;
}

export function numel(shape: Shape): Dim {
  return shape.reduce<Dim>((acc, d) => dimMul(acc, d), 1);
}

/** Value of a dim given the runtime sizes of its symbols. */
export function evalDim(d: Dim, env: Readonly<Record<string, number>>): number {
  if (typeof d === "number") return d;
  let total = 0;
  for (const [k, c] of d.terms) {
    let v = c;
    for (const s of splitMonomial(k)) {
      const x = env[s];
      if (x === undefined) throw new ShapeError("evalDim", `a value for symbol ${s}`, "none");
      v *= x;
    }
    total += v;
  }
  return total;
}
export function evalShape(s: Shape, env: Readonly<Record<string, number>>): number[] {
  return s.map((d) => evalDim(d, env));
}

/** The JSON form of a dim: a number, or `{sym: [[coef, [names…]], …]}`. */
export function dimFromJSON(j: unknown): Dim {
  if (typeof j === "number") return j;
  const terms = (j as { sym?: [number, string[]][] })?.sym;
  if (!Array.isArray(terms)) throw new ShapeError("dimFromJSON", "a number or {sym}", JSON.stringify(j));
  const m = new Map<string, number>();
  for (const [c, names] of terms) m.set([...names].sort().join("*"), c);
  return SymExpr.of(m);
}
