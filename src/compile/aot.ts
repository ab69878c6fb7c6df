// Ahead-of-time compilation: aotCompile() traces and compiles once into a CompiledFunction whose
// serialize() gives a self-contained bundle; loadCompiledFunction() checks every stored factor
// against this process and runs it with no trace, no pass, no codegen and no C compiler.
import { Tensor } from "../tensor/index.js";
import { type DynamicSpec, type TraceResult, type TraceableModule, isDynamicDim, isTraceableModule, paramNames, trace } from "../trace/index.js";
import type { Program } from "../codegen/index.js";
import {
  type Executable, type NativeExecutable, getToolchain, hashedObject, hostCpuFeatures, loadJsProgram, loadNativeProgram, nativeTarget,
} from "../backend/index.js";
import { BUNDLE_FORMAT_VERSION, type KeyFactors, computeCacheKey, decodeBundle, diffFactors } from "../cache/index.js";
import { BundleCorruptError, GuardMismatchError, KilnError, bump, readEnv, sha256Hex } from "../util/index.js";
import { checkManifestShape, checkProgramShape, parseSection } from "./bundle-schema.js";
import { type CompiledGraph, compileGraph } from "./compile-graph.js";
import { type Manifest, type Variant, type VariantManifest, CompiledFunction, sectionName } from "./compiled-function.js";
import { checkCompileSizes, specialiseCall } from "./compile-sizes.js";
import { compilerFingerprint, hostFactors } from "./host.js";
import { KILN_VERSION } from "./version.js";

export interface AotOptions {
  readonly dynamic?: DynamicSpec;
  readonly backend?: "native" | "js" | "auto";
  /** Names the compiled piece (cache folder and logs); default "model". */
  readonly prefix?: string;
  /** The model/compile config; hashed whole into the key. Defaults to the module's `config` field. */
  readonly config?: unknown;
  readonly rank?: number;
  readonly worldSize?: number;
  readonly compileSizes?: readonly number[];
}

type Target = ((...args: never[]) => unknown) | TraceableModule<Tensor>;

function staticFingerprint(target: Target): string {
  const texts = isTraceableModule(target) ? target.sourceTexts() : [Function.prototype.toString.call(target)];
  return sha256Hex(JSON.stringify(texts));
}

function signatureOf(target: Target, args: readonly unknown[], dynamic: DynamicSpec | undefined): unknown[] {
  const names = paramNames(isTraceableModule(target) ? target.forward : target);
  return args.map((a, i) =>
    a instanceof Tensor ? { dtype: a.dtype, shape: a.dims.map((d, j) => (isDynamicDim(dynamic, i, names[i], j, a.rank) ? "dyn" : d)) } : { value: a },
  );
}

/**
 * Everything that can change the compiled code. Computable without tracing, so a warm start
 * finds its bundle without running the model; KILN_AOT_VERIFY re-traces to check the key was complete.
 */
export function keyFactors(target: Target, args: readonly unknown[], options: AotOptions, backend: "native" | "js"): KeyFactors {
  const module = isTraceableModule(target) ? target : undefined;
  return {
    kiln_version: KILN_VERSION,
    format_version: BUNDLE_FORMAT_VERSION,
    config: options.config ?? (module as { config?: unknown } | undefined)?.config ?? null,
    dynamic_dims: options.dynamic ?? null,
    compile_sizes: options.compileSizes ?? [],
    inputs: signatureOf(target, args, options.dynamic),
    params: module ? module.namedTensorSlots().map((s) => ({ name: s.name, kind: s.kind, dtype: s.get().dtype, shape: s.get().shape.map(String) })) : [],
    source: staticFingerprint(target),
    backend,
    // The ISA level objects are compiled for (their flags derive from it) and the CPU features it requires —
    // computable without a C compiler, so a host without one finds bundles built elsewhere. The compiler's
    // identity is recorded in the manifest (provenance), not keyed: any compiler's code for the level is valid.
    isa: backend === "native" ? nativeTarget().target : null,
    cpu_features: backend === "native" ? nativeTarget().requires : [],
    ...hostFactors(),
    rank: options.rank ?? 0,
    world_size: options.worldSize ?? 1,
    prefix: options.prefix ?? "model",
    compiler_code: compilerFingerprint(),
  };
}

/** A CompiledFunction that can also be called directly: `f(x)` is `f.call(x)`. */
export type CompiledCallable = CompiledFunction & ((...args: unknown[]) => unknown);

/** Wraps `fn` so it is callable while its methods and fields stay reachable (a Proxy over a function). */
export function callable(fn: CompiledFunction): CompiledCallable {
  const invoke = (...args: unknown[]) => fn.call(...args);
  return new Proxy(invoke, {
    apply: (_target, _self, args: unknown[]) => fn.call(...args),
    get(_target, prop) {
      const value = Reflect.get(fn, prop, fn) as unknown;
      return typeof value === "function" ? (value as (...a: unknown[]) => unknown).bind(fn) : value;
    },
    has: (_target, prop) => prop in fn,
    getPrototypeOf: () => CompiledFunction.prototype,
  }) as unknown as CompiledCallable;
}

