import assert from "node:assert/strict";
import { afterEach, test } from "node:test";
import {
  ArgumentError, DTypeError, Linear, Module, Parameter, RecompileError, ShapeError, type Tensor, add, compile, exp, interpret, matmul, mul, randn, relu,
  setLogSink, setStance, tensor, trace,
} from "../../src/index.js";
import { assertAllClose } from "../helpers/assert-close.js";
import { DecoderBlock, TINY_BLOCK } from "../nn/decoder-block.js";

afterEach(() => setStance("default"));

/** Runs `fn` with log lines captured. */
function captureLog<T>(fn: () => T): { result: T; lines: string[] } {
  const lines: string[] = [];
  const prev = setLogSink((l) => lines.push(l));
  try {
    return { result: fn(), lines };
  } finally {
    setLogSink(prev);
  }
}

test("acceptance 2: a compiled decoder block equals the reference interpreter and eager (f32, rtol 1e-5)", () => {
  const block = new DecoderBlock(TINY_BLOCK);
  const x = randn([11, TINY_BLOCK.hidden], { seed: 5 });
  const compiled = compile(block, { dynamic: { 0: [0] }, backend: "js" });
  const got = compiled(x);
  const eager = block.forward(x);
  const traced = trace(block, [x], { dynamic: { 0: [0] } });
  assert.deepEqual(traced.graph.inputs.map((n) => String(n.attrs.name)), ["x", ...block.namedTensorSlots().map((s) => s.name)]);
  const reference = interpret(traced.graph, [x, ...block.namedTensorSlots().map((s) => s.get())])[0]!;
  assertAllClose(got, reference, { rtol: 1e-5, atol: 1e-6 });
  assertAllClose(got, eager, { rtol: 1e-5, atol: 1e-6 });
  const report = compiled.lastCompileReport!;
  assert.equal(report.backend, "js");
  assert.ok(report.kernels > 1);
  for (const phase of ["trace", "passes", "codegen", "load"] as const) assert.ok(Number.isFinite(report[phase]) && report[phase] >= 0, phase);
  // compile() leaves the module's own forward alone.
  assert.equal(block.forward, DecoderBlock.prototype.forward);
});

test("acceptance 3: traced at 7 tokens, runs at 1, 3, 64 and 513 with one compile", () => {
  const block = new DecoderBlock(TINY_BLOCK, 3);
  const compiled = compile(block, { dynamic: { x: [0] }, backend: "js" });
  for (const n of [7, 1, 3, 64, 513]) {
    const x = randn([n, TINY_BLOCK.hidden], { seed: n });
    assertAllClose(compiled(x), block.forward(x), { rtol: 1e-5, atol: 1e-6 });
  }
  assert.deepEqual({ ...compiled.stats, nativeCalls: 0 }, { calls: 5, traces: 1, compiles: 1, cacheHits: 4, guardFailures: 0, eagerFallbacks: 0, nativeCalls: 0 });
});

const mlp = (x: Tensor, w: Tensor) => relu(matmul(x, w));

test("acceptance 4: fail_on_recompile throws on a new static shape, naming the guard", () => {
  const f = compile(mlp, { backend: "js" });
  const w = randn([4, 3], { seed: 1 });
  f(randn([2, 4]), w);
  setStance("fail_on_recompile");
  f(randn([2, 4]), w); // same shapes: no compile needed
  assert.throws(
    () => f(randn([5, 4]), w),
    (e: unknown) => e instanceof RecompileError && e.guard === "x (argument 0).shape[0]" && e.expected === "2" && e.got === "5" && /mlp/.test(e.message),
  );
  assert.deepEqual([f.stats.compiles, f.stats.cacheHits, f.stats.guardFailures], [1, 1, 1]);
});

test("acceptance 4: default recompiles; past the limit it falls back to eager with one warning", () => {
  const f = compile(mlp, { recompileLimit: 2, backend: "js" });
  const w = randn([4, 3], { seed: 1 });
  const { lines } = captureLog(() => {
    for (const n of [1, 2, 3, 4, 1, 2]) {
      const x = randn([n, 4], { seed: n });
      assertAllClose(f(x, w), mlp(x, w));
    }
  });
  assert.deepEqual({ ...f.stats, nativeCalls: 0 }, { calls: 6, traces: 2, compiles: 2, cacheHits: 2, guardFailures: 3, eagerFallbacks: 2, nativeCalls: 0 });
  assert.equal(lines.filter((l) => l.includes("recompile limit (2) reached")).length, 1);
  assert.equal(lines.filter((l) => /recompiled mlp \(2 of 2\): guard x \(argument 0\)\.shape\[0\] expected 1, got 2/.test(l)).length, 1);
});

