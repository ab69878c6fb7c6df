// `kiln cache ls | info | verify | clear | prune | stats | push | export | import | keygen`: inspect and maintain the AOT
// cache and the fleet cache.
import { existsSync, lstatSync, readFileSync, readdirSync, renameSync, rmSync } from "node:fs";
import { basename, join, relative } from "node:path";
import { hostname } from "node:os";
import { KILN_VERSION, readManifest, verifyBundle } from "../compile/index.js";
import * as tar from "tar";
import {
  type KeyFactors, computeCacheKey, ensurePrivateDir, entryLocation, parseRemotes, publish, remoteEntryName, resolveCacheRoot, signingKeyOf, withStore,
  writeFileAtomic, writeKeyPair,
} from "../cache/index.js";
import { ObjectStore } from "../backend/index.js";
import { ArgumentError, KilnError, readEnv } from "../util/index.js";

export interface Entry {
  readonly path: string;
  readonly key: string;
  readonly rank: number;
  readonly worldSize: number;
  readonly prefix: string;
  readonly size: number;
  readonly created: Date;
  readonly lastUsed: Date;
}

function root(): string {
  const r = resolveCacheRoot();
  if (!r) throw new ArgumentError("kiln cache", "no cache folder: set KILN_CACHE_DIR or HOME");
  return r;
}

export function listEntries(cacheRoot = root()): Entry[] {
  const aot = join(cacheRoot, "aot");
  if (!existsSync(aot)) return [];
  return readdirSync(aot, { recursive: true })
    .map(String)
    .filter((f) => f.endsWith("model.kiln"))
    .flatMap((f) => {
      const path = join(aot, f);
      let st;
      try {
        st = lstatSync(path);
      } catch {
        return []; // vanished while listing
      }
      if (!st.isFile()) return [];
      const [key, rankDir, ...prefix] = f.split("/");
      const [, rank, worldSize] = /^rank(\d+)_(\d+)$/.exec(rankDir ?? "") ?? [];
      if (rank === undefined) return [];
      return [{ path, key: key!, rank: Number(rank), worldSize: Number(worldSize), prefix: prefix.slice(0, -1).join("/"), size: st.size, created: st.birthtime, lastUsed: st.atime }];
    });
}

const kib = (n: number) => `${(n / 1024).toFixed(1)} KiB`;

export function cacheLs(print: (l: string) => void): void {
  const entries = listEntries();
  if (!entries.length) return print(`no bundles in ${root()}`);
  for (const e of entries) {
    let extra = "";
    try {
      const m = readManifest(readFileSync(e.path), e.path);
      extra = `${m.backend}  ${m.factors.params ? (m.factors.params as unknown[]).length : 0} params`;
    } catch (err) {
      extra = `unreadable (${(err as Error).message})`;
    }
    print(`${e.key.slice(0, 12)}  ${e.prefix.padEnd(12)} ${kib(e.size).padStart(10)}  created ${e.created.toISOString()}  used ${e.lastUsed.toISOString()}  ${extra}`);
  }
}

export function cacheInfo(target: string, print: (l: string) => void): void {
  const path = existsSync(target) ? target : listEntries().find((e) => e.key.startsWith(target))?.path;
  if (!path) throw new ArgumentError("kiln cache info", `no bundle at '${target}' and no key starting with it`);
  const m = readManifest(readFileSync(path), path);
  print(JSON.stringify({ path, ...m }, null, 2));
}

/**
 * Fully verifies every bundle (checksums, signature, shapes, guards, the object's ELF header) and every object
 * in the store (hash, signature), without loading or running any code; `remove` deletes what fails.
 */
