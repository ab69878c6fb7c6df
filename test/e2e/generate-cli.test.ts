// `kiln generate` as a script uses it: --prompt-ids and --json; a second process with a warm cache
// compiles nothing, and KILN_FORCE_AOT_LOAD=1 works once the cache holds the bundle.
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { test } from "node:test";
import { projectRoot } from "../helpers/root.js";

const cli = fileURLToPath(new URL(`../../src/cli/main${import.meta.url.endsWith(".ts") ? ".ts" : ".js"}`, import.meta.url));
const model = join(projectRoot(), "test", "fixtures", "tiny-qwen3");
const reference = JSON.parse(readFileSync(join(model, "reference.json"), "utf8")) as { f32: { prompt_ids: number[]; greedy: number[] }[] };

function kiln(cache: string, extra: Record<string, string> = {}) {
  const c = reference.f32[1]!;
  const out = execFileSync(process.execPath, [...process.execArgv, cli, "generate", "--model", model, "--prompt-ids", c.prompt_ids.join(","), "--max-tokens", "8", "--json", "--backend", "js"], {
    env: { ...process.env, KILN_CACHE_DIR: cache, ...extra },
    encoding: "utf8",
    stdio: ["ignore", "pipe", "pipe"],
  });
  return JSON.parse(out) as { generated_ids: number[]; compile: { traces: number; compiler_invocations: number; bundles_loaded: number; outcomes: string[] } };
}

test("kiln generate: cold then warm; the warm process traces and compiles nothing; forced AOT load works", () => {
  const cache = mkdtempSync(join(tmpdir(), "kiln-gen-"));
  try {
    const want = reference.f32[1]!.greedy;
    const cold = kiln(cache);
    assert.deepEqual(cold.generated_ids, want);
    assert.deepEqual(cold.compile.outcomes, ["compiled"]);
    const warm = kiln(cache);
    assert.deepEqual(warm.generated_ids, want);
    assert.equal(warm.compile.traces, 0);
    assert.equal(warm.compile.compiler_invocations, 0);
    assert.equal(warm.compile.bundles_loaded, 1);
    const forced = kiln(cache, { KILN_FORCE_AOT_LOAD: "1" });
    assert.deepEqual(forced.generated_ids, want);
  } finally {
    rmSync(cache, { recursive: true, force: true });
  }
});

test("kiln compile fills the cache (or a folder to ship): then generate with KILN_FORCE_AOT_LOAD=1 traces and compiles nothing", () => {
  const out = mkdtempSync(join(tmpdir(), "kiln-ship-"));
  try {
    const log = execFileSync(process.execPath, [...process.execArgv, cli, "compile", "--model", model, "--backend", "js", "--out", out], { encoding: "utf8", stdio: ["ignore", "pipe", "pipe"] });
    void log;
    const shipped = kiln(out, { KILN_FORCE_AOT_LOAD: "1" });
    assert.deepEqual(shipped.generated_ids, reference.f32[1]!.greedy);
    assert.equal(shipped.compile.traces, 0);
    assert.deepEqual(shipped.compile.outcomes, ["loaded"]);
  } finally {
    rmSync(out, { recursive: true, force: true });
  }
});

test("kiln generate refuses a text prompt without a tokenizer, with a clear error", () => {
  assert.throws(
    () => execFileSync(process.execPath, [...process.execArgv, cli, "generate", "--model", model, "--prompt", "hello"], { encoding: "utf8", stdio: ["ignore", "pipe", "pipe"] }),
    (e: unknown) => /--prompt-ids/.test(String((e as { stderr?: string }).stderr)),
  );
});
