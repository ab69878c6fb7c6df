// Tensor: creation from nested arrays, flat data and typed arrays; creation helpers; seeded randn;
// strided views that share storage; toArray, item, contiguous.
import assert from "node:assert/strict";
import { test } from "node:test";
import * as k from "../../src/ops/index.js";
import { Tensor, contiguousStrides, forEachStridedOffset, randn, tensor } from "../../src/tensor/index.js";
import { InternalError, ShapeError } from "../../src/util/index.js";

test("tensor() from nested arrays infers shape and dtype", () => {
  const a = tensor([[1, 2, 3], [4, 5, 6]]);
  assert.equal(a.dtype, "f32");
  assert.deepEqual(a.dims, [2, 3]);
  assert.deepEqual(a.strides, [3, 1]);
  assert.deepEqual(a.toArray(), [[1, 2, 3], [4, 5, 6]]);
  assert.equal(tensor([[true], [false]]).dtype, "bool");
  assert.deepEqual(tensor([[true], [false]]).toArray(), [[true], [false]]);
  assert.equal(tensor([5n, -2n]).dtype, "i64");
  assert.deepEqual(tensor([5n, -2n]).toArray(), [5, -2]);
  const s = tensor(2.5);
  assert.deepEqual(s.dims, []);
  assert.equal(s.item(), 2.5);
  assert.deepEqual(tensor([]).dims, [0]);
  assert.deepEqual(tensor([[], []]).dims, [2, 0]);
  assert.deepEqual(tensor([[[1]], [[2]]]).dims, [2, 1, 1]);
  assert.equal(tensor([0.1]).values()[0], Math.fround(0.1)); // stored as f32
});

test("tensor() with an explicit dtype rounds or truncates the values", () => {
  assert.deepEqual(tensor([1.7, -1.7], { dtype: "i32" }).toArray(), [1, -1]);
  assert.deepEqual(tensor([1 + 2 ** -8], { dtype: "bf16" }).toArray(), [1]);
  assert.deepEqual(tensor([0, 2, -1], { dtype: "bool" }).toArray(), [false, true, true]);
  assert.deepEqual(tensor([3], { dtype: "i64" }).storage, new BigInt64Array([3n]));
  assert.deepEqual(tensor([true, false], { dtype: "f16" }).toArray(), [1, 0]);
});

test("tensor() from flat data with a shape, and from typed arrays", () => {
  assert.deepEqual(tensor([1, 2, 3, 4, 5, 6], { shape: [3, 2] }).toArray(), [[1, 2], [3, 4], [5, 6]]);
  assert.deepEqual(tensor([7], { shape: [] }).toArray(), 7);
  assert.deepEqual(tensor([], { shape: [0, 4] }).dims, [0, 4]);
  const i = tensor(new Int32Array([1, -2, 3]));
  assert.equal(i.dtype, "i32");
  assert.deepEqual(i.toArray(), [1, -2, 3]);
  const f = tensor(new Float32Array([0.5, 1.5, 2.5, 3.5]), { shape: [2, 2] });
  assert.equal(f.dtype, "f32");
  assert.deepEqual(f.toArray(), [[0.5, 1.5], [2.5, 3.5]]);
  assert.equal(tensor(new BigInt64Array([9n])).dtype, "i64");
  assert.equal(tensor(new Uint8Array([1, 0])).dtype, "bool");
  assert.deepEqual(tensor(new Float64Array([0.1])).values(), new Float32Array([0.1])); // f64 data becomes f32
  assert.deepEqual(tensor(new Float32Array([1, 2]), { dtype: "bf16" }).toArray(), [1, 2]);
  // The data is copied: later writes to the source do not change the tensor.
  const src = new Float32Array([1, 2]);
  const t = tensor(src);
  src[0] = 99;
  assert.deepEqual(t.toArray(), [1, 2]);
});

test("zeros, ones, full and arange", () => {
  assert.deepEqual(k.zeros([2, 2]).toArray(), [[0, 0], [0, 0]]);
  assert.equal(k.zeros([1]).dtype, "f32");
  assert.deepEqual(k.ones([3], "i32").toArray(), [1, 1, 1]);
  assert.equal(k.ones([3], "i32").dtype, "i32");
  assert.deepEqual(k.full([2], 7, "i64").toArray(), [7, 7]);
  assert.deepEqual(k.full([], -1.5).toArray(), -1.5);
  assert.deepEqual(k.zeros([0, 5]).dims, [0, 5]);
  assert.deepEqual(k.arange(5).toArray(), [0, 1, 2, 3, 4]);
  assert.deepEqual(k.arange(2, 8, 3).toArray(), [2, 5]);
  assert.deepEqual(k.arange(0, 1, 0.5).toArray(), [0, 0.5]);
  assert.deepEqual(k.arange(3, undefined, 1, "bf16").dtype, "bf16");
});

