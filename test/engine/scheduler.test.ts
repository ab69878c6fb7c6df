// The continuous-batching scheduler on the tiny Qwen3: chunked prefill equals one-shot prefill,
// every sequence's tokens equal the same request run alone whatever it is batched with (arrivals
// mid-run, chunked prefills, preemption, aborts), decodes keep going during a long prefill, and
// bad requests are refused naming the field.
import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, test } from "node:test";
import { ArgumentError, type Tensor, compile, mulberry32 } from "../../src/index.js";
import { makeModel, pagedDynamicDims } from "../../src/models/index.js";
import {
  LLM, PagedKvCache, Scheduler, type SchedulerOptions, SequenceBlocks, type SequenceOutput, type SequenceRequest, batchInputs, tokenLogprob,
} from "../../src/engine/index.js";
import { assertAllClose } from "../helpers/assert-close.js";
import { tinyQwen3 } from "../helpers/tiny-qwen3.js";

const m = tinyQwen3();
const { numHiddenLayers: layers, numKeyValueHeads: kvHeads, headDim, vocabSize } = m.config;
const paged = compile(m, { dynamic: pagedDynamicDims(layers), name: "paged" });
const EOS = 2;
const info = { vocabSize, maxContext: 512, eosTokenIds: [EOS] };
const newCache = (tokens = 1024, blockSize = 4) => new PagedKvCache({ layers, kvHeads, headDim }, { tokens, blockSize });
const scheduler = (options: SchedulerOptions & { cacheTokens?: number; blockSize?: number } = {}) =>
  new Scheduler(paged, newCache(options.cacheTokens, options.blockSize), info, options);

/** `n` token ids in [3, vocab) from a seeded stream (no BOS/EOS in prompts). */
function randomPrompt(n: number, seed: number): number[] {
  const rand = mulberry32(seed);
  return Array.from({ length: n }, () => 3 + Math.floor(rand() * (vocabSize - 3)));
}

interface Result {
  tokens: number[];
  logprobs: NonNullable<SequenceOutput["logprobs"]>[number][];
  finishReason?: SequenceOutput["finishReason"];
  cachedTokens: number;
}

/** Steps `s` until it has no work, adding `arrivals[k]` before step k; each id's tokens and finish, and each step's outputs. */
function drive(s: Scheduler, arrivals: readonly (readonly SequenceRequest[])[], onStep?: (step: number, outs: SequenceOutput[]) => void): Map<string, Result> {
  const results = new Map<string, Result>();
  for (let step = 0; step < arrivals.length || s.hasWork; step++) {
    for (const r of arrivals[step] ?? []) s.add(r);
    const outs = s.step();
    for (const o of outs) {
      const r = results.get(o.id) ?? { tokens: [], logprobs: [], cachedTokens: o.cachedTokens };
      assert.equal(r.finishReason, undefined, `${o.id}: no output after the last`);
      r.tokens.push(...o.tokens);
      r.logprobs.push(...(o.logprobs ?? []));
      r.finishReason = o.finishReason;
      r.cachedTokens = o.cachedTokens;
      results.set(o.id, r);
    }
    onStep?.(step, outs);
    assert.ok(step < 10_000, "the scheduler makes progress");
  }
  return results;
}

/** The request run alone in a fresh scheduler (one-shot prefill, a roomy cache). */
const alone = (req: SequenceRequest): Result => drive(scheduler(), [[req]]).get(req.id)!;

