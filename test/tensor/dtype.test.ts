// DType: names, storage arrays, item sizes, validation and the promotion rule.
import assert from "node:assert/strict";
import { test } from "node:test";
import { DTYPES, ITEM_SIZE, allocStorage, isDType, isFloat, parseDType, promoteTypes } from "../../src/tensor/index.js";
import { DTypeError } from "../../src/util/index.js";

test("storage arrays and item sizes", () => {
  const want = { f32: Float32Array, bf16: Uint16Array, f16: Uint16Array, i32: Int32Array, i64: BigInt64Array, bool: Uint8Array } as const;
  for (const d of DTYPES) {
    const s = allocStorage(d, 3);
    assert.ok(s instanceof want[d], d);
    assert.equal(s.length, 3);
    assert.equal(s.BYTES_PER_ELEMENT, ITEM_SIZE[d], d);
  }
});

test("isFloat, isDType and parseDType", () => {
  assert.deepEqual(DTYPES.filter(isFloat), ["f32", "bf16", "f16"]);
  assert.ok(isDType("bf16"));
  assert.ok(!isDType("float32"));
  assert.ok(!isDType(3));
  assert.equal(parseDType("i64"), "i64");
  assert.throws(() => parseDType("float32", "my_op"), (e) => e instanceof DTypeError && e.code === "E_DTYPE" && e.op === "my_op" && e.message.includes("float32"));
});

test("promoteTypes: float beats int beats bool, wider wins, bf16 with f16 gives f32", () => {
  const cases: [string, string, string][] = [
    ["f32", "bf16", "f32"], ["bf16", "f16", "f32"], ["bf16", "i64", "bf16"], ["f16", "i32", "f16"],
    ["i32", "i64", "i64"], ["bool", "i32", "i32"], ["bool", "bool", "bool"], ["bool", "f16", "f16"], ["i64", "i64", "i64"],
  ];
  for (const [a, b, want] of cases) {
    assert.equal(promoteTypes(a as never, b as never), want, `${a}, ${b}`);
    assert.equal(promoteTypes(b as never, a as never), want, `${b}, ${a}`);
  }
});
