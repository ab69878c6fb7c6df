// CompiledFunction: a compiled forward as one or more programs — the general one and any specialised for a
// token count (compile sizes) — with their guards, the module whose tensors feed them, and serialize() to a
// self-contained bundle. A call runs the first program whose guards take it: exact sizes first, then general.
import { type Dim, Tensor, dimFromJSON } from "../tensor/index.js";
import type { SymbolInfo } from "../graph/index.js";
import { type ArgSpec, type TraceableModule, type TreeSpec, unflattenTree } from "../trace/index.js";
import type { Program } from "../codegen/index.js";
import type { Executable, RunOptions } from "../backend/index.js";
import { type KeyFactors, encodeBundle } from "../cache/index.js";
import { ArgumentError, GuardMismatchError, bump, readEnv } from "../util/index.js";
import { type GuardFailure, buildGuards } from "./guards.js";
import { BoundSlots } from "./bound-slots.js";
import { KILN_VERSION } from "./version.js";

export type ArgSpecJSON = { kind: "tensor"; name: string; dtype: string; shape: unknown[] } | { kind: "value"; name: string; value: unknown };

/** A program specialised for one token count: its guards' signature (the general one's is the manifest's). */
export interface VariantManifest {
  readonly size: number;
  readonly args: readonly ArgSpecJSON[];
  readonly symbols: readonly SymbolInfo[];
}

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
  /** Programs specialised for token counts (compile sizes), beside the general one. */
  readonly variants?: readonly VariantManifest[];
  readonly backend: "native" | "js";
  /** The C compiler that built the object (provenance; not a key factor). */
  readonly compiler?: { readonly version: string; readonly triple: string };
  /** sha256 of the traced graph's canonical text, for KILN_AOT_VERIFY. */
  readonly graph_hash: string;
  readonly report: Readonly<Record<string, number>>;
}

/** One runnable program of a compiled function. */
export interface Variant {
  /** The token count it is specialised for; undefined for the general program. */
  readonly size: number | undefined;
  readonly args: readonly ArgSpecJSON[];
  readonly symbols: readonly SymbolInfo[];
  readonly program: Program;
  readonly executable: Executable;
  /** The native object's bytes (embedded in the bundle). */
  readonly object: Uint8Array | undefined;
}

/** Where a variant's sections live in a bundle: `program`, `program@1`, … */
export const sectionName = (name: string, size: number | undefined): string => (size === undefined ? name : `${name}@${size}`);

/** A call's verdict: which program takes it and the symbol values it binds, or why none does. */
export type Match = { readonly env: Record<string, number>; readonly variant: number; readonly failure?: undefined } | { readonly failure: GuardFailure };

interface Runnable extends Variant {
  readonly check: (args: readonly unknown[]) => ReturnType<ReturnType<typeof buildGuards>>;
  readonly tensorArgs: readonly number[];
  calls: number;
}

export class CompiledFunction {
  readonly manifest: Manifest;
  /** Specialised programs first (by size), the general one last. */
  readonly #variants: readonly Runnable[];
  readonly #graphJson: string;
  /** A loaded function re-serialises to the bytes it was loaded from. */
  #bytes: Uint8Array | undefined;
  #slots: BoundSlots | undefined;
  #calls = 0;

  constructor(manifest: Manifest, variants: readonly Variant[], graphJson: string, module?: TraceableModule<Tensor>) {
    this.manifest = manifest;
    this.#graphJson = graphJson;
    this.#variants = [...variants]
      .sort((a, b) => (a.size ?? Infinity) - (b.size ?? Infinity))
      .map((v) => ({ ...v, check: buildGuards(v.args.map(argSpec), v.symbols), tensorArgs: v.args.flatMap((a, i) => (a.kind === "tensor" ? [i] : [])), calls: 0 }));
    if (module) this.bind(module);
  }

  /** Marks this function as loaded from `bytes` (serialize() returns them as they are). */
  fromBytes(bytes: Uint8Array): this {
    this.#bytes = bytes;
    return this;
  }

