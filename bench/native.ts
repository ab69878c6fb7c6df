// `npm run bench -- native [--reps n] [--threads n]`: the machine's limits measured in this run (f32 FMA peak, memory
// bandwidth, thread-pool dispatch cost next to OpenMP's), then the GEMM, GEMV and paged-attention templates as ratios
// to those limits.
// Every figure is the best of n timed runs. Tables, then one JSON line.
import { NativeBuilder, detectCpuFeatures, findCCompiler, loadNativeModule } from "../src/backend/native/index.js";
import { type AttentionCall, attentionArgs } from "../test/backend-native/attention-entry.js";
import { buildWithRuntime, kernelEntrySource, kernelSymbols, type KernelName } from "../test/backend-native/kernel-entry.js";
import { printJsonLine, printTable, type Row } from "./report.js";
import { LIMIT_PROBES_C } from "./limits.js";

/** Probes run inside the same object as the kernels (same flags, same thread pool). */
/** A monotonic clock for the probes. */
const NOW_C = String.raw`
#include <time.h>
static int64_t bench_now_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}
`;

const PROBES_C = NOW_C + LIMIT_PROBES_C + String.raw`
typedef struct { float* a; const float* b; const float* c; } bench_triad_job;
static void bench_triad_range(void* p, int64_t lo, int64_t hi) {
  const bench_triad_job* job = (const bench_triad_job*)p;
  for (int64_t i = lo; i < hi; i++) job->a[i] = job->b[i] + 3.0f * job->c[i];
}
/* bufs: f32 a, b, c [n]; syms: n (STREAM triad: 3 * n * 4 bytes). */
static void bench_triad(void** bufs, const int64_t* syms) {
  bench_triad_job job = {(float*)bufs[0], (const float*)bufs[1], (const float*)bufs[2]};
  kiln_parallel_for(syms[0], 4096, bench_triad_range, &job);
}

static void bench_empty_task(void* p, int tid, int nth) { (void)p; (void)tid; (void)nth; }
static void bench_small_range(void* p, int64_t lo, int64_t hi) {
  float* x = (float*)p;
  for (int64_t i = lo; i < hi; i++) x[i] = x[i] * 0.5f + 1.0f;
}
/* bufs: f64 out[2], f32 x[n]; syms: reps, n. out = ns per empty parallel region, ns per small parallel-for. */
static void bench_pool(void** bufs, const int64_t* syms) {
  double* out = (double*)bufs[0];
  int64_t t0 = bench_now_ns();
  for (int64_t r = 0; r < syms[0]; r++) kiln_parallel(bench_empty_task, NULL);
  int64_t t1 = bench_now_ns();
  for (int64_t r = 0; r < syms[0]; r++) kiln_parallel_for(syms[1], 64, bench_small_range, bufs[1]);
  int64_t t2 = bench_now_ns();
  out[0] = (double)(t1 - t0) / (double)syms[0];
  out[1] = (double)(t2 - t1) / (double)syms[0];
}
`;

/** The same two measurements with OpenMP (built with -fopenmp), for the pool-or-OpenMP decision. */
const OMP_C = NOW_C + String.raw`
/* bufs: f64 out[2], f32 x[n]; syms: reps, n, threads. */
static void bench_omp(void** bufs, const int64_t* syms) {
  double* out = (double*)bufs[0];
  float* x = (float*)bufs[1];
  int64_t reps = syms[0], n = syms[1];
  int threads = (int)syms[2];
  int64_t t0 = bench_now_ns();
  for (int64_t r = 0; r < reps; r++) {
    #pragma omp parallel num_threads(threads)
    { __asm__ __volatile__("" ::: "memory"); }
  }
  int64_t t1 = bench_now_ns();
  for (int64_t r = 0; r < reps; r++) {
    #pragma omp parallel for num_threads(threads) schedule(static)
    for (int64_t i = 0; i < n; i++) x[i] = x[i] * 0.5f + 1.0f;
  }
  int64_t t2 = bench_now_ns();
  out[0] = (double)(t1 - t0) / (double)reps;
  out[1] = (double)(t2 - t1) / (double)reps;
}
`;

/**
 * Best (shortest) seconds per call of fn over `reps` timed batches of `batch` calls, after one warm-up batch.
 * The machine is shared and noisy; limits and kernels alike are taken at their best, so their ratios stay meaningful.
 */
function seconds(fn: () => void, reps: number, batch = 1): number {
  for (let i = 0; i < batch; i++) fn();
  let best = Infinity;
  for (let r = 0; r < reps; r++) {
    const t0 = performance.now();
    for (let i = 0; i < batch; i++) fn();
    best = Math.min(best, (performance.now() - t0) / 1000 / batch);
  }
  return best;
}

