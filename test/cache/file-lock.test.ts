import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import { FileLock, writeFileAtomic } from "../../src/cache/index.js";

const dir = mkdtempSync(join(tmpdir(), "kiln-lock-"));
test.after(() => rmSync(dir, { recursive: true, force: true }));

test("a held lock blocks a second holder until released", async () => {
  const path = join(dir, "a.lock");
  const first = await FileLock.acquire(path);
  assert.equal(FileLock.tryAcquire(path), undefined);
  first.release();
  const second = FileLock.tryAcquire(path);
  assert.ok(second);
  second.release();
  assert.equal(existsSync(path), false);
});

test("a lock left by a dead process is broken at once", async () => {
  const path = join(dir, "dead.lock");
  const child = spawn(process.execPath, ["-e", "0"]);
  await new Promise((r) => child.on("exit", r));
  writeFileSync(path, JSON.stringify({ pid: child.pid, host: (await import("node:os")).hostname() }));
  const lock = await FileLock.acquire(path, { timeoutMs: 2000 });
  lock.release();
});

test("a lock whose heartbeat stopped is broken after staleMs", async () => {
  const path = join(dir, "old.lock");
  writeFileSync(path, JSON.stringify({ pid: 1, host: "another-host" }));
  const t0 = Date.now();
  const lock = await FileLock.acquire(path, { staleMs: 300, timeoutMs: 5000, pollMs: 20 });
  assert.ok(Date.now() - t0 >= 200, "waited for the stale timeout");
  lock.release();
});

test("writeFileAtomic replaces content whole and leaves no temp files", () => {
  const path = join(dir, "sub", "f.bin");
  writeFileAtomic(path, "one");
  writeFileAtomic(path, new Uint8Array([1, 2, 3]));
  assert.deepEqual([...readFileSync(path)], [1, 2, 3]);
  assert.deepEqual(readdirSync(join(dir, "sub")), ["f.bin"]);
});
