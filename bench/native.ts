// `npm run bench -- native [--reps n] [--threads n]`: the machine's limits measured in this run (bench/limits.ts: FMA
// peaks and memory bandwidth, before and after the kernels, each figure at its best), the thread pool's dispatch cost
// next to OpenMP's, then the GEMM, GEMV and paged-attention templates as ratios to those limits (kernels timed hot on
// a working set that fits the caches are held to a hot read of as many bytes).
// Every figure is the best of n timed runs. Tables, then one JSON line; a ratio above 1 fails the run.
import { NativeBuilder, detectCpuFeatures, findCCompiler, loadNativeModule } from "../src/backend/native/index.js";
import { type AttentionCall, attentionArgs } from "../test/backend-native/attention-entry.js";
import { buildWithRuntime, kernelEntrySource, kernelSymbols, type KernelName } from "../test/backend-native/kernel-entry.js";
import { printJsonLine, printTable, type Row } from "./report.js";
import {
  LIMIT_ENTRIES, LIMIT_PROBES_C, LimitProbes, type LimitRatio, type MachineLimits, bestSeconds as seconds, failOnBrokenLimits,
  limitsJson, limitsRows, ofBandwidth, ofPeak,
} from "./limits.js";

/** A monotonic clock for the pool probe. (The limit probes run inside the same object as the kernels: same flags, same pool.) */
const NOW_C = String.raw`
#include <time.h>
static int64_t bench_now_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}
`;