export function cacheVerify(remove: boolean, print: (l: string) => void): number {
  const r = root();
  let bad = 0;
  const report = (what: string, why: string | undefined) => {
    if (why === undefined) return print(`ok   ${what}`);
    bad++;
    print(`bad  ${what}: ${why.split("\n")[0]}${remove ? " (removed)" : ""}`);
  };
  for (const e of listEntries()) {
    let why: string | undefined;
    try {
      verifyBundle(readFileSync(e.path), e.path);
    } catch (err) {
      if (!(err instanceof KilnError) && !(err as NodeJS.ErrnoException).code) throw err;
      why = (err as Error).message;
      if (remove) rmSync(e.path, { force: true });
    }
    report(relative(r, e.path), why);
  }
  if (existsSync(join(r, "objects"))) {
    const store = ObjectStore.inCache(r);
    for (const key of store.keys()) {
      const found = store.inspect(key);
      const why = found && "reason" in found ? found.reason : undefined;
      if (why && remove) store.reject(key, found && "recorded" in found ? found.recorded : undefined, why);
      report(`objects/${key}`, why);
    }
  }
  return bad;
}

export function cacheClear(print: (l: string) => void): void {
  const r = root();
  for (const d of ["aot", "objects", "locks"]) rmSync(join(r, d), { recursive: true, force: true });
  print(`cleared ${r}`);
}

/** A compiled object in the store: its record and the bytes it names (the compile-time cache under the bundles). */
function storeEntries(r: string): { paths: string[]; size: number; lastUsed: Date; label: string }[] {
  const dir = join(r, "objects");
  if (!existsSync(dir)) return [];
  const stat = (p: string) => {
    try {
      return lstatSync(p);
    } catch {
      return undefined;
    }
  };
  const store = ObjectStore.inCache(r);
  const referenced = new Set<string>();
  const out = store.keys().flatMap((key) => {
    const [record, ...object] = store.filesOf(key);
    const st = stat(record!);
    if (!st) return [];
    for (const f of object) referenced.add(basename(f));
    const size = object.reduce((n, f) => n + (stat(f)?.size ?? 0), st.size);
    return [{ paths: [record!, ...object], size, lastUsed: st.mtime, label: `objects/${key}.ref` }];
  });
  // Leftovers: objects no record names, temp files and build folders of processes that were killed.
  const hourAgo = Date.now() - 3600_000;
  for (const f of readdirSync(dir)) {
    const p = join(dir, f);
    const st = stat(p);
    const orphan = (f.endsWith(".so") || f.endsWith(".o")) && !referenced.has(f);
    const stale = (f.endsWith(".tmp") || f.startsWith(".build-")) && !!st && st.mtimeMs < hourAgo;
    if (st && (orphan || stale)) out.push({ paths: [p], size: st.isFile() ? st.size : 0, lastUsed: new Date(0), label: `objects/${f}` });
  }
  return out;
}

/** Removes leftovers, then least recently used bundles and stored objects, until the total is at most `maxBytes`. */
export function cachePrune(maxBytes: number, print: (l: string) => void): void {
  const r = root();
  const entries = [
    ...listEntries().map((e) => ({ paths: [e.path], size: e.size, lastUsed: e.lastUsed, label: relative(r, e.path) })),
    ...storeEntries(r),
  ].sort((a, b) => a.lastUsed.getTime() - b.lastUsed.getTime());
  let total = entries.reduce((n, e) => n + e.size, 0);
  for (const e of entries) {
    if (total <= maxBytes && e.lastUsed.getTime() > 0) break;
    for (const p of e.paths) rmSync(p, { recursive: true, force: true });
    total -= e.size;
    print(`removed ${e.label} (${kib(e.size)})`);
  }
  print(`cache size ${kib(total)} (limit ${kib(maxBytes)})`);
}

export function parseSize(text: string): number {
  const m = /^(\d+(?:\.\d+)?)\s*([kmg]?)i?b?$/i.exec(text.trim());
  if (!m) throw new ArgumentError("--max-size", `'${text}' is not a size like 500M or 2G`);
  return Math.floor(Number(m[1]) * { "": 1, k: 1024, m: 1024 ** 2, g: 1024 ** 3 }[m[2]!.toLowerCase() as "" | "k" | "m" | "g"]);
}


