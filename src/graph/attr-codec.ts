// Attribute values to/from JSON (symbolic dims, non-finite numbers and -0 included), and their canonical text.
import { type Dim, dimAdd, dimMul, isSym, sym } from "../tensor/index.js";
import type { AttrValue } from "../ops/index.js";
import { ArgumentError } from "../util/index.js";

/** JSON has no NaN, ±Infinity or -0: those travel as `{num: "<text>"}`. */
const SPECIAL_NUMBERS: ReadonlyMap<string, number> = new Map([
  ["NaN", NaN],
  ["Infinity", Infinity],
  ["-Infinity", -Infinity],
  ["-0", -0],
]);

const isRecord = (j: unknown): j is Record<string, unknown> => typeof j === "object" && j !== null && !Array.isArray(j);

/** A short text of any value for error messages (JSON when it can be, never throwing). */
export function showValue(v: unknown): string {
  try {
    const text = JSON.stringify(v) ?? String(v);
    return text.length > 200 ? `${text.slice(0, 200)}…` : text;
  } catch {
    return String(v);
  }
}

export function encodeNumber(v: number): number | { num: string } {
  if (Object.is(v, -0)) return { num: "-0" };
  return Number.isFinite(v) ? v : { num: String(v) };
}

export function encodeAttr(v: AttrValue): unknown {
  if (isSym(v)) return v.toJSON();
  if (Array.isArray(v)) return v.map(encodeAttr);
  if (typeof v === "number") return encodeNumber(v);
  return v;
}

/** Decodes a dim (`number` or `{sym: [[coef, [names…]], …]}`), rebuilding its canonical form; `where` names it in errors. */
export function decodeDim(j: unknown, where = "dim"): Dim {
  const bad = (): never => {
    throw new ArgumentError("graph JSON", `${where}: malformed dim ${showValue(j)}`);
  };
  if (typeof j === "number") return Number.isSafeInteger(j) ? j : bad();
  const terms = isRecord(j) ? j.sym : undefined;
  if (!Array.isArray(terms)) return bad();
  let d: Dim = 0;
  for (const t of terms) {
    if (!Array.isArray(t) || t.length !== 2 || !Number.isSafeInteger(t[0]) || !Array.isArray(t[1])) return bad();
    let term: Dim = t[0] as number;
    for (const name of t[1] as unknown[]) {
      if (typeof name !== "string" || !/^[a-z_][a-z0-9_]*$/i.test(name)) return bad();
      term = dimMul(term, sym(name));
    }
    d = dimAdd(d, term);
  }
  return d;
}

export function decodeAttr(j: unknown, where = "attribute"): AttrValue {
  if (Array.isArray(j)) return Array.from(j as unknown[], (x) => decodeAttr(x, where));
  if (isRecord(j)) {
    if ("sym" in j) return decodeDim(j, where);
    const special = typeof j.num === "string" ? SPECIAL_NUMBERS.get(j.num) : undefined;
    if (special !== undefined && Object.keys(j).length === 1) return special;
    throw new ArgumentError("graph JSON", `${where}: malformed attribute value ${showValue(j)}`);
  }
  if (j === null || typeof j === "string" || typeof j === "boolean") return j;
  if (typeof j === "number" && Number.isFinite(j)) return j;
  throw new ArgumentError("graph JSON", `${where}: malformed attribute value ${showValue(j)}`);
}

/** The symbol names an attribute value mentions (symbolic dims may sit anywhere a number may). */
export function attrSymbols(v: AttrValue, into: Set<string> = new Set()): Set<string> {
  if (isSym(v)) for (const s of v.symbols()) into.add(s);
  else if (Array.isArray(v)) for (const x of v) attrSymbols(x, into);
  return into;
}

/** Round-trippable number text: the shortest decimal that reads back as the same double; nan, inf, -inf and -0 spelled out. */
export function numberText(v: number): string {
  if (Number.isNaN(v)) return "nan";
  if (v === Infinity) return "inf";
  if (v === -Infinity) return "-inf";
  if (Object.is(v, -0)) return "-0";
  return String(v);
}

/** Canonical text: numbers round-trip, strings quoted, symbolic dims as their polynomial. */
export function attrText(v: AttrValue): string {
  if (isSym(v)) return String(v);
  if (Array.isArray(v)) return `[${v.map(attrText).join(", ")}]`;
  if (typeof v === "number") return numberText(v);
  if (typeof v === "string") return JSON.stringify(v);
  return String(v);
}
