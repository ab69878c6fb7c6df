// The paged KV cache: decode with the cache equals recomputing the whole sequence each step
// (acceptance 2), batched generation equals generating each prompt alone (acceptance 3), and
// bad requests are refused before any forward runs.
import assert from "node:assert/strict";
import { test } from "node:test";
import { ArgumentError, type Tensor, compile, tensor } from "../../src/index.js";
import { pagedDynamicDims } from "../../src/models/index.js";
import { hasToolchain } from "../../src/backend/index.js";
import { PagedEngine, PagedKvCache, SequenceBlocks, argmaxOf, batchInputs, generate } from "../../src/engine/index.js";
import { assertAllClose } from "../helpers/assert-close.js";
import { tinyQwen3, tinyQwen3Reference } from "../helpers/tiny-qwen3.js";

const reference = tinyQwen3Reference;
const model = tinyQwen3;

const m = model();
const { numHiddenLayers: layers, numKeyValueHeads: kvHeads, headDim, vocabSize } = m.config;
const paged = compile(m, { dynamic: pagedDynamicDims(layers), name: "paged" });
const full = compile(m, { dynamic: { 0: [0] }, name: "full" });
const newCache = (tokens = 256, blockSize = 4, dtype: "f32" | "bf16" = "f32") => new PagedKvCache({ layers, kvHeads, headDim }, { tokens, blockSize, dtype });
const engine = (cache = newCache()) => new PagedEngine(paged, cache, { vocabSize, maxContext: 512 });
const lastRow = (logits: Tensor) => logits.values().subarray(logits.size - vocabSize);

/**
 * Prefill then 32 greedy decode steps through `pagedFn` over `cache`, each step's logits checked against recomputing the
 * whole sequence with `fullFn` (within atol); returns the largest difference and the tokens.
 */
function decodeAgainstRecompute(pagedFn: typeof paged, fullFn: typeof full, cache: PagedKvCache, atol: number): { maxDiff: number; ids: number[] } {
  const seq = new SequenceBlocks();
  const ids = [...reference.f32[0]!.prompt_ids];
  cache.reserve(seq, ids.length + 32);
  // Blocks of 4 tokens: the prompt and the 32 new tokens span many blocks.
  let logits = pagedFn(...(batchInputs(cache, [{ blocks: seq, tokens: ids, start: 0 }]) as [Tensor, ...Tensor[]]));
  let maxDiff = 0;
  for (let step = 0; step < 32; step++) {
    const want = lastRow(fullFn(tensorOf(ids)));
    assert.deepEqual(logits.dims, [1, vocabSize]);
    const got = logits.values();
    assertAllClose(got, want, { rtol: 1e-4, atol });
    for (let i = 0; i < vocabSize; i++) maxDiff = Math.max(maxDiff, Math.abs(got[i]! - want[i]!));
    const next = argmaxOf(got);
    assert.equal(next, argmaxOf(want), `step ${step}`);
    ids.push(next);
    logits = pagedFn(...(batchInputs(cache, [{ blocks: seq, tokens: [next], start: ids.length - 1 }]) as [Tensor, ...Tensor[]]));
  }
  cache.release(seq);
  return { maxDiff, ids };
}

test("decode with the KV cache equals recomputing the sequence each step: 32 greedy steps, logits within 1e-4, one compile", () => {
  decodeAgainstRecompute(paged, full, newCache(), 1e-4);
  assert.equal(paged.stats.compiles, 1, "prefill and decode share one graph");
});

