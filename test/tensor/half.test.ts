// bf16 and f16 conversions: round-to-nearest-even at ties, overflow, NaN, ±0, f16 subnormals and
// max; scalar vs bulk converters; an independent double-arithmetic rounding on random floats;
// and ops on half tensors rounding their results.
import assert from "node:assert/strict";
import { test } from "node:test";
import * as k from "../../src/ops/index.js";
import {
  bf16ArrayToF32, bf16ToF32, f16ArrayToF32, f16ToF32, f32ArrayToBf16, f32ArrayToF16, f32ToBf16, f32ToF16, mulberry32, tensor,
} from "../../src/tensor/index.js";

const bf = (x: number) => bf16ToF32(f32ToBf16(x));
const hf = (x: number) => f16ToF32(f32ToF16(x));

/** Round-half-to-even of a non-negative double. */
function rne(r: number): number {
  const f = Math.floor(r);
  const d = r - f;
  if (d > 0.5) return f + 1;
  if (d < 0.5) return f;
  return f % 2 === 0 ? f : f + 1;
}

/** floor(log2(a)) for a > 0, exact. */
function exponentOf(a: number): number {
  let e = Math.floor(Math.log2(a));
  if (2 ** e > a) e--;
  if (2 ** (e + 1) <= a) e++;
  return e;
}

/**
 * Rounds `x` to a binary format with `mant` explicit mantissa bits, minimum normal exponent
 * `minExp` and overflow threshold `2^maxExpPlus1`, in plain double arithmetic (independent of
 * the bit-twiddling under test).
 */
function roundTo(x: number, mant: number, minExp: number, maxExpPlus1: number): number {
  if (Number.isNaN(x)) return NaN;
  const sign = x < 0 || Object.is(x, -0) ? -1 : 1;
  const a = Math.abs(x);
  if (a === Infinity) return sign * Infinity;
  if (a === 0) return sign * 0;
  const q = 2 ** (Math.max(exponentOf(a), minExp) - mant);
  const r = rne(a / q) * q;
  return sign * (r >= 2 ** maxExpPlus1 ? Infinity : r);
}
const bfRef = (x: number) => roundTo(x, 7, -126, 128);
const hfRef = (x: number) => roundTo(x, 10, -14, 16);

/** `count` random f32 values from random bit patterns (all exponents, signs, subnormals, inf and NaN). */
function randomF32(count: number, seed: number): Float32Array {
  const rand = mulberry32(seed);
  const bits = new Uint32Array(count);
  for (let i = 0; i < count; i++) bits[i] = Math.floor(rand() * 2 ** 32);
  return new Float32Array(bits.buffer);
}

/** Random f32 values in f16's range, to exercise its normal and subnormal rounding. */
function randomF16Range(count: number, seed: number): Float32Array {
  const rand = mulberry32(seed);
  return Float32Array.from({ length: count }, () => (rand() < 0.5 ? -1 : 1) * 2 ** (rand() * 44 - 28));
}

test("bf16: round to nearest, ties to even", () => {
  assert.equal(bf(1 + 2 ** -8), 1); // tie between 1 and 1 + 2^-7: even (1) wins
  assert.equal(bf(1 + 3 * 2 ** -8), 1 + 2 ** -6); // tie between 1 + 2^-7 and 1 + 2^-6: even wins
  assert.equal(bf(1 + 2 ** -8 + 2 ** -20), 1 + 2 ** -7); // just above the tie
  assert.equal(bf(1 + 2 ** -8 - 2 ** -20), 1); // just below
  assert.equal(bf(257), 256);
  assert.equal(bf(259), 260);
  assert.equal(bf(-(1 + 3 * 2 ** -8)), -(1 + 2 ** -6));
  assert.equal(f32ToBf16(1), 0x3f80);
  assert.equal(bf16ToF32(0x4049), 3.140625);
});

test("bf16: overflow, infinities, NaN, signed zero and subnormals", () => {
  assert.equal(f32ToBf16(Infinity), 0x7f80);
  assert.equal(f32ToBf16(-Infinity), 0xff80);
  assert.equal(bf(3.4e38), Infinity); // above bf16's max (0x7f7f ≈ 3.3895e38) by more than half an ulp
  assert.equal(bf(3.3895313892515355e38), 3.3895313892515355e38); // bf16 max itself
  assert.equal(bf(-3.4e38), -Infinity);
  assert.ok(Number.isNaN(bf(NaN)));
  assert.equal(f32ToBf16(NaN) & 0x7fc0, 0x7fc0); // a quiet NaN, not an infinity
  const snan = new Float32Array(new Uint32Array([0x7f800001]).buffer)[0]!; // NaN whose payload sits below bf16's bits
  assert.ok(Number.isNaN(bf(snan)), "a NaN must not round to infinity");
  assert.equal(f32ToBf16(0), 0x0000);
  assert.equal(f32ToBf16(-0), 0x8000);
  assert.ok(Object.is(bf(-0), -0));
  assert.equal(bf(2 ** -130), 2 ** -130); // subnormal, exact
  assert.equal(bf(2 ** -134), 0); // half of bf16's smallest subnormal (2^-133): a tie, even (0) wins
  assert.equal(bf(3 * 2 ** -134), 2 ** -132); // 1.5 units: a tie, even (2 units) wins
  assert.equal(bf(2 ** -149), 0);
});

