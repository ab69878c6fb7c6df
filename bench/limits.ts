// The machine's limits, measured in the run that reports against them: the f32 FMA peak (a tuned
// loop of 12 independent FMA chains per thread) and memory bandwidth (the best of a plain read,
// a prefetching read and a STREAM triad over buffers far larger than the caches).
import { NativeBuilder, loadNativeModule } from "../src/backend/native/index.js";
import { buildWithRuntime, kernelEntrySource } from "../test/backend-native/kernel-entry.js";

export const LIMIT_PROBES_C = String.raw`
typedef struct { int64_t iters; double* out; } bench_peak_job;
static void bench_peak_task(void* p, int tid, int nth) {
  (void)nth;
  const bench_peak_job* job = (const bench_peak_job*)p;
  kv m = kv_set1(0.999999f), c = kv_set1(1e-7f);
  kv a0 = kv_set1(0.01f * tid), a1 = kv_set1(0.1f), a2 = kv_set1(0.2f), a3 = kv_set1(0.3f), a4 = kv_set1(0.4f), a5 = kv_set1(0.5f);
  kv a6 = kv_set1(0.6f), a7 = kv_set1(0.7f), a8 = kv_set1(0.8f), a9 = kv_set1(0.9f), a10 = kv_set1(1.0f), a11 = kv_set1(1.1f);
  for (int64_t i = 0; i < job->iters; i++) {
    a0 = kv_fma(a0, m, c); a1 = kv_fma(a1, m, c); a2 = kv_fma(a2, m, c); a3 = kv_fma(a3, m, c);
    a4 = kv_fma(a4, m, c); a5 = kv_fma(a5, m, c); a6 = kv_fma(a6, m, c); a7 = kv_fma(a7, m, c);
    a8 = kv_fma(a8, m, c); a9 = kv_fma(a9, m, c); a10 = kv_fma(a10, m, c); a11 = kv_fma(a11, m, c);
  }
  kv s = kv_add(kv_add(kv_add(a0, a1), kv_add(a2, a3)), kv_add(kv_add(a4, a5), kv_add(a6, a7)));
  job->out[tid] = kv_sum(kv_add(s, kv_add(kv_add(a8, a9), kv_add(a10, a11))));
}
/* bufs: f64 out[threads], f64 lanes[1]; syms: iterations. flops = iterations * 12 * 2 * KV_LANES per thread. */
static void bench_peak(void** bufs, const int64_t* syms) {
  bench_peak_job job = {syms[0], (double*)bufs[0]};
  kiln_parallel(bench_peak_task, &job);
  ((double*)bufs[1])[0] = KV_LANES;
}
typedef struct { const float* a; int64_t n; double* out; int64_t prefetch; } bench_read_job;
static void bench_read_task(void* p, int tid, int nth) {
  const bench_read_job* job = (const bench_read_job*)p;
  int64_t per = job->n / nth / 64 * 64, lo = per * tid, hi = tid == nth - 1 ? job->n : lo + per;
  kv s0 = kv_zero(), s1 = kv_zero(), s2 = kv_zero(), s3 = kv_zero();
  int64_t i = lo;
  for (; i + 4 * KV_LANES <= hi; i += 4 * KV_LANES) {
    if (job->prefetch) for (int l = 0; l < 4 * KV_LANES * 4; l += 64) KILN_PREFETCH_L2((const char*)(job->a + i) + 4096 + l);
    s0 = kv_add(s0, kv_load(job->a + i));
    s1 = kv_add(s1, kv_load(job->a + i + KV_LANES));
    s2 = kv_add(s2, kv_load(job->a + i + 2 * KV_LANES));
    s3 = kv_add(s3, kv_load(job->a + i + 3 * KV_LANES));
  }
  float t = kv_sum(kv_add(kv_add(s0, s1), kv_add(s2, s3)));
  for (; i < hi; i++) t += job->a[i];
  job->out[tid] = t;
}
/* bufs: f32 a[n], f64 out[threads]; syms: n, prefetch (into L2, 4 KiB ahead). Reads every byte of a once. */
static void bench_read(void** bufs, const int64_t* syms) {
  bench_read_job job = {(const float*)bufs[0], syms[0], (double*)bufs[1], syms[1]};
  kiln_parallel(bench_read_task, &job);
}
`;

export interface MachineLimits {
  readonly threads: number;
  /** f32 FMA GFLOP/s on all threads. */
  readonly peakGflops: number;
  /** Read bandwidth, GB/s. */
  readonly bandwidthGBs: number;
}

function bestSeconds(fn: () => void, reps: number): number {
  fn();
  let best = Infinity;
  for (let r = 0; r < reps; r++) {
    const t0 = performance.now();
    fn();
    best = Math.min(best, (performance.now() - t0) / 1000);
  }
  return best;
}

export async function measureLimits(reps = 5): Promise<MachineLimits> {
  const built = await buildWithRuntime(new NativeBuilder(), kernelEntrySource(LIMIT_PROBES_C, [{ name: "peak", symbol: "bench_peak" }, { name: "read", symbol: "bench_read" }]));
  const mod = loadNativeModule(built);
  const threads = mod.threads;
  const out = new Float64Array(256);
  const lanes = new Float64Array(1);
  const iters = 4_000_000;
  const peakS = bestSeconds(() => mod.call("peak", [out, lanes], [iters]), reps);
  const peakGflops = (iters * 12 * 2 * lanes[0]! * threads) / peakS / 1e9;
  const big = new Float32Array(128 * 2 ** 20).fill(1); // 512 MiB
  const read = (prefetch: number) => big.byteLength / bestSeconds(() => mod.call("read", [big, out], [big.length, prefetch]), reps) / 1e9;
  const bandwidthGBs = Math.max(read(0), read(1));
  return { threads, peakGflops, bandwidthGBs };
}
