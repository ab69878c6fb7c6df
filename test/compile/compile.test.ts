import assert from "node:assert/strict";
import { afterEach, test } from "node:test";
import {
  ArgumentError, DTypeError, Linear, exp, RecompileError, ShapeError, compile, interpret, matmul, randn, relu, setLogSink, setStance,
  tensor, trace, type Tensor,
} from "../../src/index.js";
import { assertAllClose } from "../helpers/assert-close.js";
import { DecoderBlock, TINY_BLOCK } from "../nn/decoder-block.js";

afterEach(() => setStance("default"));

test("acceptance 2: a compiled decoder block equals the reference interpreter and eager (f32, rtol 1e-5)", () => {
  const block = new DecoderBlock(TINY_BLOCK);
  const x = randn([11, TINY_BLOCK.hidden], { seed: 5 });
  const compiled = compile(block, { dynamic: { 0: [0] } });
  const got = compiled(x);
  const eager = block.forward(x);
  const traced = trace(block, [x], { dynamic: { 0: [0] } });
  const reference = interpret(traced.graph, [x, ...block.namedTensorSlots().map((s) => s.get())])[0]!;
  assertAllClose(got, reference, { rtol: 1e-5, atol: 1e-6 });
  assertAllClose(got, eager, { rtol: 1e-5, atol: 1e-6 });
  assert.ok(compiled.lastCompileReport!.kernels > 1);
});

test("acceptance 3: traced at 7 tokens, runs at 1, 3, 64 and 513 with one compile", () => {
  const block = new DecoderBlock(TINY_BLOCK, 3);
  const compiled = compile(block, { dynamic: { 0: [0] } });
  for (const n of [7, 1, 3, 64, 513]) {
    const x = randn([n, TINY_BLOCK.hidden], { seed: n });
    assertAllClose(compiled(x), block.forward(x), { rtol: 1e-5, atol: 1e-6 });
  }
  assert.equal(compiled.stats.compiles, 1);
  assert.equal(compiled.stats.traces, 1);
  assert.equal(compiled.stats.cacheHits, 4);
});

const mlp = (x: Tensor, w: Tensor) => relu(matmul(x, w));

test("acceptance 4: fail_on_recompile throws on a new static shape, naming the guard", () => {
  const f = compile(mlp);
  const w = randn([4, 3], { seed: 1 });
  f(randn([2, 4]), w);
  setStance("fail_on_recompile");
  f(randn([2, 4]), w); // same shapes: no compile needed
  assert.throws(
    () => f(randn([5, 4]), w),
    (e: unknown) => e instanceof RecompileError && e.guard.includes("shape[0]") && e.expected === "2" && e.got === "5",
  );
  assert.equal(f.stats.compiles, 1);
});

test("acceptance 4: default recompiles; past the limit it falls back to eager with one warning", () => {
  const lines: string[] = [];
  const prev = setLogSink((l) => lines.push(l));
  try {
    const f = compile(mlp, { recompileLimit: 2 });
    const w = randn([4, 3], { seed: 1 });
    for (const n of [1, 2, 3, 4]) {
      const x = randn([n, 4], { seed: n });
      assertAllClose(f(x, w), mlp(x, w));
    }
    assert.equal(f.stats.compiles, 2);
    assert.equal(f.stats.eagerFallbacks, 2);
    assert.equal(lines.filter((l) => l.includes("recompile limit")).length, 1);
  } finally {
    setLogSink(prev);
  }
});

test("the eager stance runs the original function", () => {
  const f = compile(mlp);
  setStance("eager");
  const x = randn([2, 4]);
  const w = randn([4, 3]);
  assertAllClose(f(x, w), mlp(x, w));
  assert.equal(f.stats.compiles, 0);
});

test("weights are inputs: loading new weights after compiling changes the output without a recompile", () => {
  const lin = new Linear(4, 3, { seed: 1 });
  const f = compile(lin);
  const x = randn([2, 4], { seed: 2 });
  f(x);
  lin.loadStateDict({ weight: randn([3, 4], { seed: 9 }) });
  assertAllClose(f(x), lin.forward(x));
  assert.equal(f.stats.compiles, 1);
});

test("acceptance 6: bad input gives typed errors naming what is wrong", () => {
  const f = compile(mlp);
  const w = randn([4, 3]);
  assert.throws(() => f(randn([2, 5]), w), (e: unknown) => e instanceof ShapeError && /matmul/.test(e.message) && /5/.test(e.message));
  const g = compile(mlp);
  g(randn([2, 4]), w);
  setStance("fail_on_recompile");
  assert.throws(() => g(randn([2, 4, 1]), w), (e: unknown) => e instanceof RecompileError && e.guard.includes("rank"));
  assert.throws(() => (g as (...a: Tensor[]) => Tensor)(randn([2, 4]), w, w), (e: unknown) => e instanceof RecompileError && e.guard === "len(args)");
  setStance("default");
  // Too few arguments on a first call: the op that misses its tensor says so.
  assert.throws(() => (compile(mlp) as (...a: Tensor[]) => Tensor)(randn([2, 4])), (e: unknown) => e instanceof ArgumentError && /matmul: expected a Tensor, got undefined/.test(e.message));
  assert.throws(() => compile((x: Tensor) => exp(x))(tensor([1, 2], { dtype: "i32" })), (e: unknown) => e instanceof DTypeError && /exp/.test(e.message) && /i32/.test(e.message));
  assert.throws(() => tensor([1], { dtype: "f64" as never }), (e: unknown) => e instanceof DTypeError && /f64/.test(e.message));
  assert.throws(() => compile(42 as never), ArgumentError);
});
