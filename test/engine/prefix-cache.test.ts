// Automatic prefix caching over the paged KV cache: a request sharing a prefix with an earlier one
// takes its full blocks instead of recomputing them (and its logits equal a cold run's), cached
// blocks are evicted least recently used first and only when no free block is left, and a block a
// sequence holds is never handed to another.
import assert from "node:assert/strict";
import { test } from "node:test";
import { type Tensor, compile, mulberry32 } from "../../src/index.js";
import { pagedDynamicDims } from "../../src/models/index.js";
import { PagedKvCache, Scheduler, type SchedulerOptions, SequenceBlocks, type SequenceOutput, type SequenceRequest, batchInputs, blockHash } from "../../src/engine/index.js";
import { assertAllClose } from "../helpers/assert-close.js";
import { tinyQwen3 } from "../helpers/tiny-qwen3.js";

const m = tinyQwen3();
const { numHiddenLayers: layers, numKeyValueHeads: kvHeads, headDim, vocabSize } = m.config;
const paged = compile(m, { dynamic: pagedDynamicDims(layers), name: "paged" });
const info = { vocabSize, maxContext: 512, eosTokenIds: [2] };
const newCache = (tokens = 1024, blockSize = 16) => new PagedKvCache({ layers, kvHeads, headDim }, { tokens, blockSize });
const scheduler = (options: SchedulerOptions & { cacheTokens?: number; blockSize?: number } = {}) =>
  new Scheduler(paged, newCache(options.cacheTokens, options.blockSize), info, options);

function randomPrompt(n: number, seed: number): number[] {
  const rand = mulberry32(seed);
  return Array.from({ length: n }, () => 3 + Math.floor(rand() * (vocabSize - 3)));
}

/** Runs `req` to completion on `s`; its outputs merged. */
function run(s: Scheduler, req: SequenceRequest): { tokens: number[]; logprobs: NonNullable<SequenceOutput["logprobs"]>[number][]; cachedTokens: number } {
  s.add(req);
  const out = { tokens: [] as number[], logprobs: [] as NonNullable<SequenceOutput["logprobs"]>[number][], cachedTokens: -1 };
  while (s.hasWork) {
    for (const o of s.step()) {
      if (o.id !== req.id) continue;
      out.tokens.push(...o.tokens);
      out.logprobs.push(...(o.logprobs ?? []));
      out.cachedTokens = o.cachedTokens;
    }
  }
  return out;
}

const forward = (cache: PagedKvCache, seq: SequenceBlocks, tokens: readonly number[], start: number) =>
  paged(...(batchInputs(cache, [{ blocks: seq, tokens, start }]) as [Tensor, ...Tensor[]])).values().slice();

/** Registers every full block of `tokens` that `seq` holds (as the scheduler does once their K/V are computed). */
function commitAll(cache: PagedKvCache, seq: SequenceBlocks, tokens: readonly number[]): string[] {
  const chain: string[] = [];
  for (let i = 0; (i + 1) * cache.blockSize <= tokens.length; i++) {
    chain.push(blockHash(chain[i - 1], tokens, i * cache.blockSize, cache.blockSize));
    cache.commitBlock(seq, chain[i]!);
  }
  return chain;
}

