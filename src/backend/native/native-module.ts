// loadNativeModule(): dlopen of verified object bytes, wrapped as a typed NativeModule (entries, call counter, threads).
import { ArgumentError, readEnv } from "../../util/index.js";
import { NativeLoadError, loadAddon } from "./addon-loader.js";
import type { VerifiedObject } from "./verified-object.js";
import { physicalCoreCount } from "./cpu-features.js";
import { GLUE_EXPORTS } from "./module-glue.js";
import type { NativeIsa } from "./native-target.js";

/** Symbol values for a call: a BigInt64Array is passed as is (zero-copy); numbers are converted. */
export type NativeSymbols = BigInt64Array | readonly (number | bigint)[];

type EntryFn = (buffers: readonly ArrayBufferView[], symbols: BigInt64Array) => void;

interface RawExports {
  calls(): number;
  isa(): NativeIsa;
  bf16dot(): boolean;
  threads(): number;
  setThreads(n: number): void;
  arenaBytes(): number;
  [entry: string]: unknown;
}

export interface NativeModule {
  /** The sha256 of the loaded bytes (the module's identity). */
  readonly sha256: string;
  /** The kernel code path the object was compiled for. */
  readonly isa: NativeIsa;
  /** Whether the bf16 GEMM uses vdpbf16ps (avx512_bf16) in this object. */
  readonly bf16dot: boolean;
  /** Names of the object's entries (each `void f(void** bufs, const int64_t* syms)` in C). */
  readonly entries: readonly string[];
  /** Calls the entry `run`: one native call, whatever it does inside. */
  run(buffers: readonly ArrayBufferView[], symbols?: NativeSymbols): void;
  call(entry: string, buffers: readonly ArrayBufferView[], symbols?: NativeSymbols): void;
  /** Native calls made into this object so far (shared by every loader of the same file in this process). */
  readonly calls: number;
  /** Threads the object's kernels use (the caller included); settable. */
  threads: number;
  /** Bytes held by the object's arena (the memory plan's block). */
  readonly arenaBytes: number;
}

const loaded = new Map<string, NativeModule>();
const EMPTY_SYMBOLS = new BigInt64Array(0);

function toSymbols(s: NativeSymbols | undefined): BigInt64Array {
  if (s === undefined) return EMPTY_SYMBOLS;
  if (s instanceof BigInt64Array) return s;
  return BigInt64Array.from(s, (v) => BigInt(v));
}

/**
 * Loads a shared object built with the module glue. The same bytes load once per process (later calls return the
 * same module). Its thread count starts at KILN_NUM_THREADS, else the number of physical cores.
 */
export function loadNativeModule(object: VerifiedObject): NativeModule {
  const cached = loaded.get(object.sha256);
  if (cached) return cached;
  const raw = loadAddon<RawExports>(object);
  const real = `object ${object.sha256.slice(0, 16)}`;
  if (typeof raw.calls !== "function" || typeof raw.isa !== "function") {
    throw new NativeLoadError(real, "not a Kiln native object (no calls()/isa() exports)");
  }
  const glue = new Set<string>(GLUE_EXPORTS);
  const entries = Object.keys(raw).filter((k) => !glue.has(k) && typeof raw[k] === "function");
  const fns = new Map(entries.map((k) => [k, raw[k] as EntryFn]));
  const call = (entry: string, buffers: readonly ArrayBufferView[], symbols?: NativeSymbols): void => {
    const fn = fns.get(entry);
    if (!fn) throw new ArgumentError("NativeModule.call", `no entry '${entry}' in ${real} (entries: ${entries.join(", ")})`);
    fn(buffers, toSymbols(symbols));
  };
  raw.setThreads(readEnv().numThreads ?? physicalCoreCount());
  const mod: NativeModule = {
    sha256: object.sha256,
    isa: raw.isa(),
    bf16dot: raw.bf16dot(),
    entries,
    run: (buffers, symbols) => call("run", buffers, symbols),
    call,
    get calls() {
      return raw.calls();
    },
    get threads() {
      return raw.threads();
    },
    set threads(n: number) {
      if (!Number.isInteger(n) || n < 1) throw new ArgumentError("NativeModule.threads", `expected a positive integer, got ${n}`);
      raw.setThreads(n);
    },
    get arenaBytes() {
      return raw.arenaBytes();
    },
  };
  loaded.set(object.sha256, mod);
  return mod;
}