/** Deterministic f32 values in [-1, 1). */
function randomF32(n: number, seed: number): Float32Array {
  const out = new Float32Array(n);
  let s = seed >>> 0 || 1;
  for (let i = 0; i < n; i++) {
    s ^= s << 13;
    s ^= s >>> 17;
    s ^= s << 5;
    out[i] = ((s >>> 0) / 2 ** 32) * 2 - 1;
  }
  return out;
}

/** Random normal bf16 words (magnitudes 2^-7..2^-6, both signs): no NaN, infinity or subnormal. */
function randomBf16(n: number, seed: number): Uint16Array {
  const out = new Uint16Array(n);
  let s = seed >>> 0 || 1;
  for (let i = 0; i < n; i++) {
    s ^= s << 13;
    s ^= s >>> 17;
    s ^= s << 5;
    out[i] = 0x3c00 | (s & 0x807f);
  }
  return out;
}

function parseArgs(args: string[]): { reps: number; threads?: number } {
  const get = (name: string) => {
    const i = args.indexOf(`--${name}`);
    return i >= 0 ? Number(args[i + 1]) : undefined;
  };
  return { reps: get("reps") ?? 9, threads: get("threads") };
}

export async function run(args: string[]): Promise<void> {
  const opts = parseArgs(args);
  const compiler = findCCompiler();
  const builder = new NativeBuilder();
  const ompBuilder = new NativeBuilder({ store: builder.store, target: builder.target, extraFlags: ["-fopenmp"] });
  const t0 = performance.now();
  const [main, omp] = await Promise.allSettled([
    buildWithRuntime(builder, kernelEntrySource(PROBES_C, [
      { name: "peak", symbol: "bench_peak" }, { name: "read", symbol: "bench_read" },
      { name: "triad", symbol: "bench_triad" }, { name: "pool", symbol: "bench_pool" },
    ])),
    buildWithRuntime(ompBuilder, kernelEntrySource(OMP_C, [{ name: "omp", symbol: "bench_omp" }])),
  ]);
  const buildMs = performance.now() - t0;
  if (main.status === "rejected") throw main.reason;
  const mod = loadNativeModule(main.value);
  if (opts.threads) mod.threads = opts.threads;
  const threads = mod.threads;
  const out = new Float64Array(256);
  const lanes = new Float64Array(1);

  // ---- the machine's limits ----
  const peak = (n: number): number => {
    mod.threads = n;
    const iters = 4_000_000;
    const s = seconds(() => mod.call("peak", [out, lanes], [iters]), 2 * opts.reps);
    return (iters * 12 * 2 * lanes[0]! * n) / s / 1e9;
  };
  const peak1 = peak(1);
  const peakN = threads > 1 ? peak(threads) : peak1;
  mod.threads = threads;
  const big = randomF32(128 * 2 ** 20, 1); // 512 MiB
  const readGBs = big.byteLength / seconds(() => mod.call("read", [big, out], [big.length, 0]), opts.reps) / 1e9;
  const readPrefetchGBs = big.byteLength / seconds(() => mod.call("read", [big, out], [big.length, 1]), opts.reps) / 1e9;
  const triadN = 32 * 2 ** 20;
  const [ta, tb, tc] = [new Float32Array(triadN), big.subarray(0, triadN), big.subarray(triadN, 2 * triadN)];
  const triadGBs = (3 * 4 * triadN) / seconds(() => mod.call("triad", [ta, tb, tc], [triadN]), opts.reps) / 1e9;
  const small = randomF32(16_384, 3);
  const reps = 20_000;
  mod.call("pool", [out, small], [reps, small.length]);
  const poolNs = [out[0]!, out[1]!];
  let ompNs: number[] | undefined;
  if (omp.status === "fulfilled") {
    const o = loadNativeModule(omp.value);
    o.call("omp", [out, small], [reps, small.length, threads]);
    ompNs = [out[0]!, out[1]!];
  }
  /** The best rate any bandwidth probe reached is the limit the GEMV is held to (conservative: triad also writes). */
  const bandwidth = Math.max(readGBs, readPrefetchGBs, triadGBs);

  // ---- GEMM ----
  const gemmRows: Row[] = [];
  for (const [M, N, K] of [[128, 1024, 1024], [128, 3072, 1024]] as const) {
    const A = randomF32(M * K, 5);
    const C = new Float32Array(M * N);
    const Bf = randomF32(N * K, 6);
    const Bh = randomBf16(N * K, 7);
    for (const kernel of ["gemm_nt_f32", "gemm_nt_bf16", "gemm_nt_bf16dot", "gemm_nn_f32"] as const satisfies readonly KernelName[]) {
      const B = kernel.includes("bf16") ? Bh : Bf;
      const syms = kernelSymbols(kernel, M, N, K);
      const s = seconds(() => mod.run([A, B, C, C], syms), opts.reps, 5);
      const gflops = (2 * M * N * K) / s / 1e9;
      gemmRows.push({ kernel, M, N, K, ms: s * 1e3, "GFLOP/s": gflops, "of f32 peak": gflops / peakN });
    }
  }

  // ---- GEMV ----
  const gemvRows: Row[] = [];
  const gemv: Record<string, number | string>[] = [];
  const x = randomF32(1024, 8);
  const addGemv = (kernel: KernelName, N: number, K: number, weights: (Uint16Array | Float32Array)[], label: string) => {
    const y = new Float32Array(N);
    const syms = kernelSymbols(kernel, 1, N, K);
    let i = 0;
    const batch = N > 100_000 ? 1 : 20;
    const s = seconds(() => mod.run([x, weights[i++ % weights.length]!, y, y], syms), opts.reps, batch);
    const gbs = weights[0]!.byteLength / s / 1e9;
    gemvRows.push({ kernel, N, K, weights: label, "µs": s * 1e6, "GB/s": gbs, "of bandwidth": gbs / bandwidth });
    gemv.push({ kernel, N, K, weights: label, gbs, ratio: gbs / bandwidth });
  };
  // A decoder reads each layer's weights once per token, from DRAM: rotate through copies well past the L3 size.
  const copies = Array.from({ length: 24 }, (_, i) => randomBf16(3072 * 1024, 20 + i));
  addGemv("gemv_nt_bf16", 3072, 1024, copies, "24 copies (DRAM)");
  addGemv("gemv_nt_bf16", 3072, 1024, copies.slice(0, 1), "one copy (cache)");
  addGemv("gemv_nt_f32", 3072, 1024, Array.from({ length: 12 }, (_, i) => randomF32(3072 * 1024, 50 + i)), "12 copies (DRAM)");
  copies.length = 0;
  addGemv("gemv_nt_bf16", 151_936, 1024, [randomBf16(151_936 * 1024, 9)], "LM head");

  // ---- paged attention (NH 16, NKV 8, D 128, BS 16; block tables shuffled over the cache) ----
  const [NH, NKV, D, BS] = [16, 8, 128, 16];
  /** A cache of `copies` independent [blocks, BS, NKV, D] K and V pairs for one sequence of `ctx` positions. */
  const attnCalls = (ctx: number, S: number, copies: number, bf16: boolean): AttentionCall[] => {
    const blocks = Math.ceil(ctx / BS);
    const order = Array.from({ length: blocks }, (_, i) => i);
    for (let i = blocks - 1; i > 0; i--) {
      const j = (i * 7919 + 13) % (i + 1);
      [order[i], order[j]] = [order[j]!, order[i]!];
    }
    const q = randomF32(S * NH * D, 31);
    const base = {
      S, NH, NKV, D, BS, maxBlocks: blocks, q, blockTable: Int32Array.from(order), scale: 1 / Math.sqrt(D),
      qSeq: new Int32Array(S), qPos: Int32Array.from({ length: S }, (_, i) => ctx - S + i),
    };
    const n = blocks * BS * NKV * D;
    return Array.from({ length: copies }, (_, c) => ({
      ...base,
      kcache: bf16 ? randomBf16(n, 40 + 2 * c) : randomF32(n, 40 + 2 * c),
      vcache: bf16 ? randomBf16(n, 41 + 2 * c) : randomF32(n, 41 + 2 * c),
    }));
  };
  const attnRows: Row[] = [];
  const attention: Record<string, number | string>[] = [];
  for (const bf16 of [false, true]) {
    for (const ctx of [128, 1024, 4096]) {
      const bytes = ctx * NKV * D * (bf16 ? 2 : 4) * 2;
      // Each layer of a decoder reads its own cache: rotate through copies well past the L3 size, and time one hot.
      for (const copies of [1, Math.max(2, Math.ceil((192 * 2 ** 20) / bytes))]) {
        const calls = attnCalls(ctx, 1, copies, bf16);
        const out = new Float32Array(NH * D);
        const args = calls.map((c) => attentionArgs(c, out));
        let i = 0;
        const s = seconds(() => mod.call("attention", ...args[i++ % args.length]!), opts.reps, ctx >= 4096 ? 4 : 20);
        const gbs = bytes / s / 1e9;
        const cache = copies === 1 ? "one (cache)" : `${copies} copies (DRAM)`;
        const kernel = bf16 ? "attention_bf16kv" : "attention_f32";
        attnRows.push({ kernel, context: ctx, "K/V": cache, "µs": s * 1e6, "GB/s": gbs, "of bandwidth": gbs / bandwidth });
        attention.push({ kernel, phase: "decode", S: 1, context: ctx, cache, us: s * 1e6, gbs, ratio: gbs / bandwidth });
      }
    }
  }
  const prefillRows: Row[] = [];
  for (const bf16 of [false, true]) {
    for (const S of [128, 512]) {
      const [call] = attnCalls(S, S, 1, bf16);
      const out = new Float32Array(S * NH * D);
      const args = attentionArgs(call!, out);
      const s = seconds(() => mod.call("attention", ...args), opts.reps, S >= 512 ? 1 : 4);
      const flops = ((S * (S + 1)) / 2) * NH * 4 * D; // QK and PV over the causal triangle
      const gflops = flops / s / 1e9;
      const kernel = bf16 ? "attention_bf16kv" : "attention_f32";
      prefillRows.push({ kernel, S, context: S, ms: s * 1e3, "GFLOP/s": gflops, "of f32 peak": gflops / peakN });
      attention.push({ kernel, phase: "prefill", S, context: S, us: s * 1e6, gflops, ratio: gflops / peakN });
    }
  }

  printTable(`machine limits (${compiler.identity}; ${main.value.target} target, isa ${mod.isa}, ${threads} threads)`, [
    { figure: "f32 FMA peak, 1 thread", value: peak1, unit: "GFLOP/s" },
    { figure: `f32 FMA peak, ${threads} threads`, value: peakN, unit: "GFLOP/s" },
    { figure: `read bandwidth, ${threads} threads (512 MiB)`, value: readGBs, unit: "GB/s" },
    { figure: `read bandwidth with L2 prefetch, ${threads} threads`, value: readPrefetchGBs, unit: "GB/s" },
    { figure: `triad bandwidth, ${threads} threads (3×128 MiB)`, value: triadGBs, unit: "GB/s" },
    { figure: "Kiln pool: empty parallel region", value: poolNs[0]! / 1e3, unit: "µs" },
    { figure: "Kiln pool: parallel-for over 16K floats", value: poolNs[1]! / 1e3, unit: "µs" },
    { figure: "OpenMP: empty parallel region", value: ompNs ? ompNs[0]! / 1e3 : "n/a", unit: "µs" },
    { figure: "OpenMP: parallel-for over 16K floats", value: ompNs ? ompNs[1]! / 1e3 : "n/a", unit: "µs" },
    { figure: "build (kernels + probes, and the OpenMP probe)", value: buildMs, unit: "ms" },
  ]);
  printTable(`GEMM, ${threads} threads (bf16dot rounds A to bf16; vdpbf16ps peaks at twice the f32 FMA rate)`, gemmRows);
  printTable(`GEMV (M = 1), ${threads} threads, vs the best measured bandwidth (${bandwidth.toFixed(1)} GB/s)`, gemvRows);
  printTable(`paged attention decode (S = 1, NH ${NH}, NKV ${NKV}, D ${D}, BS ${BS}), ${threads} threads: K/V bytes streamed vs the best measured bandwidth`, attnRows);
  printTable(`paged attention prefill (one sequence, causal), ${threads} threads: 4·D flops per (query head, attended position)`, prefillRows);
  printJsonLine("native", {
    compiler: compiler.identity,
    target: main.value.target,
    isa: mod.isa,
    bf16dot: mod.bf16dot,
    cpuFeatures: ["avx2", "fma", "avx512f", "avx512bw", "avx512vl", "avx512_bf16"].filter((f) => detectCpuFeatures().has(f)),
    threads,
    peakGflops1: peak1,
    peakGflops: peakN,
    readGBs,
    readPrefetchGBs,
    bandwidthGBs: bandwidth,
    triadGBs,
    poolUs: poolNs.map((n) => n / 1e3),
    ompUs: ompNs?.map((n) => n / 1e3) ?? null,
    gemm: gemmRows.map((r) => ({ kernel: r.kernel, M: r.M, N: r.N, K: r.K, gflops: r["GFLOP/s"], ratio: r["of f32 peak"] })),
    gemv,
    attention,
    buildMs,
  });
}
