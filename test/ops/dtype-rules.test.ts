// Result dtypes of every op family, checked by running the ops eagerly on every pair of dtypes
// against a hand-written promotion table.
import assert from "node:assert/strict";
import { test } from "node:test";
import * as k from "../../src/ops/index.js";
import { BINARY_OPS, type BinaryOp, OPS, UNARY_OPS } from "../../src/ops/index.js";
import { DTYPES, type DType, type Tensor, isFloat, tensor } from "../../src/tensor/index.js";
import { DTypeError } from "../../src/util/index.js";
import { expectError } from "./expect-tensor.js";

// Rows: left operand; columns in DTYPES order: f32, bf16, f16, i32, i64, bool.
const PROMOTE: Record<DType, DType[]> = {
  f32: ["f32", "f32", "f32", "f32", "f32", "f32"],
  bf16: ["f32", "bf16", "f32", "bf16", "bf16", "bf16"],
  f16: ["f32", "f32", "f16", "f16", "f16", "f16"],
  i32: ["f32", "bf16", "f16", "i32", "i64", "i32"],
  i64: ["f32", "bf16", "f16", "i64", "i64", "i64"],
  bool: ["f32", "bf16", "f16", "i32", "i64", "bool"],
};

const one = (d: DType) => tensor([1], { dtype: d });
const COMPARISONS: readonly BinaryOp[] = ["eq", "ne", "lt", "le", "gt", "ge"];

/** The dtype a binary op must give for (a, b), or "error" (arithmetic on two bools). */
function binaryResult(op: BinaryOp, a: DType, b: DType): DType | "error" {
  if (COMPARISONS.includes(op) || op === "logical_and" || op === "logical_or") return "bool";
  const p = PROMOTE[a][DTYPES.indexOf(b)]!;
  if (p === "bool") return "error";
  if ((op === "div" || op === "pow") && !isFloat(p)) return "f32";
  return p;
}

test("the promotion table is symmetric", () => {
  for (const a of DTYPES) for (const b of DTYPES) assert.equal(PROMOTE[a][DTYPES.indexOf(b)], PROMOTE[b][DTYPES.indexOf(a)], `${a}, ${b}`);
});

for (const op of BINARY_OPS) {
  test(`${op}: result dtype for every pair of dtypes`, () => {
    for (const a of DTYPES) {
      for (const b of DTYPES) {
        const want = binaryResult(op, a, b);
        const run = () => k.bind(op, [one(a), one(b)]);
        if (want === "error") {
          expectError(run, DTypeError, "E_DTYPE", [op, "bool"]);
        } else {
          assert.equal(run().dtype, want, `${op}(${a}, ${b})`);
          assert.equal(OPS[op].infer([one(a), one(b)], {}).dtype, want);
        }
      }
    }
  });
}

const FLOAT_ONLY = ["exp", "log", "sqrt", "rsqrt", "sin", "cos", "tanh", "sigmoid", "silu", "gelu", "reciprocal"] as const;

test("unary ops: float-only ops reject ints and bools, the rest keep the dtype", () => {
  for (const op of UNARY_OPS) {
    if (op === "cast") continue; // cast.test.ts
    for (const d of DTYPES) {
      const run = (): Tensor => k.bind(op, [one(d)], op === "gelu" ? { approximate: "none" } : {});
      if (op === "logical_not") assert.equal(run().dtype, "bool");
      else if ((FLOAT_ONLY as readonly string[]).includes(op) && !isFloat(d)) expectError(run, DTypeError, "E_DTYPE", [op, d]);
      else if (d === "bool") expectError(run, DTypeError, "E_DTYPE", [op, "bool"]);
      else assert.equal(run().dtype, d, `${op}(${d})`);
    }
  }
});

