// The verified objects store: compiled shared objects kept by content (`objects/<sha256>.so`), each reached from
// the key it was built for through a small record (`objects/<key>.ref`: sha256, size and, with a signing key, a
// MAC binding key and digest). Nothing is reused unless its bytes hash to the record and the MAC holds: a
// damaged, truncated, unsigned or planted object is logged, counted, deleted and rebuilt. Writes go object
// first (fsync, rename), record second, so a crash leaves at worst an unreferenced object.
import { readFileSync, readdirSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import {
  CacheIoError, KilnError, bump, ensurePrivateDir, hmacSha256Hex, logLine, makePrivateTempDir, readEnv, sameDigest, sha256Hex, trustedStat,
  writeFileAtomic,
} from "../../util/index.js";
import { removeAtExit } from "./temp-dirs.js";
import { type VerifiedObject, hashedObject } from "./verified-object.js";

/** A shared object (`.so`, loaded) or a relocatable one (`.o`, linked into others: the runtime). */
export type ObjectKind = "so" | "o";

interface ObjectRecord {
  readonly v: 1;
  readonly sha256: string;
  readonly size: number;
  readonly kind?: ObjectKind;
  readonly mac?: string;
}

const RECORD_VERSION = 1;
const KEY = /^[\w.-]{1,200}$/;

function isRecord(r: unknown): r is ObjectRecord {
  const x = r as ObjectRecord;
  return !!x && typeof x === "object" && x.v === RECORD_VERSION && typeof x.sha256 === "string" && /^[0-9a-f]{64}$/.test(x.sha256) &&
    Number.isSafeInteger(x.size) && x.size > 0 && (x.kind === undefined || x.kind === "so" || x.kind === "o") && (x.mac === undefined || typeof x.mac === "string");
}

/** The MAC of a record: binds the key to the digest, so a signed object cannot be moved to another key. */
const macOf = (signingKey: string, key: string, sha: string) => hmacSha256Hex(signingKey, `kiln-object\0${key}\0${sha}`);

let warnedReadOnly = false;

export class ObjectStore {
  /** Whether objects written here outlive the process (a cache folder, not a private temp folder). */
  readonly persistent: boolean;
  #writable: boolean;

  private constructor(readonly dir: string, persistent: boolean, writable: boolean) {
    this.persistent = persistent;
    this.#writable = writable;
  }

  /**
   * The store under a cache root (`<root>/objects`), created private. An unwritable or full cache still
   * serves what it holds; new objects then live in this process only (one warning). A folder someone
   * else could write is refused (UntrustedCacheError).
   */
  static inCache(root: string, dir = join(root, "objects")): ObjectStore {
    try {
      ensurePrivateDir(root, dir);
      return new ObjectStore(dir, true, true);
    } catch (e) {
      if (!(e instanceof CacheIoError)) throw e;
      if (!warnedReadOnly) {
        warnedReadOnly = true;
        logLine(`${dir} is not writable (${e.errno ?? e.message}): compiled objects are kept for this process only`);
      }
      return new ObjectStore(dir, true, false);
    }
  }

  /** A fresh store for this process alone (removed at exit): nothing is shared or kept. */
  static temporary(): ObjectStore {
    const dir = makePrivateTempDir(tmpdir(), "kiln-objects-");
    removeAtExit(dir);
    return new ObjectStore(dir, false, true);
  }

  get writable(): boolean {
    return this.#writable;
  }

  /** Where build temporaries (sources, compiler outputs) can go: here when writable, else a private temp folder. */
  scratchParent(): string {
    return this.#writable ? this.dir : tmpdir();
  }

  #recordPath = (key: string) => join(this.dir, `${checkKey(key)}.ref`);
  #objectPath = (sha: string, kind: ObjectKind = "so") => join(this.dir, `${sha}.${kind}`);

  /** The object recorded for `key`, verified; undefined when absent or refused (refusals are logged and removed). */
  get(key: string): VerifiedObject | undefined {
    const found = this.inspect(key);
    if (found && "reason" in found) return this.#reject(key, found.recorded, found.reason);
    return found;
  }

  /**
   * Checks `key`'s record and object without changing anything: the verified object, undefined when there is
   * no record, or why it would be refused. Throws UntrustedCacheError for a folder or file others could write.
   */
  inspect(key: string): VerifiedObject | { readonly reason: string; readonly recorded?: string } | undefined {
    const recordPath = this.#recordPath(key);
    let record: unknown;
    try {
      if (!trustedStat(this.dir, "folder") || !trustedStat(recordPath, "file")) return undefined;
      record = JSON.parse(readFileSync(recordPath, "utf8"));
    } catch (e) {
      if (e instanceof KilnError && !(e instanceof CacheIoError)) throw e;
      return { reason: `record unreadable (${e instanceof SyntaxError ? "not JSON" : (e as Error).message})` };
    }
    if (!isRecord(record)) return { reason: "record malformed" };
    const signingKey = readEnv().signingKey;
    if (signingKey !== undefined && !sameDigest(record.mac, macOf(signingKey, key, record.sha256))) {
      return { reason: record.mac === undefined ? "not signed with KILN_CACHE_SIGNING_KEY" : "signature does not match KILN_CACHE_SIGNING_KEY", recorded: record.sha256 };
    }
    const objectPath = this.#objectPath(record.sha256, record.kind);
    let bytes: Uint8Array;
    try {
      if (!trustedStat(objectPath, "file")) return { reason: "object missing", recorded: record.sha256 };
      bytes = readFileSync(objectPath);
    } catch (e) {
      if (e instanceof KilnError && !(e instanceof CacheIoError)) throw e;
      return { reason: `object unreadable (${(e as Error).message})`, recorded: record.sha256 };
    }
    if (bytes.length !== record.size) return { reason: `object is ${bytes.length} bytes, recorded ${record.size}`, recorded: record.sha256 };
    const sha = sha256Hex(bytes);
    if (sha !== record.sha256) return { reason: "object bytes do not match their recorded sha256", recorded: record.sha256 };
    return hashedObject(bytes, sha);
  }

  /** The keys with a record here (for `kiln cache verify`). */
  keys(): string[] {
    try {
      return readdirSync(this.dir).filter((f) => f.endsWith(".ref")).map((f) => f.slice(0, -4));
    } catch {
      return [];
    }
  }

  /**
   * The files of `key`: its record and, when the record is well-formed, the object it names (for `kiln cache
   * prune`). A malformed record names only itself, so no path is ever built from an unchecked digest.
   */
  filesOf(key: string): string[] {
    const recordPath = this.#recordPath(key);
    let record: unknown;
    try {
      record = JSON.parse(readFileSync(recordPath, "utf8"));
    } catch {
      return [recordPath];
    }
    return isRecord(record) ? [recordPath, this.#objectPath(record.sha256, record.kind)] : [recordPath];
  }

  /** Records `bytes` as the object for `key` (best effort: an unwritable store keeps them in memory only). */
  put(key: string, bytes: Uint8Array, kind: ObjectKind = "so"): VerifiedObject {
    const object = hashedObject(bytes);
    if (!this.#writable) return object;
    const signingKey = readEnv().signingKey;
    const record: ObjectRecord = {
      v: RECORD_VERSION, sha256: object.sha256, size: bytes.length, ...(kind === "so" ? {} : { kind }), ...(signingKey ? { mac: macOf(signingKey, key, object.sha256) } : {}),
    };
    try {
      writeFileAtomic(this.#objectPath(object.sha256, kind), bytes);
      writeFileAtomic(this.#recordPath(key), JSON.stringify(record));
    } catch (e) {
      this.#writable = false;
      logLine(`cannot write to ${this.dir} (${(e as NodeJS.ErrnoException).code ?? (e as Error).message}): compiled objects are kept for this process only`);
    }
    return object;
  }

  /** Drops `key`'s record and object (after a failed load, or by `kiln cache verify --remove`); they will be rebuilt. */
  reject(key: string, sha256: string | undefined, reason: string): void {
    this.#reject(key, sha256, reason);
  }

  #reject(key: string, sha256: string | undefined, reason: string): undefined {
    bump("objectsRejected");
    logLine(`object ${key.slice(0, 16)} in ${this.dir} refused: ${reason}; ${this.#writable ? "removed, rebuilding" : "rebuilding in memory"}`);
    if (this.#writable) {
      rmSync(this.#recordPath(key), { force: true });
      if (sha256) for (const kind of ["so", "o"] as const) rmSync(this.#objectPath(sha256, kind), { force: true });
    }
    return undefined;
  }
}

function checkKey(key: string): string {
  if (!KEY.test(key)) throw new CacheIoError(key, "use as an object key", new Error("not a plain name"));
  return key;
}
