// Ahead-of-time compilation: aotCompile() traces and compiles once into a CompiledFunction whose
// serialize() gives a self-contained bundle; loadCompiledFunction() checks every stored factor
// against this process and runs it with no trace, no pass, no codegen and no C compiler.
import { Tensor, type Dim, dimFromJSON } from "../tensor/index.js";
import type { SymbolInfo } from "../graph/index.js";
import { type ArgSpec, type DynamicSpec, type TraceableModule, type TreeSpec, isDynamicDim, isTraceableModule, paramNames, trace, unflattenTree } from "../trace/index.js";
import type { Program } from "../codegen/index.js";
import {
  type Executable, type NativeExecutable, getToolchain, hashedObject, hostCpuFeatures, loadJsProgram, loadNativeProgram, nativeTarget,
} from "../backend/index.js";
import { BUNDLE_FORMAT_VERSION, type KeyFactors, computeCacheKey, decodeBundle, diffFactors, encodeBundle } from "../cache/index.js";
import { ArgumentError, BundleCorruptError, GuardMismatchError, KilnError, bump, readEnv, sha256Hex } from "../util/index.js";
import { checkManifestShape, checkProgramShape, parseSection } from "./bundle-schema.js";
import { compileGraph } from "./compile-graph.js";
import { type GuardResult, buildGuards } from "./guards.js";
import { BoundSlots } from "./bound-slots.js";
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

type ArgSpecJSON = { kind: "tensor"; name: string; dtype: string; shape: unknown[] } | { kind: "value"; name: string; value: unknown };

export interface Manifest {
  readonly kiln_version: string;
  readonly format_version: number;
  readonly prefix: string;
  readonly key: string;
  readonly factors: KeyFactors;
  readonly args: readonly ArgSpecJSON[];
  readonly slots: readonly { name: string; kind: string }[];
  /** Module tensors that were the same tensor as a slot when traced (tied weights); they must still be. */
  readonly tied_slots?: readonly { name: string; kind: string; sameAs: string }[];
  readonly output_spec: TreeSpec;
  readonly symbols: readonly SymbolInfo[];
  readonly backend: "native" | "js";
  /** The C compiler that built the object (provenance; not a key factor). */
  readonly compiler?: { readonly version: string; readonly triple: string };
  /** sha256 of the traced graph's canonical text, for KILN_AOT_VERIFY. */
  readonly graph_hash: string;
  readonly report: Readonly<Record<string, number>>;
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

export class CompiledFunction {
  readonly manifest: Manifest;
  readonly #program: Program;
  readonly #graphJson: string;
  readonly #object: Uint8Array | undefined;
  /** A loaded function re-serialises to the bytes it was loaded from. */
  #bytes: Uint8Array | undefined;
  readonly #executable: Executable;
  readonly #check: (args: readonly unknown[]) => GuardResult;
  readonly #tensorArgs: readonly number[];
  #slots: BoundSlots | undefined;
  #calls = 0;

  constructor(manifest: Manifest, program: Program, graphJson: string, object: Uint8Array | undefined, executable: Executable, module?: TraceableModule<Tensor>) {
    this.manifest = manifest;
    this.#program = program;
    this.#graphJson = graphJson;
    this.#object = object;
    this.#executable = executable;
    const specs: ArgSpec[] = manifest.args.map((a) =>
      a.kind === "tensor" ? { kind: "tensor", name: a.name, dtype: a.dtype as never, shape: a.shape.map(dimFromJSON) as Dim[] } : a,
    );
    this.#check = buildGuards(specs, manifest.symbols);
    this.#tensorArgs = manifest.args.flatMap((a, i) => (a.kind === "tensor" ? [i] : []));
    if (module) this.bind(module);
  }

  /** Marks this function as loaded from `bytes` (serialize() returns them as they are). */
  fromBytes(bytes: Uint8Array): this {
    this.#bytes = bytes;
    return this;
  }

  /** Binds the module whose current parameters are passed as inputs (weights are never in the bundle). */
  bind(module: TraceableModule<Tensor>): this {
    const inputs = this.#program.inputs;
    const first = this.#tensorArgs.length;
    const specs = this.manifest.slots.map((s, j) => ({ name: s.name, dtype: inputs[first + j]!.dtype, shape: inputs[first + j]!.shape }));
    this.#slots = new BoundSlots(module, specs, this.manifest.tied_slots ?? [], `compiled ${this.manifest.prefix}`);
    return this;
  }

  get calls(): number {
    return this.#calls;
  }

  /** Checks a call against the guards without throwing: the symbol values it binds, or why it does not match. */
  match(args: readonly unknown[]): GuardResult {
    return this.#check(args);
  }

