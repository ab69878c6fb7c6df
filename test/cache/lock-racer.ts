// A thread that races others for one lock, round after round, in step with the test (file-lock.test.ts).
// (Does nothing when node --test imports it.)
import { isMainThread, workerData } from "node:worker_threads";
import { FileLock } from "../../src/cache/index.js";

/** Slots of the shared Int32Array: the round allowed to start, tries made, wins, the round allowed to release, releases. */
export const Slot = { Go: 0, Tried: 1, Won: 2, Done: 3, Released: 4 } as const;
type Slot = (typeof Slot)[keyof typeof Slot];

export interface RacerData {
  readonly path: string;
  readonly rounds: number;
  readonly ctl: SharedArrayBuffer;
}

/** Blocks until `ctl[slot] >= atLeast`; throws when nothing moves for 30 s (a racer died), rather than hang. */
export function waitFor(ctl: Int32Array, slot: Slot, atLeast: number): void {
  for (let v = Atomics.load(ctl, slot); v < atLeast; v = Atomics.load(ctl, slot)) {
    if (Atomics.wait(ctl, slot, v, 30_000) === "timed-out") throw new Error(`lock race stuck at slot ${slot}: ${v} < ${atLeast}`);
  }
}

if (!isMainThread) {
  const { path, rounds, ctl: buffer } = workerData as RacerData;
  const ctl = new Int32Array(buffer);
  for (let round = 1; round <= rounds; round++) {
    waitFor(ctl, Slot.Go, round);
    const lock = FileLock.tryAcquire(path, { staleMs: 600_000 }); // only a dead pid makes the lock breakable
    if (lock) Atomics.add(ctl, Slot.Won, 1);
    Atomics.add(ctl, Slot.Tried, 1);
    Atomics.notify(ctl, Slot.Tried);
    waitFor(ctl, Slot.Done, round); // hold until every racer has tried
    lock?.release();
    Atomics.add(ctl, Slot.Released, 1);
    Atomics.notify(ctl, Slot.Released);
  }
}
