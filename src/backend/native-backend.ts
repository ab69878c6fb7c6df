// The native backend: builds a Program's C (with the N-API glue) into a shared object,
// loads it with process.dlopen, and runs a whole forward in one native call.
import type { Program } from "../codegen/index.js";
import { InternalError } from "../util/index.js";
import { type Executable, createExecutable } from "./program-runner.js";
import { NAPI_GLUE } from "./native-glue.js";
import { type BuildResult, buildSharedObject } from "./native-toolchain.js";

interface NativeModule {
  run(buffers: ArrayBufferView[], symbols: Float64Array): void;
  calls(): number;
}

export interface NativeExecutable extends Executable {
  /** Calls into native code made by this program so far (one per forward). */
  nativeCalls(): number;
  readonly object: BuildResult;
}

const loaded = new Map<string, NativeModule>();

function load(path: string): NativeModule {
  let mod = loaded.get(path);
  if (!mod) {
    const m = { exports: {} } as { exports: NativeModule };
    process.dlopen(m, path);
    mod = m.exports;
    loaded.set(path, mod);
  }
  return mod;
}

export function nativeSource(program: Program): string {
  if (!program.c) throw new InternalError("program was generated without C (generateProgram(graph, { native: true }))");
  return program.c.source + NAPI_GLUE;
}

/** Builds (or reuses) the program's object, or loads a given prebuilt one without compiling. */
export function loadNativeProgram(program: Program, prebuilt?: BuildResult): NativeExecutable {
  const object = prebuilt ?? buildSharedObject(nativeSource(program));
  const mod = load(object.path);
  const order = program.c!.symbols;
  const symbols = new Float64Array(Math.max(1, order.length));
  const before = mod.calls();
  const exe = createExecutable(program, (buffers, env) => {
    order.forEach((s, i) => (symbols[i] = env[s] ?? 0));
    mod.run(buffers as ArrayBufferView[], symbols);
  });
  return { ...exe, run: exe.run, kernelCount: exe.kernelCount, object, nativeCalls: () => mod.calls() - before };
}