test("the cache: a sequence sharing a committed prefix computes only its suffix, and its logits equal a cold prefill within 1e-4", () => {
  const cache = newCache(1024, 16);
  const shared = randomPrompt(40, 1);
  const a = [...shared, ...randomPrompt(9, 2)];
  const b = [...shared, ...randomPrompt(13, 3)];
  const seqA = new SequenceBlocks();
  cache.reserve(seqA, a.length);
  forward(cache, seqA, a, 0);
  commitAll(cache, seqA, a);
  // b's chain: its first two blocks (32 tokens) are a's; the third differs (tokens 40.. are b's own).
  const chainB: string[] = [];
  for (let i = 0; i < 3; i++) chainB.push(blockHash(chainB[i - 1], b, i * 16, 16));
  const seqB = new SequenceBlocks();
  assert.equal(cache.sharePrefix(seqB, chainB), 2);
  assert.deepEqual(seqB.blocks, seqA.blocks.slice(0, 2));
  assert.deepEqual([cache.holders(seqA.blocks[0]!), cache.holders(seqA.blocks[2]!)], [2, 1]);
  cache.reserve(seqB, b.length);
  const warm = forward(cache, seqB, b.slice(32), 32);
  const cold = new SequenceBlocks();
  cache.reserve(cold, b.length);
  assertAllClose(warm, forward(cache, cold, b, 0), { rtol: 1e-4, atol: 1e-4 });
  for (const s of [seqA, seqB, cold]) cache.release(s);
  assert.equal(cache.usedBlocks, 0);
  assert.equal(cache.cachedBlocks, 3, "a's three full blocks stay cached; b's and cold's were never committed");
  assert.equal(cache.freeBlocks, cache.numBlocks, "cached blocks count as free");
});

test("a second request sharing a long prefix reports cachedTokens = the full-block part of the prefix; its logprobs equal a cold run's", () => {
  const shared = randomPrompt(75, 10); // 4 full blocks of 16 (64 tokens) and 11 more
  const first: SequenceRequest = { id: "a", promptIds: [...shared, ...randomPrompt(6, 11)], maxTokens: 5, sampling: {}, ignoreEos: true };
  const second: SequenceRequest = { id: "b", promptIds: [...shared, ...randomPrompt(20, 12)], maxTokens: 10, sampling: { temperature: 0.9, seed: 1 }, ignoreEos: true, logprobs: 20 };
  const s = scheduler();
  assert.equal(run(s, first).cachedTokens, 0);
  const warm = run(s, second);
  assert.equal(warm.cachedTokens, 64);
  const cold = run(scheduler({ enablePrefixCaching: false }), second);
  assert.equal(cold.cachedTokens, 0);
  assert.deepEqual(warm.tokens, cold.tokens);
  for (const [i, lp] of warm.logprobs.entries()) {
    assert.equal(lp.token, cold.logprobs[i]!.token);
    assertAllClose(lp.top.map((t) => t.logprob), cold.logprobs[i]!.top.map((t) => t.logprob), { rtol: 0, atol: 1e-4 });
  }
  const st = s.stats();
  assert.deepEqual([st.prefixCacheQueries, st.prefixCacheHits], [first.promptIds.length + second.promptIds.length, 64]);
  assert.deepEqual([scheduler({ enablePrefixCaching: false }).stats().prefixCacheQueries], [0]);
  // The same prompt again: everything but the last token, in whole blocks (95 tokens → 80).
  const again = run(s, { ...second, id: "c" });
  assert.equal(again.cachedTokens, Math.floor((second.promptIds.length - 1) / 16) * 16);
  assert.deepEqual(again.tokens, cold.tokens);
  // A prompt of exactly one block cannot take it: its last token must be computed.
  const one: SequenceRequest = { id: "d", promptIds: shared.slice(0, 16), maxTokens: 2, sampling: {} };
  assert.equal(run(s, one).cachedTokens, 0);
  // Generated tokens fill blocks too: a prompt continuing a previous prompt + output finds those.
  const longer = run(s, { id: "e", promptIds: [...first.promptIds, ...run(s, { ...first, id: "f", maxTokens: 30 }).tokens, 7], maxTokens: 1, sampling: {} });
  assert.equal(longer.cachedTokens, Math.floor((first.promptIds.length + 29) / 16) * 16, "all but the last generated token has K/V");
});

