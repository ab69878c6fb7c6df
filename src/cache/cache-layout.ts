// Where things live in the cache folder, and whether that folder can be trusted.
import { chmodSync, mkdirSync, statSync } from "node:fs";
import { homedir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { KilnError, readEnv } from "../util/index.js";

/** The cache folder is writable by other users (or owned by someone else), so its code cannot be trusted. */
export class UntrustedCacheError extends KilnError {
  readonly code = "E_UNTRUSTED_CACHE";
  constructor(
    readonly path: string,
    readonly reason: string,
  ) {
    super(`refusing to use cache folder ${path}: ${reason} (fix its permissions, e.g. chmod go-w, or set KILN_CACHE_ALLOW_INSECURE=1)`);
  }
}

/**
 * The cache root: KILN_CACHE_DIR, else ~/.cache/kiln; undefined when neither can be known
 * (HOME unset), in which case callers compile in memory.
 */
export function resolveCacheRoot(): string | undefined {
  const env = readEnv();
  if (env.cacheDir) return env.cacheDir;
  const home = process.env.HOME || safeHomedir();
  return home ? join(home, ".cache", "kiln") : undefined;
}

function safeHomedir(): string | undefined {
  try {
    return homedir() || undefined;
  } catch {
    return undefined;
  }
}

export interface EntryLocation {
  readonly dir: string;
  readonly bundle: string;
}

export function entryLocation(root: string, key: string, rank: number, worldSize: number, prefix: string): EntryLocation {
  const dir = join(root, "aot", key, `rank${rank}_${worldSize}`, prefix);
  return { dir, bundle: join(dir, "model.kiln") };
}

export const objectPath = (root: string, sha256: string): string => join(root, "objects", `${sha256}.so`);
export const lockPath = (root: string, name: string): string => join(root, "locks", `${name}.lock`);

/**
 * Refuses a folder that another user could write: world-writable, or group-writable, or
 * owned by another user (root-owned is fine). Checked on the root and each folder on the
 * way to an entry.
 */
export function checkFolderTrust(path: string): void {
  if (readEnv().allowInsecureCache) return;
  let st;
  try {
    st = statSync(path);
  } catch {
    return; // not there yet: it will be created with our umask
  }
  const uid = process.getuid?.();
  if (uid !== undefined && st.uid !== uid && st.uid !== 0) throw new UntrustedCacheError(path, `owned by uid ${st.uid}, not ${uid}`);
  if (st.mode & 0o002) throw new UntrustedCacheError(path, "writable by all users");
  if (st.mode & 0o020) throw new UntrustedCacheError(path, "writable by its group");
}

/** Creates a folder (and any missing parents) that only its owner can enter; folders already there are left as they are. */
export function ensurePrivateDir(path: string): void {
  const first = mkdirSync(path, { recursive: true, mode: 0o700 });
  if (first === undefined) return;
  // mkdir's mode passes through the umask: set it exactly on each folder this call created.
  const top = resolve(first);
  for (let dir = resolve(path); ; dir = dirname(dir)) {
    chmodSync(dir, 0o700);
    if (dir === top || dir === dirname(dir)) break;
  }
}
