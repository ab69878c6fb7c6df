// The KV cache's size bound: a cache larger than the machine's memory is a typed error naming the option and flag,
// before anything is allocated (a RangeError from the typed arrays, or a swap storm, otherwise).
import assert from "node:assert/strict";
import { totalmem } from "node:os";
import { test } from "node:test";
import { PagedKvCache, SequenceBlocks } from "../../src/engine/index.js";
import { ArgumentError } from "../../src/util/index.js";

const shape = { layers: 2, kvHeads: 2, headDim: 16 };

test("a KV cache larger than memory is refused, naming kvCacheTokens / --kv-cache-tokens and the sizes", () => {
  for (const tokens of [1e12, Math.ceil(totalmem() / (2 * 2 * 2 * 16 * 4)) + 16]) {
    assert.throws(() => new PagedKvCache(shape, { tokens }), (e: unknown) => {
      assert.ok(e instanceof ArgumentError, String(e));
      assert.match(e.message, new RegExp(`^kv cache: ${tokens} tokens need [0-9.]+ GiB \\(K and V of 2 layers × 2 heads × 16 × 4 bytes a token\\): more than this machine's [0-9.]+ GiB of memory; give it fewer tokens \\(kvCacheTokens / --kv-cache-tokens\\)$`));
      return true;
    });
  }
  assert.equal(new PagedKvCache(shape, { tokens: 64 }).capacity, 64);
});

test("the KV cache allocates as requests need it, doubling, and keeps what it holds when it grows", () => {
  const cache = new PagedKvCache({ layers: 2, kvHeads: 1, headDim: 2 }, { tokens: 64 * 16, blockSize: 16 });
  assert.equal(cache.allocatedBlocks, 0, "nothing allocated before the first use");
  assert.equal(cache.freeBlocks, 64);
  const a = new SequenceBlocks();
  cache.reserve(a, 20);
  assert.deepEqual(a.blocks, [0, 1]);
  assert.equal(cache.allocatedBlocks, 4);
  const k0 = cache.tensors[0]!;
  (k0.storage as Float32Array)[1 * 16 * 2 + 3] = 42; // block 1, position 1, dim 1
  const b = new SequenceBlocks();
  cache.reserve(b, 16 * 9);
  assert.equal(cache.allocatedBlocks, 11, "grown by at least what was needed");
  assert.deepEqual(b.blocks, [2, 3, 4, 5, 6, 7, 8, 9, 10]);
  assert.equal(cache.tensors[0]!.dims[0], 11);
  assert.equal((cache.tensors[0]!.storage as Float32Array)[1 * 16 * 2 + 3], 42, "contents survive growth");
  cache.release(a);
  cache.release(b);
  assert.equal(cache.freeBlocks, 64);
  assert.throws(() => cache.reserve(new SequenceBlocks(), 65 * 16), /needs 65 KV cache blocks/);
});
