// Input guards of a compiled entry: cheap checks that the call matches what was traced.
import { Tensor, isSym } from "../tensor/index.js";
import type { SymbolInfo } from "../graph/index.js";
import type { ArgSpec } from "../trace/index.js";
import { canonicalJson } from "../util/index.js";

/** Why a guard failed: which one, what it wanted, what it got. */
export interface GuardFailure {
  readonly guard: string;
  readonly expected: string;
  readonly got: string;
}

type Check = (args: readonly unknown[], symbols: Record<string, number>) => GuardFailure | undefined;

/** Builds the checks once per entry; checking a call is then a few comparisons per argument. */
export function buildGuards(specs: readonly ArgSpec[], symbols: readonly SymbolInfo[]): (args: readonly unknown[]) => GuardFailure | undefined {
  const checks: Check[] = [];
  const count = specs.length;
  checks.push((args) => (args.length === count ? undefined : { guard: "len(args)", expected: String(count), got: String(args.length) }));
  specs.forEach((spec, i) => {
    const where = `${spec.name} (argument ${i})`;
    if (spec.kind === "value") {
      const want = canonicalJson(spec.value);
      checks.push((args) => {
        const got = args[i] instanceof Tensor ? "a Tensor" : canonicalJson(args[i]);
        return got === want ? undefined : { guard: `${where} == value`, expected: want, got };
      });
      return;
    }
    const rank = spec.shape.length;
    checks.push((args) => {
      const t = args[i];
      if (!(t instanceof Tensor)) return { guard: `${where} is a Tensor`, expected: "Tensor", got: t === null ? "null" : typeof t };
      if (t.dtype !== spec.dtype) return { guard: `${where}.dtype`, expected: spec.dtype, got: t.dtype };
      if (t.rank !== rank) return { guard: `${where}.rank`, expected: String(rank), got: String(t.rank) };
      return undefined;
    });
    spec.shape.forEach((d, a) => {
      if (isSym(d)) {
        const name = String(d);
        checks.push((args, env) => {
          const size = (args[i] as Tensor).dims[a]!;
          const bound = env[name];
          if (bound === undefined) {
            env[name] = size;
            return undefined;
          }
          return bound === size ? undefined : { guard: `${where}.shape[${a}] == ${name}`, expected: String(bound), got: String(size) };
        });
      } else {
        checks.push((args) => {
          const size = (args[i] as Tensor).dims[a]!;
          return size === d ? undefined : { guard: `${where}.shape[${a}]`, expected: String(d), got: String(size) };
        });
      }
    });
  });
  for (const s of symbols) {
    checks.push((_, env) => {
      const v = env[s.name];
      if (v === undefined || (v >= s.min && v <= s.max)) return undefined;
      return { guard: `${s.name} in [${s.min}, ${s.max}]`, expected: `${s.min}..${s.max}`, got: String(v) };
    });
  }
  return (args) => {
    const env: Record<string, number> = {};
    for (const c of checks) {
      const f = c(args, env);
      if (f) return f;
    }
    return undefined;
  };
}