test("sequences running at once share the prefix blocks (holders counted) and the shared blocks come back as cached", () => {
  const s = scheduler({ cacheTokens: 256 });
  const shared = randomPrompt(48, 20);
  const reqs = [0, 1, 2].map((i): SequenceRequest => ({ id: `s${i}`, promptIds: [...shared, ...randomPrompt(5 + i, 21 + i)], maxTokens: 8, sampling: {}, ignoreEos: true }));
  s.add(reqs[0]!);
  s.step(); // s0's prompt is prefilled: its 3 full blocks are committed
  s.add(reqs[1]!);
  s.add(reqs[2]!);
  const cached: Record<string, number> = {};
  s.step();
  const used = s.cache.usedBlocks;
  // Three sequences of 53–55 tokens: 4 blocks each if nothing were shared; the 3 prefix blocks are held once.
  assert.equal(used, 3 + 3 * 1);
  while (s.hasWork) for (const o of s.step()) cached[o.id] = o.cachedTokens;
  assert.deepEqual(cached, { s0: 0, s1: 48, s2: 48 });
  assert.equal(s.cache.usedBlocks, 0);
  assert.ok(s.cache.cachedBlocks >= 3);
});

test("eviction: free blocks go first, then cached ones least recently used first; a held block is never handed out", () => {
  const cache = newCache(10 * 4, 4); // 10 blocks of 4
  const tokensA = randomPrompt(12, 30);
  const a = new SequenceBlocks();
  cache.reserve(a, 12);
  const chainA = commitAll(cache, a, tokensA);
  const tokensB = randomPrompt(8, 31);
  const b = new SequenceBlocks();
  cache.reserve(b, 8);
  const chainB = commitAll(cache, b, tokensB);
  const held = [...b.blocks];
  cache.release(a); // a's blocks cached; queued last block first
  assert.deepEqual([cache.usedBlocks, cache.cachedBlocks, cache.freeBlocks], [2, 3, 8]);
  // 5 free blocks exist: a reservation of 5 leaves the cache untouched.
  const c = new SequenceBlocks();
  cache.reserve(c, 5 * 4);
  assert.equal(cache.cachedBlocks, 3);
  assert.ok(c.blocks.every((x) => !a.blocks.includes(x) && !held.includes(x)));
  const probe = new SequenceBlocks();
  assert.equal(cache.sharePrefix(probe, chainA), 3, "a's prefix is still all there");
  cache.release(probe);
  // One more block: the least recently released, a's last block (it hashes the most tokens).
  const lastOfA = cache.sharePrefix(probe, chainA) && probe.blocks[2]!;
  cache.release(probe);
  const d = new SequenceBlocks();
  cache.reserve(d, 4);
  assert.deepEqual(d.blocks, [lastOfA]);
  assert.equal(cache.sharePrefix(probe, chainA), 2, "the chain now ends at the evicted block");
  cache.release(probe);
  // Everything else: the cache is full; b's held blocks were never handed out, and b's prefix still resolves to them.
  const e = new SequenceBlocks();
  cache.reserve(e, 2 * 4);
  assert.equal(cache.freeBlocks, 0);
  assert.ok([...c.blocks, ...d.blocks, ...e.blocks].every((x) => !held.includes(x)));
  assert.throws(() => cache.reserve(new SequenceBlocks(), 4), /needs 1 KV cache blocks/);
  assert.equal(cache.sharePrefix(probe, chainB), 2);
  assert.deepEqual(probe.blocks, held);
  assert.equal(cache.holders(held[0]!), 2);
  cache.release(b);
  assert.equal(cache.holders(held[0]!), 1, "still held by probe: not evictable");
  assert.equal(cache.freeBlocks, 0);
  for (const s of [probe, c, d, e]) cache.release(s);
  assert.equal(cache.freeBlocks, 10);
});

