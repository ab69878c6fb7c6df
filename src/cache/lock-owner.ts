// Who holds a lock, as written in its token file, and whether that holder is gone.
import { readFileSync, readlinkSync } from "node:fs";
import { hostname } from "node:os";

export interface LockOwner {
  /** Random, unique to one acquisition; also the token file's name. */
  readonly token: string;
  readonly pid: number;
  readonly host: string;
  /** The pid namespace the pid means something in (see `pidSpace`). */
  readonly space: string;
  /** When the lock was taken (ms since the epoch), for messages. */
  readonly since: number;
}

export function ownerRecord(token: string): LockOwner {
  return { token, pid: process.pid, host: hostname(), space: pidSpace(), since: Date.now() };
}

/** The owner a token file names, or undefined when its text is not one (a file emptied by a crash). */
export function parseOwner(text: string): LockOwner | undefined {
  try {
    const o = JSON.parse(text) as Partial<LockOwner>;
    return typeof o.pid === "number" && typeof o.space === "string" ? (o as LockOwner) : undefined;
  } catch {
    return undefined;
  }
}

/**
 * Gone: a holder in our pid namespace whose pid is dead, at once; any holder whose heartbeat
 * (the token file's mtime) is older than `staleMs`. A pid from another host or container says
 * nothing here, so only the heartbeat judges it.
 */
export function isOwnerGone(owner: LockOwner | undefined, heartbeatMs: number, staleMs: number): boolean {
  if (owner && owner.space === pidSpace() && !pidAlive(owner.pid)) return true;
  return Date.now() - heartbeatMs > staleMs;
}

function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === "EPERM";
  }
}

let space: string | undefined;

/**
 * Processes see each other's pids only within one pid namespace of one running kernel. Containers
 * sharing a hostname (host networking) have their own namespaces, so the hostname alone is not
 * enough: on Linux add the boot id and the namespace's inode. Elsewhere, the hostname.
 */
function pidSpace(): string {
  if (space === undefined) {
    try {
      const boot = readFileSync("/proc/sys/kernel/random/boot_id", "utf8").trim();
      space = `${hostname()}/${boot}/${readlinkSync("/proc/self/ns/pid")}`;
    } catch {
      space = hostname();
    }
  }
  return space;
}
