// `kiln generate` / `kiln compile` at the bad-input boundary, as a process: every bad flag, variable or model file
// is one typed line `kiln: E_…` naming what is wrong, exit code 1, no stack trace, no hang; the cache works afterwards.
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { after, test } from "node:test";
import { TINY_QWEN3_DIR, tinyQwen3Reference } from "../helpers/tiny-qwen3.js";

const cli = fileURLToPath(new URL(`../../src/cli/main${import.meta.url.endsWith(".ts") ? ".ts" : ".js"}`, import.meta.url));
const tmp = mkdtempSync(join(tmpdir(), "kiln-gen-input-"));
after(() => rmSync(tmp, { recursive: true, force: true }));
const cache = join(tmp, "cache");
const { prompt_ids: promptIds, greedy } = tinyQwen3Reference.f32[1]!;

function kiln(args: readonly string[], env: Record<string, string> = {}) {
  return spawnSync(process.execPath, [...process.execArgv, cli, ...args], {
    env: { ...process.env, KILN_CACHE_DIR: cache, ...env },
    encoding: "utf8",
    timeout: 60_000,
  });
}

const generate = (model: string, ...extra: string[]) => ["generate", "--model", model, "--prompt-ids", promptIds.join(","), "--max-tokens", "8", ...extra];

/** A copy of the fixture folder with `edit` applied to it. */
function folder(name: string, edit: (dir: string) => void): string {
  const dir = join(tmp, name);
  cpSync(TINY_QWEN3_DIR, dir, { recursive: true });
  edit(dir);
  return dir;
}

function editConfig(dir: string, fields: Record<string, unknown>): void {
  const path = join(dir, "config.json");
  writeFileSync(path, JSON.stringify({ ...JSON.parse(readFileSync(path, "utf8")), ...fields }));
}

test("bad flags, variables and model files: one typed line, exit code 1, no stack trace, no hang; then a normal run works", () => {
  const layers = folder("layers", (dir) => editConfig(dir, { num_hidden_layers: 10_000_000 }));
  const tokenizer = folder("tokenizer", (dir) => writeFileSync(join(dir, "tokenizer.json"), "not json {\n\n"));
  const cases: [string[], Record<string, string>, RegExp][] = [
    [generate(TINY_QWEN3_DIR, "--kv-cache-tokens", "1e12"), {}, /kv cache: 1000000000000 tokens need .* GiB .*more than this machine's .* of memory; .*--kv-cache-tokens/],
    [generate(TINY_QWEN3_DIR, "--threads", "4294967296"), {}, /--threads: expected an integer from 1 to 256, got '4294967296'/],
    [generate(TINY_QWEN3_DIR), { KILN_NUM_THREADS: "4294967296" }, /KILN_NUM_THREADS=4294967296 is not an integer from 1 to 256/],
    [generate(TINY_QWEN3_DIR, "--backend", "foo"), {}, /--backend: expected native \| js \| auto, got 'foo'/],
    [generate(TINY_QWEN3_DIR, "--max-tokens", "600"), {}, /--max-tokens: a prompt of \d+ tokens and 600 more exceed the context of 512 tokens, the model's \(max_position_embeddings\)/],
    [generate(TINY_QWEN3_DIR, "--kv-cache-tokens", "16", "--max-tokens", "20"), {}, /--max-tokens: .* context of 16 tokens, the KV cache's \(--kv-cache-tokens\)/],
    [generate(TINY_QWEN3_DIR, "--temperature", "Infinity"), {}, /--temperature: expected a finite number >= 0, got 'Infinity'/],
    [generate(layers), {}, /^kiln: E_MODEL_FORMAT: .*config\.json: config field num_hidden_layers: 10000000 is over the limit of 4096/],
    [["generate", "--model", tokenizer, "--prompt", "hello"], {}, /^kiln: E_MODEL_FORMAT: .*tokenizer\.json: tokenizer\.json is not valid JSON/],
    [["compile", "--model", TINY_QWEN3_DIR, "--backend", "foo"], {}, /--backend: expected native \| js \| auto/],
    [generate(TINY_QWEN3_DIR, "--kv-cache-dtype", "f16"), {}, /^kiln: E_ARGUMENT: --kv-cache-dtype: expected f32 \| bf16, got 'f16'/],
    [["compile", "--model", TINY_QWEN3_DIR, "--kv-cache-dtype", "fp8"], {}, /^kiln: E_ARGUMENT: --kv-cache-dtype: expected f32 \| bf16, got 'fp8'/],
  ];
  for (const [args, env, want] of cases) {
    const what = `${Object.entries(env).map(([k, v]) => `${k}=${v} `).join("")}kiln ${args.join(" ")}`;
    const r = kiln(args, env);
    assert.equal(r.error, undefined, `${what}: ${String(r.error)}`);
    assert.equal(r.signal, null, what);
    assert.equal(r.status, 1, `${what}: ${r.stderr}`);
    assert.ok(r.stderr.startsWith("kiln: E_"), `${what}: ${r.stderr}`);
    assert.equal(r.stderr.trimEnd().split("\n").length, 1, `${what}: one line: ${r.stderr}`);
    assert.ok(!r.stderr.includes("    at "), `${what}: no stack trace: ${r.stderr}`);
    assert.match(r.stderr, want, what);
    assert.equal(r.stdout, "", what);
  }
  const ok = kiln(generate(TINY_QWEN3_DIR, "--json", "--backend", "js"));
  assert.equal(ok.status, 0, ok.stderr);
  assert.deepEqual(JSON.parse(ok.stdout).generated_ids, greedy);
});

test("--kv-cache-dtype bf16: the f32 cache's greedy tokens, from a program compiled for the bf16 cache (its own cache key)", () => {
  const run = (...extra: string[]) => {
    const r = kiln(generate(TINY_QWEN3_DIR, "--json", "--backend", "js", ...extra), { KILN_CACHE_DIR: join(tmp, "kv-dtype-cache") });
    assert.equal(r.status, 0, r.stderr);
    return JSON.parse(r.stdout) as { generated_ids: number[]; compile: { outcomes: string[] } };
  };
  const f32 = run("--kv-cache-dtype", "f32");
  const bf16 = run("--kv-cache-dtype", "bf16");
  assert.deepEqual(f32.generated_ids, greedy);
  assert.deepEqual(bf16.generated_ids, greedy);
  assert.deepEqual(bf16.compile.outcomes, ["compiled"], "the f32 cache's bundle is not the bf16 cache's");
  assert.deepEqual(run("--kv-cache-dtype", "bf16").compile.outcomes, ["loaded"]);
});