test("f16: ties to even, max, overflow, subnormals, NaN and signed zero", () => {
  assert.equal(hf(2049), 2048);
  assert.equal(hf(2051), 2052);
  assert.equal(hf(1 + 2 ** -11), 1);
  assert.equal(hf(1 + 3 * 2 ** -11), 1 + 2 ** -9);
  assert.equal(f32ToF16(65504), 0x7bff); // max
  assert.equal(hf(65519), 65504); // below the midpoint to 2^16
  assert.equal(hf(65520), Infinity); // the midpoint rounds to even: infinity
  assert.equal(hf(-1e6), -Infinity);
  assert.equal(f32ToF16(Infinity), 0x7c00);
  assert.equal(f16ToF32(0xfc00), -Infinity);
  assert.ok(Number.isNaN(hf(NaN)));
  assert.ok(Number.isNaN(f16ToF32(0x7e00)));
  assert.equal(f32ToF16(-0), 0x8000);
  assert.ok(Object.is(f16ToF32(0x8000), -0));
  // Subnormals: the smallest is 2^-24; the largest is 1023·2^-24; the smallest normal is 2^-14.
  assert.equal(f32ToF16(2 ** -24), 0x0001);
  assert.equal(f16ToF32(0x0001), 2 ** -24);
  assert.equal(f16ToF32(0x03ff), 1023 * 2 ** -24);
  assert.equal(f32ToF16(2 ** -14), 0x0400);
  assert.equal(hf(2 ** -25), 0); // a tie between 0 and 2^-24: even (0)
  assert.equal(hf(3 * 2 ** -25), 2 ** -23); // a tie between 1 and 2 units: even (2)
  assert.equal(hf(2 ** -25 + 2 ** -35), 2 ** -24); // just above the tie
  assert.equal(hf(1023.5 * 2 ** -24), 2 ** -14); // rounds up out of the subnormals into the smallest normal
  assert.ok(Object.is(hf(-(2 ** -26)), -0));
  assert.equal(hf(5 * 2 ** -26), 2 ** -24); // 1.25 units rounds down
});

test("bf16 and f16 rounding agree with an independent double-arithmetic rounding on random floats", () => {
  for (const x of [...randomF32(20000, 1), ...randomF16Range(5000, 2)]) {
    assert.ok(Object.is(bf(x), bfRef(x)) || (Number.isNaN(bf(x)) && Number.isNaN(bfRef(x))), `bf16(${x}): ${bf(x)} vs ${bfRef(x)}`);
    assert.ok(Object.is(hf(x), hfRef(x)) || (Number.isNaN(hf(x)) && Number.isNaN(hfRef(x))), `f16(${x}): ${hf(x)} vs ${hfRef(x)}`);
  }
});

test("every f16 and bf16 word round-trips through f32", () => {
  for (let w = 0; w < 0x10000; w++) {
    const h = f16ToF32(w);
    if (!Number.isNaN(h)) assert.equal(f32ToF16(h), w, `f16 word ${w.toString(16)}`);
    const b = bf16ToF32(w);
    if (!Number.isNaN(b)) assert.equal(f32ToBf16(b), w, `bf16 word ${w.toString(16)}`);
  }
});

test("bulk converters agree with the scalar ones bit for bit", () => {
  const xs = randomF32(4096, 3);
  const words = Uint16Array.from(xs, (_, i) => (i * 40503) & 0xffff);
  assert.deepEqual(Array.from(f32ArrayToBf16(xs)), Array.from(xs, f32ToBf16));
  assert.deepEqual(Array.from(f32ArrayToF16(xs)), Array.from(xs, f32ToF16));
  // The bulk bf16 widening keeps NaN payloads, which a scalar JS number cannot: compare NaN as NaN.
  const same = (a: number, b: number) => Object.is(a, b) || (Number.isNaN(a) && Number.isNaN(b));
  const bb = bf16ArrayToF32(words);
  const hb = f16ArrayToF32(words);
  let nans = 0;
  words.forEach((w, i) => {
    assert.ok(same(bb[i]!, bf16ToF32(w)), `bf16 word ${w.toString(16)}`);
    assert.ok(same(hb[i]!, f16ToF32(w)), `f16 word ${w.toString(16)}`);
    if (Number.isNaN(bb[i]!)) nans++;
  });
  assert.ok(nans > 0 && nans < words.length);
  assert.equal(f32ArrayToBf16([]).length, 0);
});

test("ops on bf16 and f16 tensors round their results to the dtype", () => {
  const b = (xs: number[]) => tensor(xs, { dtype: "bf16" });
  const h = (xs: number[]) => tensor(xs, { dtype: "f16" });
  assert.deepEqual(k.add(b([1, 1]), b([2 ** -8, 3 * 2 ** -8])).toArray(), [1, 1 + 2 ** -6]);
  assert.deepEqual(k.mul(b([3]), b([1 + 2 ** -7])).toArray(), [3.03125]); // 3.0234375 is a tie: even wins
  assert.deepEqual(k.matmul(b([1, 1]), b([256, 1])).toArray(), 256); // 257 → 256
  assert.deepEqual(k.add(h([2048]), h([1])).toArray(), [2048]);
  assert.deepEqual(k.div(h([1]), h([3])).toArray(), [0.333251953125]);
  assert.deepEqual(k.mul(h([300]), h([300])).toArray(), [Infinity]); // 90000 overflows f16
  assert.deepEqual(k.exp(b([1])).toArray(), [2.71875]);
  assert.equal(k.add(b([1]), b([1])).dtype, "bf16");
  // Stored as 16-bit words.
  const t = tensor([1, -2], { dtype: "bf16" });
  assert.ok(t.storage instanceof Uint16Array);
  assert.deepEqual(Array.from(t.storage as Uint16Array), [0x3f80, 0xc000]);
});
