import assert from "node:assert/strict";
import { type ChildProcess, spawn } from "node:child_process";
import { cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, statSync, utimesSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { test } from "node:test";
import { fileURLToPath } from "node:url";
import { Worker } from "node:worker_threads";
import { FileLock, writeFileAtomic } from "../../src/cache/index.js";
import { lockTestHooks } from "../../src/cache/file-lock.js";
import { type RacerData, Slot, waitFor } from "./lock-racer.js";

const dir = mkdtempSync(join(tmpdir(), "kiln-lock-"));
test.after(() => rmSync(dir, { recursive: true, force: true }));

const STALE_MS = 300;
/** Children and threads that hang fail the test instead of the suite (a bound, not a timing assertion). */
const HANG = { timeout: 60_000 };
let cases = 0;

/** A fresh lock path and order file; children append what they did, in order, to the order file. */
function scene() {
  const at = join(dir, `case${cases++}`);
  return { path: join(at, "locks", "k.lock"), order: join(at, "order") };
}

/** A child process running lock-child.ts's steps. */
function child(s: ReturnType<typeof scene>, name: string, ...steps: string[]): ChildProcess & { done: Promise<number | null> } {
  const script = fileURLToPath(new URL("./lock-child.js", import.meta.url));
  const c = spawn(process.execPath, [script, s.path, String(STALE_MS), s.order, name, ...steps], { stdio: ["ignore", "pipe", "inherit"] });
  return Object.assign(c, { done: new Promise<number | null>((r) => c.on("exit", (code) => r(code))) });
}

const said = (c: ChildProcess, word: string) =>
  new Promise<void>((resolve) => {
    let out = "";
    c.stdout!.on("data", (d) => (out += d) && out.split("\n").includes(word) && resolve());
  });

const orderOf = (s: ReturnType<typeof scene>) => readFileSync(s.order, "utf8").trim().split("\n");

async function untilLogged(s: ReturnType<typeof scene>, word: string): Promise<void> {
  while (!(existsSync(s.order) && orderOf(s).includes(word))) await new Promise((r) => setTimeout(r, 10));
}

test("a held lock blocks a second holder until released, and its folders are private", async () => {
  const { path } = scene();
  const first = await FileLock.acquire(path);
  assert.equal(FileLock.tryAcquire(path), undefined);
  assert.equal(statSync(join(path, "..")).mode & 0o777, 0o700);
  assert.equal(statSync(path).mode & 0o777, 0o700);
  first.release();
  const second = FileLock.tryAcquire(path);
  assert.ok(second);
  second.release();
  assert.equal(existsSync(path), false);
  assert.deepEqual(readdirSync(join(path, "..")), [], "no staging folder left behind");
});

test("a holder blocked synchronously for many times staleMs keeps its lock: the waiter gets it only after the release", HANG, async () => {
  const s = scene();
  // The holder blocks (Atomics.wait, like a spawnSync of cc) until the waiter waits, then 4 × staleMs more.
  const holder = child(s, "h", "acquire", "say:locked", "until:w-waits", `block:${4 * STALE_MS}`, "log:h-releases", "release");
  await said(holder, "locked");
  const waiter = child(s, "w", "acquire", "log:w-acquires", "release");
  assert.deepEqual(await Promise.all([holder.done, waiter.done]), [0, 0]);
  assert.deepEqual(orderOf(s), ["w-waits", "h-releases", "w-acquires"]);
});

test("a process never removes a lock it no longer owns: A's lock is broken and taken by B, A's release leaves B's", HANG, async () => {
  const s = scene();
  const a = child(s, "a", "acquire", "say:locked", "until:b-acquires", "release", "log:a-released");
  await said(a, "locked");
  a.kill("SIGSTOP"); // its heartbeat thread stops too, as on a suspended host
  const b = child(s, "b", "acquire", "log:b-acquires", "until:a-released", "check", "release");
  await untilLogged(s, "b-acquires");
  a.kill("SIGCONT");
  assert.deepEqual(await Promise.all([a.done, b.done]), [0, 0]);
  // (b-waits is there too when B first looked before A's heartbeat went stale.)
  assert.deepEqual(orderOf(s).filter((w) => w !== "b-waits"), ["b-acquires", "a-released", "b-holds"]);
});

let deadTemplate: string | undefined;

/** Puts at `s.path` the lock of a holder that died holding it (made once by a child that ends without releasing). */
async function deadLock(s: ReturnType<typeof scene>): Promise<void> {
  if (!deadTemplate) {
    const t = scene();
    assert.equal(await child(t, "dead", "acquire").done, 0, "an unref'd heartbeat does not keep the holder alive");
    deadTemplate = t.path;
  }
  rmSync(s.path, { recursive: true, force: true });
  cpSync(deadTemplate, s.path, { recursive: true });
}

test("a breaker that judged a lock gone never removes the lock a rival took in the meantime", HANG, async () => {
  for (const rivalReleases of [false, true]) {
    const s = scene();
    await deadLock(s);
    let holder: FileLock | undefined;
    lockTestHooks.beforeBreak = () => {
      lockTestHooks.beforeBreak = undefined;
      // Between our judgement and our break, a rival breaks the same lock and takes it (and maybe hands it on).
      holder = FileLock.tryAcquire(s.path, { staleMs: 600_000 });
      if (rivalReleases) {
        holder?.release();
        holder = FileLock.tryAcquire(s.path);
      }
    };
    try {
      assert.equal(FileLock.tryAcquire(s.path, { staleMs: 600_000 }), undefined);
    } finally {
      lockTestHooks.beforeBreak = undefined;
    }
    assert.ok(holder);
    assert.deepEqual(readdirSync(s.path), [holder.token], "the holder's lock is intact");
    holder.release();
  }
});

test("of two threads breaking one dead holder's lock at the same moment, exactly one wins, every time", HANG, async () => {
  const s = scene();
  const rounds = 40;
  const racers = 2;
  const ctl = new Int32Array(new SharedArrayBuffer(5 * 4));
  const data: RacerData = { path: s.path, rounds, ctl: ctl.buffer as SharedArrayBuffer };
  const workers = Array.from({ length: racers }, () => new Worker(new URL("./lock-racer.js", import.meta.url), { workerData: data }));
  const winners: number[] = [];
  for (let round = 1; round <= rounds; round++) {
    await deadLock(s);
    const wonBefore = Atomics.load(ctl, Slot.Won);
    Atomics.store(ctl, Slot.Go, round);
    Atomics.notify(ctl, Slot.Go);
    waitFor(ctl, Slot.Tried, round * racers);
    winners.push(Atomics.load(ctl, Slot.Won) - wonBefore);
    Atomics.store(ctl, Slot.Done, round);
    Atomics.notify(ctl, Slot.Done);
    waitFor(ctl, Slot.Released, round * racers);
  }
  await Promise.all(workers.map((w) => new Promise((r) => w.on("exit", r))));
  assert.deepEqual(winners, Array(rounds).fill(1));
});

test("a plain lock file left by an older Kiln is broken only once older than staleMs", () => {
  const { path } = scene();
  mkdirSync(dirname(path), { recursive: true });
  writeFileSync(path, JSON.stringify({ pid: 1, host: "another-host" }));
  assert.equal(FileLock.tryAcquire(path, { staleMs: 60_000 }), undefined);
  const old = new Date(Date.now() - 120_000);
  utimesSync(path, old, old);
  const lock = FileLock.tryAcquire(path, { staleMs: 60_000 });
  assert.ok(lock);
  lock.release();
});

test("writeFileAtomic replaces content whole and leaves no temp files", () => {
  const path = join(dir, "sub", "f.bin");
  writeFileAtomic(path, "one");
  writeFileAtomic(path, new Uint8Array([1, 2, 3]));
  assert.deepEqual([...readFileSync(path)], [1, 2, 3]);
  assert.deepEqual(readdirSync(join(dir, "sub")), ["f.bin"]);
});