test("reductions: sum of bool/i32 gives i32, argmax gives i32, the rest keep the dtype; bool max/min are rejected", () => {
  const want: Record<DType, Record<"sum" | "max" | "min" | "argmax", DType | "error">> = {
    f32: { sum: "f32", max: "f32", min: "f32", argmax: "i32" },
    bf16: { sum: "bf16", max: "bf16", min: "bf16", argmax: "i32" },
    f16: { sum: "f16", max: "f16", min: "f16", argmax: "i32" },
    i32: { sum: "i32", max: "i32", min: "i32", argmax: "i32" },
    i64: { sum: "i64", max: "i64", min: "i64", argmax: "i32" },
    bool: { sum: "i32", max: "error", min: "error", argmax: "i32" },
  };
  for (const d of DTYPES) {
    for (const op of ["sum", "max", "min", "argmax"] as const) {
      const run = () => k.bind(op, [tensor([1, 0], { dtype: d })], { axis: 0 });
      const w = want[d][op];
      if (w === "error") expectError(run, DTypeError, "E_DTYPE", [op, "bool"]);
      else assert.equal(run().dtype, w, `${op}(${d})`);
    }
    const mean = () => k.mean(tensor([1, 0], { dtype: d }));
    if (isFloat(d)) assert.equal(mean().dtype, d);
    else expectError(mean, DTypeError, "E_DTYPE", ["mean", d]);
  }
});

test("matmul, where and linear promote; cat and stack need one dtype", () => {
  assert.equal(k.matmul(tensor([[1]], { dtype: "i32" }), tensor([[1]], { dtype: "bf16" })).dtype, "bf16");
  assert.equal(k.matmul(tensor([[1]], { dtype: "i32" }), tensor([[1]], { dtype: "i64" })).dtype, "i64");
  expectError(() => k.matmul(tensor([[true]]), tensor([[true]])), DTypeError, "E_DTYPE", ["matmul", "bool"]);
  assert.equal(k.where(tensor([true]), one("f16"), one("i32")).dtype, "f16");
  assert.equal(k.linear(tensor([[1, 2]], { dtype: "bf16" }), tensor([[1, 1]], { dtype: "f32" })).dtype, "f32");
  expectError(() => k.cat([one("f32"), one("i32")]), DTypeError, "E_DTYPE", ["cat", "f32", "i32"]);
  expectError(() => k.stack([one("bf16"), one("f16")]), DTypeError, "E_DTYPE", ["stack", "bf16", "f16"]);
  assert.equal(k.embedding(tensor([0], { dtype: "i64" }), tensor([[1, 2]], { dtype: "bf16" })).dtype, "bf16");
});

test("a plain number takes the tensor's dtype, except a fraction next to ints (f32) and an integer next to bools (i32)", () => {
  assert.equal(k.add(one("bf16"), 3).dtype, "bf16");
  assert.equal(k.add(one("f16"), 0.1).dtype, "f16");
  assert.equal(k.add(one("i64"), 3).dtype, "i64");
  assert.equal(k.mul(one("i32"), 0.5).dtype, "f32");
  assert.equal(k.sub(3, one("i32")).dtype, "i32");
  assert.equal(k.add(one("bool"), 3).dtype, "i32");
  assert.equal(k.add(one("bool"), 0.5).dtype, "f32");
  assert.equal(k.gt(one("i32"), 0.5).dtype, "bool");
});

test("paged caches: kv_store rounds f32 rows into a bf16 cache; paged_attention reads f32 or bf16 caches (one dtype for K and V) into f32", () => {
  const i32 = (xs: number[]) => tensor(xs, { dtype: "i32" });
  const cache = (d: DType) => k.zeros([2, 2, 1, 4], d);
  const q = k.zeros([1, 1, 4]);
  const attend = (kd: DType, vd: DType) => k.pagedAttention(q, cache(kd), cache(vd), i32([0, 1]).reshape([1, 2]), i32([0]), i32([2]), 0.5);
  assert.equal(k.kvStore(cache("bf16"), k.zeros([1, 1, 4]), i32([1])).dtype, "bf16");
  for (const d of ["f32", "bf16"] as const) assert.equal(attend(d, d).dtype, "f32");
  expectError(() => attend("f32", "bf16"), DTypeError, "E_DTYPE", ["paged_attention vcache", "f32", "bf16"]);
  expectError(() => attend("f16", "f16"), DTypeError, "E_DTYPE", ["paged_attention", "f16"]);
});
