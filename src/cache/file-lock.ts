// A cross-process lock on a file: created with O_EXCL, holding the owner's pid and a heartbeat.
// A lock whose owner is dead (same host) or whose heartbeat is older than `staleMs` is broken,
// so a process killed mid-compile never blocks the next one for longer than that.
import { closeSync, mkdirSync, openSync, readFileSync, rmSync, statSync, utimesSync, writeSync } from "node:fs";
import { hostname } from "node:os";
import { dirname } from "node:path";
import { KilnError } from "../util/index.js";

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
  /** A lock not refreshed for this long is considered abandoned. */
  readonly staleMs?: number;
  /** Give up waiting after this long. */
  readonly timeoutMs?: number;
  /** Poll interval while waiting. */
  readonly pollMs?: number;
}

interface LockOwner {
  pid: number;
  host: string;
}

function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === "EPERM";
  }
}

function tryCreate(path: string): boolean {
  try {
    const fd = openSync(path, "wx", 0o644);
    writeSync(fd, JSON.stringify({ pid: process.pid, host: hostname() } satisfies LockOwner));
    closeSync(fd);
    return true;
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === "EEXIST") return false;
    throw e;
  }
}

/** Whether an existing lock file is abandoned: a dead owner on this host, or an old heartbeat. */
function isStale(path: string, staleMs: number): boolean {
  try {
    const age = Date.now() - statSync(path).mtimeMs;
    if (age > staleMs) return true;
    const owner = JSON.parse(readFileSync(path, "utf8")) as LockOwner;
    return owner.host === hostname() && !pidAlive(owner.pid);
  } catch {
    // Unreadable or half-written: judge by age only, with a grace period for the writer.
    try {
      return Date.now() - statSync(path).mtimeMs > Math.min(staleMs, 2000);
    } catch {
      return false; // vanished: the next attempt will create it
    }
  }
}

export class FileLock implements Disposable {
  #heartbeat: NodeJS.Timeout | undefined;
  #released = false;
  private constructor(readonly path: string, staleMs: number) {
    // Refresh the mtime so waiters can tell a slow owner from a dead one.
    this.#heartbeat = setInterval(() => {
      try {
        const now = new Date();
        utimesSync(path, now, now);
      } catch {
        // lock file gone: release() will be a no-op
      }
    }, Math.max(50, staleMs / 4));
    this.#heartbeat.unref();
  }

  /** Waits until the lock is held; breaks stale locks; throws LockTimeoutError past `timeoutMs`. */
  static async acquire(path: string, options: LockOptions = {}): Promise<FileLock> {
    const { staleMs = 30_000, timeoutMs = 10 * 60_000, pollMs = 50 } = options;
    mkdirSync(dirname(path), { recursive: true });
    const start = Date.now();
    for (;;) {
      if (tryCreate(path)) return new FileLock(path, staleMs);
      if (isStale(path, staleMs)) {
        rmSync(path, { force: true });
        continue;
      }
      const waited = Date.now() - start;
      if (waited > timeoutMs) throw new LockTimeoutError(path, waited);
      await new Promise((r) => setTimeout(r, pollMs));
    }
  }

  /** Blocking, for synchronous callers: sleeps between polls without spinning the CPU. */
  static acquireSync(path: string, options: LockOptions = {}): FileLock {
    const { staleMs = 30_000, timeoutMs = 10 * 60_000, pollMs = 50 } = options;
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

  /** Non-blocking: the lock, or undefined when another live process holds it. */
  static tryAcquire(path: string, options: LockOptions = {}): FileLock | undefined {
    const { staleMs = 30_000 } = options;
    mkdirSync(dirname(path), { recursive: true });
    if (tryCreate(path)) return new FileLock(path, staleMs);
    if (isStale(path, staleMs)) {
      rmSync(path, { force: true });
      if (tryCreate(path)) return new FileLock(path, staleMs);
    }
    return undefined;
  }

  release(): void {
    if (this.#released) return;
    this.#released = true;
    clearInterval(this.#heartbeat);
    rmSync(this.path, { force: true });
  }

  [Symbol.dispose](): void {
    this.release();
  }
}
