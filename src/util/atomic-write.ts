// Atomic file writes: a temp file in the same folder, fsync, rename, fsync the folder.
// A reader sees the old file or the new one, never a partial one, even after a crash.
import { closeSync, fsyncSync, mkdirSync, openSync, renameSync, rmSync, writeSync } from "node:fs";
import { basename, dirname, join } from "node:path";

/** Writes `data` (bytes, text, or chunks written in order, so large files need no one big buffer; a generator's
 * chunks are produced as they are written). */
export function writeFileAtomic(path: string, data: Uint8Array | string | Iterable<Uint8Array>): void {
  const dir = dirname(path);
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const tmp = join(dir, `.${basename(path)}.${process.pid}.${Math.random().toString(36).slice(2)}.tmp`);
  const chunks = typeof data === "string" ? [Buffer.from(data)] : data instanceof Uint8Array ? [data] : data;
  let fd = -1;
  try {
    fd = openSync(tmp, "wx", 0o644);
    for (const c of chunks) {
      let off = 0;
      while (off < c.length) off += writeSync(fd, c, off, Math.min(c.length - off, 1 << 30));
    }
    fsyncSync(fd);
    closeSync(fd);
    fd = -1;
    renameSync(tmp, path);
  } catch (e) {
    if (fd >= 0) closeSync(fd);
    rmSync(tmp, { force: true });
    throw e;
  }
  syncDir(dir);
}

/** Makes a rename durable; some filesystems refuse fsync on folders, which is harmless. */
function syncDir(dir: string): void {
  try {
    const fd = openSync(dir, "r");
    try {
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
  } catch {
    // best effort
  }
}
