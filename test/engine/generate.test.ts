// Greedy generation on the tiny Qwen3 fixture equals PyTorch's greedy continuation (8 tokens per prompt).
import assert from "node:assert/strict";
import { test } from "node:test";
import { ArgumentError, compile } from "../../src/index.js";
import { generate } from "../../src/engine/index.js";
import { tinyQwen3, tinyQwen3Reference } from "../helpers/tiny-qwen3.js";

const reference = tinyQwen3Reference;
const model = tinyQwen3;

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