test("the paged forward takes a prefill in chunks (start > 0, several tokens): each chunk attends the cached K/V, logits equal one-shot within 1e-4", () => {
  const prompt = randomPrompt(48, 1);
  const cache = newCache(256, 4);
  const oneShot = new SequenceBlocks();
  cache.reserve(oneShot, prompt.length);
  const want = paged(...(batchInputs(cache, [{ blocks: oneShot, tokens: prompt, start: 0 }]) as [Tensor, ...Tensor[]])).values().slice();
  const chunked = new SequenceBlocks();
  cache.reserve(chunked, prompt.length);
  let got: ArrayLike<number> = [];
  for (let start = 0; start < prompt.length; start += 5) {
    const tokens = prompt.slice(start, start + 5);
    got = paged(...(batchInputs(cache, [{ blocks: chunked, tokens, start }]) as [Tensor, ...Tensor[]])).values().slice();
  }
  assertAllClose(got, want, { rtol: 1e-4, atol: 1e-4 });
  // Chunks of a sequence beside another sequence's decode in the same forward: the same logits again.
  cache.release(chunked);
  cache.reserve(chunked, prompt.length);
  const other = new SequenceBlocks();
  cache.reserve(other, 3);
  paged(...(batchInputs(cache, [{ blocks: other, tokens: [5, 6], start: 0 }]) as [Tensor, ...Tensor[]]));
  for (let start = 0; start < prompt.length; start += 7) {
    const out = paged(...(batchInputs(cache, [
      { blocks: other, tokens: [7], start: 2 },
      { blocks: chunked, tokens: prompt.slice(start, start + 7), start, logits: start + 7 >= prompt.length },
    ]) as [Tensor, ...Tensor[]]));
    got = out.values().slice(out.size - vocabSize);
  }
  assertAllClose(got, want, { rtol: 1e-4, atol: 1e-4 });
});

test("chunked prefill through the scheduler (5-token budget): first token after ceil(48/5) steps, same greedy tokens and logprobs as one-shot", () => {
  const req: SequenceRequest = { id: "a", promptIds: randomPrompt(48, 1), maxTokens: 12, sampling: {}, ignoreEos: true, logprobs: 20 };
  const firstAt: number[] = [];
  const chunked = drive(scheduler({ maxNumBatchedTokens: 5, maxNumSeqs: 4 }), [[req]], (step, outs) => outs.length && firstAt.push(step)).get("a")!;
  const oneShot = alone(req);
  assert.equal(firstAt[0], Math.ceil(48 / 5) - 1, "no output while the prompt is prefilled");
  assert.deepEqual(chunked.tokens, oneShot.tokens);
  assert.equal(chunked.tokens.length, 12);
  assert.equal(chunked.finishReason, "length");
  for (const [i, lp] of chunked.logprobs.entries()) {
    const w = oneShot.logprobs[i]!;
    assert.equal(lp.token, w.token);
    assert.ok(Math.abs(lp.logprob - w.logprob) < 1e-4);
    assertAllClose(lp.top.map((t) => t.logprob), w.top.map((t) => t.logprob), { rtol: 0, atol: 1e-4 });
  }
});

/** 12 requests: prompts of 3–60 tokens, 1–20 new tokens, greedy and seeded sampling (with min-p and top-p), some with stop ids. */
function mixedRequests(): SequenceRequest[] {
  const samplings = [{}, { temperature: 0.8, topK: 40, seed: 3 }, { temperature: 1, minP: 0.1, seed: 7 }, { temperature: 0.7, topP: 0.9, repetitionPenalty: 1.2, seed: 11 }];
  return Array.from({ length: 12 }, (_, i) => ({
    id: `r${i}`,
    promptIds: randomPrompt(3 + ((i * 17) % 58), 100 + i),
    maxTokens: 1 + ((i * 7) % 20),
    sampling: samplings[i % samplings.length]!,
    ...(i % 5 === 4 ? {} : { ignoreEos: true }),
  }));
}

test("continuous batching: 12 sequences arriving at different steps while others decode equal each run alone (greedy and seeded)", () => {
  const reqs = mixedRequests();
  const arrivals: SequenceRequest[][] = [];
  reqs.forEach((r, i) => (arrivals[[0, 0, 0, 1, 2, 2, 4, 5, 7, 9, 12, 15][i]!] ??= []).push(r));
  for (const options of [{}, { maxNumSeqs: 5, maxNumBatchedTokens: 24 }, { maxNumSeqs: 8, maxNumBatchedTokens: 9, enablePrefixCaching: false }]) {
    let mixedSteps = 0;
    const s = scheduler(options);
    const together = drive(s, arrivals, (_, outs) => {
      const st = s.stats();
      assert.ok(st.running <= (options.maxNumSeqs ?? 16));
      if (outs.length > 1) mixedSteps++;
    });
    assert.ok(mixedSteps > 0);
    for (const r of reqs) {
      const a = alone(r);
      assert.deepEqual(together.get(r.id)!.tokens, a.tokens, `${r.id} with ${JSON.stringify(options)}`);
      assert.equal(together.get(r.id)!.finishReason, a.finishReason);
    }
    const st = s.stats();
    assert.deepEqual([st.running, st.waiting, st.kvCacheUsage], [0, 0, 0], "everything finished and freed");
    assert.equal(st.promptTokens, reqs.reduce((n, r) => n + r.promptIds.length, 0));
    assert.equal(st.generationTokens, [...together.values()].reduce((n, r) => n + r.tokens.length, 0));
  }
});

