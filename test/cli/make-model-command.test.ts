// `kiln make-model` as a process: writes a loadable folder, reports it on stdout; bad options and a non-empty
// folder are typed errors (exit code 1, the code and the offending name on stderr).
import assert from "node:assert/strict";
import { execFileSync, spawnSync } from "node:child_process";
import { mkdtempSync, readdirSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { after, test } from "node:test";
import { loadCheckpoint } from "../../src/models/index.js";

const cli = fileURLToPath(new URL(`../../src/cli/main${import.meta.url.endsWith(".ts") ? ".ts" : ".js"}`, import.meta.url));
const tmp = mkdtempSync(join(tmpdir(), "kiln-make-cli-"));
after(() => rmSync(tmp, { recursive: true, force: true }));
const run = (...args: string[]) => spawnSync(process.execPath, [...process.execArgv, cli, "make-model", ...args], { encoding: "utf8" });

test("kiln make-model --preset tiny-llama writes a folder that loadCheckpoint reads; a second run refuses it", () => {
  const out = join(tmp, "m");
  const stdout = execFileSync(process.execPath, [...process.execArgv, cli, "make-model", "--preset", "tiny-llama", "--dtype", "f32", "--seed", "5", "--out", out], { encoding: "utf8" });
  assert.match(stdout, /^wrote .*m: tiny-llama \(8\.3M parameters, f32, seed 5\)/);
  assert.deepEqual(readdirSync(out).sort(), ["config.json", "generation_config.json", "model.safetensors", "tokenizer.json", "tokenizer_config.json"]);
  assert.equal(loadCheckpoint(out).config.torchDtype, "f32");
  const again = run("--preset", "tiny-llama", "--out", out);
  assert.equal(again.status, 1);
  assert.ok(again.stderr.includes(`kiln: E_ARGUMENT: make-model: ${out} is not empty`), again.stderr);
});

test("kiln make-model rejects an unknown preset, dtype or seed, naming the option", () => {
  const cases: [string[], RegExp][] = [
    [["--preset", "gpt-5", "--out", join(tmp, "a")], /--preset: unknown preset 'gpt-5' \(known: tiny, tiny-llama, qwen3-0\.6b, llama-3\.2-1b\)/],
    [["--preset", "tiny", "--dtype", "f16", "--out", join(tmp, "b")], /--dtype: expected bf16 or f32, got 'f16'/],
    [["--preset", "tiny", "--seed", "-1", "--out", join(tmp, "c")], /--seed: expected a non-negative integer/],
  ];
  for (const [args, want] of cases) {
    const r = run(...args);
    assert.equal(r.status, 1, args.join(" "));
    assert.match(r.stderr, want);
  }
  assert.deepEqual(readdirSync(tmp).sort(), ["m"]);
});