test("the eager stance runs the original function", () => {
  let runs = 0;
  const counted = (x: Tensor, w: Tensor) => {
    runs++;
    return mlp(x, w);
  };
  const f = compile(counted, { backend: "js" });
  setStance("eager");
  const x = randn([2, 4]);
  const w = randn([4, 3]);
  assertAllClose(f(x, w), mlp(x, w));
  assert.equal(runs, 1);
  assert.equal(f.stats.compiles, 0);
  setStance("default");
  f(x, w);
  assert.equal(f.stats.compiles, 1);
  assert.throws(() => setStance("lazy" as never), ArgumentError);
});

test("guards: dtype, dynamic range, duck-sized dims and specialised values each send a call to a new entry", () => {
  const scaled = (x: Tensor, y: Tensor, k: number) => mul(add(x, y), k);
  const f = compile(scaled, { dynamic: { x: { 0: { min: 1, max: 16 } }, y: [0] }, backend: "js" });
  const a = randn([5, 3], { seed: 1 });
  const b = randn([5, 3], { seed: 2 });
  f(a, b, 2);
  f(randn([9, 3]), randn([9, 3]), 2); // within the range: same entry
  assert.equal(f.stats.compiles, 1);
  setStance("fail_on_recompile");
  const failure = (args: unknown[]) => {
    try {
      (f as (...a: unknown[]) => Tensor)(...args);
    } catch (e) {
      assert.ok(e instanceof RecompileError);
      return `${e.guard}: expected ${e.expected}, got ${e.got}`;
    }
    return "no failure";
  };
  assert.equal(failure([randn([20, 3]), randn([20, 3]), 2]), "s0 in [1, 16]: expected 1..16, got 20");
  assert.equal(failure([randn([5, 3]), randn([6, 3]), 2]), "y (argument 1).shape[0] == s0: expected 5, got 6");
  assert.equal(failure([a, b, 3]), "k (argument 2) == 2: expected 2, got 3");
  assert.equal(failure([a, tensor([[1, 2, 3]], { dtype: "bf16" }), 2]), "y (argument 1).dtype: expected f32, got bf16");
  assert.equal(failure([randn([5, 3, 1]), b, 2]), "x (argument 0).rank: expected 2, got 3");
  setStance("default");
  assertAllClose(f(a, b, 3), scaled(a, b, 3));
  assertAllClose(f(a, b, 2), scaled(a, b, 2));
  assert.deepEqual([f.stats.compiles, f.stats.cacheHits], [2, 2]);
});

test("weights are inputs: loading new weights after compiling changes the output without a recompile", () => {
  const lin = new Linear(4, 3, { seed: 1 });
  const f = compile(lin, { backend: "js" });
  const x = randn([2, 4], { seed: 2 });
  f(x);
  lin.loadStateDict({ weight: randn([3, 4], { seed: 9 }) });
  assertAllClose(f(x), lin.forward(x));
  assert.equal(f.stats.compiles, 1);
});

test("module tensors are guarded: an untied, added or reshaped parameter recompiles and stays correct", () => {
  class Tied extends Module {
    a = new Linear(4, 4, { seed: 1 });
    b = new Linear(4, 4, { seed: 2 });
    constructor() {
      super();
      this.b.weight = this.a.weight;
    }
    forward(x: Tensor) {
      return add(this.a.forward(x), this.b.forward(x));
    }
  }
  const m = new Tied();
  const f = compile(m, { backend: "js" });
  const x = randn([2, 4], { seed: 3 });
  assertAllClose(f(x), m.forward(x));
  m.b.weight = new Parameter(randn([4, 4], { seed: 4 })); // untied: the traced graph read one input for both
  const { lines } = captureLog(() => assertAllClose(f(x), m.forward(x)));
  assert.match(lines.join("\n"), /guard b\.weight is a\.weight/);
  m.b.bias = new Parameter(randn([4], { seed: 5 })); // a new parameter: forward now adds a bias
  assertAllClose(f(x), m.forward(x));
  m.a = new Linear(4, 4, { seed: 6 });
  assertAllClose(f(x), m.forward(x)); // same names and shapes: served by the last entry with the new weights
  assert.deepEqual([f.stats.compiles, f.stats.cacheHits], [3, 1]);
  const lin = new Linear(4, 3, { seed: 1 });
  const g = compile(lin, { backend: "js" });
  g(x);
  lin.weight = new Parameter(randn([5, 4], { seed: 2 }));
  const { result, lines: relines } = captureLog(() => g(x));
  assert.deepEqual(result.shape, [2, 5]);
  assertAllClose(result, lin.forward(x));
  assert.match(relines.join("\n"), /guard weight\.shape expected \[3,4\], got \[5,4\]/);
});

