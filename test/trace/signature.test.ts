import assert from "node:assert/strict";
import { test } from "node:test";
import { signatureOf } from "../../src/index.js";

test("signatureOf reads parameter names, defaults, destructuring and rest parameters", () => {
  assert.deepEqual(signatureOf((x: number) => x), { names: ["x"], variadic: false });
  assert.deepEqual(signatureOf(function named(a: number, b = [1, 2], { c }: { c: number } = { c: 1 }) {
    return a + b.length + c;
  }), { names: ["a", "b", undefined], variadic: false });
  assert.deepEqual(signatureOf((a: string, s = "x,)", ...rest: number[]) => a + s + rest.length), { names: ["a", "s"], variadic: true });
  assert.deepEqual(signatureOf(() => 1), { names: [], variadic: false });
  class M {
    forward(x: number, /* comment, */ mask?: number) {
      return x + (mask ?? 0);
    }
  }
  assert.deepEqual(signatureOf(M.prototype.forward), { names: ["x", "mask"], variadic: false });
  assert.deepEqual(signatureOf(Math.max), { names: [], variadic: true });
  assert.deepEqual(signatureOf(((a: number) => a).bind(null)), { names: [], variadic: true });
});
