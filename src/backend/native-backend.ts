// The native backend: builds a Program's C into the verified objects store, linked with the native runtime's
// objects (thread pool, GEMM/GEMV and attention templates, N-API glue; compiled once per target), loads the
// verified bytes, and runs a whole forward in one native call.
import type { Program } from "../codegen/index.js";
import { InternalError, bump, readEnv, resolveCacheRoot } from "../util/index.js";
import { type Executable, createExecutable } from "./program-runner.js";
import { detectCpuFeatures, realCpuFeatures, setCpuFeaturesOverride } from "./native/cpu-features.js";
import { NativeBuilder } from "./native/native-builder.js";
import { NativeLoadError } from "./native/addon-loader.js";
import { type NativeModule, loadNativeModule } from "./native/native-module.js";
import { assembleNativeSource } from "./native/native-source.js";
import { runtimeInputs } from "./native/runtime-object.js";
import { type NativeTarget, bestNativeTarget, targetRequiredFeatures } from "./native/native-target.js";
import { ObjectStore } from "./native/object-store.js";
import type { VerifiedObject } from "./native/verified-object.js";

export interface NativeExecutable extends Executable {
  /** Calls into native code made by this program so far (one per forward). */
  nativeCalls(): number;
  /** The loaded object's bytes (what a bundle embeds: never re-read from a path). */
  readonly object: VerifiedObject;
}

/**
 * This host's CPU features. KILN_CPU_FEATURES (tests) narrows them to simulate a lesser host; it never
 * widens them, so no setting can make Kiln build or accept code this CPU cannot run.
 */
export function hostCpuFeatures(): ReadonlySet<string> {
  const forced = readEnv().cpuFeatures;
  const real = realCpuFeatures();
  setCpuFeaturesOverride(forced ? forced.filter((f) => real.has(f)) : undefined);
  return detectCpuFeatures();
}

/** The named ISA level objects are built for here, and the CPU features a loading host must have. */
export function nativeTarget(): { readonly target: Exclude<NativeTarget, "native">; readonly requires: readonly string[] } {
  const host = hostCpuFeatures();
  const target = bestNativeTarget(host);
  return { target, requires: targetRequiredFeatures(target, host) };
}

const stores = new Map<string, ObjectStore>();

/**
 * Where compiled objects are kept: the cache's verified store, or — with KILN_DISABLE_COMPILE_CACHE=1,
 * KILN_USE_AOT_COMPILE=0 or no cache folder — a private store of this process, so nothing is shared.
 */
export function defaultObjectStore(): ObjectStore {
  const env = readEnv();
  const root = env.disableCompileCache || !env.useAotCompile ? undefined : resolveCacheRoot();
  const id = root ?? "";
  let store = stores.get(id);
  if (!store) stores.set(id, (store = root ? ObjectStore.inCache(root) : ObjectStore.temporary()));
  return store;
}

const builders = new Map<string, NativeBuilder>();

function builder(): NativeBuilder {
  const env = readEnv();
  const { target } = nativeTarget();
  const store = defaultObjectStore();
  const key = `${env.cc ?? ""}|${store.dir}|${target}`;
  let b = builders.get(key);
  if (!b) builders.set(key, (b = new NativeBuilder({ target, store })));
  return b;
}

export function nativeSource(program: Program): string {
  if (!program.c) throw new InternalError("program was generated without C (generateProgram(graph, { native: true }))");
  return assembleNativeSource({ code: program.c.source, entries: [{ name: "run", symbol: "kiln_run" }] });
}

/** Builds the program's object (or reuses a verified stored one), loads it; a stored one that fails to load is rebuilt once. */
function buildAndLoad(program: Program): { object: VerifiedObject; mod: NativeModule } {
  const b = builder();
  const source = nativeSource(program);
  const count = (before: number) => {
    for (let i = before; i < b.compilerInvocations; i++) bump("compilerInvocations");
  };
  let before = b.compilerInvocations;
  const built = b.buildSync(source, runtimeInputs(b));
  count(before);
  try {
    return { object: built, mod: loadNativeModule(built) };
  } catch (e) {
    if (built.compiled || !(e instanceof NativeLoadError)) throw e;
    b.reject(built, e.reason);
  }
  before = b.compilerInvocations;
  const rebuilt = b.buildSync(source, runtimeInputs(b));
  count(before);
  return { object: rebuilt, mod: loadNativeModule(rebuilt) };
}

/** Builds (or reuses) the program's object, or loads given verified bytes (a bundle's) without compiling. */
export function loadNativeProgram(program: Program, prebuilt?: VerifiedObject): NativeExecutable {
  const { object, mod } = prebuilt ? { object: prebuilt, mod: loadNativeModule(prebuilt) } : buildAndLoad(program);
  const order = program.c?.symbols ?? program.symbols.map((s) => s.name);
  const symbols = new BigInt64Array(Math.max(1, order.length));
  const start = mod.calls;
  const exe = createExecutable(program, (buffers, env) => {
    order.forEach((s, i) => (symbols[i] = BigInt(env[s] ?? 0)));
    const t0 = performance.now();
    mod.run(buffers as ArrayBufferView[], symbols);
    bump("nativeMs", performance.now() - t0);
  });
  return { run: exe.run, kernelCount: exe.kernelCount, object, nativeCalls: () => mod.calls - start, setThreads: (n) => (mod.threads = n) };
}
