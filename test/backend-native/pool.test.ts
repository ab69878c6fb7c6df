// The pool's claimed ranges (kiln_parallel_for_chunks): back to back with task regions, at odd sizes, grains and
// chunk counts, every index is visited exactly once, every range starts at a multiple of the grain and is a multiple
// of it long (but the last), and nothing is lost when range jobs follow each other faster than a worker wakes.
import assert from "node:assert/strict";
import { test } from "node:test";
import { NativeBuilder, assembleNativeSource, loadNativeModule } from "../../src/backend/native/index.js";
import { buildWithRuntime } from "./kernel-entry.js";
import { hasToolchain } from "../../src/backend/index.js";

const skip = hasToolchain() ? false : "no C compiler or Node's N-API headers (see KILN_CC)";

/** syms: reps, n_max. bufs: int32 hits[n_max], f64 out[2 + KILN_MAX_THREADS] (out[0]: bad ranges; out[1]: sum of n). */
const CODE = String.raw`
typedef struct { int32_t* hits; int64_t n, grain; double* out; int32_t* bad; } pool_job;
static void mark(void* ctx, int64_t lo, int64_t hi) {
  pool_job* j = (pool_job*)ctx;
  if (lo % j->grain != 0 || lo >= hi || hi > j->n || ((hi - lo) % j->grain != 0 && hi != j->n)) __atomic_fetch_add(j->bad, 1, __ATOMIC_RELAXED);
  for (int64_t i = lo; i < hi; i++) j->hits[i] += 1;
}
static void who(void* ctx, int tid, int nth) { (void)nth; ((double*)ctx)[2 + tid] += 1; }
static void kiln_run(void** bufs, const int64_t* syms) {
  double* out = (double*)bufs[1];
  uint32_t s = 12345;
  int32_t bad = 0;
  for (int64_t r = 0; r < syms[0]; r++) {
    s = s * 1664525u + 1013904223u;
    int64_t n = 1 + (int64_t)(s >> 8) % syms[1];
    s = s * 1664525u + 1013904223u;
    int64_t grain = 1 + (int64_t)(s >> 8) % 97, per = 1 + (int64_t)(s >> 20) % 5;
    pool_job j = {(int32_t*)bufs[0], n, grain, out, &bad};
    out[1] += (double)n;
    kiln_parallel_for_chunks(n, grain, per, mark, &j);
    if (r % 7 == 0) kiln_parallel(who, out);
  }
  out[0] = bad;
}
`;

test("claimed ranges cover [0, n) once each, on 1, 2 and 3 threads, between task regions", { skip }, async () => {
  const builder = new NativeBuilder({ jobs: 2 });
  const source = assembleNativeSource({ code: CODE, entries: [{ name: "run", symbol: "kiln_run", buffers: 2, symbols: 2 }] });
  const mod = loadNativeModule(await buildWithRuntime(builder, source));
  const saved = mod.threads;
  try {
    for (const threads of [1, 2, 3]) {
      mod.threads = threads;
      const nMax = 5003, reps = 3000;
      const hits = new Int32Array(nMax);
      const out = new Float64Array(258);
      const jobs = mod.parallelJobs;
      mod.run([hits, out], [reps, nMax]);
      assert.equal(out[0], 0, "every range is whole grains from a grain boundary");
      assert.equal(hits.reduce((a, b) => a + b, 0), out[1], "every index visited once per job");
      const regions = Math.ceil(reps / 7);
      for (let t = 0; t < threads; t++) assert.equal(out[2 + t], regions, `thread ${t} ran every task region`);
      if (threads > 1) assert.ok(mod.parallelJobs - jobs > reps / 2, "range jobs went to the pool");
    }
  } finally {
    mod.threads = saved;
  }
});