test("randn is deterministic per seed, differs across seeds, and is roughly standard normal", () => {
  const a = randn([2, 3], { seed: 7 });
  const b = randn([2, 3], { seed: 7 });
  const c = randn([2, 3], { seed: 8 });
  assert.deepEqual(a.toArray(), b.toArray());
  assert.notDeepEqual(a.toArray(), c.toArray());
  assert.deepEqual(randn([3], { seed: 7 }).toArray(), Array.from(a.values()).slice(0, 3)); // a prefix of the same stream
  assert.deepEqual(randn([4]).toArray(), randn([4], { seed: 0 }).toArray()); // seed 0 by default
  const n = 20000;
  const v = Array.from(randn([n], { seed: 1 }).values());
  const mean = v.reduce((s, x) => s + x, 0) / n;
  const std = Math.sqrt(v.reduce((s, x) => s + (x - mean) ** 2, 0) / n);
  assert.ok(Math.abs(mean) < 0.03, `mean ${mean}`);
  assert.ok(Math.abs(std - 1) < 0.03, `std ${std}`);
  assert.ok(v.every(Number.isFinite));
  const within1 = v.filter((x) => Math.abs(x) < 1).length / n;
  assert.ok(Math.abs(within1 - 0.6827) < 0.02, `P(|x| < 1) = ${within1}`);
  const scaled = Array.from(randn([n], { seed: 1, mean: 3, std: 0.5 }).values());
  assert.ok(Math.abs(scaled.reduce((s, x) => s + x, 0) / n - 3) < 0.02);
  assert.equal(randn([2], { dtype: "bf16" }).dtype, "bf16");
});

test("permute, slice and expand are views sharing storage, and read correctly", () => {
  const x = tensor([[1, 2, 3], [4, 5, 6]]);
  const p = k.permute(x, [1, 0]);
  assert.equal(p.storage, x.storage);
  assert.deepEqual(p.strides, [1, 3]);
  assert.ok(!p.isContiguous());
  assert.deepEqual(p.toArray(), [[1, 4], [2, 5], [3, 6]]);
  const s = k.slice(x, 1, 1, null, 1);
  assert.equal(s.storage, x.storage);
  assert.equal(s.offset, 1);
  assert.deepEqual(s.toArray(), [[2, 3], [5, 6]]);
  const stepped = k.slice(tensor([0, 1, 2, 3, 4, 5]), 0, 1, null, 2);
  assert.deepEqual(stepped.strides, [2]);
  assert.deepEqual(stepped.toArray(), [1, 3, 5]);
  const e = k.expand(tensor([[1], [2]]), [2, 3]);
  assert.deepEqual(e.strides, [1, 0]);
  assert.equal(e.storage.length, 2);
  assert.deepEqual(e.toArray(), [[1, 1, 1], [2, 2, 2]]);
  // A view of a view.
  const pv = k.slice(p, 0, 1, 3);
  assert.equal(pv.storage, x.storage);
  assert.deepEqual(pv.toArray(), [[2, 5], [3, 6]]);
  // Reshape of a contiguous tensor is a view; of a strided one, a copy.
  assert.equal(k.reshape(x, [3, 2]).storage, x.storage);
  assert.notEqual(k.reshape(p, [6]).storage, x.storage);
  assert.deepEqual(k.reshape(p, [6]).toArray(), [1, 4, 2, 5, 3, 6]);
});

