// The AOT cache path: find the bundle for a key and load it, or compile, save atomically under a
// lock (other processes wait, then load), and log one line either way. Misses name what changed.
import { existsSync, readFileSync, readdirSync } from "node:fs";
import { join } from "node:path";
import type { Tensor } from "../tensor/index.js";
import type { TraceableModule } from "../trace/index.js";
import { trace } from "../trace/index.js";
import {
  FileLock, checkFolderTrust, checkTrustedFolders, computeCacheKey, decodeSection, describeMiss, diffFactors, ensurePrivateDir, entryLocation, lockPath,
  readUnpacked, resolveCacheRoot, writeFileAtomic, writeUnpacked,
} from "../cache/index.js";
import { KILN_VERSION } from "./version.js";
import { CacheIoError, CacheMissError, UntrustedCacheError, KilnError, logLine, readEnv, sha256Hex, GuardMismatchError, trustedStat } from "../util/index.js";
import { type AotOptions, CompiledFunction, type Manifest, aotCompile, keyFactors, loadCompiledFunction } from "./aot.js";
import { chooseBackend } from "./compile-graph.js";
import { checkManifestShape, parseSection } from "./bundle-schema.js";
import { type Fetched, Fleet } from "./fleet.js";

type Target = ((...args: never[]) => unknown) | TraceableModule<Tensor>;

export interface CacheOutcome {
  readonly fn: CompiledFunction;
  /** `remote`: read through the fleet cache (KILN_CACHE_REMOTE), verified, loaded and kept in the local cache. */
  readonly source: "loaded" | "remote" | "compiled" | "memory";
  /** Why it was not loaded, when it was not. */
  readonly reason?: string;
}

let warnedNoRoot = false;
let warnedUnsaved = false;

const seconds = (ms: number) => (ms / 1000).toFixed(2);

function reportLine(prefix: string, m: Manifest, totalMs: number): string {
  const r = m.report;
  return `compiled ${prefix} in ${seconds(totalMs)} s (trace ${seconds(r.trace ?? 0)}, passes ${seconds(r.passes ?? 0)}, codegen ${seconds(r.codegen ?? 0)}, ${m.backend === "native" ? "cc+load" : "load"} ${seconds(r.load ?? 0)})`;
}

/** The factor diff against the nearest existing entry of the same prefix (fewest differences). */
function explainMiss(root: string, prefix: string, factors: Record<string, unknown>): string {
  let best: string | undefined;
  let bestCount = Infinity;
  const aot = join(root, "aot");
  if (!existsSync(aot)) return "cache is empty";
  for (const key of safeList(aot).slice(0, 256)) {
    const keyDir = join(aot, key);
    for (const rank of safeList(keyDir)) {
      const file = join(keyDir, rank, prefix, "model.kiln");
      if (!existsSync(file)) continue;
      try {
        const m = readManifest(readFileSync(file), file);
        const diffs = diffFactors(m.factors, factors);
        if (diffs.length < bestCount) {
          bestCount = diffs.length;
          best = describeMiss(diffs);
        }
      } catch {
        // unreadable entries do not explain anything
      }
    }
  }
  return best ?? `no entry for prefix ${prefix}`;
}

function safeList(dir: string): string[] {
  try {
    return readdirSync(dir);
  } catch {
    return [];
  }
}

/** Reads just the manifest (for miss explanations and `kiln cache ls`), verifying only its section. */
export function readManifest(bytes: Uint8Array, path = "<bundle>"): Manifest {
  const m = parseSection(decodeSection(bytes, "manifest", { path, kilnVersion: KILN_VERSION }), path, "manifest");
  checkManifestShape(m, path);
  return m as unknown as Manifest;
}

/** With KILN_AOT_VERIFY=1: re-trace and compare graphs, catching a key that missed a factor. */
function verifyGraph(fn: CompiledFunction, target: Target, args: readonly unknown[], options: AotOptions): void {
  const traced = trace(target as never, args, { dynamic: options.dynamic });
  const hash = sha256Hex(traced.graph.toString());
  if (hash !== fn.manifest.graph_hash) {
    throw new GuardMismatchError("graph_hash", fn.manifest.graph_hash.slice(0, 16), hash.slice(0, 16), `KILN_AOT_VERIFY: the cached ${fn.manifest.prefix} was traced from different code than this process runs (the cache key is missing a factor)`);
  }
}