export function aotCompile(target: Target, exampleInputs: readonly unknown[], options: AotOptions = {}): CompiledCallable {
  const module = isTraceableModule(target) ? (target as TraceableModule<Tensor>) : undefined;
  const sizes = checkCompileSizes(options.compileSizes);
  const t0 = performance.now();
  const traced = trace(target as never, exampleInputs, { dynamic: options.dynamic });
  const t1 = performance.now();
  const compiled = compileGraph(traced.graph, { backend: options.backend });
  const general = variantOf(undefined, traced, compiled);
  // Each compile size: traced again with the token count static, compiled beside the general program.
  const names = paramNames(module ? module.forward : (target as (...args: never[]) => unknown));
  const specialised = sizes.map((size) => {
    const call = specialiseCall(traced, exampleInputs, options.dynamic, names, size);
    const t = trace(target as never, call.args, { dynamic: call.dynamic });
    return variantOf(size, t, compileGraph(t.graph, { backend: compiled.backend }));
  });
  const t2 = performance.now();
  const factors = keyFactors(target, exampleInputs, options, compiled.backend);
  const manifest: Manifest = {
    kiln_version: KILN_VERSION,
    format_version: BUNDLE_FORMAT_VERSION,
    prefix: options.prefix ?? "model",
    key: computeCacheKey(factors).key,
    factors,
    args: general.args,
    slots: traced.slots,
    ...(traced.tiedSlots.length ? { tied_slots: traced.tiedSlots } : {}),
    output_spec: traced.outputSpec,
    symbols: traced.graph.symbols,
    ...(specialised.length ? { variants: specialised.map((v) => ({ size: v.size!, args: v.args, symbols: v.symbols })) } : {}),
    backend: compiled.backend,
    ...(compiled.backend === "native" ? { compiler: { version: getToolchain().compiler.version, triple: getToolchain().compiler.target } } : {}),
    graph_hash: sha256Hex(traced.graph.toString()),
    report: { trace: t1 - t0, ...compiled.times, ...(specialised.length ? { compile_sizes: t2 - (t1 + compiled.times.passes + compiled.times.codegen + compiled.times.load) } : {}) },
  };
  return callable(new CompiledFunction(manifest, [...specialised, general], JSON.stringify(traced.graph.toJSON()), module));
}

/** A compiled program as a variant; a native one carries the very bytes that were verified and loaded (never re-read). */
function variantOf(size: number | undefined, traced: TraceResult, compiled: CompiledGraph): Variant {
  const object = compiled.backend === "native" ? (compiled.executable as NativeExecutable).object.bytes : undefined;
  return { size, args: JSON.parse(JSON.stringify(traced.args)), symbols: traced.graph.symbols, program: compiled.program, executable: compiled.executable, object };
}

export interface LoadOptions {
  /** The module whose parameters feed the function (same architecture and config). */
  readonly module?: TraceableModule<Tensor>;
  /** For error messages. */
  readonly path?: string;
  /** The factors this process would use; when given, every stored factor must match. */
  readonly expectFactors?: KeyFactors;
}

/**
 * Loads a bundle: verifies checksums (and the signature), the manifest's and program's shapes and the guards
 * (version, host, CPU features), then dlopens the verified object bytes from a fresh private file. No compiling.
 */
export function loadCompiledFunction(bytes: Uint8Array, options: LoadOptions = {}): CompiledCallable {
  const path = options.path ?? "<bundle>";
  const bundle = decodeBundle(bytes, { path, kilnVersion: KILN_VERSION, signingKey: readEnv().signingKey });
  const { manifest, programs } = readBundleContent(bundle.sections, path);
  checkManifest(manifest, path, options.expectFactors);
  const variants = programs.map(({ size, args, symbols, program }): Variant => {
    const name = sectionName("object", size);
    const object = manifest.backend === "native" ? bundle.sections.get(name) : undefined;
    if (manifest.backend === "native" && !object) throw new BundleCorruptError(path, name, "a native bundle without its shared object");
    let executable: Executable;
    try {
      executable = object ? loadNativeProgram(program, hashedObject(object, bundle.digests.get(name))) : loadJsProgram(program);
    } catch (e) {
      // Checksummed content this Kiln cannot make sense of (an odd dim, JS that does not parse) is corruption too.
      if (e instanceof KilnError) throw e;
      throw new BundleCorruptError(path, sectionName("program", size), (e as Error).message);
    }
    return { size, args, symbols, program, executable, object };
  });
  bump("bundlesLoaded");
  return callable(new CompiledFunction(manifest, variants, "", options.module).fromBytes(bytes));
}

/**
 * Everything loadCompiledFunction checks — checksums, signature, shapes, guards — and, for native code, that
 * the object is an ELF shared object for this machine; without loading or running anything.
 */