test("a long prompt arriving while others decode: every decoding sequence gets a token in every step of its chunked prefill", () => {
  const s = scheduler({ maxNumBatchedTokens: 16 });
  const decoders = [0, 1, 2].map((i): SequenceRequest => ({ id: `d${i}`, promptIds: randomPrompt(5 + i, 20 + i), maxTokens: 40, sampling: {}, ignoreEos: true }));
  const long: SequenceRequest = { id: "long", promptIds: randomPrompt(150, 30), maxTokens: 4, sampling: {}, ignoreEos: true };
  let longFirstAt = -1;
  let stepsDuringPrefill = 0;
  const results = drive(s, [decoders, [], [long]], (step, outs) => {
    if (step >= 2 && longFirstAt < 0) {
      stepsDuringPrefill++;
      assert.deepEqual(outs.filter((o) => o.id.startsWith("d")).map((o) => o.id), ["d0", "d1", "d2"], `step ${step}`);
      if (outs.some((o) => o.id === "long")) longFirstAt = step;
    }
  });
  // 16 tokens a step, 3 of them decodes: the 150-token prompt takes ceil(150 / 13) steps.
  assert.equal(stepsDuringPrefill, Math.ceil(150 / 13));
  for (const r of [...decoders, long]) assert.deepEqual(results.get(r.id)!.tokens, alone(r).tokens);
});

test("abort mid-prefill, mid-decode and while waiting frees the blocks at once; the others are unaffected", () => {
  for (const enablePrefixCaching of [true, false]) {
    const s = scheduler({ maxNumBatchedTokens: 16, maxNumSeqs: 2, enablePrefixCaching });
    const free0 = s.cache.freeBlocks;
    const keep: SequenceRequest = { id: "keep", promptIds: randomPrompt(9, 40), maxTokens: 30, sampling: { temperature: 0.9, seed: 5 }, ignoreEos: true };
    const pre: SequenceRequest = { id: "pre", promptIds: randomPrompt(90, 41), maxTokens: 5, sampling: {} };
    const dec: SequenceRequest = { id: "dec", promptIds: randomPrompt(12, 42), maxTokens: 30, sampling: {} };
    const queued: SequenceRequest = { id: "queued", promptIds: randomPrompt(12, 43), maxTokens: 30, sampling: {} };
    s.add(keep);
    const tokens: number[] = [];
    const collect = (outs: SequenceOutput[]) => outs.filter((o) => o.id === "keep").forEach((o) => tokens.push(...o.tokens));
    collect(s.step());
    const freeWithKeep = s.cache.freeBlocks;
    s.add(pre);
    s.add(queued); // maxNumSeqs 2: waits behind pre
    collect(s.step());
    collect(s.step());
    assert.ok(s.cache.freeBlocks < freeWithKeep - 2, "pre holds blocks mid-prefill");
    assert.deepEqual(s.stats().waiting, 1);
    const outPre = s.abort("pre");
    assert.deepEqual(outPre, { id: "pre", tokens: [], finishReason: "abort", promptTokens: 90, cachedTokens: 0 });
    const outQueued = s.abort("queued");
    assert.equal(outQueued?.finishReason, "abort");
    assert.equal(s.cache.freeBlocks, freeWithKeep, "pre's blocks are back before any step");
    assert.equal(s.abort("pre"), undefined, "an aborted sequence is forgotten");
    s.add(dec);
    for (let i = 0; i < 4; i++) collect(s.step());
    assert.equal(s.stats().running, 2);
    assert.equal(s.abort("dec")?.finishReason, "abort");
    assert.ok(s.cache.freeBlocks >= freeWithKeep - 1, "dec's blocks are back (keep may have grown by one block)");
    while (s.hasWork) collect(s.step());
    assert.deepEqual(tokens, alone(keep).tokens);
    assert.equal(s.cache.freeBlocks, free0);
    assert.equal(s.stats().kvCacheUsage, 0);
  }
});

