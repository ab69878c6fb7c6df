// A loaded native object: one native call per run (several kernels inside), the thread pool, the arena, errors.
import assert from "node:assert/strict";
import { test } from "node:test";
import {
  NativeBuilder, assembleNativeSource, loadNativeModule, napiGlue, physicalCoreCount, runtimeInputs,
} from "../../src/backend/native/index.js";
import { buildWithRuntime } from "./kernel-entry.js";
import { hasToolchain } from "../../src/backend/index.js";
import { ArgumentError } from "../../src/util/index.js";

const skip = hasToolchain() ? false : "no C compiler or Node's N-API headers (see KILN_CC)";

/**
 * kiln_run runs three "kernels" in one call: a parallel-for marking every index once, a parallel region recording
 * which threads ran, and an arena reservation (alignment reported back). syms: n, grain, arena bytes, fail?
 * bufs: int32 hits[n], f64 out[KILN_MAX_THREADS + 2].
 */
const CODE = String.raw`
static void mark(void* ctx, int64_t lo, int64_t hi) {
  int32_t* hits = (int32_t*)ctx;
  for (int64_t i = lo; i < hi; i++) hits[i] += 1;
}
static void who(void* ctx, int tid, int nth) { ((double*)ctx)[2 + tid] = nth; }
static void kiln_run(void** bufs, const int64_t* syms) {
  double* out = (double*)bufs[1];
  kiln_parallel_for(syms[0], syms[1], mark, bufs[0]);
  kiln_parallel(who, out);
  unsigned char* block = (unsigned char*)kiln_arena_reserve(&kiln_default_arena, (size_t)syms[2]);
  if (!block) return;
  memset(block, 1, (size_t)syms[2]);
  out[0] = (double)((uintptr_t)block % 64);
  out[1] = kiln_num_threads();
  if (syms[3]) kiln_fail("kiln_run: failure requested by the test");
}
static void kiln_other(void** bufs, const int64_t* syms) { ((double*)bufs[0])[0] = (double)syms[0] * 2; }
`;

const builder = skip ? undefined : new NativeBuilder({ jobs: 2 });
const source = (tag: string) =>
  assembleNativeSource({
    code: `${CODE}/* ${tag} */`,
    entries: [{ name: "run", symbol: "kiln_run", buffers: 2, symbols: 4 }, { name: "other", symbol: "kiln_other" }],
  });

test("one run is exactly one native call, however many kernels it runs", { skip }, async () => {
  const mod = loadNativeModule(await buildWithRuntime(builder!, source("main")));
  assert.deepEqual([...mod.entries].sort(), ["other", "run"]);
  const n = 100_003;
  const hits = new Int32Array(n);
  const out = new Float64Array(258);
  const before = mod.calls;
  for (let r = 1; r <= 3; r++) {
    mod.run([hits, out], [n, 7, 1000 * r, 0]);
    assert.equal(mod.calls, before + r);
  }
  assert.ok(hits.every((h) => h === 3), "every index is visited exactly once per parallel-for");
  assert.equal(out[0], 0, "the arena block is 64-byte aligned");
  assert.ok(mod.arenaBytes >= 3000);
  mod.call("other", [out], BigInt64Array.of(21n));
  assert.equal(out[0], 42);
  assert.equal(mod.calls, before + 4);
});

test("the pool runs a parallel region on every thread and follows `threads`", { skip }, async () => {
  const mod = loadNativeModule(await buildWithRuntime(builder!, source("main")));
  const saved = mod.threads;
  try {
    for (const threads of [1, 2, 3]) {
      mod.threads = threads;
      const hits = new Int32Array(50_000);
      const out = new Float64Array(258).fill(-1);
      mod.run([hits, out], [hits.length, 64, 64, 0]);
      assert.equal(out[1], threads);
      assert.deepEqual([...out.slice(2, 2 + threads)], Array(threads).fill(threads), `all ${threads} threads took part`);
      assert.equal(out[2 + threads], -1);
      assert.ok(hits.every((h) => h === 1));
    }
    assert.throws(() => (mod.threads = 0), ArgumentError);
  } finally {
    mod.threads = saved;
  }
});

test("a failing kernel throws after the call, and bad arguments are refused before it", { skip }, async () => {
  const mod = loadNativeModule(await buildWithRuntime(builder!, source("main")));
  const hits = new Int32Array(10);
  const out = new Float64Array(258);
  const before = mod.calls;
  assert.throws(() => mod.run([hits, out], [10, 1, 64, 1]), /failure requested by the test/);
  assert.equal(mod.calls, before + 1);
  mod.run([hits, out], [10, 1, 64, 0]); // the error does not stick
  assert.throws(() => mod.run([hits], [10, 1, 64, 0]), /expected 2 buffers, got 1/);
  assert.throws(() => mod.run([hits, [1, 2] as unknown as Float64Array], [10, 1, 64, 0]), /buffer 1 is not a typed array/);
  assert.throws(() => mod.run([hits, out], [10, 1]), /BigInt64Array of 4 symbol values/);
  assert.throws(() => mod.call("missing", []), ArgumentError);
  assert.equal(mod.calls, before + 2);
});

test("a new object starts with KILN_NUM_THREADS threads, else the physical core count", { skip }, async () => {
  const saved = process.env.KILN_NUM_THREADS;
  try {
    process.env.KILN_NUM_THREADS = "3";
    const a = await buildWithRuntime(builder!, source("threads-env"));
    assert.equal(loadNativeModule(a).threads, 3);
    delete process.env.KILN_NUM_THREADS;
    const b = builder!.buildSync(source("threads-default"), runtimeInputs(builder!));
    assert.equal(loadNativeModule(b).threads, physicalCoreCount());
  } finally {
    if (saved === undefined) delete process.env.KILN_NUM_THREADS;
    else process.env.KILN_NUM_THREADS = saved;
  }
});

test("the glue refuses entry names that are not identifiers or clash", () => {
  assert.throws(() => napiGlue([{ name: "calls", symbol: "f" }]), ArgumentError);
  assert.throws(() => napiGlue([{ name: "run", symbol: "f(); evil" }]), ArgumentError);
  assert.throws(() => napiGlue([{ name: "a", symbol: "f" }, { name: "a", symbol: "g" }]), ArgumentError);
});