for (const backend of ["js", "native"] as const) {
  test(`a bf16 KV cache (${backend}): 32 decode steps equal recomputing within bf16 rounding, greedy tokens equal the f32 cache's`, { skip: backend === "native" && !hasToolchain() ? "no C compiler" : false }, () => {
    const pagedOn = compile(m, { dynamic: pagedDynamicDims(layers), name: `paged-${backend}`, backend });
    const fullOn = compile(m, { dynamic: { 0: [0] }, name: `full-${backend}`, backend });
    const bf16 = newCache(256, 4, "bf16");
    assert.equal(bf16.tensors[0]!.dtype, "bf16");
    // K and V rounded to bf16 (8 significant bits) move these logits (within ±6) by up to 0.034 over the 32 steps
    // (JS and native alike): bf16 tolerance is 1% of the logits' scale. An f32 cache stays within 1e-4.
    const withBf16 = decodeAgainstRecompute(pagedOn, fullOn, bf16, 0.06);
    const withF32 = decodeAgainstRecompute(pagedOn, fullOn, newCache(), 1e-4);
    assert.ok(withBf16.maxDiff > 0 && withBf16.maxDiff > withF32.maxDiff, `the bf16 cache rounds (${withBf16.maxDiff} vs ${withF32.maxDiff})`);
    assert.deepEqual(withBf16.ids, withF32.ids);
    assert.equal(pagedOn.stats.compiles, 2, "each cache dtype is its own program");
    // The engine over each cache: the same greedy continuation of every reference prompt.
    for (const c of reference.f32) {
      const run = (cache: PagedKvCache) => new PagedEngine(pagedOn, cache, { vocabSize, maxContext: 512 }).generate([c.prompt_ids], { maxTokens: 24 })[0]!.generatedIds;
      assert.deepEqual(run(newCache(256, 4, "bf16")), run(newCache()));
    }
  });
}

test("the engine's greedy tokens equal recompute generation and PyTorch's continuation", () => {
  const e = engine();
  for (const c of reference.f32) {
    const [out] = e.generate([c.prompt_ids], { maxTokens: 24 });
    assert.deepEqual(out!.generatedIds, generate(full, c.prompt_ids, { maxTokens: 24 }).generatedIds);
    assert.deepEqual(out!.generatedIds.slice(0, c.greedy.length), c.greedy);
  }
  assert.equal(e.cache.freeBlocks, e.cache.numBlocks, "finished sequences return their blocks");
});

test("batched generation of prompts of different lengths equals generating each alone (greedy and seeded sampling)", () => {
  const prompts = reference.f32.map((c) => c.prompt_ids);
  assert.ok(new Set(prompts.map((p) => p.length)).size > 1, "the prompts differ in length");
  for (const params of [{ maxTokens: 16 }, { maxTokens: 12, temperature: 0.8, topK: 40, seed: 3 }]) {
    const together = engine().generate(prompts, params);
    const alone = prompts.map((p) => engine().generate([p], params)[0]!);
    assert.deepEqual(together.map((g) => g.generatedIds), alone.map((g) => g.generatedIds));
  }
  // A stop id ends one sequence early while the others go on.
  const stopAt = engine().generate([prompts[1]!], { maxTokens: 8 })[0]!.generatedIds[2]!;
  const mixed = engine().generate(prompts, { maxTokens: 8, stopIds: [stopAt] });
  assert.equal(mixed[1]!.finishReason, "stop");
  assert.equal(mixed[1]!.generatedIds.at(-1), stopAt);
});

test("steps() yields each step's tokens as they are sampled, one per unfinished sequence", () => {
  const prompts = reference.f32.slice(0, 2).map((c) => c.prompt_ids);
  const it = engine().steps(prompts, { maxTokens: 3 });
  const seen: number[][] = [[], []];
  let r = it.next();
  for (; !r.done; r = it.next()) for (const ev of r.value) seen[ev.sequence]!.push(ev.token);
  assert.deepEqual(seen, r.value.map((g) => g.generatedIds));
});

test("bad requests are refused before any forward: context overflow, full cache, token ids outside the vocabulary", () => {
  const p = reference.f32[0]!.prompt_ids;
  const refuses = (fn: () => unknown, re: RegExp) => assert.throws(fn, (e: unknown) => e instanceof ArgumentError && re.test(e.message));
  refuses(() => engine().generate([p], { maxTokens: 600 }), /exceeds the context of 512; nothing was truncated/);
  refuses(() => engine(newCache(16, 4)).generate([p, p], { maxTokens: 8 }), /needs \d+ KV cache blocks .* 4 free/);
  refuses(() => engine().generate([[1, vocabSize]], { maxTokens: 1 }), /token id 512, outside the vocabulary \[0, 512\)/);
  refuses(() => engine().generate([[]], { maxTokens: 1 }), /has no tokens/);
});

function tensorOf(ids: number[]): Tensor {
  return tensor(ids, { dtype: "i32" });
}
