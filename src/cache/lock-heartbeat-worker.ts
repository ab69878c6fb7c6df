// The heartbeat thread's body: touch the token file now and every interval until stopped. It
// sleeps in Atomics.wait, so a stop wakes it at once, and it needs nothing from the main thread.
import { utimesSync } from "node:fs";
import { workerData } from "node:worker_threads";
import type { HeartbeatData } from "./lock-heartbeat.js";

const { file, intervalMs, stop } = workerData as HeartbeatData;
const flag = new Int32Array(stop);
while (Atomics.load(flag, 0) === 0) {
  try {
    const now = new Date();
    utimesSync(file, now, now); // the file is named by our token, so this never touches another holder's lock
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === "ENOENT") break; // released, or broken by a waiter
  }
  Atomics.wait(flag, 0, 0, intervalMs);
}
