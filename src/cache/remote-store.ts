// The fleet cache (KILN_CACHE_REMOTE): stores that replicas share, laid out as Bazel's remote cache is — a
// content-addressed blob per bundle (`cas/<sha256>`) and a small entry per cached piece (`ac/<name>.json`) naming the
// blob's digest and size. A local miss reads through: entry, then blob, then the blob's SHA-256 checked against the
// entry before anything uses it. A compile publishes blob first, entry second, so a reader never finds an entry whose
// blob is not there yet (a dangling entry is a miss, never an error).
//
// A remote never takes a start down: the first failure of a store (unreadable, unwritable, a malformed entry) marks it
// failed for this process and is logged once; the caller goes on with the local cache and a local compile.
import { existsSync, mkdirSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import type { KeyObject } from "node:crypto";
import { bump, logLine, sha256Hex, writeFileAtomic } from "../util/index.js";
import { signEntry, untrustedReason } from "./fleet-keys.js";

/** What the action cache holds for one cached piece. */
export interface RemoteEntry {
  /** SHA-256 (hex) of the bundle's bytes: the blob's name in `cas/`. */
  readonly digest: string;
  readonly size: number;
  readonly kiln_version: string;
  readonly key: string;
  readonly compile_ms: number;
  /** Who published it (host and process), for `kiln cache stats` and for people reading the store. */
  readonly producer: string;
  readonly created_at: string;
  /** Ed25519 signature (base64) of the entry and its name by the publisher's KILN_CACHE_SIGN_KEY (fleet-keys.ts). */
  readonly signature?: string;
  /** The signing key's id (sha256 of its public key, 16 hex digits). */
  readonly signer?: string;
}

/** One shared store: a folder (NFS, a shared volume) or Redis (redis-remote.ts), behind the same four calls. */
export interface RemoteStore {
  /** The URL as configured, for log lines. */
  readonly url: string;
  /** `?readonly`: read through it, never publish to it. */
  readonly readonly: boolean;
  getEntry(name: string): RemoteEntry | undefined;
  getBlob(digest: string): Uint8Array | undefined;
  putBlob(digest: string, bytes: Uint8Array): void;
  putEntry(name: string, entry: RemoteEntry): void;
  /** Takes the lease on compiling `name` for `ttlMs` unless someone else holds it (an expired lease is free). */
  tryLease(name: string, owner: string, ttlMs: number): boolean;
  /** Gives the lease back if `owner` still holds it. */
  releaseLease(name: string, owner: string): void;
  /** Starts connecting in the background (a store that needs a connection), so a later call does not wait for it. */
  prewarm?(): void;
  /** Every entry's name, and every blob's digest and size (for `kiln cache stats`). */
  list(): { entries: { name: string; entry: RemoteEntry | undefined }[]; blobs: { digest: string; size: number }[] };
}

const DIGEST = /^[0-9a-f]{64}$/;
const NAME = /^[\w.~-]+$/;

/** A shared folder: `<dir>/[<prefix>/]cas/<sha256>` and `.../ac/<name>.json`, written by atomic rename. */
export class FolderRemote implements RemoteStore {
  readonly #root: string;

  constructor(readonly url: string, dir: string, readonly readonly: boolean, prefix?: string) {
    this.#root = prefix ? join(dir, prefix) : dir;
  }

  getEntry(name: string): RemoteEntry | undefined {
    const path = join(this.#root, "ac", `${checkName(name)}.json`);
    if (!existsSync(path)) return undefined;
    return parseEntry(readFileSync(path, "utf8"), path);
  }

  getBlob(digest: string): Uint8Array | undefined {
    const path = join(this.#root, "cas", checkDigest(digest));
    return existsSync(path) ? readFileSync(path) : undefined;
  }

  putBlob(digest: string, bytes: Uint8Array): void {
    const path = join(this.#root, "cas", checkDigest(digest));
    if (!existsSync(path)) writeFileAtomic(path, bytes);
  }

  putEntry(name: string, entry: RemoteEntry): void {
    writeFileAtomic(join(this.#root, "ac", `${checkName(name)}.json`), JSON.stringify(entry));
  }

  tryLease(name: string, owner: string, ttlMs: number): boolean {
    const path = join(this.#root, "leases", `${checkName(name)}.lease`);
    mkdirSync(dirname(path), { recursive: true, mode: 0o700 });
    for (let attempt = 0; attempt < 2; attempt++) {
      try {
        writeFileSync(path, JSON.stringify({ owner, expires_at: Date.now() + ttlMs }), { flag: "wx", mode: 0o644 });
        return true;
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code !== "EEXIST") throw e;
      }
      if (!leaseExpired(path)) return false;
      rmSync(path, { force: true }); // a crashed holder's lease: take it over (once)
    }
    return false;
  }

  releaseLease(name: string, owner: string): void {
    const path = join(this.#root, "leases", `${checkName(name)}.lease`);
    if (leaseOwner(path) === owner) rmSync(path, { force: true });
  }

  list(): { entries: { name: string; entry: RemoteEntry | undefined }[]; blobs: { digest: string; size: number }[] } {
    const names = (dir: string) => (existsSync(dir) ? readdirSync(dir).filter((f) => !f.startsWith(".")) : []);
    const ac = join(this.#root, "ac");
    const entries = names(ac).filter((f) => f.endsWith(".json")).map((f) => {
      const name = f.slice(0, -".json".length);
      let entry: RemoteEntry | undefined;
      try {
        entry = parseEntry(readFileSync(join(ac, f), "utf8"), f);
      } catch {
        entry = undefined; // listed as unreadable
      }
      return { name, entry };
    });
    const cas = join(this.#root, "cas");
    const blobs = names(cas).filter((f) => DIGEST.test(f)).map((digest) => ({ digest, size: statSync(join(cas, digest)).size }));
    return { entries, blobs };
  }
}

function readLease(path: string): { owner?: unknown; expires_at?: unknown } | undefined {
  try {
    return JSON.parse(readFileSync(path, "utf8")) as { owner?: unknown; expires_at?: unknown };
  } catch {
    return undefined; // gone, or being written
  }
}

const leaseOwner = (path: string) => readLease(path)?.owner;

/** A lease whose time is up, or that holds no readable time after a moment (a holder that died while writing it). */
function leaseExpired(path: string): boolean {
  const lease = readLease(path);
  if (lease === undefined) return existsSync(path) && Date.now() - statSync(path).mtimeMs > 1000;
  return typeof lease.expires_at !== "number" || lease.expires_at < Date.now();
}

export function checkDigest(digest: string): string {
  if (!DIGEST.test(digest)) throw new RemoteFormatError(`not a sha256 digest: ${JSON.stringify(digest).slice(0, 80)}`);
  return digest;
}

export function checkName(name: string): string {
  if (!NAME.test(name)) throw new RemoteFormatError(`not an entry name: ${JSON.stringify(name).slice(0, 80)}`);
  return name;
}

/** A store's content that is not what Kiln writes (a planted or damaged entry). */
export class RemoteFormatError extends Error {}

/** An entry's JSON, every field checked: anything else in the store is a miss with a reason, never a crash. */
export function parseEntry(text: string, where: string): RemoteEntry {
  let v: unknown;
  try {
    v = JSON.parse(text);
  } catch {
    throw new RemoteFormatError(`${where}: the entry is not JSON`);
  }
  const e = v as Record<string, unknown>;
  const ok = v !== null && typeof v === "object" && typeof e.digest === "string" && DIGEST.test(e.digest) &&
    Number.isSafeInteger(e.size) && (e.size as number) > 0 && typeof e.kiln_version === "string" && typeof e.key === "string" &&
    typeof e.compile_ms === "number" && typeof e.producer === "string" && typeof e.created_at === "string" &&
    (e.signature === undefined || typeof e.signature === "string") && (e.signer === undefined || typeof e.signer === "string");
  if (!ok) throw new RemoteFormatError(`${where}: the entry lacks a field or has one of the wrong type`);
  return v as RemoteEntry;
}

/** The entry name of a cached piece: its key, rank and prefix (`/` in a prefix becomes `~`). */
export const remoteEntryName = (key: string, rank: number, worldSize: number, prefix: string): string =>
  `${key}.rank${rank}_${worldSize}.${prefix.replaceAll("/", "~")}`;

const warned = new Set<string>();
const failed = new Set<string>();

function warnOnce(what: string, line: string): void {
  if (warned.has(what)) return;
  warned.add(what);
  logLine(line);
}

/** Runs `fn` on a store unless it failed before; a failure marks it failed for the process and is logged once. */
export function withStore<T>(store: RemoteStore, what: string, fn: () => T): T | undefined {
  if (failed.has(store.url)) return undefined;
  try {
    return fn();
  } catch (e) {
    failed.add(store.url);
    warnOnce(store.url, `fleet cache ${store.url} failed (${what}: ${(e as Error).message.split("\n")[0]}); going on with the local cache`);
    return undefined;
  }
}

/**
 * The bundle bytes for `name` from the first store that has them: with `trusted` keys, the entry must be signed by one
 * of them; the bytes must match the entry's size and SHA-256.
 */
export function readThrough(stores: readonly RemoteStore[], name: string, trusted?: readonly KeyObject[]): { bytes: Uint8Array; entry: RemoteEntry; store: RemoteStore } | undefined {
  for (const store of stores) {
    const entry = withStore(store, "reading an entry", () => store.getEntry(name));
    if (!entry) continue;
    const untrusted = trusted && untrustedReason(name, entry, trusted);
    if (untrusted) {
      bump("remoteRejected");
      logLine(`fleet cache ${store.url}: the entry for ${name} is refused: ${untrusted}`);
      continue;
    }
    const bytes = withStore(store, "reading a blob", () => store.getBlob(entry.digest));
    if (!bytes) continue; // an entry whose blob is gone (evicted) is a miss
    if (bytes.length !== entry.size || sha256Hex(bytes) !== entry.digest) {
      bump("remoteRejected");
      logLine(`fleet cache ${store.url}: the bundle for ${name} does not match its recorded sha256 (damaged or replaced); not used`);
      continue;
    }
    return { bytes, entry, store };
  }
  return undefined;
}

/** Publishes a bundle to every writable store: blob first, entry second (signed with `key` when given). Never throws. */
export function publish(stores: readonly RemoteStore[], name: string, bytes: Uint8Array, fields: Omit<RemoteEntry, "digest" | "size">, key?: KeyObject): number {
  const digest = sha256Hex(bytes);
  const unsigned: RemoteEntry = { digest, size: bytes.length, ...fields };
  const entry = key ? signEntry(name, unsigned, key) : unsigned;
  let published = 0;
  for (const store of stores) {
    if (store.readonly) continue;
    const ok = withStore(store, "publishing", () => {
      store.putBlob(digest, bytes);
      store.putEntry(name, entry);
      return true;
    });
    if (ok) {
      published++;
      bump("remotePublished");
    }
  }
  return published;
}