const PROBES_C = NOW_C + LIMIT_PROBES_C + String.raw`
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
 * Bytes a kernel timed "from DRAM" rotates through: as far past the caches as the limit probes' 768 MiB walk (the
 * L3 a VM reports, 32 MiB, need not be the L3 its host has: 3D V-cache parts have 96 MiB a CCD).
 */
const DRAM_WORKING_SET = 512 * 2 ** 20;

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
    buildWithRuntime(builder, kernelEntrySource(PROBES_C, [...LIMIT_ENTRIES, { name: "pool", symbol: "bench_pool" }])),
    buildWithRuntime(ompBuilder, kernelEntrySource(OMP_C, [{ name: "omp", symbol: "bench_omp" }])),
  ]);
  const buildMs = performance.now() - t0;
  if (main.status === "rejected") throw main.reason;
  const mod = loadNativeModule(main.value);
  if (opts.threads) mod.threads = opts.threads;
  const threads = mod.threads;
  const out = new Float64Array(256);

  // ---- the machine's limits (measured again after the kernels, and next to each kernel the limit it is held to:
  // each figure at its best in the run) ----
  const probes = new LimitProbes(mod);
  const before = probes.measure();
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

  /** Each kernel's figure, held to its limit once the limits are final. */
  type Held = (l: MachineLimits) => LimitRatio;
  const held: { row: Row; json: Record<string, number | string>; column: string; hold: Held }[] = [];
  const hold = (row: Row, json: Record<string, number | string>, column: string, fn: Held) => held.push({ row, json, column, hold: fn });

  // ---- GEMM ----
  const gemmRows: Row[] = [];
  const gemm: Record<string, number | string>[] = [];
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
      const row: Row = { kernel, M, N, K, ms: s * 1e3, "GFLOP/s": gflops };
      const json = { kernel, M, N, K, gflops };
      gemmRows.push(row);
      gemm.push(json);
      // kiln_gemm_nt_bf16dot runs on vdpbf16ps where the target has it (else on f32 FMAs, through kiln_gemm_nt_bf16).
      hold(row, json, "of peak", (l) => ofPeak(l, `${kernel} ${M}×${N}×${K}`, gflops, kernel === "gemm_nt_bf16dot" && mod.bf16dot));
      probes.measurePeaks();
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
    const bytes = weights[0]!.byteLength;
    const gbs = bytes / s / 1e9;
    const row: Row = { kernel, N, K, weights: label, "µs": s * 1e6, "GB/s": gbs };
    const json = { kernel, N, K, weights: label, gbs };
    gemvRows.push(row);
    gemv.push(json);
    const what = `${kernel} ${N}×${K}, ${label}`;
    const hot = weights.length === 1 && bytes < 64 * 2 ** 20;
    hold(row, json, "of limit", hot ? (l) => probes.ofHotRead(l, what, gbs, bytes) : (l) => ofBandwidth(l, what, gbs));
    if (!hot) probes.measureBandwidth();
  };
  // A decoder reads each layer's weights once per token, from DRAM: rotate through copies far past any cache.
  const copiesOf = (bytes: number) => Math.max(2, Math.ceil(DRAM_WORKING_SET / bytes));
  const copies = Array.from({ length: copiesOf(3072 * 1024 * 2) }, (_, i) => randomBf16(3072 * 1024, 20 + i));
  addGemv("gemv_nt_bf16", 3072, 1024, copies, `${copies.length} copies (DRAM)`);
  addGemv("gemv_nt_bf16", 3072, 1024, copies.slice(0, 1), "one copy (cache)");
  copies.length = 0;
  const f32Copies = copiesOf(3072 * 1024 * 4);
  addGemv("gemv_nt_f32", 3072, 1024, Array.from({ length: f32Copies }, (_, i) => randomF32(3072 * 1024, 50 + i)), `${f32Copies} copies (DRAM)`);
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
      // Each layer of a decoder reads its own cache: rotate through copies far past any cache, and time one hot.
      for (const copies of [1, copiesOf(bytes)]) {
        const calls = attnCalls(ctx, 1, copies, bf16);
        const out = new Float32Array(NH * D);
        const args = calls.map((c) => attentionArgs(c, out));
        let i = 0;
        const s = seconds(() => mod.call("attention", ...args[i++ % args.length]!), opts.reps, ctx >= 4096 ? 4 : 20);
        const gbs = bytes / s / 1e9;
        const cache = copies === 1 ? "one (cache)" : `${copies} copies (DRAM)`;
        const kernel = bf16 ? "attention_bf16kv" : "attention_f32";
        const row: Row = { kernel, context: ctx, "K/V": cache, "µs": s * 1e6, "GB/s": gbs };
        const json = { kernel, phase: "decode", S: 1, context: ctx, cache, us: s * 1e6, gbs };
        attnRows.push(row);
        attention.push(json);
        const what = `${kernel} decode at context ${ctx}, K/V ${cache}`;
        hold(row, json, "of limit", copies === 1 ? (l) => probes.ofHotRead(l, what, gbs, bytes) : (l) => ofBandwidth(l, what, gbs));
        if (copies > 1) probes.measureBandwidth();
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
      const row: Row = { kernel, S, context: S, ms: s * 1e3, "GFLOP/s": gflops };
      const json = { kernel, phase: "prefill", S, context: S, us: s * 1e6, gflops };
      prefillRows.push(row);
      attention.push(json);
      hold(row, json, "of peak", (l) => ofPeak(l, `${kernel} prefill of ${S}`, gflops));
      probes.measurePeaks();
    }
  }

  probes.measure();
  const limits = probes.best;
  const ratios = held.map(({ row, json, column, hold }) => {
    const r = hold(limits);
    row[column] = r.ratio;
    row.limit = r.limit;
    json.ratio = r.ratio;
    json.limit = r.limit;
    return r;
  });

  printTable(`machine limits (${compiler.identity}; ${main.value.target} target, isa ${mod.isa}, ${threads} threads; best of before and after the kernels)`, [
    ...limitsRows(limits),
    { limit: "Kiln pool: empty parallel region", value: poolNs[0]! / 1e3, unit: "µs" },
    { limit: "Kiln pool: parallel-for over 16K floats", value: poolNs[1]! / 1e3, unit: "µs" },
    { limit: "OpenMP: empty parallel region", value: ompNs ? ompNs[0]! / 1e3 : "n/a", unit: "µs" },
    { limit: "OpenMP: parallel-for over 16K floats", value: ompNs ? ompNs[1]! / 1e3 : "n/a", unit: "µs" },
    { limit: "build (kernels + probes, and the OpenMP probe)", value: buildMs, unit: "ms" },
  ]);
  printTable(`GEMM, ${threads} threads (bf16dot rounds A to bf16 and is held to the vdpbf16ps peak where it runs on it)`, gemmRows);
  printTable(`GEMV (M = 1), ${threads} threads: weight bytes streamed vs the bandwidth limit (one copy: vs a hot read of as many bytes)`, gemvRows);
  printTable(`paged attention decode (S = 1, NH ${NH}, NKV ${NKV}, D ${D}, BS ${BS}), ${threads} threads: K/V bytes streamed vs the bandwidth limit (one copy: vs a hot read)`, attnRows);
  printTable(`paged attention prefill (one sequence, causal), ${threads} threads: 4·D flops per (query head, attended position)`, prefillRows);
  printJsonLine("native", {
    compiler: compiler.identity,
    target: main.value.target,
    isa: mod.isa,
    bf16dot: mod.bf16dot,
    cpuFeatures: ["avx2", "fma", "avx512f", "avx512bw", "avx512vl", "avx512_bf16"].filter((f) => detectCpuFeatures().has(f)),
    threads,
    limits: limitsJson(limits),
    limits_before_kernels: limitsJson(before),
    poolUs: poolNs.map((n) => n / 1e3),
    ompUs: ompNs?.map((n) => n / 1e3) ?? null,
    gemm,
    gemv,
    attention,
    buildMs,
  });
  failOnBrokenLimits(ratios);
}
