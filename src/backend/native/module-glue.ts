// napiGlue(): the generated part of the N-API module glue, a table of the C entries `void f(void** bufs, const int64_t*
// syms)` that csrc/napi_glue.c exports to JS. Each exported entry takes (array of typed arrays, BigInt64Array of symbol
// values), passes the arrays' memory zero-copy, counts the call, runs the entry once, and throws if the C side called
// kiln_fail. The module also exports `calls()`, `isa()`, `bf16dot()`, `threads()`, `setThreads(n)`, `arenaBytes()`,
// `parallelJobs()`, `setProfile(on)`, `profile()` and `resetProfile()` (KILN_PROFILE's per-kernel timers).
import { ArgumentError } from "../../util/index.js";

/** One C function exported to JS; buffer and symbol counts are checked on every call when given. */
export interface NativeEntry {
  /** The JS property name. */
  readonly name: string;
  /** The C function, `void symbol(void** bufs, const int64_t* syms)`, defined in the object's source. */
  readonly symbol: string;
  readonly buffers?: number;
  readonly symbols?: number;
}

/** The JS names the glue itself exports; entries may not reuse them. */
export const GLUE_EXPORTS = ["calls", "isa", "bf16dot", "threads", "setThreads", "arenaBytes", "parallelJobs", "setProfile", "profile", "resetProfile"] as const;

const C_IDENT = /^[A-Za-z_][A-Za-z0-9_]*$/;

/** The entry table (`kiln_entries`) that csrc/napi_glue.c exports to JS; it must come after the entries' definitions. */
export function napiGlue(entries: readonly NativeEntry[]): string {
  const names = new Set<string>(GLUE_EXPORTS);
  for (const e of entries) {
    if (!C_IDENT.test(e.symbol)) throw new ArgumentError("napiGlue", `entry symbol '${e.symbol}' is not a C identifier`);
    if (!C_IDENT.test(e.name)) throw new ArgumentError("napiGlue", `entry name '${e.name}' is not an identifier`);
    if (names.has(e.name)) throw new ArgumentError("napiGlue", `entry name '${e.name}' is used twice or by the glue`);
    names.add(e.name);
  }
  const rows = entries.map((e) => `  {"${e.name}", ${e.symbol}, ${e.buffers ?? -1}, ${e.symbols ?? -1}},\n`).join("");
  // C has no empty initializer lists: a table without entries keeps one row that the count leaves out
  return `const kiln_entry kiln_entries[] = {\n${rows || "  {0, 0, 0, 0},\n"}};\nconst int kiln_entry_count = ${entries.length};\n`;
}
