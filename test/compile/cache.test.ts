import assert from "node:assert/strict";
import { execFile, execFileSync } from "node:child_process";
import { cpSync, existsSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { test } from "node:test";
import { hasToolchain } from "../../src/backend/index.js";

const root = mkdtempSync(join(tmpdir(), "kiln-cache-"));
test.after(() => rmSync(root, { recursive: true, force: true }));

const child = fileURLToPath(new URL(`./cache-child${import.meta.url.endsWith(".ts") ? ".ts" : ".js"}`, import.meta.url));
interface Result {
  values?: number[];
  error?: string;
  message?: string;
  counters: Record<string, number>;
  activity: { outcomes: string[]; missReasons: string[] };
  logs: string[];
}
const envFor = (cache: string, extra: Record<string, string> = {}) => {
  const env: Record<string, string> = { ...(process.env as Record<string, string>), KILN_CACHE_DIR: cache, ...extra };
  for (const k of ["KILN_FORCE_AOT_LOAD", "KILN_USE_AOT_COMPILE", "KILN_DISABLE_COMPILE_CACHE"]) if (!(k in extra)) delete env[k];
  return env;
};
function run(cache: string, eps = "1e-6", extra: Record<string, string> = {}, seed = "1"): Result {
  return JSON.parse(execFileSync(process.execPath, [...process.execArgv, child, eps, seed], { env: envFor(cache, extra), encoding: "utf8" }));
}
const bundles = (cache: string): string[] =>
  existsSync(join(cache, "aot")) ? readdirSync(join(cache, "aot"), { recursive: true }).map(String).filter((f) => f.endsWith("model.kiln")) : [];

test("cold then warm: the second process loads the bundle with zero traces and zero compiles", () => {
  const cache = join(root, "a");
  const cold = run(cache);
  assert.deepEqual(cold.activity.outcomes, ["compiled"]);
  assert.ok(cold.logs.some((l) => /^kiln: compiled block in [\d.]+ s \(trace/.test(l)), cold.logs.join("\n"));
  assert.equal(bundles(cache).length, 1);
  const warm = run(cache);
  assert.deepEqual(warm.activity.outcomes, ["loaded"]);
  assert.equal(warm.counters.traces, 0);
  assert.equal(warm.counters.codegens, 0);
  assert.equal(warm.counters.compilerInvocations, 0);
  assert.ok(warm.logs.some((l) => /^kiln: loaded block from cache in \d+ ms$/.test(l)));
  assert.deepEqual(warm.values, cold.values);
  // Other weights (seed), same architecture: still a hit, with the new weights' results.
  const other = run(cache, "1e-6", {}, "2");
  assert.deepEqual(other.activity.outcomes, ["loaded"]);
  assert.notDeepEqual(other.values, cold.values);

  // A changed config field misses, and the log names the field with both values.
  const changed = run(cache, "0.001");
  assert.deepEqual(changed.activity.outcomes, ["compiled"]);
  assert.ok(changed.logs.some((l) => l.includes("cache miss for block: config.eps 0.000001 → 0.001")), changed.logs.join("\n"));

  // Relocation: the folder copied elsewhere and used with another HOME still hits.
  const moved = join(root, "moved");
  cpSync(cache, moved, { recursive: true });
  const relocated = run(moved, "1e-6", { HOME: join(root, "other-home") });
  assert.deepEqual(relocated.activity.outcomes, ["loaded"]);
  assert.equal(relocated.counters.traces, 0);
});

test("a host without a C compiler loads a native bundle built elsewhere (contract 4)", { skip: hasToolchain() ? false : "no C compiler to build the bundle" }, () => {
  const cache = join(root, "no-cc");
  const built = run(cache, "1e-6", { TEST_BACKEND: "native" });
  assert.deepEqual(built.activity.outcomes, ["compiled"]);
  const loaded = run(cache, "1e-6", { TEST_BACKEND: "auto", KILN_CC: "/nonexistent", KILN_BACKEND: "auto" });
  assert.deepEqual(loaded.activity.outcomes, ["loaded"]);
  assert.equal(loaded.counters.compilerInvocations, 0);
  assert.equal(loaded.counters.traces, 0);
  assert.ok(loaded.logs.some((l) => /no C compiler here/.test(l)), loaded.logs.join("\n"));
  assert.deepEqual(loaded.values, built.values);
});

test("KILN_USE_AOT_COMPILE=0 takes the JIT path and writes nothing", () => {
  const cache = join(root, "b");
  const r = run(cache, "1e-6", { KILN_USE_AOT_COMPILE: "0" });
  assert.ok(r.values);
  assert.equal(r.counters.traces, 1);
  assert.equal(existsSync(cache), false);
});

test("KILN_FORCE_AOT_LOAD=1 throws on an empty cache and loads from a populated one", () => {
  const cache = join(root, "c");
  const empty = run(cache, "1e-6", { KILN_FORCE_AOT_LOAD: "1" });
  assert.equal(empty.error, "CacheMissError");
  run(cache);
  const forced = run(cache, "1e-6", { KILN_FORCE_AOT_LOAD: "1" });
  assert.deepEqual(forced.activity.outcomes, ["loaded"]);
});

test("an unwritable cache folder still computes correctly, with one warning", () => {
  // A folder below a regular file cannot be created, even by root (chmod would not stop root).
  const blocker = join(root, "blocker");
  writeFileSync(blocker, "not a folder");
  const r = run(join(blocker, "cache"));
  assert.ok(r.values);
  assert.equal(r.logs.filter((l) => /not writable/.test(l)).length, 1);
  assert.deepEqual(r.activity.outcomes, ["memory"]);
});

test("four processes racing on one empty key: exactly one compiles, all agree, one bundle", async () => {
  const cache = join(root, "race");
  const results = await Promise.all(
    [1, 2, 3, 4].map(
      () =>
        new Promise<Result>((resolve, reject) =>
          execFile(process.execPath, [...process.execArgv, child, "1e-6", "1"], { env: envFor(cache), encoding: "utf8" }, (err, out) => (err ? reject(err) : resolve(JSON.parse(out)))),
        ),
    ),
  );
  const outcomes = results.map((r) => r.activity.outcomes[0]).sort();
  assert.deepEqual(outcomes, ["compiled", "loaded", "loaded", "loaded"]);
  for (const r of results) assert.deepEqual(r.values, results[0]!.values);
  assert.equal(bundles(cache).length, 1);
});
