// Input guards of a compiled entry: cheap checks that a call matches what was traced.
import { Tensor, isSym } from "../tensor/index.js";
import type { SymbolInfo } from "../graph/index.js";
import { type ArgSpec, type SlotSpec, type TensorSlot, type TiedSlot, describeValue, sameValue } from "../trace/index.js";

/** Why a guard failed: which one, what it wanted, what it got. */
export interface GuardFailure {
  readonly guard: string;
  readonly expected: string;
  readonly got: string;
}

type Check = (args: readonly unknown[], symbols: Record<string, number>) => GuardFailure | undefined;

/** A call's guard verdict: the symbol values its inputs bind (used as is by the executable), or why it fails. */
export type GuardResult = { readonly env: Record<string, number>; readonly failure?: undefined } | { readonly env?: undefined; readonly failure: GuardFailure };

/**
 * Builds the checks once per entry; checking a call is then a few comparisons per argument:
 * the count, specialised values, dtype, rank, static dims, dynamic dims within range, and
 * duck-sized dims (one symbol) equal.
 */
export function buildGuards(specs: readonly ArgSpec[], symbols: readonly SymbolInfo[]): (args: readonly unknown[]) => GuardResult {
  const checks: Check[] = [];
  const count = specs.length;
  checks.push((args) => (args.length === count ? undefined : { guard: "len(args)", expected: String(count), got: String(args.length) }));
  specs.forEach((spec, i) => {
    const where = `${spec.name} (argument ${i})`;
    if (spec.kind === "value") {
      const want = spec.value;
      checks.push((args) => (sameValue(args[i], want) ? undefined : { guard: `${where} == ${describeValue(want)}`, expected: describeValue(want), got: describeValue(args[i]) }));
      return;
    }
    const rank = spec.shape.length;
    checks.push((args) => {
      const t = args[i];
      if (!(t instanceof Tensor)) return { guard: `${where} is a Tensor`, expected: "Tensor", got: describeValue(t) };
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
      const failure = c(args, env);
      if (failure) return { failure };
    }
    return { env };
  };
}

/**
 * Guards on a module's tensors: the same names, dtypes and shapes as when traced, and tied
 * weights still the same tensor (a new or removed parameter means the forward may differ).
 */
export function buildSlotGuards(slots: readonly SlotSpec[], tied: readonly TiedSlot[], types: ReadonlyMap<string, { dtype: string; dims: readonly number[] }>): (current: ReadonlyMap<string, TensorSlot<Tensor>>) => GuardFailure | undefined {
  const total = slots.length + tied.length;
  return (current) => {
    if (current.size !== total) return { guard: "module tensors", expected: `${total} parameters/buffers`, got: String(current.size) };
    for (const s of slots) {
      const slot = current.get(s.name);
      if (!slot) return { guard: `module has '${s.name}'`, expected: s.kind, got: "no such parameter" };
      const t = slot.get();
      const want = types.get(s.name)!;
      if (t.dtype !== want.dtype) return { guard: `${s.name}.dtype`, expected: want.dtype, got: t.dtype };
      const dims = t.dims;
      if (dims.length !== want.dims.length || dims.some((d, i) => d !== want.dims[i])) return { guard: `${s.name}.shape`, expected: `[${want.dims}]`, got: `[${dims}]` };
    }
    for (const s of tied) {
      const slot = current.get(s.name);
      if (!slot) return { guard: `module has '${s.name}'`, expected: s.kind, got: "no such parameter" };
      if (slot.get() !== current.get(s.sameAs)?.get()) return { guard: `${s.name} is ${s.sameAs}`, expected: "the same tensor (tied)", got: "a different tensor" };
    }
    return undefined;
  };
}
