// Attribute values to/from JSON (symbolic dims and non-finite numbers included), and their canonical text.
import { dimFromJSON, isSym } from "../tensor/index.js";
import type { AttrValue } from "../ops/index.js";
import { ArgumentError } from "../util/index.js";

export function encodeAttr(v: AttrValue): unknown {
  if (isSym(v)) return v.toJSON();
  if (Array.isArray(v)) return v.map(encodeAttr);
  if (typeof v === "number" && !Number.isFinite(v)) return { num: String(v) };
  return v;
}

export function decodeAttr(j: unknown): AttrValue {
  if (Array.isArray(j)) return j.map(decodeAttr);
  if (j && typeof j === "object") {
    if ("sym" in j) return dimFromJSON(j);
    if ("num" in j && ["NaN", "Infinity", "-Infinity"].includes(String((j as { num: unknown }).num))) return Number((j as { num: string }).num);
    throw new ArgumentError("graph JSON", `malformed attribute value ${JSON.stringify(j)}`);
  }
  if (j === null || ["number", "string", "boolean"].includes(typeof j)) return j as AttrValue;
  throw new ArgumentError("graph JSON", `malformed attribute value ${String(j)}`);
}

/** Canonical text: numbers round-trip (nan, inf), strings quoted, symbolic dims as their polynomial. */
export function attrText(v: AttrValue): string {
  if (isSym(v)) return String(v);
  if (Array.isArray(v)) return `[${v.map(attrText).join(", ")}]`;
  if (typeof v === "number") return Number.isNaN(v) ? "nan" : v === Infinity ? "inf" : v === -Infinity ? "-inf" : String(v);
  if (typeof v === "string") return JSON.stringify(v);
  return String(v);
}
