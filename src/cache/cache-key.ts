// The cache key: a hash over named factors (everything that can change the compiled code),
// with a per-factor breakdown for `kiln cache key --explain` and a diff for miss messages.
import { canonicalJson, sha256Hex } from "../util/index.js";

/**
 * Named key factors. Values are JSON-like; objects (the model config) are diffed field by
 * field. Nothing of place or host that cannot change the code belongs here (paths, HOME,
 * hostname, pid, time), so a cache copied elsewhere still hits.
 */
export type KeyFactors = Readonly<Record<string, unknown>>;

export interface CacheKey {
  /** Hex digest naming the cache entry (shortened: 32 hex chars is plenty against collisions here). */
  readonly key: string;
  /** Each factor's own hash, in factor-name order. */
  readonly perFactor: Readonly<Record<string, string>>;
}

export function computeCacheKey(factors: KeyFactors): CacheKey {
  const perFactor: Record<string, string> = {};
  for (const name of Object.keys(factors).sort()) perFactor[name] = sha256Hex(canonicalJson(factors[name] ?? null)).slice(0, 16);
  return { key: sha256Hex(canonicalJson(perFactor)).slice(0, 32), perFactor };
}

/** Lines `factor  hash  value` for every factor. */
export function explainCacheKey(factors: KeyFactors): string[] {
  const { key, perFactor } = computeCacheKey(factors);
  const lines = [`key ${key}`];
  for (const [name, h] of Object.entries(perFactor)) {
    const value = canonicalJson(factors[name] ?? null);
    lines.push(`  ${name.padEnd(22)} ${h}  ${value.length > 120 ? value.slice(0, 117) + "..." : value}`);
  }
  return lines;
}

export interface FactorDiff {
  /** Dotted path of what differs, e.g. `config.rms_norm_eps`. */
  readonly path: string;
  readonly stored: string;
  readonly current: string;
}

function flatten(value: unknown, path: string, out: Map<string, string>): void {
  if (value && typeof value === "object" && !Array.isArray(value)) {
    const keys = Object.keys(value).sort();
    if (keys.length === 0) out.set(path, "{}");
    for (const k of keys) flatten((value as Record<string, unknown>)[k], path ? `${path}.${k}` : k, out);
    return;
  }
  out.set(path, value === undefined ? "(absent)" : typeof value === "string" ? value : canonicalJson(value));
}

/** The leaf differences between two factor sets, in path order. */
export function diffFactors(stored: KeyFactors, current: KeyFactors): FactorDiff[] {
  const a = new Map<string, string>();
  const b = new Map<string, string>();
  flatten(stored, "", a);
  flatten(current, "", b);
  const paths = [...new Set([...a.keys(), ...b.keys()])].sort();
  return paths
    .filter((p) => a.get(p) !== b.get(p))
    .map((p) => ({ path: p, stored: a.get(p) ?? "(absent)", current: b.get(p) ?? "(absent)" }));
}

/** One line for a miss: `config.rms_norm_eps 1e-06 → 0.001` (and how many more differ). */
export function describeMiss(diffs: readonly FactorDiff[]): string {
  if (diffs.length === 0) return "no entry for this key";
  const [first] = diffs;
  const more = diffs.length > 1 ? ` (and ${diffs.length - 1} more: ${diffs.slice(1, 4).map((d) => d.path).join(", ")}${diffs.length > 4 ? ", …" : ""})` : "";
  return `${first!.path} ${first!.stored} → ${first!.current}${more}`;
}