test("the scheduler under pressure: cached prefixes are evicted to make room, never those in use; results equal cold runs", () => {
  // 12 blocks of 4: each request needs up to 8 (20-token prompt + 12 new).
  const s = scheduler({ cacheTokens: 48, blockSize: 4, maxNumSeqs: 4, maxNumBatchedTokens: 32 });
  const cold = scheduler({ enablePrefixCaching: false, blockSize: 4 });
  const a: SequenceRequest = { id: "a", promptIds: randomPrompt(20, 40), maxTokens: 12, sampling: { temperature: 0.8, seed: 2 }, ignoreEos: true };
  const first = run(s, a);
  assert.ok(s.cache.cachedBlocks >= 5);
  const again = run(s, { ...a, id: "a2" });
  assert.equal(again.cachedTokens, 16);
  assert.deepEqual(again.tokens, first.tokens);
  // Others with their own prompts fill the pool: a's blocks are evicted.
  const others = [1, 2, 3].map((i): SequenceRequest => ({ id: `o${i}`, promptIds: randomPrompt(20, 50 + i), maxTokens: 12, sampling: {}, ignoreEos: true }));
  for (const r of others) s.add(r);
  const got: Record<string, number[]> = {};
  while (s.hasWork) for (const o of s.step()) (got[o.id] ??= []).push(...o.tokens);
  for (const r of others) assert.deepEqual(got[r.id], run(cold, r).tokens);
  const third = run(s, { ...a, id: "a3" });
  assert.ok(third.cachedTokens < 16, "a's prefix was (at least partly) evicted");
  assert.deepEqual(third.tokens, first.tokens);
  assert.ok(s.stats().prefixCacheHits > 0 && s.stats().prefixCacheHits < s.stats().prefixCacheQueries);
});

test("stress: shared prefixes, a small pool, preemption and aborts; no block is written while another sequence reads it; tokens equal cold runs", () => {
  const bs = 4;
  let checkedSteps = 0;
  // The forward, checked first: the blocks a step writes belong to the writing sequence alone.
  const checked = (ids: Tensor, ...rest: Tensor[]) => {
    const [positions, seqIds, slots, table] = rest.map((t) => t.values());
    const width = rest[3]!.dims[1]!;
    const lastPos = new Map<number, number>();
    seqIds!.forEach((sq, t) => lastPos.set(sq, Math.max(lastPos.get(sq) ?? 0, positions![t]!)));
    const readers = new Map<number, Set<number>>(); // block → sequences whose context holds it
    for (const [sq, last] of lastPos) {
      for (let b = 0; b <= Math.floor(last / bs); b++) {
        const block = table![sq * width + b]!;
        (readers.get(block) ?? readers.set(block, new Set()).get(block)!).add(sq);
      }
    }
    slots!.forEach((slot, t) => {
      const r = readers.get(Math.floor(slot / bs))!;
      assert.deepEqual([...r], [seqIds![t]], `block ${Math.floor(slot / bs)} is written by sequence ${seqIds![t]} and read by ${[...r]}`);
    });
    checkedSteps++;
    return paged(ids, ...rest);
  };
  const s = new Scheduler(checked, newCache(40 * bs, bs), info, { maxNumSeqs: 6, maxNumBatchedTokens: 24 });
  const prefixes = [randomPrompt(22, 60), randomPrompt(31, 61), randomPrompt(17, 62)];
  const reqs = Array.from({ length: 12 }, (_, i): SequenceRequest => ({
    id: `q${i}`,
    promptIds: [...prefixes[i % 3]!, ...randomPrompt(1 + ((i * 5) % 9), 70 + i)],
    maxTokens: 10 + ((i * 3) % 15),
    sampling: i % 2 ? { temperature: 0.9, topK: 50, seed: i } : {},
    ignoreEos: true,
  }));
  const got: Record<string, number[]> = {};
  const aborted = new Set<string>();
  for (let step = 0; s.hasWork || step < reqs.length; step++) {
    if (step < reqs.length) s.add(reqs[step]!);
    if (step === 6) for (const id of ["q1", "q4"]) if (s.abort(id)) aborted.add(id);
    for (const o of s.step()) (got[o.id] ??= []).push(...o.tokens);
  }
  const cold = new Scheduler(paged, newCache(1024, bs), info, { enablePrefixCaching: false });
  for (const r of reqs) {
    if (aborted.has(r.id)) continue;
    assert.deepEqual(got[r.id], run(cold, r).tokens, r.id);
  }
  const st = s.stats();
  assert.ok(st.preemptions > 0, "the pool was too small for everyone");
  assert.ok(st.prefixCacheHits > 0);
  assert.ok(checkedSteps > 20);
  assert.equal(s.cache.usedBlocks, 0);
});
