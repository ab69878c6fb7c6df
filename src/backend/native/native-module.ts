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
  parallelJobs(): number;
  setProfile(on: boolean): void;
  profile(): RawProfile;
  resetProfile(): void;
  [entry: string]: unknown;
}

interface RawProfile {
  forwards: number;
  forwardNs: number;
  kernels: { name: string; what: string; calls: number; ns: number }[];
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
  /** Regions this object's pool has run on more than one thread so far (GEMMs, threaded kernels). */
  readonly parallelJobs: number;
  /** Whether kiln_run times each kernel (KILN_PROFILE=1 turns it on at load); settable. */
  profiling: boolean;
  /** The per-kernel timers of the profiled runs so far. */
  profile(): NativeProfile;
  resetProfile(): void;
}

/** One distinct kernel function's share of the profiled forwards. */
export interface KernelProfile {
  readonly name: string;
  /** What it computes: the ops it fuses, or a template call's shape. */
  readonly what: string;
  readonly calls: number;
  readonly ms: number;
}

export interface NativeProfile {
  readonly forwards: number;
  /** Wall time of the profiled forwards (kiln_run), kernels and what lies between them. */
  readonly forwardMs: number;
  /** By total time, longest first. */
  readonly kernels: readonly KernelProfile[];
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
  const env = readEnv();
  raw.setThreads(env.numThreads ?? physicalCoreCount());
  let profiling = false;
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
    get parallelJobs() {
      return raw.parallelJobs();
    },
    get profiling() {
      return profiling;
    },
    set profiling(on: boolean) {
      raw.setProfile((profiling = on));
    },
    profile: () => profileOf(raw.profile()),
    resetProfile: () => raw.resetProfile(),
  };
  loaded.set(object.sha256, mod);
  if (env.profile) {
    mod.profiling = true;
    printProfileAtExit(mod);
  }
  return mod;
}

/** Every native module this process has loaded (one per distinct object). */
export function loadedNativeModules(): NativeModule[] {
  return [...loaded.values()];
}

function profileOf(p: RawProfile): NativeProfile {
  const kernels = p.kernels.filter((k) => k.calls > 0).map((k) => ({ name: k.name, what: k.what, calls: k.calls, ms: k.ns / 1e6 }));
  return { forwards: p.forwards, forwardMs: p.forwardNs / 1e6, kernels: kernels.sort((a, b) => b.ms - a.ms) };
}

/** The per-kernel table: name, calls, total ms, % of the forwards' time, what it computes; then the time between kernels. */
export function formatProfile(p: NativeProfile, title: string): string {
  const pct = (ms: number) => (p.forwardMs > 0 ? ((100 * ms) / p.forwardMs).toFixed(1) : "-");
  const inKernels = p.kernels.reduce((a, k) => a + k.ms, 0);
  const rows = [
    ["kernel", "calls", "total ms", "% forward", "what"],
    ...p.kernels.map((k) => [k.name, String(k.calls), k.ms.toFixed(2), pct(k.ms), k.what]),
    ["(between kernels)", "", (p.forwardMs - inKernels).toFixed(2), pct(p.forwardMs - inKernels), ""],
  ];
  const widths = rows[0]!.map((_, c) => Math.max(...rows.map((r) => r[c]!.length)));
  const line = (r: string[]) => r.map((cell, c) => (c === 0 || c === 4 ? cell.padEnd(widths[c]!) : cell.padStart(widths[c]!))).join("  ").trimEnd();
  return [`${title}: ${p.forwards} forwards, ${p.forwardMs.toFixed(2)} ms`, ...rows.map(line)].join("\n");
}

const profiled: NativeModule[] = [];

/** KILN_PROFILE=1: every profiled module's table goes to stderr when the process exits. */
function printProfileAtExit(mod: NativeModule): void {
  if (profiled.push(mod) > 1) return;
  process.once("exit", () => {
    for (const m of profiled) {
      const p = m.profile();
      if (p.forwards > 0) process.stderr.write(`${formatProfile(p, `kiln profile, object ${m.sha256.slice(0, 12)} (${m.threads} threads)`)}\n`);
    }
  });
}
