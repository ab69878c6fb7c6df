// The native backend: builds a Program's C content-addressed (under KILN_CACHE_DIR/objects when set), linked with
// the native runtime's objects (thread pool, GEMM/GEMV and attention templates, N-API glue; compiled once per
// target), loads it with process.dlopen, and runs a whole forward in one native call.
import { join } from "node:path";
import type { Program } from "../codegen/index.js";
import { InternalError, bump, readEnv } from "../util/index.js";
import { type Executable, createExecutable } from "./program-runner.js";
import { detectCpuFeatures, setCpuFeaturesOverride } from "./native/cpu-features.js";
import { NativeBuilder } from "./native/native-builder.js";
import { loadNativeModule } from "./native/native-module.js";
import { assembleNativeSource } from "./native/native-source.js";
import { runtimeInputs } from "./native/runtime-object.js";
import { type NativeTarget, bestNativeTarget, targetRequiredFeatures } from "./native/native-target.js";

export interface NativeObjectRef {
  readonly path: string;
  readonly sha256: string;
}

export interface NativeExecutable extends Executable {
  /** Calls into native code made by this program so far (one per forward). */
  nativeCalls(): number;
  readonly object: NativeObjectRef;
}

/** This host's CPU features (KILN_CPU_FEATURES simulates another host in tests). */
export function hostCpuFeatures(): ReadonlySet<string> {
  const forced = readEnv().cpuFeatures;
  setCpuFeaturesOverride(forced ? new Set(forced) : undefined);
  return detectCpuFeatures();
}

/** The named ISA level objects are built for here, and the CPU features a loading host must have. */
export function nativeTarget(): { readonly target: Exclude<NativeTarget, "native">; readonly requires: readonly string[] } {
  const host = hostCpuFeatures();
  const target = bestNativeTarget(host);
  return { target, requires: targetRequiredFeatures(target, host) };
}

const builders = new Map<string, NativeBuilder>();

function builder(): NativeBuilder {
  const env = readEnv();
  const { target } = nativeTarget();
  const dir = env.cacheDir ? join(env.cacheDir, "objects") : undefined;
  const key = `${env.cc ?? ""}|${dir ?? ""}|${target}`;
  let b = builders.get(key);
  if (!b) builders.set(key, (b = new NativeBuilder({ target, ...(dir ? { dir } : {}) })));
  return b;
}

export function nativeSource(program: Program): string {
  if (!program.c) throw new InternalError("program was generated without C (generateProgram(graph, { native: true }))");
  return assembleNativeSource({ code: program.c.source, entries: [{ name: "run", symbol: "kiln_run" }] });
}

/** Builds (or reuses) the program's object, or loads a given prebuilt one without compiling. */
export function loadNativeProgram(program: Program, prebuilt?: NativeObjectRef): NativeExecutable {
  let object = prebuilt;
  if (!object) {
    const b = builder();
    const before = b.compilerInvocations;
    const built = b.buildSync(nativeSource(program), runtimeInputs(b));
    for (let i = before; i < b.compilerInvocations; i++) bump("compilerInvocations");
    object = { path: built.path, sha256: built.key };
  }
  const mod = loadNativeModule(object.path);
  const order = program.c?.symbols ?? program.symbols.map((s) => s.name);
  const symbols = new BigInt64Array(Math.max(1, order.length));
  const start = mod.calls;
  const exe = createExecutable(program, (buffers, env) => {
    order.forEach((s, i) => (symbols[i] = BigInt(env[s] ?? 0)));
    mod.run(buffers as ArrayBufferView[], symbols);
  });
  return { run: exe.run, kernelCount: exe.kernelCount, object, nativeCalls: () => mod.calls - start };
}
