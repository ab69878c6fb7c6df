// NativeBuilder: C source → shared object, content-addressed (sha256 of source, compiler identity and flags),
// compiled once per key, distinct sources in parallel compiler processes, failures as CompileError.
import { spawn, spawnSync } from "node:child_process";
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, renameSync, rmSync, writeFileSync } from "node:fs";
import { availableParallelism, tmpdir } from "node:os";
import { join } from "node:path";
import { CompileError, CompilerNotFoundError, canonicalJson, readEnv, sha256Hex } from "../../util/index.js";
import { type CCompiler, findCCompiler, findNodeApiInclude } from "./c-compiler.js";
import { detectCpuFeatures } from "./cpu-features.js";
import { type NativeTarget, bestNativeTarget, targetFlags } from "./native-target.js";

/** Bumped when the flags or the way objects are built change in a way the key would not see. */
export const NATIVE_BUILD_VERSION = 1;

export interface NativeBuilderOptions {
  /** Where objects and their sources live; default: a fresh temp folder, removed when the process exits. */
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

/** A built (or already present) shared object. */
export interface NativeObject {
  /** sha256 of the source, compiler identity and flags; also the file name. */
  readonly key: string;
  readonly path: string;
  /** The C source beside it (kept for debugging and for CompileError). */
  readonly sourcePath: string;
  readonly target: NativeTarget;
  /** False when an identical object already existed. */
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
  readonly tmpPath: string;
  readonly inputs: BuildInputs;
}

const temporaryDirs: string[] = [];

/** Temp build folders go when the process exits (loaded objects stay mapped; Linux keeps unlinked files alive). */
function removeAtExit(dir: string): void {
  if (temporaryDirs.length === 0) {
    process.once("exit", () => {
      for (const d of temporaryDirs) rmSync(d, { recursive: true, force: true });
    });
  }
  temporaryDirs.push(dir);
}

/** Flags every object gets: position-independent, shared, only the N-API entry exported, our own thread pool. */
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
  readonly dir: string;
  readonly jobs: number;
  readonly #temporary: boolean;
  #invocations = 0;
  readonly #inflight = new Map<string, Promise<NativeObject>>();

  constructor(options: NativeBuilderOptions = {}) {
    this.compiler = options.compiler ?? findCCompiler();
    this.target = options.target ?? bestNativeTarget(detectCpuFeatures());
    this.flags = [...BASE_FLAGS, ...targetFlags(this.target), ...(options.extraFlags ?? [])];
    this.jobs = Math.max(1, options.jobs ?? availableParallelism());
    this.#temporary = options.dir === undefined;
    if (options.dir === undefined) {
      this.dir = mkdtempSync(join(tmpdir(), "kiln-native-"));
      removeAtExit(this.dir);
    } else {
      this.dir = options.dir;
      mkdirSync(this.dir, { recursive: true });
    }
  }

  /** How many times this builder ran the C compiler (tests assert counts, never times). */
  get compilerInvocations(): number {
    return this.#invocations;
  }

  /** The content address of an object built from `source` (and `inputs`) by this builder. */
  objectKey(source: string, inputs: BuildInputs = {}): string {
    const c = this.compiler;
    const link = inputs.linkWith?.length ? { link: inputs.linkWith.map((o) => o.key) } : {};
    const kind = inputs.relocatable ? { relocatable: true } : {};
    return sha256Hex(canonicalJson({ v: NATIVE_BUILD_VERSION, source, compiler: [c.path, c.identity, c.version, c.triple], flags: this.flags, ...link, ...kind }));
  }

  /** Builds one object, or returns the existing one with the same key. */
  async build(source: string, inputs: BuildInputs = {}): Promise<NativeObject> {
    const [obj] = await this.buildMany([source], inputs);
    return obj!;
  }