/** The cached bundle for exactly these options, if one is present and loads; never compiles. */
function loadExisting(target: Target, args: readonly unknown[], options: AotOptions & { backend: "native" | "js" }): CacheOutcome | undefined {
  const root = resolveCacheRoot();
  if (!root) return undefined;
  const factors = keyFactors(target, args, options, options.backend);
  const key = computeCacheKey(factors).key;
  const prefix = options.prefix ?? "model";
  const loc = entryLocation(root, key, options.rank ?? 0, options.worldSize ?? 1, prefix);
  const module = typeof target === "function" ? undefined : target;
  try {
    if (!checkTrustedFolders(root, loc.dir) || !trustedStat(loc.bundle, "file")) {
      // Not here: a fleet may have it (replicas are often built without a C compiler).
      const fetched = Fleet.of(readEnv(), key, options.rank ?? 0, options.worldSize ?? 1, prefix)?.fetch((bytes, path) => loadCompiledFunction(bytes, { module, path, expectFactors: factors }));
      if (!fetched) return undefined;
      keepLocally(() => {
        ensurePrivateDir(root, loc.dir);
        writeFileAtomic(loc.bundle, fetched.bytes);
      });
      return { fn: fetched.fn, source: "remote" };
    }
    const t0 = performance.now();
    const fn = loadCompiledFunction(readFileSync(loc.bundle), { module, path: loc.bundle, expectFactors: factors });
    logLine(`loaded ${options.prefix ?? "model"} from cache in ${(performance.now() - t0).toFixed(0)} ms (native bundle; no C compiler here)`);
    return { fn, source: "loaded" };
  } catch (e) {
    if (!(e instanceof KilnError) && !isFsError(e)) throw e;
    logLine(`native bundle for ${options.prefix ?? "model"} is unusable: ${(e as Error).message.split("\n")[0]}`);
    return undefined;
  }
}

