// A process killed (SIGKILL) while holding a compile lock and writing leaves no partial file
// and no lock that blocks the next process.
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { existsSync, mkdtempSync, readdirSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import { FileLock } from "../../src/cache/index.js";

test("a SIGKILLed lock holder does not block the next process", async () => {
  const dir = mkdtempSync(join(tmpdir(), "kiln-crash-"));
  try {
    const lock = join(dir, "locks", "k.lock");
    const target = join(dir, "entry", "model.kiln");
    // The child takes the lock, starts an atomic write of a large file, and is killed mid-way.
    const script = `
      import("${new URL("../../src/cache/index.js", import.meta.url).href}").then(({ FileLock, writeFileAtomic }) => {
        FileLock.acquireSync(${JSON.stringify(lock)});
        process.stdout.write("locked\\n");
        for (;;) writeFileAtomic(${JSON.stringify(target)}, new Uint8Array(64 << 20));
      });`;
    const child = spawn(process.execPath, [...process.execArgv, "--input-type=module", "-e", script], { stdio: ["ignore", "pipe", "inherit"] });
    await new Promise<void>((resolve) => child.stdout.once("data", () => resolve()));
    await new Promise((r) => setTimeout(r, 150));
    child.kill("SIGKILL");
    await new Promise((r) => child.on("exit", r));
    assert.ok(existsSync(lock), "the dead process left its lock behind");
    // A dead holder's lock is broken at once: long before its heartbeat could look stale.
    const next = FileLock.acquireSync(lock, { staleMs: 600_000, timeoutMs: 20_000 });
    next.release();
    // The entry is absent or whole; no temp file is visible as the entry.
    const leftovers = existsSync(join(dir, "entry")) ? readdirSync(join(dir, "entry")) : [];
    assert.ok(leftovers.every((f) => f === "model.kiln" || f.endsWith(".tmp")), leftovers.join(", "));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
