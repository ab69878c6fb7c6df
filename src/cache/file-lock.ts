// A cross-process lock: a folder at the lock path holding one file, named by its holder's random
// token. Taking it renames a prepared folder onto the path, which the kernel refuses while a token
// file is inside. Releasing or breaking it unlinks one token's file by name: a compare-and-delete
// in one call, so a lock that changed hands (another token) is never removed, and of two breakers
// of one stale lock only one unlink succeeds, and of the renames that follow only one.
import { randomBytes } from "node:crypto";
import { closeSync, openSync, readFileSync, readdirSync, renameSync, rmSync, rmdirSync, statSync, unlinkSync, writeSync } from "node:fs";
import { basename, dirname, join } from "node:path";
import { KilnError } from "../util/index.js";
import { ensurePrivateDir } from "../util/index.js";
import { startHeartbeat } from "./lock-heartbeat.js";
import { isOwnerGone, ownerRecord, parseOwner } from "./lock-owner.js";

export class LockTimeoutError extends KilnError {
  readonly code = "E_LOCK_TIMEOUT";
  constructor(
    readonly path: string,
    readonly waitedMs: number,
  ) {
    super(`timed out after ${waitedMs} ms waiting for lock ${path}`);
  }
}

export interface LockOptions {
  /** A lock whose heartbeat is older than this is abandoned (a dead holder on this host is at once). */
  readonly staleMs?: number;
  /** Give up waiting after this long. */
  readonly timeoutMs?: number;
  /** Poll interval while waiting. */
  readonly pollMs?: number;
}

const DEFAULTS = { staleMs: 30_000, timeoutMs: 10 * 60_000, pollMs: 50 };

/** Tests only: `beforeBreak` runs between judging a holder gone and removing its file, so a test can play a rival there. */
export const lockTestHooks: { beforeBreak?: () => void } = {};

export class FileLock implements Disposable {
  readonly #stopHeartbeat: () => void;
  #released = false;

  private constructor(
    readonly path: string,
    readonly token: string,
    staleMs: number,
  ) {
    this.#stopHeartbeat = startHeartbeat(join(path, token), Math.max(10, staleMs / 4));
  }

  /** Waits until the lock is held; breaks a gone holder's lock; throws LockTimeoutError past `timeoutMs`. */
  static async acquire(path: string, options: LockOptions = {}): Promise<FileLock> {
    const { staleMs, timeoutMs, pollMs } = { ...DEFAULTS, ...options };
    const start = Date.now();
    for (;;) {
      const lock = FileLock.tryAcquire(path, { staleMs });
      if (lock) return lock;
      const waited = Date.now() - start;
      if (waited > timeoutMs) throw new LockTimeoutError(path, waited);
      await new Promise((r) => setTimeout(r, pollMs));
    }
  }

  /** Blocking, for synchronous callers: sleeps between polls without spinning the CPU. */
  static acquireSync(path: string, options: LockOptions = {}): FileLock {
    const { staleMs, timeoutMs, pollMs } = { ...DEFAULTS, ...options };
    const start = Date.now();
    const sleeper = new Int32Array(new SharedArrayBuffer(4));
    for (;;) {
      const lock = FileLock.tryAcquire(path, { staleMs });
      if (lock) return lock;
      const waited = Date.now() - start;
      if (waited > timeoutMs) throw new LockTimeoutError(path, waited);
      Atomics.wait(sleeper, 0, 0, pollMs);
    }
  }

  /** Non-blocking: the lock, or undefined when a holder that is not gone has it. */
  static tryAcquire(path: string, options: LockOptions = {}): FileLock | undefined {
    const { staleMs } = { ...DEFAULTS, ...options };
    ensurePrivateDir(dirname(path));
    const token = randomBytes(16).toString("hex");
    const staged = stage(path, token);
    try {
      // Once, and once more when every holder found was gone and has been broken.
      for (let attempt = 0; attempt < 2; attempt++) {
        if (publish(staged, path)) return new FileLock(path, token, staleMs);
        if (!breakGoneHolders(path, staleMs)) return undefined;
      }
      return undefined;
    } finally {
      rmSync(staged, { recursive: true, force: true }); // already gone when it became the lock
    }
  }

  release(): void {
    if (this.#released) return;
    this.#released = true;
    this.#stopHeartbeat();
    try {
      unlinkSync(join(this.path, this.token));
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === "ENOENT") return; // broken while we held it: whatever is there now is not ours
      throw e;
    }
    try {
      rmdirSync(this.path);
    } catch {
      // not empty: the next holder has already moved in; an empty folder left behind is harmless either way
    }
  }

  [Symbol.dispose](): void {
    this.release();
  }
}

/** Prepares the folder that becomes the lock: beside it (same filesystem, so rename is atomic), holding our token file. */
function stage(path: string, token: string): string {
  const staged = join(dirname(path), `.${basename(path)}.${token}.tmp`);
  ensurePrivateDir(staged);
  try {
    const fd = openSync(join(staged, token), "wx", 0o600);
    try {
      writeSync(fd, JSON.stringify(ownerRecord(token)));
    } finally {
      closeSync(fd);
    }
  } catch (e) {
    rmSync(staged, { recursive: true, force: true });
    throw e;
  }
  return staged;
}

/** Renames the staged folder onto the lock path; false while someone holds it. An empty folder there is replaced. */
function publish(staged: string, path: string): boolean {
  try {
    renameSync(staged, path);
    return true;
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === "ENOTEMPTY" || code === "EEXIST" || code === "ENOTDIR") return false; // ENOTDIR: an older Kiln's lock file
    throw e;
  }
}

/** Removes the token files of gone holders; true when no live holder is left. */
function breakGoneHolders(path: string, staleMs: number): boolean {
  let tokens: string[];
  try {
    tokens = readdirSync(path);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === "ENOENT") return true;
    if (code === "ENOTDIR") return breakOldLockFile(path, staleMs);
    throw e;
  }
  for (const token of tokens) {
    const file = join(path, token);
    try {
      const heartbeat = statSync(file).mtimeMs;
      if (!isOwnerGone(parseOwner(readFileSync(file, "utf8")), heartbeat, staleMs)) return false;
      lockTestHooks.beforeBreak?.();
      unlinkSync(file); // by name: if the holder released, or another breaker won, this fails and nothing else is touched
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== "ENOENT") throw e;
    }
  }
  return true;
}

/** A plain file at the lock path is an older Kiln's lock: judged by its age alone. */
function breakOldLockFile(path: string, staleMs: number): boolean {
  try {
    if (!isOwnerGone(undefined, statSync(path).mtimeMs, staleMs)) return false;
    unlinkSync(path); // cannot remove a folder, so never a lock taken meanwhile
    return true;
  } catch {
    return false; // gone or replaced meanwhile: the next poll looks again
  }
}
