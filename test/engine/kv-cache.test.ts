// The KV cache's size bound: a cache larger than the machine's memory is a typed error naming the option and flag,
// before anything is allocated (a RangeError from the typed arrays, or a swap storm, otherwise).
import assert from "node:assert/strict";
import { totalmem } from "node:os";
import { test } from "node:test";
import { PagedKvCache } from "../../src/engine/index.js";
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