/** `kiln cache keygen --out DIR`: a fleet-cache key pair, and how to use it. */
export function cacheKeygen(dir: string, print: (l: string) => void): void {
  const { privatePath, publicPath, id } = writeKeyPair(dir);
  print(`wrote ${privatePath} (private: KILN_CACHE_SIGN_KEY on the publisher) and ${publicPath} (public: KILN_CACHE_TRUSTED_KEYS on replicas); key id ${id}`);
}

/**
 * `kiln cache push`: publishes every local bundle that verifies to the writable stores of KILN_CACHE_REMOTE (signed
 * with KILN_CACHE_SIGN_KEY when set), e.g. from a machine that compiled before the fleet existed. Returns the bundles
 * skipped as unusable.
 */
export function cachePush(print: (l: string) => void): number {
  const env = readEnv();
  const stores = parseRemotes(env.cacheRemote).filter((s) => !s.readonly);
  if (!stores.length) throw new ArgumentError("kiln cache push", "KILN_CACHE_REMOTE names no writable store (redis://host:port or file:///dir, without ?readonly)");
  const signingKey = signingKeyOf(env.cacheSignKey);
  const r = root();
  let pushed = 0;
  let skipped = 0;
  for (const e of listEntries(r)) {
    const bytes = readFileSync(e.path);
    let report: Record<string, number>;
    try {
      report = verifyBundle(bytes, e.path).report;
    } catch (err) {
      if (!(err instanceof KilnError)) throw err;
      skipped++;
      print(`skip ${relative(r, e.path)}: ${err.message.split("\n")[0]}`);
      continue;
    }
    const compileMs = Math.round(Object.values(report).reduce((a, b) => a + (typeof b === "number" ? b : 0), 0));
    const fields = { kiln_version: KILN_VERSION, key: e.key, compile_ms: compileMs, producer: `${hostname()}:${process.pid} (kiln cache push)`, created_at: new Date().toISOString() };
    if (publish(stores, remoteEntryName(e.key, e.rank, e.worldSize, e.prefix), bytes, fields, signingKey) > 0) {
      pushed++;
      print(`pushed ${e.key.slice(0, 12)}  ${e.prefix}  ${kib(bytes.length)}`);
    }
  }
  print(`pushed ${pushed} bundle${pushed === 1 ? "" : "s"} to ${stores.map((s) => s.url).join(", ")}${signingKey ? " (signed)" : ""}`);
  return skipped;
}

/** The local bundles that verify (paths relative to the cache root); each one that does not is printed and counted. */
function verifiedBundles(r: string, print: (l: string) => void): { paths: string[]; skipped: number } {
  const paths: string[] = [];
  let skipped = 0;
  for (const e of listEntries(r)) {
    try {
      verifyBundle(readFileSync(e.path), e.path);
      paths.push(relative(r, e.path));
    } catch (err) {
      if (!(err instanceof KilnError)) throw err;
      skipped++;
      print(`skip ${relative(r, e.path)}: ${err.message.split("\n")[0]}`);
    }
  }
  return { paths, skipped };
}

/** `kiln cache export -o FILE.tar`: every local bundle that verifies, in a tar (air-gapped images; the other side imports it). */
export function cacheExport(file: string, print: (l: string) => void): number {
  const r = root();
  const { paths, skipped } = verifiedBundles(r, print);
  if (!paths.length) throw new ArgumentError("kiln cache export", `no bundles to export in ${r}`);
  const tmp = `${file}.${process.pid}.tmp`;
  try {
    tar.c({ file: tmp, cwd: r, sync: true, portable: true }, paths);
    renameSync(tmp, file);
  } catch (e) {
    rmSync(tmp, { force: true });
    throw new ArgumentError("-o", `cannot write ${file} (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`);
  }
  print(`exported ${paths.length} bundle${paths.length === 1 ? "" : "s"} to ${file}`);
  return skipped;
}

const BUNDLE_PATH = /^aot\/([0-9a-f]{32})\/rank(\d+)_(\d+)\/([\w.-]+(?:\/[\w.-]+)*)\/model\.kiln$/;

/**
 * `kiln cache import FILE.tar`: installs the archive's bundles into the local cache. Nothing in the archive is
 * extracted as it is: each regular file at a bundle's path is read, verified in full (checksums, guards, its key
 * recomputed from its own factors) and written atomically where the cache keeps that key; anything else is skipped.
 */