  /** Builds several sources; identical ones share one compile, distinct ones compile in parallel processes. */
  async buildMany(sources: readonly string[], inputs: BuildInputs = {}): Promise<NativeObject[]> {
    const fresh: { job: Job; settle: Settle }[] = [];
    const results = sources.map((source) => {
      const job = this.#job(source, inputs);
      const existing = this.#inflight.get(job.key);
      if (existing) return existing;
      if (existsSync(job.outPath)) return Promise.resolve(this.#object(job, false));
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
          item.settle.resolve(this.#object(item.job, true));
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
    const jobs = new Map<string, Job>();
    for (const source of sources) {
      const job = this.#job(source, inputs);
      if (!jobs.has(job.key) && !existsSync(job.outPath)) jobs.set(job.key, job);
    }
    const todo = [...jobs.values()];
    for (let i = 0; i < todo.length; i += this.jobs) this.#compileWaveSync(todo.slice(i, i + this.jobs));
    return sources.map((source) => {
      const job = this.#job(source, inputs);
      return this.#object(job, jobs.has(job.key));
    });
  }

  #job(source: string, inputs: BuildInputs): Job {
    const key = this.objectKey(source, inputs);
    const tag = `${process.pid}.${Math.random().toString(36).slice(2, 10)}`;
    const ext = inputs.relocatable ? "o" : "so";
    return { key, source, sourcePath: join(this.dir, `${key}.c`), outPath: join(this.dir, `${key}.${ext}`), tmpPath: join(this.dir, `.${key}.${tag}.${ext}.tmp`), inputs };
  }

  #object(job: Job, compiled: boolean): NativeObject {
    return { key: job.key, path: job.outPath, sourcePath: job.sourcePath, target: this.target, compiled };
  }

  #args(job: Job): string[] {
    const { includeDirs = [], linkWith = [], relocatable = false } = job.inputs;
    const flags = relocatable ? [...this.flags.filter((f) => f !== "-shared"), ...SECTION_PER_FUNCTION, "-c"] : this.flags;
    const includes = [findNodeApiInclude(), ...includeDirs].map((d) => `-I${d}`);
    const link = linkWith.length ? [...linkWith.map((o) => o.path), DROP_UNREACHED] : [];
    return [...flags, ...includes, "-o", job.tmpPath, job.sourcePath, ...link, ...(relocatable ? [] : ["-lm"])];
  }

  /** Writes the source (atomically: other processes may be building the same key) and counts the invocation. */
  #prepare(job: Job): string[] {
    const args = this.#args(job);
    const tmpSource = `${job.tmpPath}.c`;
    writeFileSync(tmpSource, job.source);
    renameSync(tmpSource, job.sourcePath);
    this.#invocations++;
    return args;
  }

  /** Moves a finished object into place, or turns a failure into CompileError with the kept source. */
  #finish(job: Job, status: number | null, stderr: string, cause?: unknown): void {
    if (status === 0 && existsSync(job.tmpPath)) {
      renameSync(job.tmpPath, job.outPath);
      return;
    }
    rmSync(job.tmpPath, { force: true });
    throw new CompileError(stderr.trim() || `compiler exited with status ${status}`, this.#keepSource(job), cause === undefined ? undefined : { cause });
  }

  /** A failed source outlives the temp build folder, so the path in the error stays valid. */
  #keepSource(job: Job): string {
    if (!this.#temporary) return job.sourcePath;
    const keep = join(tmpdir(), "kiln-failed-sources");
    mkdirSync(keep, { recursive: true });
    const kept = join(keep, `${job.key}.c`);
    copyFileSync(job.sourcePath, kept);
    return kept;
  }

  #compileAsync(job: Job): Promise<void> {
    const args = this.#prepare(job);
    return new Promise((resolve, reject) => {
      const child = spawn(this.compiler.path, args, { stdio: ["ignore", "ignore", "pipe"] });
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
        const r = spawnSync(this.compiler.path, this.#prepare(job), { encoding: "utf8", stdio: ["ignore", "ignore", "pipe"] });
        if (r.error) throw new CompilerNotFoundError([this.compiler.path]);
        this.#finish(job, r.status, r.stderr ?? "");
      }
      return;
    }
    const q = (s: string) => `'${s.replace(/'/g, `'\\''`)}'`;
    const script = wave
      .map((job) => `( ${[this.compiler.path, ...this.#prepare(job)].map(q).join(" ")} 2>${q(`${job.tmpPath}.err`)}; echo $? >${q(`${job.tmpPath}.rc`)} ) &`)
      .concat("wait")
      .join("\n");
    spawnSync("/bin/sh", ["-c", script], { stdio: "ignore" });
    let failure: unknown;
    for (const job of wave) {
      const read = (ext: string) => (existsSync(job.tmpPath + ext) ? readFileSync(job.tmpPath + ext, "utf8") : "");
      const status = Number.parseInt(read(".rc").trim(), 10);
      const stderr = read(".err");
      rmSync(`${job.tmpPath}.rc`, { force: true });
      rmSync(`${job.tmpPath}.err`, { force: true });
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