test("a compiled function called while another function is traced is inlined into that trace", () => {
  const inner = compile((x: Tensor) => exp(x), { backend: "js" });
  const outer = compile((x: Tensor) => add(inner(x), 1), { backend: "js" });
  const x = randn([3], { seed: 1 });
  assertAllClose(outer(x), add(exp(x), 1));
  assert.equal(inner.stats.compiles, 0);
  assert.equal(outer.stats.compiles, 1);
  assert.ok(trace((t: Tensor) => inner(t), [x]).graph.nodes.some((n) => n.op === "exp"));
});

test("outputs keep their structure", () => {
  const f = compile((x: Tensor) => ({ y: mul(x, 2), parts: [x, add(x, 1)] }), { backend: "js" });
  const out = f(tensor([1, 2]));
  assert.deepEqual(out.y.toArray(), [2, 4]);
  assert.deepEqual(out.parts.map((t) => t.toArray()), [[1, 2], [2, 3]]);
});

test("acceptance 6: bad input gives typed errors naming what is wrong", () => {
  const w = randn([4, 3]);
  // Mismatched matmul dims on the first call: the shape rule names the op and both shapes.
  assert.throws(() => compile(mlp)(randn([2, 5]), w), (e: unknown) => e instanceof ShapeError && /^matmul/.test(e.message) && /\[2,5\]|5/.test(e.message));
  // Wrong rank: the decoder block's reshape cannot take a batch dim it was not written for.
  const block = new DecoderBlock(TINY_BLOCK);
  assert.throws(() => compile(block, { backend: "js" })(randn([1, 3, TINY_BLOCK.hidden])), (e: unknown) => e instanceof ShapeError && /reshape/.test(e.message));
  // Unknown dtype.
  assert.throws(() => compile((x: Tensor) => exp(x))(tensor([1, 2], { dtype: "i32" })), (e: unknown) => e instanceof DTypeError && /exp/.test(e.message) && /i32/.test(e.message));
  assert.throws(() => tensor([1], { dtype: "f64" as never }), (e: unknown) => e instanceof DTypeError && /f64/.test(e.message));
  // Wrong number of arguments, first call or later, in any stance.
  const g = compile(mlp, { backend: "js" }) as unknown as (...a: unknown[]) => Tensor;
  assert.throws(() => g(randn([2, 4])), (e: unknown) => e instanceof ArgumentError && /mlp: missing argument 'w': called with 1 of 2/.test(e.message));
  g(randn([2, 4]), w);
  assert.throws(() => g(randn([2, 4]), w, w), (e: unknown) => e instanceof ArgumentError && /mlp: takes 2 arguments \(x, w\), got 3/.test(e.message));
  setStance("fail_on_recompile");
  assert.throws(() => g(randn([2, 4]), w, w), ArgumentError);
  // A non-tensor where a tensor was traced.
  assert.throws(() => g(randn([2, 4]), 3), (e: unknown) => e instanceof ArgumentError && /argument 'w' \(1\) was traced as a Tensor \(f32\[4,3\]\), got 3/.test(e.message));
  setStance("default");
  assert.throws(() => g(randn([2, 4]), "w"), (e: unknown) => e instanceof ArgumentError && /got "w"/.test(e.message));
  assert.throws(() => g(randn([2, 4])), (e: unknown) => e instanceof ArgumentError && /missing argument 'w'/.test(e.message));
  assert.throws(() => compile(42 as never), ArgumentError);
  assert.throws(() => compile(mlp, { recompileLimit: 0 }), ArgumentError);
});