export function cacheImport(file: string, print: (l: string) => void): number {
  const r = root();
  const found: { path: string; type: string; bytes: Buffer }[] = [];
  try {
    tar.t({
      file, sync: true, strict: true,
      onReadEntry: (entry) => {
        const chunks: Buffer[] = [];
        entry.on("data", (c: Buffer) => chunks.push(c));
        entry.on("end", () => found.push({ path: entry.path, type: entry.type, bytes: Buffer.concat(chunks) }));
      },
    });
  } catch (e) {
    throw new ArgumentError("kiln cache import", `${file} is not a readable tar archive (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`);
  }
  let imported = 0;
  let skipped = 0;
  const skip = (path: string, why: string) => {
    skipped++;
    print(`skip ${path}: ${why}`);
  };
  for (const { path, type, bytes } of found) {
    if (type === "Directory") continue;
    const m = BUNDLE_PATH.exec(path);
    if (type !== "File" || !m) {
      skip(path, type !== "File" ? `a ${type}, not a file` : "not a bundle's path (aot/<key>/rank<r>_<w>/<prefix>/model.kiln)");
      continue;
    }
    const [, key, rank, worldSize, prefix] = m;
    try {
      const manifest = verifyBundle(bytes, `${file}:${path}`);
      if (computeCacheKey(manifest.factors as unknown as KeyFactors).key !== key) {
        skip(path, "its factors give another key (a bundle under the wrong key)");
        continue;
      }
    } catch (err) {
      if (!(err instanceof KilnError)) throw err;
      skip(path, err.message.split("\n")[0]!);
      continue;
    }
    const loc = entryLocation(r, key!, Number(rank), Number(worldSize), prefix!);
    ensurePrivateDir(r, loc.dir);
    writeFileAtomic(loc.bundle, bytes);
    imported++;
    print(`imported ${key!.slice(0, 12)}  ${prefix}`);
  }
  print(`imported ${imported} bundle${imported === 1 ? "" : "s"} into ${r}${skipped ? `; skipped ${skipped}` : ""}`);
  return skipped;
}

const mib = (n: number) => `${(n / 2 ** 20).toFixed(1)} MiB`;

/**
 * `kiln cache stats`: what the local cache holds, and for each KILN_CACHE_REMOTE store its entries (signed,
 * unreadable, without their blob), blobs and bytes, and the compile time its entries record: what a replica that
 * loads them all does not spend compiling.
 */
export function cacheStats(print: (l: string) => void): void {
  const r = root();
  const bundles = listEntries(r);
  const objects = storeEntries(r);
  print(`local ${r}: ${bundles.length} bundle${bundles.length === 1 ? "" : "s"} (${mib(bundles.reduce((n, e) => n + e.size, 0))}), ${objects.length} objects (${mib(objects.reduce((n, o) => n + o.size, 0))})`);
  const stores = parseRemotes(readEnv().cacheRemote);
  if (!stores.length) print("fleet cache: none (KILN_CACHE_REMOTE is unset)");
  for (const store of stores) {
    const listing = withStore(store, "listing", () => store.list());
    if (!listing) {
      print(`${store.url}: unreachable`);
      continue;
    }
    const digests = new Set(listing.blobs.map((b) => b.digest));
    const readable = listing.entries.flatMap((e) => (e.entry ? [e.entry] : []));
    const complete = readable.filter((e) => digests.has(e.digest));
    const savedS = complete.reduce((n, e) => n + e.compile_ms, 0) / 1000;
    print(
      `${store.url}${store.readonly ? " (read-only)" : ""}: ${listing.entries.length} entries (${readable.filter((e) => e.signature).length} signed, ` +
        `${listing.entries.length - readable.length} unreadable, ${readable.length - complete.length} without their blob), ` +
        `${listing.blobs.length} blobs (${mib(listing.blobs.reduce((n, b) => n + b.size, 0))}); their compiles took ${savedS.toFixed(1)} s`,
    );
  }
}