test("preemption by recompute: a pool too small for every admitted sequence still gives each the tokens it gets alone", () => {
  const reqs = mixedRequests().slice(0, 8).map((r, i) => ({ ...r, promptIds: randomPrompt(10 + 3 * i, 200 + i), maxTokens: 24, ignoreEos: true }));
  for (const enablePrefixCaching of [true, false]) {
    // 24 blocks of 4 tokens: one sequence needs at most 14, all eight ~110.
    const s = scheduler({ cacheTokens: 96, maxNumBatchedTokens: 64, enablePrefixCaching });
    let maxUsage = 0;
    const together = drive(s, [reqs.slice(0, 5), [], reqs.slice(5)], () => (maxUsage = Math.max(maxUsage, s.stats().kvCacheUsage)));
    assert.ok(s.stats().preemptions > 0, "sequences were preempted");
    assert.ok(maxUsage <= 1);
    for (const r of reqs) {
      const t = together.get(r.id)!;
      assert.equal(t.tokens.length, 24, `${r.id}: every token reported once`);
      assert.deepEqual(t.tokens, alone(r).tokens, `${r.id} (prefix caching ${enablePrefixCaching})`);
    }
    assert.equal(s.stats().generationTokens, 8 * 24, "nothing reported twice");
    assert.equal(s.cache.usedBlocks, 0);
  }
});

test("stop ids: the model's EOS by default, ignoreEos ignores it, stopIds replace it; maxTokens ends with length; maxTokens 0 ends at once", () => {
  const base: SequenceRequest = { id: "x", promptIds: randomPrompt(7, 60), maxTokens: 10, sampling: {}, ignoreEos: true };
  const free = alone(base).tokens;
  const third = free[2]!;
  const run = (req: Partial<SequenceRequest>, eos: number[]) => drive(new Scheduler(paged, newCache(), { ...info, eosTokenIds: eos }), [[{ ...base, ...req }]]).get("x")!;
  const byEos = run({ ignoreEos: undefined }, [third]);
  assert.equal(byEos.finishReason, "stop");
  assert.deepEqual(byEos.tokens, free.slice(0, free.indexOf(third) + 1), "the stop token is reported");
  assert.deepEqual(run({ ignoreEos: true }, [third]).tokens, free);
  assert.equal(run({ ignoreEos: true }, [third]).finishReason, "length");
  assert.equal(run({ ignoreEos: true, stopIds: [third] }, []).finishReason, "stop");
  assert.equal(run({ ignoreEos: undefined, stopIds: [] }, [third]).finishReason, "length", "stopIds given replace the EOS ids");
  const zero = run({ maxTokens: 0 }, []);
  assert.deepEqual([zero.tokens, zero.finishReason], [[], "length"]);
});

test("logprobs: log-softmax of the raw logits row (float64), the sampled token's and the top N", () => {
  const prompt = randomPrompt(11, 70);
  const cache = newCache();
  const seq = new SequenceBlocks();
  cache.reserve(seq, prompt.length);
  const row = paged(...(batchInputs(cache, [{ blocks: seq, tokens: prompt, start: 0 }]) as [Tensor, ...Tensor[]])).values().slice();
  const max = Math.max(...row);
  const lse = max + Math.log(Array.from(row).reduce((a, x) => a + Math.exp(x - max), 0));
  const ranked = [...row.keys()].sort((a, b) => row[b]! - row[a]! || a - b);
  for (const logprobs of [0, 5, 20]) {
    const out = drive(scheduler(), [[{ id: "l", promptIds: prompt, maxTokens: 3, sampling: { temperature: 1.5, seed: 9 }, logprobs }]]).get("l")!;
    assert.equal(out.logprobs.length, 3);
    const first = out.logprobs[0]!;
    assert.equal(first.token, out.tokens[0]);
    assert.ok(Math.abs(first.logprob - (row[first.token]! - lse)) < 1e-9);
    assert.deepEqual(first.top.map((t) => t.token), ranked.slice(0, logprobs));
    first.top.forEach((t) => assert.ok(Math.abs(t.logprob - (row[t.token]! - lse)) < 1e-9));
  }
  assert.deepEqual(tokenLogprob([0, Math.log(3)], 0, 1), { token: 0, logprob: -Math.log(4), top: [{ token: 1, logprob: Math.log(3) - Math.log(4) }] });
  assert.equal(drive(scheduler(), [[{ id: "n", promptIds: prompt, maxTokens: 2, sampling: {} }]]).get("n")!.logprobs.length, 0, "none unless asked");
});

