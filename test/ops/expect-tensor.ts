// Small assertions on tensors shared by the op tests: exact nested values, close values, typed errors.
import assert from "node:assert/strict";
import { type DType, Tensor } from "../../src/tensor/index.js";
import { KilnError } from "../../src/util/index.js";
import { assertAllClose } from "../helpers/assert-close.js";

/** Exact equality of `toArray()` (so the shape too; NaN equals NaN, -0 differs from 0), and the dtype when given. */
export function expectExact(x: Tensor, want: unknown, dtype?: DType): void {
  assert.ok(x instanceof Tensor, "expected a Tensor");
  assert.deepEqual(x.toArray(), want);
  if (dtype) assert.equal(x.dtype, dtype, "dtype");
}

/** Values close to `want` (flat, row-major) with the given shape and, when given, dtype. */
export function expectClose(x: Tensor, shape: readonly number[], want: readonly number[], opts: { dtype?: DType; rtol?: number; atol?: number } = {}): void {
  assert.ok(x instanceof Tensor, "expected a Tensor");
  assert.deepEqual(x.dims, shape, "shape");
  if (opts.dtype) assert.equal(x.dtype, opts.dtype, "dtype");
  assertAllClose(x.values(), want, { rtol: opts.rtol ?? 1e-6, atol: opts.atol ?? 1e-7 });
}

/** A pattern matching a shape printed as `[2,3]` or `[2, 3]`. */
export function shapeText(shape: readonly (number | string)[]): RegExp {
  return new RegExp(`\\[${shape.map(String).join(",\\s?")}\\]`);
}

/**
 * Runs `fn`, which must throw an instance of `cls` (a KilnError) with `code`, whose message
 * contains every string (or matches every pattern) in `mentions`. Returns the error for more checks.
 */
export function expectError<E extends KilnError>(
  fn: () => unknown,
  cls: abstract new (...args: never[]) => E,
  code: string,
  mentions: readonly (string | RegExp)[],
): E {
  let caught: unknown;
  try {
    fn();
  } catch (e) {
    caught = e;
  }
  assert.ok(caught !== undefined, `expected ${cls.name} to be thrown`);
  assert.ok(caught instanceof cls, `expected ${cls.name}, got ${String(caught)}`);
  assert.ok(caught instanceof KilnError);
  assert.equal(caught.code, code);
  for (const m of mentions) {
    if (typeof m === "string") assert.ok(caught.message.includes(m), `message ${JSON.stringify(caught.message)} should mention ${m}`);
    else assert.match(caught.message, m);
  }
  return caught;
}

/** Row-major values 0, 1, 2, … as an f32 tensor of `shape` (for checking index arithmetic). */
export function iota(shape: readonly number[]): Tensor {
  const n = shape.reduce((a, b) => a * b, 1);
  return Tensor.fromValues("f32", shape, Array.from({ length: n }, (_, i) => i));
}