test("asStrided builds a raw view; contiguous() copies only when needed", () => {
  const x = tensor([0, 1, 2, 3, 4, 5]);
  const v = x.asStrided([2, 2], [1, 2], 1); // [[1, 3], [2, 4]]
  assert.deepEqual(v.toArray(), [[1, 3], [2, 4]]);
  const c = v.contiguous();
  assert.notEqual(c.storage, x.storage);
  assert.deepEqual(c.strides, [2, 1]);
  assert.equal(c.offset, 0);
  assert.deepEqual(c.toArray(), [[1, 3], [2, 4]]);
  assert.equal(x.contiguous(), x);
  assert.deepEqual(Array.from(x.asStrided([3], [1], 3).contiguous().storage as Float32Array), [3, 4, 5]);
  // Size-1 dims do not break contiguity whatever their stride.
  assert.ok(x.asStrided([1, 6], [99, 1], 0).isContiguous());
  assert.deepEqual(contiguousStrides([2, 3, 4]), [12, 4, 1]);
  const seen: [number, number][] = [];
  forEachStridedOffset([2, 2], [1, 2], 1, (o, i) => seen.push([o, i]));
  assert.deepEqual(seen, [[1, 0], [3, 1], [2, 2], [4, 3]]);
});

test("values(), toArray() and item() by dtype", () => {
  assert.ok(tensor([1], { dtype: "bf16" }).values() instanceof Float32Array);
  assert.ok(tensor([1], { dtype: "i64" }).values() instanceof Float64Array);
  assert.ok(tensor([1], { dtype: "i32" }).values() instanceof Int32Array);
  assert.ok(tensor([true]).values() instanceof Uint8Array);
  assert.equal(tensor([[3]], { dtype: "i32" }).item(), 3);
  assert.equal(tensor([true]).item(), 1);
  assert.equal(tensor([2 ** 40], { dtype: "i64" }).item(), 2 ** 40);
  assert.throws(() => tensor([1, 2]).item(), (e) => e instanceof ShapeError && e.message.includes("item") && e.message.includes("[2]"));
  assert.throws(() => k.zeros([0]).item(), ShapeError);
  assert.deepEqual(k.zeros([2, 0, 1]).toArray(), [[], []]);
  assert.deepEqual(tensor([1.5, 2]).toFlatArray(), [1.5, 2]);
  assert.equal(String(tensor([[1, 2]], { dtype: "f16" })), "Tensor(f16[1,2])");
  assert.equal(tensor([1, 2]).size, 2);
  assert.equal(tensor([[1, 2]]).rank, 2);
});

test("the Tensor constructor checks its shape against its storage", () => {
  assert.throws(() => new Tensor("f32", [3], new Float32Array(2)), (e) => e instanceof ShapeError && e.message.includes("at most 2 elements"));
  assert.throws(() => new Tensor("f32", [-1], new Float32Array(2)), ShapeError);
  assert.throws(() => new Tensor("f32", [1.5], new Float32Array(2)), ShapeError);
  const abstract = new Tensor("f32", [2], null);
  assert.ok(!abstract.isConcrete);
  assert.throws(() => abstract.values(), InternalError);
  assert.deepEqual(Tensor.fromValues("i32", [2], [1.9, -1.9]).toArray(), [1, -1]);
});

test("a one-element tensor converts to a number; comparing a larger one is a typed error, not a silent false", () => {
  const one = tensor([2.5]);
  assert.equal(+one, 2.5);
  assert.equal((one as unknown as number) > 2, true); // TypeScript forbids it; JavaScript users may still write it

  assert.equal(`${one}`, "Tensor(f32[1])");
  assert.throws(() => tensor([1, 2]) > tensor([0]), (e: unknown) => e instanceof ShapeError && /one element/.test(e.message));
});

test("deferred storage: zeros allocated on first use, shared by the tensors that wrap it, never by reading dims", async () => {
  const { DeferredStorage, Tensor } = await import("../../src/tensor/index.js");
  const { Linear, Parameter } = await import("../../src/nn/index.js");
  const deferred = new DeferredStorage("f32", 6);
  const t = new Tensor("f32", [2, 3], deferred);
  const p = new Parameter(t);
  assert.deepEqual(p.dims, [2, 3]);
  assert.equal(p.heldStorage, deferred, "reading dims or wrapping must not allocate");
  assert.deepEqual([...p.values()], [0, 0, 0, 0, 0, 0]);
  (t.storage as Float32Array)[4] = 7; // the wrapper and the wrapped share the one allocation
  assert.equal(p.values()[4], 7);
  // A layer built to be loaded holds no memory for its weight until something reads it.
  const layer = new Linear(4096, 4096, { init: "empty" });
  assert.ok(layer.weight.heldStorage instanceof DeferredStorage);
  assert.throws(() => new Tensor("f32", [4, 4], new DeferredStorage("f32", 3)), /at most 3 elements/);
});