  /** Binds the module whose current parameters are passed as inputs (weights are never in the bundle). */
  bind(module: TraceableModule<Tensor>): this {
    const general = this.#variants[this.#variants.length - 1]!;
    const inputs = general.program.inputs;
    const first = general.tensorArgs.length;
    const specs = this.manifest.slots.map((s, j) => ({ name: s.name, dtype: inputs[first + j]!.dtype, shape: inputs[first + j]!.shape }));
    this.#slots = new BoundSlots(module, specs, this.manifest.tied_slots ?? [], `compiled ${this.manifest.prefix}`);
    return this;
  }

  get calls(): number {
    return this.#calls;
  }

  /** Sets the threads of every program's native kernels (an option passed down, never an environment variable). */
  setThreads(n: number): void {
    for (const v of this.#variants) v.executable.setThreads?.(n);
  }

  /** Calls served by each program: by token count for specialised ones, "general" for the general one. */
  callsBySize(): Record<string, number> {
    return Object.fromEntries(this.#variants.map((v) => [v.size === undefined ? "general" : String(v.size), v.calls]));
  }

  /** Checks a call against each program's guards without throwing (exact sizes first, then the general program). */
  match(args: readonly unknown[]): Match {
    let failure: GuardFailure | undefined;
    for (let i = 0; i < this.#variants.length; i++) {
      const checked = this.#variants[i]!.check(args);
      if (!checked.failure) return { env: checked.env, variant: i };
      failure = checked.failure; // the general program's, last, says the most
    }
    return { failure: failure! };
  }

  /** Runs a call that `match` accepted, on the program it chose, with the symbol values it bound (no second check). */
  run(args: readonly unknown[], matched: { readonly env: Record<string, number>; readonly variant: number }, options?: RunOptions): unknown {
    const v = this.#variants[matched.variant]!;
    const inputs: Tensor[] = [];
    for (const i of v.tensorArgs) inputs.push(args[i] as Tensor);
    if (this.manifest.slots.length) {
      if (!this.#slots) throw new ArgumentError(this.manifest.prefix, "this compiled function takes module parameters: bind(module) first");
      this.#slots.appendTo(inputs);
    }
    this.#calls++;
    v.calls++;
    bump("compiledCalls");
    if (v.size !== undefined) bump("specialisedCalls");
    return unflattenTree(this.manifest.output_spec, v.executable.run(inputs, matched.env, options));
  }

  /** Runs the compiled code; an input that no program's guards take is an error (an AOT function never recompiles). */
  call(...args: unknown[]): unknown {
    const m = this.match(args);
    if (m.failure) throw new GuardMismatchError(m.failure.guard, m.failure.expected, m.failure.got, `compiled ${this.manifest.prefix}`);
    return this.run(args, m);
  }

  /** The bundle: manifest, graph, each program (with sources), and the shared object of each for native code. */
  serialize(): Uint8Array {
    if (this.#bytes) return this.#bytes;
    const enc = new TextEncoder();
    const sections = new Map<string, Uint8Array>([["manifest", enc.encode(JSON.stringify(this.manifest))]]);
    for (const v of [...this.#variants].reverse()) {
      // The warm path parses only "manifest" and the programs; loop IR and sources are for inspection.
      const { kernels, js, c, ...runtime } = v.program;
      const at = (name: string) => sectionName(name, v.size);
      sections.set(at("program"), enc.encode(JSON.stringify({ ...runtime, ...(c ? { c: { symbols: c.symbols } } : {}) })));
      sections.set(at("source.js"), enc.encode(js.source));
      sections.set(at("kernels"), enc.encode(JSON.stringify(kernels)));
      if (c) sections.set(at("source.c"), enc.encode(c.source));
      if (v.object) sections.set(at("object"), v.object);
    }
    sections.set("graph", enc.encode(this.#graphJson));
    bump("bundlesSaved");
    return encodeBundle(sections, { kilnVersion: KILN_VERSION, signingKey: readEnv().signingKey });
  }
}

function argSpec(a: ArgSpecJSON): ArgSpec {
  return a.kind === "tensor" ? { kind: "tensor", name: a.name, dtype: a.dtype as never, shape: a.shape.map(dimFromJSON) as Dim[] } : a;
}
