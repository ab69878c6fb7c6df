// Acceptance: every deployment path of a shipped native cache. A cache compiled by `kiln compile`, then made
// read-only, serves a non-root user under KILN_FORCE_AOT_LOAD=1 with zero compiles and zero writes; so does a
// root-owned cache read by another user; umask 002 does not make the next run refuse the cache; four
// processes loading one bundle at once each write their own private copy and agree (20 times over).
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { chmodSync, existsSync, lstatSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { test } from "node:test";
import { hasToolchain } from "../../src/backend/index.js";
import { projectRoot } from "../helpers/root.js";
import { NOBODY, chownTree, runKiln, runningAsRoot, snapshot } from "../helpers/kiln-cli.js";

const skip = !hasToolchain() && "no C compiler";
const model = join(projectRoot(), "test", "fixtures", "tiny-qwen3");
const reference = JSON.parse(readFileSync(join(model, "reference.json"), "utf8")) as { f32: { prompt_ids: number[]; greedy: number[] }[] };
const CASE = reference.f32[1]!;
const GENERATE = ["generate", "--model", model, "--prompt-ids", CASE.prompt_ids.join(","), "--max-tokens", "8", "--json", "--backend", "native"];
/** Permission tests need a user whom permission bits bind: the suite's own, or `nobody` when it runs as root. */
const user = runningAsRoot() ? NOBODY : undefined;

interface GenJson {
  generated_ids: number[];
  compile: { traces: number; compiler_invocations: number; outcomes: string[]; log: string[] };
}

function parse(r: ReturnType<typeof runKiln>): GenJson {
  assert.equal(r.signal, null, r.stderr);
  assert.equal(r.status, 0, r.stderr);
  assert.doesNotMatch(r.stderr, /^\s+at /m, "no stack trace");
  return JSON.parse(r.stdout) as GenJson;
}

/** A scratch folder the test user owns, with a HOME of its own inside. */
function userFolder(name: string): { dir: string; home: string } {
  const dir = mkdtempSync(join(tmpdir(), `kiln-${name}-`));
  const home = join(dir, "home");
  mkdirSync(home);
  if (user) chownTree(dir, user);
  return { dir, home };
}

test("kiln compile --out, chmod -R a-w, then KILN_FORCE_AOT_LOAD=1 as a non-root user: same tokens, zero compiles, zero writes", { skip }, () => {
  const { dir, home } = userFolder("ro");
  try {
    const shipped = join(dir, "shipped");
    const compiled = runKiln(["compile", "--model", model, "--backend", "native", "--out", shipped], { env: { HOME: home }, user });
    assert.equal(compiled.status, 0, compiled.stderr);
    chmodTree(shipped, "a-w");
    const before = snapshot(shipped);
    const run = parse(runKiln(GENERATE, { env: { HOME: home, KILN_CACHE_DIR: shipped, KILN_FORCE_AOT_LOAD: "1" }, user }));
    assert.deepEqual(run.generated_ids, CASE.greedy);
    assert.equal(run.compile.traces, 0);
    assert.equal(run.compile.compiler_invocations, 0);
    assert.deepEqual(run.compile.outcomes, ["loaded"]);
    assert.deepEqual(snapshot(shipped), before, "nothing was written into the shipped cache");
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test("a root-owned cache, readable by all and writable by root only, serves another user", { skip: skip || (!runningAsRoot() && "needs root to own the cache") }, () => {
  const { dir, home } = userFolder("rootowned");
  const cache = mkdtempSync(join(tmpdir(), "kiln-rootcache-"));
  try {
    const compiled = runKiln(["compile", "--model", model, "--backend", "native"], { env: { KILN_CACHE_DIR: cache } });
    assert.equal(compiled.status, 0, compiled.stderr);
    chmodTree(cache, "go+rX,go-w");
    const before = snapshot(cache);
    const run = parse(runKiln(GENERATE, { env: { HOME: home, KILN_CACHE_DIR: cache, KILN_FORCE_AOT_LOAD: "1" }, user }));
    assert.deepEqual(run.generated_ids, CASE.greedy);
    assert.equal(run.compile.compiler_invocations, 0);
    assert.deepEqual(snapshot(cache), before, "nothing was written into the root-owned cache");
  } finally {
    rmSync(dir, { recursive: true, force: true });
    rmSync(cache, { recursive: true, force: true });
  }
});

test("with umask 002, two runs on a fresh cache: the second loads (every folder is created 0700)", { skip }, () => {
  const { dir, home } = userFolder("umask");
  try {
    const cache = join(dir, "cache");
    const env = { HOME: home, KILN_CACHE_DIR: cache };
    const cold = parse(runKiln(GENERATE, { env, user, umask: 0o002 }));
    assert.deepEqual(cold.compile.outcomes, ["compiled"]);
    const warm = parse(runKiln(GENERATE, { env, user, umask: 0o002 }));
    assert.deepEqual(warm.compile.outcomes, ["loaded"]);
    assert.deepEqual(warm.generated_ids, CASE.greedy);
    assert.deepEqual(openFolders(cache), [], "no folder is writable by group or others");
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

const child = fileURLToPath(new URL(`../compile/cache-child${import.meta.url.endsWith(".ts") ? ".ts" : ".js"}`, import.meta.url));

interface ChildResult {
  values: number[];
  counters: { compilerInvocations: number; objectsExtracted: number };
  activity: { outcomes: string[] };
}

function blockChild(cache: string): Promise<ChildResult> {
  return new Promise((resolve, reject) => {
    const p = spawn(process.execPath, [...process.execArgv, child, "1e-6", "1"], { env: { ...process.env, KILN_CACHE_DIR: cache, TEST_BACKEND: "native" } });
    let out = "";
    let err = "";
    p.stdout.on("data", (d: Buffer) => (out += d));
    p.stderr.on("data", (d: Buffer) => (err += d));
    p.on("close", (code, signal) => (code === 0 ? resolve(JSON.parse(out) as ChildResult) : reject(new Error(`child exited ${code ?? signal}: ${err}`))));
  });
}

test("four processes load one warm bundle at once, objects/ empty: all agree, each writes its object once to a private file (x20)", { skip, timeout: 600_000 }, async () => {
  const cache = mkdtempSync(join(tmpdir(), "kiln-race-native-"));
  try {
    const cold = await blockChild(cache);
    for (let round = 0; round < 20; round++) {
      rmSync(join(cache, "objects"), { recursive: true, force: true });
      const runs = await Promise.all([1, 2, 3, 4].map(() => blockChild(cache)));
      for (const r of runs) {
        assert.deepEqual(r.activity.outcomes, ["loaded"], `round ${round}`);
        assert.equal(r.counters.compilerInvocations, 0);
        assert.equal(r.counters.objectsExtracted, 1, "one private copy per process");
        assert.deepEqual(r.values, cold.values);
      }
      const inObjects = existsSync(join(cache, "objects")) ? readdirSync(join(cache, "objects")).filter((f) => /\.(so|node)$/.test(f)) : [];
      assert.deepEqual(inObjects, [], "loading extracts nothing into the shared cache");
    }
  } finally {
    rmSync(cache, { recursive: true, force: true });
  }
});

/** chmod -R in the two shapes the tests need: read-only for all, or readable by all and writable by the owner. */
function chmodTree(dir: string, how: "a-w" | "go+rX,go-w"): void {
  const modes = how === "a-w" ? { folder: 0o555, file: 0o444 } : { folder: 0o755, file: 0o644 };
  // Children first: a folder made read-only still has to be walked.
  for (const name of readdirSync(dir, { recursive: true }).map(String).sort().reverse()) {
    const p = join(dir, name);
    chmodSync(p, lstatSync(p).isDirectory() ? modes.folder : modes.file);
  }
  chmodSync(dir, modes.folder);
}

/** Folders under `dir` that their group or others could write. */
function openFolders(dir: string): string[] {
  return readdirSync(dir, { recursive: true })
    .map((name) => join(dir, String(name)))
    .filter((p) => lstatSync(p).isDirectory() && (lstatSync(p).mode & 0o022) !== 0);
}

test("KILN_BACKEND=js, KILN_DISABLE_COMPILE_CACHE=1 and KILN_USE_AOT_COMPILE=0 keep compiled objects (and the mapper) out of the cache", { skip }, () => {
  const { dir, home } = userFolder("switches");
  try {
    const cases: [Record<string, string>, string[]][] = [
      [{ KILN_BACKEND: "js" }, ["generate", "--model", model, "--prompt-ids", "1,2", "--max-tokens", "2", "--json"]],
      [{ KILN_DISABLE_COMPILE_CACHE: "1" }, GENERATE],
      [{ KILN_USE_AOT_COMPILE: "0" }, GENERATE],
    ];
    cases.forEach(([switches, args], i) => {
      const cache = join(dir, `cache${i}`);
      const run = runKiln(args, { env: { HOME: home, KILN_CACHE_DIR: cache, ...switches } });
      assert.equal(run.status, 0, run.stderr);
      const objects = join(cache, "objects");
      const stored = existsSync(objects) ? readdirSync(objects).filter((f) => /\.(so|ref|node)$/.test(f)) : [];
      assert.deepEqual(stored, [], `${JSON.stringify(switches)}: nothing compiled was stored`);
    });
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