export function verifyBundle(bytes: Uint8Array, path: string): Manifest {
  const bundle = decodeBundle(bytes, { path, kilnVersion: KILN_VERSION, signingKey: readEnv().signingKey });
  const { manifest, programs } = readBundleContent(bundle.sections, path);
  checkManifest(manifest, path, undefined);
  if (manifest.backend === "native") {
    for (const { size } of programs) {
      const name = sectionName("object", size);
      const object = bundle.sections.get(name);
      if (!object) throw new BundleCorruptError(path, name, "a native bundle without its shared object");
      const why = elfProblem(object);
      if (why) throw new BundleCorruptError(path, name, why);
    }
  }
  return manifest;
}

const ELF_MACHINE: Readonly<Record<string, number>> = { x64: 62, arm64: 183 };

/** Why `bytes` is not a 64-bit little-endian ELF shared object for this machine, or undefined. */
function elfProblem(bytes: Uint8Array): string | undefined {
  if (bytes.length < 64 || bytes[0] !== 0x7f || bytes[1] !== 0x45 || bytes[2] !== 0x4c || bytes[3] !== 0x46) return "not an ELF file";
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  if (bytes[4] !== 2 || bytes[5] !== 1) return "not a 64-bit little-endian ELF file";
  if (view.getUint16(16, true) !== 3) return "not a shared object (ELF type is not ET_DYN)";
  const machine = ELF_MACHINE[process.arch];
  if (machine !== undefined && view.getUint16(18, true) !== machine) return `built for ELF machine ${view.getUint16(18, true)}, not ${process.arch}`;
  return undefined;
}

/** The manifest and the runnable part of every program, shape-checked; sources are read only when needed. */
function readBundleContent(sections: ReadonlyMap<string, Uint8Array>, path: string): { manifest: Manifest; programs: (VariantManifest & { size: number | undefined; program: Program })[] } {
  const manifestJson = parseSection(sections.get("manifest"), path, "manifest");
  checkManifestShape(manifestJson, path);
  const manifest = manifestJson as unknown as Manifest;
  const signatures: { size: number | undefined; args: VariantManifest["args"]; symbols: VariantManifest["symbols"] }[] = [
    ...(manifest.variants ?? []),
    { size: undefined, args: manifest.args, symbols: manifest.symbols },
  ];
  const programs = signatures.map((sig) => {
    const name = sectionName("program", sig.size);
    const stored = parseSection(sections.get(name), path, name);
    checkProgramShape(stored, path, name);
    let source = "";
    if (manifest.backend === "js") {
      const js = sections.get(sectionName("source.js", sig.size));
      if (!js) throw new BundleCorruptError(path, sectionName("source.js", sig.size), "section missing");
      source = new TextDecoder().decode(js);
    }
    const c = stored.c as { symbols: string[] } | undefined;
    const program = { ...stored, kernels: [], js: { source }, ...(c ? { c: { source: "", symbols: c.symbols } } : {}) } as unknown as Program;
    return { ...sig, size: sig.size as number, program };
  });
  return { manifest, programs };
}

/** Every stored host factor must hold here; native code needs every CPU feature it was built with. */
function checkManifest(m: Manifest, path: string, expect: KeyFactors | undefined): void {
  if (m.kiln_version !== KILN_VERSION) {
    throw new GuardMismatchError("kiln_version", KILN_VERSION, m.kiln_version, `${path}: built by kiln ${m.kiln_version} (format ${m.format_version}), running ${KILN_VERSION} (format ${BUNDLE_FORMAT_VERSION})`);
  }
  const host = hostFactors();
  for (const k of ["os", "arch", "node_abi"] as const) {
    if (m.factors[k] !== host[k]) throw new GuardMismatchError(k, String(m.factors[k]), host[k], path);
  }
  if (m.backend === "native") {
    const have = hostCpuFeatures();
    const missing = (m.factors.cpu_features as string[]).filter((f) => !have.has(f));
    if (missing.length) throw new GuardMismatchError("cpu_features", `a CPU with ${missing.join(", ")}`, "a CPU without it", `${path}: built for a CPU this host is not (missing ${missing.join(", ")})`);
  }
  if (m.factors.compiler_code !== compilerFingerprint()) {
    throw new GuardMismatchError("compiler_code", String(m.factors.compiler_code).slice(0, 12), compilerFingerprint().slice(0, 12), `${path}: built by different Kiln compiler code`);
  }
  if (expect) {
    const diffs = diffFactors(m.factors, expect);
    if (diffs.length) throw new GuardMismatchError(diffs[0]!.path, diffs[0]!.stored, diffs[0]!.current, path);
    if (computeCacheKey(expect).key !== m.key) throw new GuardMismatchError("key", computeCacheKey(expect).key, m.key, path);
  }
}

export { CompiledFunction, type Manifest } from "./compiled-function.js";
