// Compile sizes (vLLM's `compile_sizes`): beside the general program, one specialised for each chosen token
// count. The token count is the symbol of the first dynamic dim of the first tensor argument; a specialised
// trace sees every dim bound to it as the static size (and every other dynamic dim as before), so its code
// has no size arithmetic for it — at S = 1, a decode program.
import { Tensor, isSym } from "../tensor/index.js";
import { full } from "../ops/index.js";
import { type ArgSpec, type DimRange, type DynamicSpec, type TraceResult, resolveDynamic } from "../trace/index.js";
import { ArgumentError } from "../util/index.js";

export interface SpecialisedCall {
  readonly args: readonly unknown[];
  readonly dynamic: DynamicSpec;
}

/** Checks a `compileSizes` option: distinct positive integers (sorted), or none. */
export function checkCompileSizes(sizes: readonly number[] | undefined): readonly number[] {
  if (sizes === undefined) return [];
  if (!Array.isArray(sizes) || sizes.some((s) => !Number.isSafeInteger(s) || s < 1)) {
    throw new ArgumentError("compileSizes", `expected positive integers, got ${JSON.stringify(sizes)}`);
  }
  return [...new Set(sizes)].sort((a, b) => a - b);
}

/** The symbol of the token count in a traced signature: the first symbolic dim of the first tensor argument. */
export function tokenSymbol(args: readonly ArgSpec[]): string | undefined {
  for (const a of args) {
    if (a.kind !== "tensor") continue;
    const d = a.shape.find(isSym);
    return d === undefined ? undefined : String(d);
  }
  return undefined;
}

/**
 * Example inputs and dynamic spec for tracing at `size` tokens: each dim bound to the token symbol in the
 * general trace is resized to `size` and no longer dynamic; other arguments are passed as they were.
 */
export function specialiseCall(general: TraceResult, args: readonly unknown[], dynamic: DynamicSpec | undefined, names: readonly (string | undefined)[], size: number): SpecialisedCall {
  const token = tokenSymbol(general.args);
  if (!token) throw new ArgumentError("compileSizes", "the compiled function has no dynamic dim to specialise (mark the token count dynamic)");
  const range = general.graph.symbols.find((s) => s.name === token);
  if (range && (size < range.min || size > range.max)) throw new ArgumentError("compileSizes", `size ${size} is outside the token count's range [${range.min}, ${range.max}]`);
  const resolved = resolveDynamic(dynamic, args, names, (x): x is Tensor => x instanceof Tensor);
  const spec: Record<number, Record<number, DimRange>> = {};
  const newArgs = args.map((arg, i) => {
    const traced = general.args[i];
    if (!(arg instanceof Tensor) || traced?.kind !== "tensor") return arg;
    const fixed = traced.shape.map((d) => isSym(d) && String(d) === token);
    for (const [dim, r] of resolved[i] ?? []) if (!fixed[dim]) (spec[i] ??= {})[dim] = r;
    if (!fixed.some(Boolean)) return arg;
    return full(arg.dims.map((d, a) => (fixed[a] ? size : d)), 0, arg.dtype);
  });
  return { args: newArgs, dynamic: spec };
}