  /** Runs a call whose guards `match` accepted, with the symbol values it returned (no second check). */
  run(args: readonly unknown[], env: Record<string, number>): unknown {
    const inputs: Tensor[] = [];
    for (const i of this.#tensorArgs) inputs.push(args[i] as Tensor);
    if (this.manifest.slots.length) {
      if (!this.#slots) throw new ArgumentError(this.manifest.prefix, "this compiled function takes module parameters: bind(module) first");
      this.#slots.appendTo(inputs);
    }
    this.#calls++;
    bump("compiledCalls");
    return unflattenTree(this.manifest.output_spec, this.#executable.run(inputs, env));
  }

  /** Runs the compiled code; an input that breaks a guard is an error (an AOT function never recompiles). */
  call(...args: unknown[]): unknown {
    const checked = this.#check(args);
    if (checked.failure) throw new GuardMismatchError(checked.failure.guard, checked.failure.expected, checked.failure.got, `compiled ${this.manifest.prefix}`);
    return this.run(args, checked.env);
  }

  /** The bundle: manifest, graph, program (with sources), and the shared object for native code. */
  serialize(): Uint8Array {
    if (this.#bytes) return this.#bytes;
    const enc = new TextEncoder();
    // The warm path parses only "manifest" and "program"; loop IR and sources are for inspection.
    const { kernels, js, c, ...runtime } = this.#program;
    const sections = new Map<string, Uint8Array>([
      ["manifest", enc.encode(JSON.stringify(this.manifest))],
      ["program", enc.encode(JSON.stringify({ ...runtime, ...(c ? { c: { symbols: c.symbols } } : {}) }))],
      ["source.js", enc.encode(js.source)],
      ["graph", enc.encode(this.#graphJson)],
      ["kernels", enc.encode(JSON.stringify(kernels))],
    ]);
    if (c) sections.set("source.c", enc.encode(c.source));
    if (this.#object) sections.set("object", this.#object);
    bump("bundlesSaved");
    return encodeBundle(sections, { kilnVersion: KILN_VERSION, signingKey: readEnv().signingKey });
  }
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
  const t0 = performance.now();
  const traced = trace(target as never, exampleInputs, { dynamic: options.dynamic });
  const t1 = performance.now();
  const compiled = compileGraph(traced.graph, { backend: options.backend });
  const factors = keyFactors(target, exampleInputs, options, compiled.backend);
  const { key } = computeCacheKey(factors);
  const object = compiled.backend === "native" ? (compiled.executable as NativeExecutable).object : undefined;
  const manifest: Manifest = {
    kiln_version: KILN_VERSION,
    format_version: BUNDLE_FORMAT_VERSION,
    prefix: options.prefix ?? "model",
    key,
    factors,
    args: JSON.parse(JSON.stringify(traced.args)),
    slots: traced.slots,
    ...(traced.tiedSlots.length ? { tied_slots: traced.tiedSlots } : {}),
    output_spec: traced.outputSpec,
    symbols: traced.graph.symbols,
    backend: compiled.backend,
    ...(compiled.backend === "native" ? { compiler: { version: getToolchain().compiler.version, triple: getToolchain().compiler.target } } : {}),
    graph_hash: sha256Hex(traced.graph.toString()),
    report: { trace: t1 - t0, ...compiled.times },
  };
  // The very bytes that were verified and loaded, never re-read from a path.
  return callable(new CompiledFunction(manifest, compiled.program, JSON.stringify(traced.graph.toJSON()), object?.bytes, compiled.executable, module));
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
  const { manifest, program } = readBundleContent(bundle.sections, path);
  checkManifest(manifest, path, options.expectFactors);
  const object = manifest.backend === "native" ? bundle.sections.get("object") : undefined;
  if (manifest.backend === "native" && !object) throw new BundleCorruptError(path, "object", "a native bundle without its shared object");
  let executable: Executable;
  try {
    executable = object ? loadNativeProgram(program, hashedObject(object, bundle.digests.get("object"))) : loadJsProgram(program);
  } catch (e) {
    // Checksummed content this Kiln cannot make sense of (an odd dim, JS that does not parse) is corruption too.
    if (e instanceof KilnError) throw e;
    throw new BundleCorruptError(path, "program", (e as Error).message);
  }
  bump("bundlesLoaded");
  return callable(new CompiledFunction(manifest, program, "", object, executable, options.module).fromBytes(bytes));
}

/**
 * Everything loadCompiledFunction checks — checksums, signature, shapes, guards — and, for native code, that
 * the object is an ELF shared object for this machine; without loading or running anything.
 */
export function verifyBundle(bytes: Uint8Array, path: string): Manifest {
  const bundle = decodeBundle(bytes, { path, kilnVersion: KILN_VERSION, signingKey: readEnv().signingKey });
  const { manifest } = readBundleContent(bundle.sections, path);
  checkManifest(manifest, path, undefined);
  if (manifest.backend === "native") {
    const object = bundle.sections.get("object");
    if (!object) throw new BundleCorruptError(path, "object", "a native bundle without its shared object");
    const why = elfProblem(object);
    if (why) throw new BundleCorruptError(path, "object", why);
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

/** The manifest and the runnable part of the program, shape-checked; sources are read only when needed. */
function readBundleContent(sections: ReadonlyMap<string, Uint8Array>, path: string): { manifest: Manifest; program: Program } {
  const manifestJson = parseSection(sections.get("manifest"), path, "manifest");
  checkManifestShape(manifestJson, path);
  const manifest = manifestJson as unknown as Manifest;
  const stored = parseSection(sections.get("program"), path, "program");
  checkProgramShape(stored, path);
  let source = "";
  if (manifest.backend === "js") {
    const js = sections.get("source.js");
    if (!js) throw new BundleCorruptError(path, "source.js", "section missing");
    source = new TextDecoder().decode(js);
  }
  const c = stored.c as { symbols: string[] } | undefined;
  const program = { ...stored, kernels: [], js: { source }, ...(c ? { c: { source: "", symbols: c.symbols } } : {}) } as unknown as Program;
  return { manifest, program };
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
