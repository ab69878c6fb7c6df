// The `dynamic` option: which dims of which arguments are symbolic, and within which range.
import type { Tensor } from "../tensor/index.js";
import { ArgumentError } from "../util/index.js";

export interface DimRange {
  readonly min?: number;
  readonly max?: number;
  /**
   * Dims naming the same group share one symbol, and only those: a grouped dim never merges
   * with another by size (duck sizing), so two dims that happen to be equal in the example
   * call (sequences and blocks, say) stay independent.
   */
  readonly group?: string;
}

/**
 * Per argument (its index or its parameter name): the dynamic dims, as a list (`{ 0: [0] }`,
 * `{ x: [0] }`) or with ranges (`{ x: { 0: { min: 1, max: 4096 } } }`).
 */
export type DynamicSpec = Readonly<Record<string | number, readonly number[] | Readonly<Record<number, DimRange>>>>;

/** Largest size a dynamic dim may take when no `max` is given. */
export const DEFAULT_MAX_DIM = 2 ** 31 - 1;

/** A resolved dynamic dim: inclusive bounds. */
export interface ResolvedRange {
  readonly min: number;
  readonly max: number;
  readonly group?: string;
}

/** The entry of `spec` for argument `index` (by index or by name), if any. */
function entryFor(spec: DynamicSpec | undefined, index: number, name: string | undefined) {
  if (!spec) return undefined;
  const byIndex = spec[index];
  const byName = name !== undefined ? spec[name] : undefined;
  if (byIndex && byName) throw new ArgumentError("dynamic", `argument '${name}' is named both by index ${index} and by name`);
  return byIndex ?? byName;
}

/**
 * The dynamic dims of every argument, checked against the arguments: every key must name an
 * argument that is a tensor, every dim must exist, every range must hold the example size.
 */
export function resolveDynamic(spec: DynamicSpec | undefined, args: readonly unknown[], names: readonly (string | undefined)[], isTensor: (x: unknown) => x is Tensor, fnName = "the function"): Map<number, ResolvedRange>[] {
  for (const key of Object.keys(spec ?? {})) {
    const index = /^\d+$/.test(key) ? Number(key) : names.indexOf(key);
    if (index < 0 || index >= args.length) {
      const known = names.map((n, i) => n ?? String(i)).join(", ");
      throw new ArgumentError("dynamic", `names argument '${key}', which ${fnName} ${index < 0 ? "does not have" : "was not passed"} (arguments: ${known || "none"})`);
    }
  }
  return args.map((arg, i) => {
    const name = names[i] ?? `arg${i}`;
    const entry = entryFor(spec, i, names[i]);
    const out = new Map<number, ResolvedRange>();
    if (!entry) return out;
    if (!isTensor(arg)) throw new ArgumentError("dynamic", `argument '${name}' (${i}) has dynamic dims but is not a Tensor`);
    const pairs: [string | number, DimRange][] = Array.isArray(entry) ? entry.map((d: number) => [d, {}]) : Object.entries(entry);
    for (const [key, range] of pairs) {
      const d = Number(key);
      if (!Number.isInteger(d) || d < -arg.rank || d >= arg.rank) throw new ArgumentError("dynamic", `dim ${String(key)} of '${name}' does not exist: it has rank ${arg.rank}`);
      const dim = d < 0 ? d + arg.rank : d;
      const min = range.min ?? 1;
      const max = range.max ?? DEFAULT_MAX_DIM;
      const size = arg.dims[dim]!;
      if (!Number.isInteger(min) || !Number.isInteger(max) || min < 0 || min > max) throw new ArgumentError("dynamic", `dim ${dim} of '${name}': invalid range [${min}, ${max}]`);
      if (size < min || size > max) throw new ArgumentError("dynamic", `dim ${dim} of '${name}' has size ${size}, outside its range [${min}, ${max}]`);
      if (range.group !== undefined && typeof range.group !== "string") throw new ArgumentError("dynamic", `dim ${dim} of '${name}': group must be a string`);
      out.set(dim, { min, max, ...(range.group !== undefined ? { group: range.group } : {}) });
    }
    return out;
  });
}

/** Whether dim `dim` of argument `index` is marked dynamic (no validation; for cache keys). */
export function isDynamicDim(spec: DynamicSpec | undefined, index: number, name: string | undefined, dim: number, rank: number): boolean {
  const entry = spec ? spec[index] ?? (name !== undefined ? spec[name] : undefined) : undefined;
  if (!entry) return false;
  const dims = Array.isArray(entry) ? entry : Object.keys(entry).map(Number);
  return dims.some((d: number) => d === dim || d + rank === dim);
}
