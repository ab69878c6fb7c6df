// cast between every pair of dtypes, on values every dtype holds exactly, plus the rounding,
// truncation, overflow and NaN cases of each kind of conversion.
import assert from "node:assert/strict";
import { test } from "node:test";
import { cast } from "../../src/ops/index.js";
import { DTYPES, type DType, isFloat, tensor } from "../../src/tensor/index.js";
import { expectExact } from "./expect-tensor.js";

/** Source values per dtype, chosen so that every float dtype represents them exactly. */
function sourceValues(d: DType): number[] {
  if (d === "bool") return [0, 1];
  if (isFloat(d)) return [0, 1, -2, 1.5, -2.5, 100, -0.75];
  return [0, 1, -2, 3, 100, -128];
}

/** What casting `v` to `to` must give, by the rule of each kind of target. */
function expected(v: number, to: DType): number | boolean {
  if (to === "bool") return v !== 0;
  if (isFloat(to)) return v;
  return Math.trunc(v) + 0; // + 0 turns -0 into 0: ints have no negative zero
}

for (const from of DTYPES) {
  for (const to of DTYPES) {
    test(`cast ${from} → ${to}`, () => {
      const src = sourceValues(from);
      const x = tensor(src, { dtype: from });
      const y = cast(x, to);
      assert.equal(y.dtype, to);
      assert.deepEqual(y.dims, [src.length]);
      // Bool sources read as 0/1, and bool targets are booleans in toArray().
      assert.deepEqual(y.toArray(), src.map((v) => expected(v, to)));
      // Casting a 2-D view keeps its shape and logical order.
      const m = cast(tensor([[1, 0], [0, 1]], { dtype: from }), to);
      assert.deepEqual(m.dims, [2, 2]);
      assert.deepEqual(Array.from(m.values()), [1, 0, 0, 1]);
    });
  }
}

test("cast to bf16 and f16 rounds to nearest even, overflows to infinity and keeps NaN", () => {
  expectExact(cast(tensor([1 + 2 ** -8, 1 + 3 * 2 ** -8, 1 + 2 ** -8 + 2 ** -20]), "bf16"), [1, 1 + 2 ** -6, 1 + 2 ** -7], "bf16");
  expectExact(cast(tensor([257, 259, 3.4e38, -3.4e38, NaN]), "bf16"), [256, 260, Infinity, -Infinity, NaN]);
  expectExact(cast(tensor([2049, 2051, 65504, 65519, 65520, -1e6, NaN]), "f16"), [2048, 2052, 65504, 65504, Infinity, -Infinity, NaN], "f16");
  expectExact(cast(tensor([2 ** -24, 2 ** -25, 3 * 2 ** -25, -(2 ** -26)]), "f16"), [2 ** -24, 0, 2 ** -23, -0]);
  expectExact(cast(tensor([16777217], { dtype: "i32" }), "f32"), [16777216], "f32"); // 2^24 + 1 rounds to even
  expectExact(cast(tensor([1000], { dtype: "i64" }), "f16"), [1000], "f16");
});

test("cast to ints truncates toward zero, wraps like C's two's complement and maps NaN/±Inf to 0", () => {
  expectExact(cast(tensor([1.9, -1.9, -0.5, 0.5]), "i32"), [1, -1, 0, 0], "i32");
  expectExact(cast(tensor([NaN, Infinity, -Infinity]), "i32"), [0, 0, 0]);
  expectExact(cast(tensor([2 ** 31 + 256, -(2 ** 31) - 256]), "i32"), [-(2 ** 31) + 256, 2 ** 31 - 256]); // f32-exact sources
  expectExact(cast(tensor([1.9, -1.9, 2 ** 40]), "i64"), [1, -1, 2 ** 40], "i64");
  expectExact(cast(tensor([NaN, Infinity, -Infinity]), "i64"), [0, 0, 0], "i64");
  expectExact(cast(tensor([2 ** 40], { dtype: "i64" }), "i32"), [0]); // low 32 bits
  expectExact(cast(tensor([3.75], { dtype: "bf16" }), "i32"), [3]);
});

test("cast to bool: any non-zero value is true, NaN included; -0 is false", () => {
  expectExact(cast(tensor([0, -0, 0.001, -3, NaN, Infinity]), "bool"), [false, false, true, true, true, true], "bool");
  expectExact(cast(tensor([0, 5, -1], { dtype: "i32" }), "bool"), [false, true, true]);
  expectExact(cast(tensor([true, false]), "f32"), [1, 0], "f32");
});
