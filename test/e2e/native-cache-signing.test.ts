// Acceptance: with KILN_CACHE_SIGNING_KEY set, nothing is dlopened unless a valid signature covers its bytes.
// A planted object — whose constructor would create a marker file — is put where a loader looks: an unpacked
// bundle's object.node (its checksum updated too), an unsigned object in the store, the weights mapper.
// Each is refused and rebuilt (or the weights read without mmap); the marker never appears.
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { test } from "node:test";
import { findCCompiler, hasToolchain } from "../../src/backend/index.js";
import { sha256Hex } from "../../src/util/index.js";
import { projectRoot } from "../helpers/root.js";
import { runKiln } from "../helpers/kiln-cli.js";

const skip = !hasToolchain() && "no C compiler";
const KEY = "kiln-test-signing-key-0123456789abcdef";
const child = fileURLToPath(new URL(`../compile/cache-child${import.meta.url.endsWith(".ts") ? ".ts" : ".js"}`, import.meta.url));
const model = join(projectRoot(), "test", "fixtures", "tiny-qwen3");

let base: string;
let planted: Buffer;
let marker: string;

test.before(() => {
  if (skip) return;
  base = mkdtempSync(join(tmpdir(), "kiln-signing-"));
  marker = join(base, "planted-code-ran");
  const so = join(base, "planted.so");
  const cc = spawnSync(findCCompiler().path, ["-shared", "-fPIC", "-o", so, join(projectRoot(), "test", "fixtures", "native", "planted.c")], { encoding: "utf8" });
  assert.equal(cc.status, 0, cc.stderr);
  planted = readFileSync(so);
});
test.after(() => base && rmSync(base, { recursive: true, force: true }));

interface ChildResult {
  values?: number[];
  error?: string;
  counters: { compilerInvocations: number; objectsRejected: number; bundlesLoaded: number };
  activity: { outcomes: string[] };
  logs: string[];
}

function block(cache: string, env: Record<string, string> = {}): ChildResult {
  const r = spawnSync(process.execPath, [...process.execArgv, child, "1e-6", "1"], {
    env: { ...process.env, KILN_CACHE_DIR: cache, TEST_BACKEND: "native", KILN_TEST_MARKER: marker, ...env },
    encoding: "utf8",
  });
  assert.equal(r.status, 0, r.stderr);
  return JSON.parse(r.stdout) as ChildResult;
}

/** Points `ref` (an objects-store record) at the planted bytes, as an attacker who can write the folder would. */
function plantBehind(objects: string, ref: string): void {
  const sha = sha256Hex(planted);
  writeFileSync(join(objects, `${sha}.so`), planted);
  writeFileSync(join(objects, ref), JSON.stringify({ v: 1, sha256: sha, size: planted.length }));
}

test("signed unpacked bundle: a replaced object.node (checksum updated to match) is refused and recompiled", { skip }, () => {
  const cache = join(base, "unpacked");
  const env = { KILN_AOT_FORMAT: "unpacked", KILN_CACHE_SIGNING_KEY: KEY };
  const cold = block(cache, env);
  assert.deepEqual(cold.activity.outcomes, ["compiled"]);
  assert.deepEqual(block(cache, env).activity.outcomes, ["loaded"], "a signed unpacked folder loads");
  const dir = readdirSync(cache, { recursive: true }).map(String).find((f) => f.endsWith("model.kiln.d"))!;
  const folder = join(cache, dir);
  writeFileSync(join(folder, "object.node"), planted);
  const index = JSON.parse(readFileSync(join(folder, "sections.json"), "utf8")) as { sections: { name: string; sha256: string }[] };
  index.sections.find((s) => s.name === "object")!.sha256 = sha256Hex(planted);
  writeFileSync(join(folder, "sections.json"), JSON.stringify(index));
  const run = block(cache, env);
  assert.equal(existsSync(marker), false, "the planted object never ran");
  assert.deepEqual(run.activity.outcomes, ["compiled"]);
  assert.ok(run.logs.some((l) => /signature/.test(l)), run.logs.join("\n"));
  assert.deepEqual(run.values, cold.values);
});

test("an unsigned object in the store is refused under a signing key, and rebuilt", { skip }, () => {
  const cache = join(base, "store");
  const cold = block(cache);
  rmSync(join(cache, "aot"), { recursive: true });
  const objects = join(cache, "objects");
  const ref = readdirSync(objects).find((f) => f.endsWith(".ref"))!;
  plantBehind(objects, ref);
  const run = block(cache, { KILN_CACHE_SIGNING_KEY: KEY });
  assert.equal(existsSync(marker), false, "the planted object never ran");
  assert.ok(run.counters.objectsRejected >= 1, run.logs.join("\n"));
  assert.ok(run.counters.compilerInvocations >= 1);
  assert.ok(run.logs.some((l) => /not signed/.test(l)), run.logs.join("\n"));
  assert.deepEqual(run.values, cold.values);
});

test("a planted weights mapper is refused under a signing key: rebuilt, or the weights read (forced AOT load)", { skip }, () => {
  const cache = join(base, "mapper");
  const env = { KILN_CACHE_DIR: cache, KILN_CACHE_SIGNING_KEY: KEY, KILN_TEST_MARKER: marker };
  const args = ["generate", "--model", model, "--prompt-ids", "3,14,15", "--max-tokens", "3", "--json", "--backend", "native"];
  const first = runKiln(args, { env });
  assert.equal(first.status, 0, first.stderr);
  const want = (JSON.parse(first.stdout) as { generated_ids: number[] }).generated_ids;
  const objects = join(cache, "objects");
  const mapperRef = readdirSync(objects).find((f) => f.startsWith("file-map-") && f.endsWith(".ref"))!;
  for (const force of ["1", "0"]) {
    plantBehind(objects, mapperRef);
    const run = runKiln(args, { env: { ...env, KILN_FORCE_AOT_LOAD: force } });
    assert.equal(run.status, 0, run.stderr);
    assert.equal(existsSync(marker), false, "the planted mapper never ran");
    const out = JSON.parse(run.stdout) as { generated_ids: number[]; compile: { objects_rejected: number } };
    assert.deepEqual(out.generated_ids, want);
    assert.ok(out.compile.objects_rejected >= 1);
  }
});
