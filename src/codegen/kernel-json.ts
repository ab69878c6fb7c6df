// The loop IR's JSON form (what a Program and a bundle carry) and back: symbolic index
// polynomials serialise as `{sym: …}` and non-finite constants (JSON has no -Infinity) as
// `{nonFinite: "-Infinity"}`; reading revives both.
import { dimFromJSON } from "../tensor/index.js";
import type { Kernel } from "./loop-ir.js";

/** Kernels as plain JSON data. */
export function kernelsToJSON(kernels: readonly Kernel[]): unknown[] {
  return JSON.parse(
    JSON.stringify(kernels, (_key, value: unknown) => (typeof value === "number" && !Number.isFinite(value) ? { nonFinite: String(value) } : value)),
  ) as unknown[];
}

function revive(x: unknown): unknown {
  if (Array.isArray(x)) return x.map(revive);
  if (x === null || typeof x !== "object") return x;
  const o = x as Record<string, unknown>;
  if (typeof o.nonFinite === "string" && Object.keys(o).length === 1) return Number(o.nonFinite);
  const out: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(o)) out[key] = o.k === "poly" && key === "p" ? dimFromJSON(value) : revive(value);
  return out;
}

/** Kernels back from `kernelsToJSON`'s data (or a parsed copy of it). */
export function kernelsFromJSON(data: unknown): Kernel[] {
  return revive(data) as Kernel[];
}
