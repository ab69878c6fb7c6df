// Greedy generation on the tiny Qwen3 fixture equals PyTorch's greedy continuation (8 tokens per prompt).
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { test } from "node:test";
import { ArgumentError, compile } from "../../src/index.js";
import { CausalLM, loadCheckpoint } from "../../src/models/index.js";
import { generate } from "../../src/engine/index.js";
import { projectRoot } from "../helpers/root.js";

const dir = join(projectRoot(), "test", "fixtures", "tiny-qwen3");
const reference = JSON.parse(readFileSync(join(dir, "reference.json"), "utf8")) as { f32: { prompt_ids: number[]; greedy: number[] }[] };

function model(): CausalLM {
  const ckpt = loadCheckpoint(dir);
  const m = new CausalLM(ckpt.config, "f32");
  const names = new Set(m.namedParameters().map(([n]) => n));
  m.loadStateDict(Object.fromEntries([...ckpt.tensors].filter(([n]) => names.has(n))), { strict: false });
  return m;
}

test("greedy generation equals PyTorch's continuation for every prompt, with one compile", () => {
  const m = model();
  const f = compile(m, { dynamic: { 0: [0] }, backend: "js" });
  for (const c of reference.f32) {
    const out = generate(f, c.prompt_ids, { maxTokens: c.greedy.length });
    assert.deepEqual(out.generatedIds, c.greedy);
    assert.equal(out.finishReason, "length");
  }
  assert.equal(f.stats.compiles, 1);
});

test("generation stops on a stop id and refuses a prompt that would overflow the context", () => {
  const m = model();
  const c = reference.f32[1]!;
  const out = generate((ids) => m.forward(ids), c.prompt_ids, { maxTokens: 8, stopIds: [c.greedy[2]!] });
  assert.deepEqual(out.generatedIds, c.greedy.slice(0, 3));
  assert.equal(out.finishReason, "stop");
  assert.throws(() => generate((ids) => m.forward(ids), c.prompt_ids, { maxTokens: 600, maxContext: 512 }), (e: unknown) => e instanceof ArgumentError && /exceeds the context of 512/.test(e.message));
});
