import assert from "node:assert/strict";
import { test } from "node:test";
import { type Tensor, cat, randn, slice } from "../../src/index.js";
import { assertAllClose } from "../helpers/assert-close.js";
import { DecoderBlock, TINY_BLOCK } from "./decoder-block.js";

const rows = (t: Tensor, n: number) => slice(t, 0, 0, n);

test("the decoder block is causal: later tokens never change earlier outputs", () => {
  const block = new DecoderBlock(TINY_BLOCK, 4);
  const prefix = randn([3, TINY_BLOCK.hidden], { seed: 1 });
  const a = block.forward(cat([prefix, randn([2, TINY_BLOCK.hidden], { seed: 2 })], 0));
  const b = block.forward(cat([prefix, randn([4, TINY_BLOCK.hidden], { seed: 3 })], 0));
  assert.deepEqual(a.shape, [5, TINY_BLOCK.hidden]);
  assertAllClose(rows(a, 3), rows(b, 3), { rtol: 1e-5, atol: 1e-6 });
  assertAllClose(rows(a, 3), block.forward(prefix), { rtol: 1e-5, atol: 1e-6 });
});

test("attention mixes tokens: a row depends on the tokens before it, and on the weights", () => {
  const block = new DecoderBlock(TINY_BLOCK, 4);
  const n = TINY_BLOCK.hidden;
  const last = randn([1, n], { seed: 5 });
  const a = block.forward(cat([randn([1, n], { seed: 6 }), last], 0)).values().subarray(n);
  const b = block.forward(cat([randn([1, n], { seed: 7 }), last], 0)).values().subarray(n);
  assert.ok(Array.from(a).some((v, i) => Math.abs(v - b[i]!) > 1e-4));
  const alone = block.forward(last).values();
  const other = new DecoderBlock(TINY_BLOCK, 5).forward(last).values();
  assert.ok(Array.from(other).some((v, i) => Math.abs(v - alone[i]!) > 1e-4));
});
