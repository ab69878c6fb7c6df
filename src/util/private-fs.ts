// Folders and files on the way to code Kiln loads: created private (0700, whatever the umask), checked with
// lstat (owned by this user or root, writable by no one else, not a symlink), and fresh files created with
// O_EXCL so nothing already there — planted or half-written — is ever reused or written through.
import { type Stats, chmodSync, closeSync, constants, existsSync, lstatSync, mkdirSync, mkdtempSync, openSync, realpathSync, writeSync } from "node:fs";
import { dirname, isAbsolute, join, relative, sep } from "node:path";
import { readEnv } from "./env.js";
import { UntrustedCacheError, CacheIoError } from "./errors.js";

const uid = (): number | undefined => process.getuid?.();

function realRoot(root: string): string {
  try {
    return realpathSync(root);
  } catch {
    return root; // not there yet
  }
}

function fsCode(e: unknown): string | undefined {
  return (e as NodeJS.ErrnoException)?.code;
}

/** Why `st` is not trustworthy as a folder or file on the way to loaded code, or undefined when it is. */
function distrust(st: Stats, kind: "folder" | "file"): string | undefined {
  if (st.isSymbolicLink()) return "is a symbolic link";
  if (kind === "folder" ? !st.isDirectory() : !st.isFile()) return `is not a ${kind === "folder" ? "folder" : "regular file"}`;
  const me = uid();
  if (me !== undefined && st.uid !== me && st.uid !== 0) return `owned by uid ${st.uid}, not ${me}`;
  if (st.mode & 0o002) return "writable by all users";
  if (st.mode & 0o020) return "writable by its group";
  return undefined;
}

/**
 * The lstat of `path` when it exists and is trustworthy; undefined when it does not exist.
 * Throws UntrustedCacheError (unless KILN_CACHE_ALLOW_INSECURE=1) or CacheIoError.
 */
export function trustedStat(path: string, kind: "folder" | "file"): Stats | undefined {
  let st: Stats;
  try {
    st = lstatSync(path);
  } catch (e) {
    if (fsCode(e) === "ENOENT" || fsCode(e) === "ENOTDIR") return undefined;
    throw new CacheIoError(path, "inspect", e);
  }
  const why = distrust(st, kind);
  // KILN_CACHE_ALLOW_INSECURE waives owner and mode checks, never the kind (a link is not a file).
  if (why && !(readEnv().allowInsecureCache && (kind === "folder" ? st.isDirectory() : st.isFile()))) throw new UntrustedCacheError(path, why);
  return st;
}

/**
 * The folders from `root` down to `path` (inclusive); `path` must lie inside `root`. The root itself may be
 * reached through a link (a cache on another disk): its real path is checked; below it, no link is accepted.
 */
function chain(root: string, path: string): string[] {
  const rel = relative(root, path);
  if (rel.startsWith("..") || isAbsolute(rel)) throw new UntrustedCacheError(path, `is outside the cache folder ${root}`);
  const out = [realRoot(root)];
  for (const part of rel.split(sep).filter(Boolean)) out.push(join(out[out.length - 1]!, part));
  return out;
}

/** Whether every folder from `root` down to `dir` exists and is trustworthy (false when one is missing). */
export function checkTrustedFolders(root: string, dir: string = root): boolean {
  for (const d of chain(root, dir)) if (!trustedStat(d, "folder")) return false;
  return true;
}

/**
 * Creates `dir` (inside `root`, which is created too) with every new folder 0700, and checks every folder
 * from `root` down. Folders above `root` are created 0700 when missing but not checked (they are the user's).
 */
export function ensurePrivateDir(root: string, dir: string = root): string {
  if (!trustedStat(realRoot(root), "folder")) {
    const missing: string[] = [];
    for (let d = dirname(root); d !== dirname(d) && !existsSync(d); d = dirname(d)) missing.unshift(d);
    for (const d of missing) mkdirPrivate(d, false);
    mkdirPrivate(root);
  }
  for (const d of chain(root, dir)) if (!trustedStat(d, "folder")) mkdirPrivate(d);
  return dir;
}

/** mkdir, then chmod 0700 (the umask filters mkdir's mode, and may strip even the owner's bits); checked after. */
function mkdirPrivate(dir: string, check = true): void {
  try {
    mkdirSync(dir, { mode: 0o700 });
    chmodSync(dir, 0o700);
  } catch (e) {
    if (fsCode(e) !== "EEXIST") throw new CacheIoError(dir, "create folder", e);
  }
  if (check) trustedStat(dir, "folder"); // whoever created it, it must be ours now
}

/** A fresh folder only this user can use (mkdtemp: random name, 0700), checked after creation. */
export function makePrivateTempDir(parent: string, prefix: string): string {
  let dir: string;
  try {
    dir = mkdtempSync(join(parent, prefix));
  } catch (e) {
    throw new CacheIoError(parent, "create a private folder in", e);
  }
  trustedStat(dir, "folder");
  return dir;
}

/** Writes `bytes` to a new file (O_EXCL|O_NOFOLLOW: never an existing file or a link), mode 0600 less the umask. */
export function writeFreshFile(path: string, bytes: Uint8Array): void {
  let fd = -1;
  try {
    fd = openSync(path, constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | constants.O_NOFOLLOW, 0o600);
    let off = 0;
    while (off < bytes.length) off += writeSync(fd, bytes, off, Math.min(bytes.length - off, 1 << 30));
  } catch (e) {
    throw new CacheIoError(path, "write", e);
  } finally {
    if (fd >= 0) closeSync(fd);
  }
}
