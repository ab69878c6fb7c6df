import assert from "node:assert/strict";
import { chmodSync, mkdirSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import { UntrustedCacheError, checkFolderTrust, computeCacheKey, describeMiss, diffFactors, entryLocation, explainCacheKey } from "../../src/cache/index.js";

const base = {
  kiln_version: "0.1.0",
  format_version: 1,
  config: { hidden_size: 64, rms_norm_eps: 1e-6, rope: { theta: 1e6 } },
  dynamic_dims: { x: [0] },
  compile_sizes: [1],
  rank: 0,
  world_size: 1,
  prefix: "model",
};

test("the key is stable under key order and changes with every factor", () => {
  const a = computeCacheKey(base);
  const reordered = computeCacheKey(Object.fromEntries(Object.entries(base).reverse()));
  assert.equal(a.key, reordered.key);
  const variants = [
    { ...base, config: { ...base.config, rms_norm_eps: 1e-3 } },
    { ...base, dynamic_dims: { x: [0, 1] } },
    { ...base, compile_sizes: [1, 2] },
    { ...base, rank: 1 },
    { ...base, prefix: "lm_head" },
    { ...base, format_version: 2 },
  ];
  const keys = new Set([a.key, ...variants.map((v) => computeCacheKey(v).key)]);
  assert.equal(keys.size, variants.length + 1);
});

test("a miss names the nested factor that differs, with both values", () => {
  const diffs = diffFactors(base, { ...base, config: { ...base.config, rms_norm_eps: 0.001 } });
  assert.deepEqual(diffs, [{ path: "config.rms_norm_eps", stored: "0.000001", current: "0.001" }]);
  assert.equal(describeMiss(diffs), "config.rms_norm_eps 0.000001 → 0.001");
  assert.match(describeMiss(diffFactors(base, { ...base, rank: 2, prefix: "x" })), /^prefix model → x \(and 1 more: rank\)$/);
});

test("explain lists every factor with its hash", () => {
  const lines = explainCacheKey(base);
  assert.match(lines[0]!, /^key [0-9a-f]{32}$/);
  for (const name of Object.keys(base)) assert.ok(lines.some((l) => l.trimStart().startsWith(name + " ")), name);
});

test("entries are laid out per key, rank and prefix", () => {
  const loc = entryLocation("/c", "k", 1, 4, "model");
  assert.equal(loc.bundle, join("/c", "aot", "k", "rank1_4", "model", "model.kiln"));
});

test("a folder writable by others is refused", { skip: process.getuid?.() === undefined ? "no POSIX uids" : false }, () => {
  const dir = mkdtempSync(join(tmpdir(), "kiln-trust-"));
  try {
    const open = join(dir, "open");
    mkdirSync(open);
    chmodSync(open, 0o777);
    assert.throws(() => checkFolderTrust(open), UntrustedCacheError);
    chmodSync(open, 0o755);
    checkFolderTrust(open);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