test("bad requests and options are ArgumentErrors naming the field", () => {
  const s = scheduler({ cacheTokens: 64 });
  const ok: SequenceRequest = { id: "a", promptIds: [5, 6, 7], maxTokens: 4, sampling: {} };
  const refuses = (req: Partial<SequenceRequest>, re: RegExp) =>
    assert.throws(() => s.add({ ...ok, ...req }), (e: unknown) => e instanceof ArgumentError && re.test(e.message));
  s.add(ok);
  refuses({}, /id "a" is already in use/);
  refuses({ id: "" }, /id must be a non-empty string/);
  for (const logprobs of [21, -1, 1.5]) refuses({ id: "b", logprobs }, /logprobs must be an integer from 0 to 20/);
  refuses({ id: "b", maxTokens: 600 }, /maxTokens \(600\) exceeds the context of 512/);
  refuses({ id: "b", maxTokens: -1 }, /maxTokens must be a non-negative integer/);
  refuses({ id: "b", promptIds: [] }, /has no tokens/);
  refuses({ id: "b", promptIds: [vocabSize] }, /token id 512, outside the vocabulary/);
  refuses({ id: "b", sampling: { minP: 2 } }, /minP must be in \[0, 1\]/);
  refuses({ id: "b", sampling: { temperature: -1 } }, /temperature/);
  refuses({ id: "b", stopIds: [-3] }, /stopIds has token id -3/);
  refuses({ id: "b", promptIds: randomPrompt(40, 1), maxTokens: 30 }, /needs 18 KV cache blocks of 4 tokens, more than the whole cache holds \(16 blocks, 64 tokens\)/);
  assert.equal(s.stats().waiting, 1, "refused requests are not queued");
  for (const [options, re] of [[{ maxNumSeqs: 0 }, /maxNumSeqs/], [{ maxNumBatchedTokens: 1.5 }, /maxNumBatchedTokens/], [{ maxNumBatchedTokens: 8 }, /maxNumBatchedTokens \(8\) must be at least maxNumSeqs \(16\)/], [{ enablePrefixCaching: 1 }, /enablePrefixCaching/]] as const) {
    assert.throws(() => scheduler(options as SchedulerOptions), (e: unknown) => e instanceof ArgumentError && re.test(e.message));
  }
});

test("LLM.scheduler(): a scheduler over the LLM's compiled forward and KV cache, with the model's EOS", () => {
  const dir = mkdtempSync(join(tmpdir(), "kiln-sched-"));
  after(() => rmSync(dir, { recursive: true, force: true }));
  makeModel({ preset: "tiny", out: join(dir, "model"), dtype: "f32", seed: 1 });
  const llm = new LLM({ model: join(dir, "model"), backend: "js" });
  const prompt = llm.encode([5, 9, 14, 27, 3]);
  const s = llm.scheduler({ maxNumSeqs: 4 });
  assert.equal(s.maxNumSeqs, 4);
  const got = drive(s, [[{ id: "q", promptIds: prompt, maxTokens: 12, sampling: { temperature: 0.8, seed: 4 } }]]).get("q")!;
  const want = llm.generateSync(prompt, { maxTokens: 12, temperature: 0.8, seed: 4 });
  assert.deepEqual(got.tokens, want.generatedIds);
  assert.equal(got.finishReason, want.finishReason);
});
