// The README's compile() example, run through the public entry point as a user would.
import assert from "node:assert/strict";
import { test } from "node:test";
import { type Tensor, compile, matmul, randn, rmsNorm, softmax } from "../../src/index.js";
import { assertAllClose } from "../helpers/assert-close.js";

test("README example: one compile serves every token count", () => {
  const w = randn([64, 64], { seed: 1 });
  const g = randn([64], { seed: 2 });
  const attend = (x: Tensor) => softmax(matmul(rmsNorm(x, g), w), -1);

  const fast = compile(attend, { dynamic: { 0: [0] } });
  const y = fast(randn([7, 64]));
  const z = fast(randn([513, 64], { seed: 3 }));
  assert.deepEqual(y.shape, [7, 64]);
  assertAllClose(z, attend(randn([513, 64], { seed: 3 })), { rtol: 1e-5, atol: 1e-7 });
  assert.equal(fast.stats.compiles, 1);
});
