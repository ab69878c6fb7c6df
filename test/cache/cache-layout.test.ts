import assert from "node:assert/strict";
import { chmodSync, mkdtempSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import { ensurePrivateDir } from "../../src/cache/index.js";

test("ensurePrivateDir makes every folder it creates 0700 whatever the umask, and leaves existing ones alone", () => {
  const dir = mkdtempSync(join(tmpdir(), "kiln-private-"));
  chmodSync(dir, 0o755);
  const mode = (p: string) => statSync(p).mode & 0o777;
  ensurePrivateDir(join(dir, "a", "b", "c"));
  ensurePrivateDir(join(dir, "a", "b", "c")); // already there: no error
  assert.equal(mode(dir), 0o755);
  for (const p of ["a", "a/b", "a/b/c"]) assert.equal(mode(join(dir, p)), 0o700, p);
  const old = process.umask(0o277); // strips even the owner's write bit from mkdir's mode
  try {
    ensurePrivateDir(join(dir, "d"));
  } finally {
    process.umask(old);
  }
  assert.equal(mode(join(dir, "d")), 0o700);
  rmSync(dir, { recursive: true, force: true });
});
