import assert from "node:assert/strict";
import { test } from "node:test";
import * as k from "../../src/index.js";
import { type Tensor, compile, randn } from "../../src/index.js";
import { assertAllClose } from "../helpers/assert-close.js";
import { checkBackendOnAllOps } from "./check-backend.js";

checkBackendOnAllOps("js", { rtol: 1e-5, atol: 1e-6 });

test("bf16 inputs and outputs stay within bf16 rounding", () => {
  const f = (x: Tensor, w: Tensor) => k.silu(k.matmul(x, k.transpose(w)));
  const x = randn([5, 16], { seed: 1, dtype: "bf16" });
  const w = randn([8, 16], { seed: 2, dtype: "bf16" });
  const got = compile(f, { backend: "js" })(x, w);
  assert.equal(got.dtype, "bf16");
  assertAllClose(got, f(x, w), { rtol: 2 ** -7, atol: 1e-3 });
});
