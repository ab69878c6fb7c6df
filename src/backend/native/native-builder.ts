// NativeBuilder: C source → shared object, keyed by the sha256 of source, compiler identity and flags, kept in
// a verified ObjectStore (re-hashed before every reuse), compiled once per key, distinct sources in parallel
// compiler processes, failures as CompileError.
import { spawn, spawnSync } from "node:child_process";
import { existsSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { availableParallelism } from "node:os";
import { join } from "node:path";
import { CacheIoError, CompileError, CompilerNotFoundError, canonicalJson, makePrivateTempDir, readEnv, sha256Hex, writeFreshFile } from "../../util/index.js";
import { ObjectStore } from "./object-store.js";
import { keepAtExit, removeAtExit } from "./temp-dirs.js";
import type { VerifiedObject } from "./verified-object.js";
import { type CCompiler, findCCompiler, findNodeApiInclude } from "./c-compiler.js";
import { detectCpuFeatures } from "./cpu-features.js";
import { type NativeTarget, bestNativeTarget, targetFlags } from "./native-target.js";

/** Bumped when the flags or the way objects are built change in a way the key would not see. */
export const NATIVE_BUILD_VERSION = 1;

export interface NativeBuilderOptions {
  /** The verified store objects are kept in; default: a store in `dir`, else a fresh private one for this process. */
  readonly store?: ObjectStore;
  /** A folder for the store (created private) when no store is given. */
  readonly dir?: string;
  /** Default: the best named target of detectCpuFeatures() (so a features override picks the target). */
  readonly target?: NativeTarget;
  /** Default: findCCompiler() (KILN_CC, cc, gcc, clang). */
  readonly compiler?: CCompiler;
  /** Compiler processes run at once by buildMany (default: the number of CPUs). */
  readonly jobs?: number;
  readonly extraFlags?: readonly string[];
}

/** What a build takes besides its source. */
export interface BuildInputs {
  /** Folders searched by `#include "…"`; not hashed (what they hold reaches the key through the source or linkWith). */
  readonly includeDirs?: readonly string[];
  /** Relocatable objects linked into this one (the native runtime); their keys are part of its key. */
  readonly linkWith?: readonly NativeObject[];
  /** Build a relocatable object (`cc -c`, `.o`) to link into others, instead of a shared object. */
  readonly relocatable?: boolean;
}

/** A built (or verified stored) shared object: its bytes, checked against their sha256 in this process. */
export interface NativeObject extends VerifiedObject {
  /** sha256 of the source, compiler identity and flags: what the object was built from. */
  readonly key: string;
  readonly target: NativeTarget;
  /** False when a verified object with the same key was already stored. */
  readonly compiled: boolean;
}

interface Settle {
  resolve(o: NativeObject): void;
  reject(e: unknown): void;
}

function deferred(): { promise: Promise<NativeObject>; settle: Settle } {
  let settle!: Settle;
  const promise = new Promise<NativeObject>((resolve, reject) => (settle = { resolve, reject }));
  return { promise, settle };
}

interface Job {
  readonly key: string;
  readonly source: string;
  readonly sourcePath: string;
  readonly outPath: string;
  readonly inputs: BuildInputs;
}

/** Flags every object gets: position-independent, shared, only the N-API entry exported, our own thread pool. */
/** The compiler's environment: ours without secrets (a KILN_CC wrapper, ccache or distcc sees it all). */
function compilerEnv(): NodeJS.ProcessEnv {
  const { KILN_CACHE_SIGNING_KEY: _key, ...env } = process.env;
  return env;
}

const BASE_FLAGS = ["-O3", "-fPIC", "-shared", "-fvisibility=hidden", "-std=gnu11", "-pthread"];

/** Relocatable objects keep each function in a section of its own, so that an object linking them... */
const SECTION_PER_FUNCTION = ["-ffunction-sections", "-fdata-sections"];
/** ...drops what its code never reaches (the template variants a program does not call). */
const DROP_UNREACHED = process.platform === "darwin" ? "-Wl,-dead_strip" : "-Wl,--gc-sections";

export class NativeBuilder {
  readonly compiler: CCompiler;
  readonly target: NativeTarget;
  /** The flags that shape the code (hashed into every key); include paths and file names are added per build. */
  readonly flags: readonly string[];
  readonly store: ObjectStore;
  readonly jobs: number;
  #buildDir: string | undefined;
  #invocations = 0;
  readonly #inflight = new Map<string, Promise<NativeObject>>();

  constructor(options: NativeBuilderOptions = {}) {
    this.compiler = options.compiler ?? findCCompiler();
    this.target = options.target ?? bestNativeTarget(detectCpuFeatures());
    this.flags = [...BASE_FLAGS, ...targetFlags(this.target), ...(options.extraFlags ?? [])];
    this.jobs = Math.max(1, options.jobs ?? availableParallelism());
    this.store = options.store ?? (options.dir === undefined ? ObjectStore.temporary() : ObjectStore.inCache(options.dir, options.dir));
  }

  /**
   * Sources and compiler outputs go to a private folder of this builder (never a shared, predictable path);
   * it is removed at exit unless a compile failed there (the error names the source it kept).
   */
  #builds(): string {
    if (!this.#buildDir) {
      this.#buildDir = makePrivateTempDir(this.store.scratchParent(), ".build-");
      removeAtExit(this.#buildDir);
    }
    return this.#buildDir;
  }

  /** How many times this builder ran the C compiler (tests assert counts, never times). */
  get compilerInvocations(): number {
    return this.#invocations;
  }

  /** The key of an object built from `source` (and `inputs`) by this builder. */
  objectKey(source: string, inputs: BuildInputs = {}): string {
    const c = this.compiler;
    const link = inputs.linkWith?.length ? { link: inputs.linkWith.map((o) => o.key) } : {};
    const kind = inputs.relocatable ? { relocatable: true } : {};
    return sha256Hex(canonicalJson({ v: NATIVE_BUILD_VERSION, source, compiler: [c.path, c.identity, c.version, c.triple], flags: this.flags, ...link, ...kind }));
  }

  /** Drops a stored object that failed to load, so the next build compiles it afresh. */
  reject(object: NativeObject, reason: string): void {
    this.store.reject(object.key, object.sha256, reason);
  }

  /** Builds one object, or returns the verified stored one with the same key. */
  async build(source: string, inputs: BuildInputs = {}): Promise<NativeObject> {
    const [obj] = await this.buildMany([source], inputs);
    return obj!;
  }

  /** Builds several sources; identical ones share one compile, distinct ones compile in parallel processes. */
  async buildMany(sources: readonly string[], inputs: BuildInputs = {}): Promise<NativeObject[]> {
    const fresh: { job: Job; settle: Settle }[] = [];
    const results = sources.map((source) => {
      const key = this.objectKey(source, inputs);
      const existing = this.#inflight.get(key);
      if (existing) return existing;
      const stored = this.store.get(key);
      if (stored) return Promise.resolve(this.#object(key, stored, false));
      const job = this.#job(key, source, inputs);
      const { promise, settle } = deferred();
      this.#inflight.set(job.key, promise);
      fresh.push({ job, settle });
      return promise;
    });
    const all = Promise.all(results);
    all.catch(() => undefined); // failures are reported by the `await all` below, not as unhandled rejections
    const queue = [...fresh];
    const worker = async () => {
      for (let item = queue.shift(); item; item = queue.shift()) {
        try {
          await this.#compileAsync(item.job);
          item.settle.resolve(this.#store(item.job));
        } catch (e) {
          item.settle.reject(e);
        } finally {
          this.#inflight.delete(item.job.key);
        }
      }
    };
    await Promise.all(Array.from({ length: Math.min(this.jobs, fresh.length) }, worker));
    return all;
  }

  /** Synchronous build (for the synchronous JIT path). */
  buildSync(source: string, inputs: BuildInputs = {}): NativeObject {
    return this.buildManySync([source], inputs)[0]!;
  }

  /** Synchronous buildMany: distinct sources still compile in parallel processes (one shell runs them). */
  buildManySync(sources: readonly string[], inputs: BuildInputs = {}): NativeObject[] {
    const done = new Map<string, NativeObject>();
    const todo = new Map<string, Job>();
    for (const source of sources) {
      const key = this.objectKey(source, inputs);
      if (done.has(key) || todo.has(key)) continue;
      const stored = this.store.get(key);
      if (stored) done.set(key, this.#object(key, stored, false));
      else todo.set(key, this.#job(key, source, inputs));
    }
    const jobs = [...todo.values()];
    for (let i = 0; i < jobs.length; i += this.jobs) {
      const wave = jobs.slice(i, i + this.jobs);
      this.#compileWaveSync(wave);
      for (const job of wave) done.set(job.key, this.#store(job));
    }
    return sources.map((source) => done.get(this.objectKey(source, inputs))!);
  }

  #job(key: string, source: string, inputs: BuildInputs): Job {
    const dir = this.#builds();
    const tag = `${process.pid}.${Math.random().toString(36).slice(2, 10)}`;
    const ext = inputs.relocatable ? "o" : "so";
    return { key, source, sourcePath: join(dir, `${key}.${tag}.c`), outPath: join(dir, `${key}.${tag}.${ext}`), inputs };
  }

  #object(key: string, object: VerifiedObject, compiled: boolean): NativeObject {
    return { ...object, key, target: this.target, compiled };
  }

  /** Reads a finished compile's output once, records it in the store, and hands out those very bytes. */
  #store(job: Job): NativeObject {
    let bytes: Uint8Array;
    try {
      bytes = readFileSync(job.outPath);
    } catch (e) {
      throw new CacheIoError(job.outPath, "read the compiler's output", e);
    }
    rmSync(job.outPath, { force: true });
    rmSync(job.sourcePath, { force: true });
    return this.#object(job.key, this.store.put(job.key, bytes, job.inputs.relocatable ? "o" : "so"), true);
  }

  #args(job: Job): string[] {
    const { includeDirs = [], linkWith = [], relocatable = false } = job.inputs;
    const flags = relocatable ? [...this.flags.filter((f) => f !== "-shared"), ...SECTION_PER_FUNCTION, "-c"] : this.flags;
    const includes = [findNodeApiInclude(), ...includeDirs].map((d) => `-I${d}`);
    const link = linkWith.length ? [...linkWith.map((o) => this.#linkable(o)), DROP_UNREACHED] : [];
    return [...flags, ...includes, "-o", job.outPath, job.sourcePath, ...link, ...(relocatable ? [] : ["-lm"])];
  }

  readonly #linkables = new Map<string, string>();

  /** A linked object's verified bytes as a fresh file in the private build folder (the linker reads no stored path). */
  #linkable(object: NativeObject): string {
    let path = this.#linkables.get(object.sha256);
    if (!path) {
      path = join(this.#builds(), `${object.sha256}.o`);
      writeFreshFile(path, object.bytes);
      this.#linkables.set(object.sha256, path);
    }
    return path;
  }

  /** Writes the source into the private build folder and counts the invocation. */
  #prepare(job: Job): string[] {
    const args = this.#args(job);
    try {
      writeFileSync(job.sourcePath, job.source, { flag: "wx", mode: 0o600 });
    } catch (e) {
      throw new CacheIoError(job.sourcePath, "write", e);
    }
    this.#invocations++;
    return args;
  }

  /** Checks a finished compile, or turns a failure into CompileError naming the kept source. */
  #finish(job: Job, status: number | null, stderr: string, cause?: unknown): void {
    if (status === 0 && existsSync(job.outPath)) return;
    rmSync(job.outPath, { force: true });
    keepAtExit(job.sourcePath.slice(0, job.sourcePath.lastIndexOf("/"))); // the path in the error stays valid
    throw new CompileError(stderr.trim() || `compiler exited with status ${status}`, job.sourcePath, cause === undefined ? undefined : { cause });
  }

  #compileAsync(job: Job): Promise<void> {
    const args = this.#prepare(job);
    return new Promise((resolve, reject) => {
      const child = spawn(this.compiler.path, args, { stdio: ["ignore", "ignore", "pipe"], env: compilerEnv() });
      let stderr = "";
      child.stderr.setEncoding("utf8");
      child.stderr.on("data", (d: string) => (stderr += d));
      child.on("error", () => reject(new CompilerNotFoundError([this.compiler.path])));
      child.on("close", (status) => {
        try {
          this.#finish(job, status, stderr);
          resolve();
        } catch (e) {
          reject(e);
        }
      });
    });
  }

  #compileWaveSync(wave: readonly Job[]): void {
    if (wave.length === 1 || process.platform === "win32") {
      for (const job of wave) {
        const r = spawnSync(this.compiler.path, this.#prepare(job), { encoding: "utf8", stdio: ["ignore", "ignore", "pipe"], env: compilerEnv() });
        if (r.error) throw new CompilerNotFoundError([this.compiler.path]);
        this.#finish(job, r.status, r.stderr ?? "");
      }
      return;
    }
    const q = (s: string) => `'${s.replace(/'/g, `'\\''`)}'`;
    const script = wave
      .map((job) => `( ${[this.compiler.path, ...this.#prepare(job)].map(q).join(" ")} 2>${q(`${job.outPath}.err`)}; echo $? >${q(`${job.outPath}.rc`)} ) &`)
      .concat("wait")
      .join("\n");
    spawnSync("/bin/sh", ["-c", script], { stdio: "ignore", env: compilerEnv() });
    let failure: unknown;
    for (const job of wave) {
      const read = (ext: string) => (existsSync(job.outPath + ext) ? readFileSync(job.outPath + ext, "utf8") : "");
      const status = Number.parseInt(read(".rc").trim(), 10);
      const stderr = read(".err");
      rmSync(`${job.outPath}.rc`, { force: true });
      rmSync(`${job.outPath}.err`, { force: true });
      try {
        this.#finish(job, Number.isNaN(status) ? null : status, stderr);
      } catch (e) {
        failure ??= e;
      }
    }
    if (failure) throw failure;
  }
}

const shared = new Map<string, NativeBuilder>();

/** One builder per process, compiler and target, with its temp folder: identical sources compile once per process. */
export function defaultNativeBuilder(target?: NativeTarget): NativeBuilder {
  const t = target ?? bestNativeTarget(detectCpuFeatures());
  const key = `${readEnv().cc ?? ""}\0${t}`;
  let b = shared.get(key);
  if (!b) {
    b = new NativeBuilder({ target: t });
    shared.set(key, b);
  }
  return b;
}
