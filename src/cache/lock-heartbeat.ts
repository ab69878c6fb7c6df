// A held lock's heartbeat: a helper thread refreshes the token file's mtime, because the holder's
// own thread is usually blocked in a synchronous compile (spawnSync of cc), where no timer runs.
import { Worker } from "node:worker_threads";
import { logLine } from "../util/index.js";

export interface HeartbeatData {
  readonly file: string;
  readonly intervalMs: number;
  /** Int32 flag: set to 1 (and notified) to stop. */
  readonly stop: SharedArrayBuffer;
}

/** Starts refreshing `file` every `intervalMs`; returns the function that stops it. */
export function startHeartbeat(file: string, intervalMs: number): () => void {
  const stop = new Int32Array(new SharedArrayBuffer(4));
  const warn = (e: Error) => logLine(`lock heartbeat for ${file} failed (${e.message}): other hosts may take the lock after its stale time`);
  try {
    // Measured: ~0.3-2.5 ms of the caller's time; the thread then boots (~25 ms) in parallel.
    const data: HeartbeatData = { file, intervalMs, stop: stop.buffer as SharedArrayBuffer };
    const worker = new Worker(new URL("./lock-heartbeat-worker.js", import.meta.url), { workerData: data });
    worker.unref(); // never what keeps the process alive
    worker.on("error", warn);
  } catch (e) {
    warn(e as Error);
  }
  return () => {
    Atomics.store(stop, 0, 1);
    Atomics.notify(stop, 0);
  };
}
