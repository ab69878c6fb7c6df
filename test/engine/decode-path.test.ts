// The per-token path is straight: a decode step makes one compiled call (to the S = 1 program) and nothing else — no walk of the
// module tree, no parse of the environment (counted) — and LLM.compile() loads or compiles from example
// inputs without running a forward.
import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, test } from "node:test";
import { LLM } from "../../src/engine/index.js";
import { counters } from "../../src/util/index.js";
import { hasToolchain, loadedNativeModules } from "../../src/backend/index.js";
import { TINY_QWEN3_DIR, tinyQwen3Reference } from "../helpers/tiny-qwen3.js";

const cache = mkdtempSync(join(tmpdir(), "kiln-decode-path-"));
const saved = process.env.KILN_CACHE_DIR;
process.env.KILN_CACHE_DIR = cache;
after(() => {
  if (saved === undefined) delete process.env.KILN_CACHE_DIR;
  else process.env.KILN_CACHE_DIR = saved;
  rmSync(cache, { recursive: true, force: true });
});

test("LLM.compile() runs no forward; decode steps walk no module and read no environment", () => {
  const llm = new LLM({ model: TINY_QWEN3_DIR, backend: "js", dtype: "f32" });
  const before = counters();
  llm.compile();
  const compiled = counters();
  assert.equal(compiled.compiledCalls - before.compiledCalls, 0, "compile() ran no forward");
  assert.equal(llm.compileActivity.outcomes.length, 1);

  const { prompt_ids, greedy } = tinyQwen3Reference.f32[1]!;
  const run = (maxTokens: number) => {
    const c0 = counters();
    const out = llm.generateSync(prompt_ids, { maxTokens });
    const c1 = counters();
    return {
      ids: out.generatedIds, calls: c1.compiledCalls - c0.compiledCalls, decodes: c1.specialisedCalls - c0.specialisedCalls,
      walks: c1.moduleWalks - c0.moduleWalks, envReads: c1.envReads - c0.envReads,
    };
  };
  const first = run(1);
  assert.equal(first.walks, 1, "the first call resolves the weight slots: one walk");
  const short = run(3);
  const long = run(greedy.length);
  assert.deepEqual(long.ids, greedy);
  assert.equal(long.calls - short.calls, greedy.length - 3, "one compiled call per extra decode step");
  assert.equal(long.decodes - short.decodes, greedy.length - 3, "each on the program specialised for one token (compile size 1)");
  assert.equal(long.walks - short.walks, 0, "no module walk per decode step");
  assert.equal(long.envReads - short.envReads, 0, "no environment read per decode step");
  assert.equal(long.walks, 0, "not even per request: the slots stay resolved");
});

test("LLM({ threads }) sets the native kernels' threads as an option, writing no environment variable", { skip: hasToolchain() ? false : "no C compiler" }, () => {
  const before = process.env.KILN_NUM_THREADS;
  const llm = new LLM({ model: TINY_QWEN3_DIR, backend: "native", dtype: "f32", threads: 3 });
  llm.compile();
  assert.equal(process.env.KILN_NUM_THREADS, before);
  const mods = loadedNativeModules();
  assert.ok(mods.length >= 2, "the general and the S = 1 programs");
  assert.ok(mods.every((m) => m.threads === 3), mods.map((m) => m.threads).join(","));
  assert.throws(() => new LLM({ model: TINY_QWEN3_DIR, threads: 0 }), /threads must be an integer/);
});