/** Loads the cached bundle for (target, args, options) or compiles and stores it. */
export function loadOrCompile(target: Target, args: readonly unknown[], options: AotOptions = {}): CacheOutcome {
  const env = readEnv();
  const prefix = options.prefix ?? "model";
  const module = typeof target === "function" ? undefined : target;
  const backend = chooseBackend(options.backend);
  // Without a C compiler, `auto` still prefers a native bundle built elsewhere when the cache has one.
  const wantsAuto = (options.backend ?? env.backend) === "auto";
  if (backend === "js" && wantsAuto && !env.disableCompileCache) {
    const native = loadExisting(target, args, { ...options, backend: "native" });
    if (native) return native;
  }
  const opts = { ...options, backend };
  const root = env.disableCompileCache ? undefined : resolveCacheRoot();
  if (!root) {
    if (env.forceAotLoad) throw new CacheMissError(prefix, env.disableCompileCache ? "KILN_DISABLE_COMPILE_CACHE is set" : "no cache folder (HOME unset and no KILN_CACHE_DIR)");
    if (!env.disableCompileCache && !warnedNoRoot) {
      warnedNoRoot = true;
      logLine("no cache folder (HOME unset, no KILN_CACHE_DIR): compiling in memory");
    }
    return { fn: aotCompile(target, args, opts), source: "memory" };
  }
  checkFolderTrust(root);
  const factors = keyFactors(target, args, opts, backend);
  const { key } = computeCacheKey(factors);
  const loc = entryLocation(root, key, options.rank ?? 0, options.worldSize ?? 1, prefix);

  const unpackedDir = `${loc.bundle}.d`;
  const unpacked = env.aotFormat === "unpacked";
  const tryLoad = (): CacheOutcome | string => {
    const t0 = performance.now();
    try {
      // Every folder on the way and the file itself: ours (or root's), writable by no one else, no links.
      const present = checkTrustedFolders(root, loc.dir) && (unpacked ? trustedStat(unpackedDir, "folder") : trustedStat(loc.bundle, "file"));
      if (!present) return explainMiss(root, prefix, factors as Record<string, unknown>);
      const bytes = unpacked ? readUnpacked(unpackedDir, { kilnVersion: KILN_VERSION }) : readFileSync(loc.bundle);
      const fn = loadCompiledFunction(bytes, { module, path: unpacked ? unpackedDir : loc.bundle, expectFactors: factors });
      if (env.aotVerify) verifyGraph(fn, target, args, opts);
      logLine(`loaded ${prefix} from cache in ${(performance.now() - t0).toFixed(0)} ms`);
      return { fn, source: "loaded" };
    } catch (e) {
      if (e instanceof UntrustedCacheError) throw e;
      if (!(e instanceof KilnError) && !isFsError(e)) throw e;
      if (env.aotVerify && e instanceof GuardMismatchError && e.guard === "graph_hash") throw e;
      if (env.forceAotLoad) throw e instanceof KilnError ? e : new CacheMissError(prefix, `cannot read the cached bundle: ${(e as Error).message}`);
      return `cached bundle is unusable: ${(e as Error).message}`;
    }
  };

  const first = tryLoad();
  if (typeof first !== "string") return first;
  const storeLocally = (bytes: Uint8Array) => {
    ensurePrivateDir(root, loc.dir);
    if (unpacked) writeUnpacked(bytes, unpackedDir, { kilnVersion: KILN_VERSION, signingKey: env.signingKey });
    else writeFileAtomic(loc.bundle, bytes);
  };
  const fleet = Fleet.of(env, key, options.rank ?? 0, options.worldSize ?? 1, prefix);
  const loadFetched = (bytes: Uint8Array, path: string) => {
    const fn = loadCompiledFunction(bytes, { module, path, expectFactors: factors });
    if (env.aotVerify) verifyGraph(fn, target, args, opts);
    return fn;
  };
  const keepFetched = (got: Fetched): CacheOutcome => {
    keepLocally(() => storeLocally(got.bytes));
    return { fn: got.fn, source: "remote", reason: first };
  };
  // The fleet cache before any compile (and under KILN_FORCE_AOT_LOAD too: loading what a fleet published is not compiling).
  const fetched = fleet?.fetch(loadFetched);
  if (fetched) return keepFetched(fetched);
  if (env.forceAotLoad) throw new CacheMissError(prefix, first);
  logLine(`cache miss for ${prefix}: ${first}`);

  let lock: FileLock | undefined;
  try {
    ensurePrivateDir(root, join(root, "locks"));
    lock = FileLock.acquireSync(lockPath(root, key));
  } catch (e) {
    if (e instanceof UntrustedCacheError) throw e;
    if (!(e instanceof KilnError) && !isFsError(e)) throw e; // an unwritable cache compiles without a lock
  }
  try {
    if (lock) {
      const again = tryLoad(); // another process may have compiled it while we waited
      if (typeof again !== "string") return again;
    }
    // One replica of the fleet compiles a piece that many miss at once; the others load what it publishes.
    const published = fleet?.turn(loadFetched);
    if (published) return keepFetched(published);
    const t0 = performance.now();
    const fn = aotCompile(target, args, opts);
    const compileMs = performance.now() - t0;
    logLine(reportLine(prefix, fn.manifest, compileMs));
    const bytes = fn.serialize();
    fleet?.publish(bytes, compileMs);
    try {
      storeLocally(bytes);
    } catch (e) {
      if (!isFsError(e) && !(e instanceof CacheIoError)) throw e;
      if (!warnedUnsaved) {
        warnedUnsaved = true;
        const errno = e instanceof CacheIoError ? e.errno : (e as NodeJS.ErrnoException).code;
        logLine(`cache folder ${root} is not writable (${errno ?? (e as Error).message}): keeping compiled code in memory only`);
      }
      return { fn, source: "memory", reason: first };
    }
    return { fn, source: "compiled", reason: first };
  } finally {
    fleet?.release(); // a compile that threw gives its lease back too
    lock?.release();
  }
}

/** Keeps a bundle a fleet served in the local cache (`write` puts it there); an unwritable cache keeps it in memory only. */
function keepLocally(write: () => void): void {
  try {
    write();
  } catch (e) {
    if (!isFsError(e) && !(e instanceof CacheIoError)) throw e;
  }
}

function isFsError(e: unknown): boolean {
  const code = (e as NodeJS.ErrnoException)?.code;
  return typeof code === "string" && /^E[A-Z]+$/.test(code) && !code.startsWith("E_");
}
