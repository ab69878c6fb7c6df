// The machine's limits, measured in the run that reports against them, by the one set of probes every benchmark uses:
// - the f32 FMA peak: one loop of 12 independent FMA chains per thread (latency 4 × 2 FMA pipes needs 8), at 1 thread
//   and at all threads (two vCPUs may share one core's FMA units: then the figures are equal);
//   where the target has vdpbf16ps, the same loop of bf16 dot products too (the limit of kernels built on it);
// - memory bandwidth: the best of six probes, each at 1 thread and at all threads, over buffers far larger than the
//   last-level cache: a read (16 independent accumulators), the same with a prefetch into L2 ahead (as the GEMV
//   does), a non-temporal read (prefetchnta ahead), a read of four streams per thread side by side (more misses in
//   flight: on AMD Zen 4 it beats one stream by a third), STREAM's copy and triad (counting bytes read and written).
//   Copy and triad use ordinary stores, as STREAM compiled by GCC does: with streaming stores a copy can move more
//   bytes in both directions together than any read alone (separate read and write paths), which no read-bound
//   kernel could reach.
// The probes are compiled by Kiln's NativeBuilder for the host's target (AVX-512, AVX2 or portable, through simd.h)
// and run on Kiln's thread pool, like the kernels they bound. Every figure is the best repetition.
// A ratio to a limit above 1 means the limit is wrong, not that the kernel is fast: checkRatios() names it.
import {
  type NativeModule, type NativeTarget, assembleNativeSource, defaultNativeBuilder, loadNativeModule, runtimeInputsAsync,
} from "../src/backend/native/index.js";
import { type Row, printJsonLine, printTable } from "./report.js";

export const LIMIT_PROBES_C = String.raw`
/* One thread's share of [0, n): a multiple of 256 floats (1 KiB: whole cache lines, whole unrolled steps). */
KILN_INLINE void bench_share(int64_t n, int tid, int nth, int64_t* lo, int64_t* hi) {
  int64_t per = n / nth / 256 * 256;
  *lo = per * tid;
  *hi = tid == nth - 1 ? n : *lo + per;
}

#define BENCH_FMA_CHAINS(X) X(0) X(1) X(2) X(3) X(4) X(5) X(6) X(7) X(8) X(9) X(10) X(11)
typedef struct { int64_t iters; int64_t dot; double* out; } bench_peak_job;
/* 12 independent chains of FMAs (a = a * m + c), or of vdpbf16ps (a += m·c over bf16 pairs: 1.0 and 2^-24). */
static void bench_peak_task(void* p, int tid, int nth) {
  (void)nth;
  const bench_peak_job* job = (const bench_peak_job*)p;
  const kv m = kv_set1(0.999999f), c = kv_set1(1e-7f);
#define DECL(i) kv a##i = kv_set1(0.1f * (i) + 0.01f * tid);
#define STEP(i) a##i = kv_fma(a##i, m, c);
#define DOT(i) a##i = _mm512_dpbf16_ps(a##i, mh, ch);
#define SUM(i) s = kv_add(s, a##i);
  BENCH_FMA_CHAINS(DECL)
  if (job->dot) {
#if defined(KILN_HAS_BF16DOT)
    const __m512bh mh = (__m512bh)_mm512_set1_epi16(0x3f80), ch = (__m512bh)_mm512_set1_epi16(0x3380);
    for (int64_t i = 0; i < job->iters; i++) { BENCH_FMA_CHAINS(DOT) }
#endif
  } else {
    for (int64_t i = 0; i < job->iters; i++) { BENCH_FMA_CHAINS(STEP) }
  }
  kv s = kv_zero();
  BENCH_FMA_CHAINS(SUM)
#undef DECL
#undef STEP
#undef DOT
#undef SUM
  job->out[tid] = kv_sum(s);
}
/* bufs: f64 out[threads], f64 flops_per_iteration[1] (per thread; 0: no vdpbf16ps on this target); syms: iterations, dot. */
static void bench_peak(void** bufs, const int64_t* syms) {
#if defined(KILN_HAS_BF16DOT)
  const double dot_flops = 12.0 * 4 * 16; /* each vdpbf16ps: 2 products and 2 adds per f32 lane */
#else
  const double dot_flops = 0;
#endif
  double* flops = (double*)bufs[1];
  flops[0] = syms[1] ? dot_flops : 12.0 * 2 * KV_LANES;
  if (flops[0] == 0) return;
  bench_peak_job job = {syms[0], syms[1], (double*)bufs[0]};
  kiln_parallel(bench_peak_task, &job);
}

typedef struct { const float* a; int64_t n; double* out; int64_t hint; } bench_read_job;
#define BENCH_READ_ACCS(X) X(0) X(1) X(2) X(3) X(4) X(5) X(6) X(7) X(8) X(9) X(10) X(11) X(12) X(13) X(14) X(15)
/* Prefetch distance of the prefetching reads, in floats (4 KiB). */
#define BENCH_AHEAD 1024
static void bench_read_task(void* p, int tid, int nth) {
  const bench_read_job* job = (const bench_read_job*)p;
  int64_t lo, hi;
  bench_share(job->n, tid, nth, &lo, &hi);
  const float* a = job->a;
#define DECL(j) kv s##j = kv_zero();
#define LOAD(j) s##j = kv_add(s##j, kv_load(a + i + (j) * KV_LANES));
#define SUM(j) t = kv_add(t, s##j);
  BENCH_READ_ACCS(DECL)
  int64_t i = lo;
  const int64_t step = 16 * KV_LANES;
  if (job->hint == 1) {
    /* Each line fetched ahead into L2 (prefetcht1), as the GEMV does. */
    for (; i + step <= hi; i += step) {
      for (int64_t l = 0; l < step; l += 16) __builtin_prefetch(a + i + BENCH_AHEAD + l, 0, 2);
      BENCH_READ_ACCS(LOAD)
    }
  } else if (job->hint == 2) {
    /* Non-temporal: each line fetched ahead with prefetchnta (close to the core, not kept in the outer caches). */
    for (; i + step <= hi; i += step) {
      for (int64_t l = 0; l < step; l += 16) __builtin_prefetch(a + i + BENCH_AHEAD + l, 0, 0);
      BENCH_READ_ACCS(LOAD)
    }
  } else if (job->hint == 3) {
    /* Four streams per thread: its share cut in four, read side by side (as the GEMV reads four rows). */
    const int64_t q = (hi - lo) / 4 / (4 * KV_LANES) * (4 * KV_LANES);
#define LOAD4(j, p) s##j = kv_add(s##j, kv_load(p + ((j) % 4) * KV_LANES));
    for (int64_t o = 0; o < q; o += 4 * KV_LANES) {
      const float* p0 = a + lo + o;
      LOAD4(0, p0) LOAD4(1, p0) LOAD4(2, p0) LOAD4(3, p0)
      LOAD4(4, p0 + q) LOAD4(5, p0 + q) LOAD4(6, p0 + q) LOAD4(7, p0 + q)
      LOAD4(8, p0 + 2 * q) LOAD4(9, p0 + 2 * q) LOAD4(10, p0 + 2 * q) LOAD4(11, p0 + 2 * q)
      LOAD4(12, p0 + 3 * q) LOAD4(13, p0 + 3 * q) LOAD4(14, p0 + 3 * q) LOAD4(15, p0 + 3 * q)
    }
#undef LOAD4
    i = lo + 4 * q;
  } else {
    for (; i + step <= hi; i += step) { BENCH_READ_ACCS(LOAD) }
  }
  kv t = kv_zero();
  BENCH_READ_ACCS(SUM)
#undef DECL
#undef LOAD
#undef SUM
  float r = kv_sum(t);
  for (; i < hi; i++) r += a[i];
  job->out[tid] = r;
}
/* bufs: f32 a[n], f64 out[threads]; syms: n, hint (0 plain, 1 prefetch into L2, 2 prefetchnta, 3 four streams). Reads a once. */
static void bench_read(void** bufs, const int64_t* syms) {
  bench_read_job job = {(const float*)bufs[0], syms[0], (double*)bufs[1], syms[1]};
  kiln_parallel(bench_read_task, &job);
}

/* STREAM's copy and triad with ordinary stores, as STREAM compiled by GCC runs them: the write-allocate reads are
   not counted, so neither figure exceeds what the memory system moves. */
typedef struct { float* a; const float* b; const float* c; int64_t n; int64_t triad; } bench_stream_job;
static void bench_stream_task(void* p, int tid, int nth) {
  const bench_stream_job* job = (const bench_stream_job*)p;
  int64_t lo, hi;
  bench_share(job->n, tid, nth, &lo, &hi);
  float* a = job->a;
  const float* b = job->b;
  const float* c = job->c;
  const kv three = kv_set1(3.0f);
  int64_t i = lo;
  if (job->triad) {
    for (; i + 4 * KV_LANES <= hi; i += 4 * KV_LANES)
      for (int j = 0; j < 4; j++) kv_store(a + i + j * KV_LANES, kv_fma(three, kv_load(c + i + j * KV_LANES), kv_load(b + i + j * KV_LANES)));
    for (; i < hi; i++) a[i] = b[i] + 3.0f * c[i];
  } else {
    for (; i + 4 * KV_LANES <= hi; i += 4 * KV_LANES)
      for (int j = 0; j < 4; j++) kv_store(a + i + j * KV_LANES, kv_load(b + i + j * KV_LANES));
    for (; i < hi; i++) a[i] = b[i];
  }
}
/* bufs: f32 a[n], b[n], c[n]; syms: n, triad. Copy a = b (2 × 4n bytes) or triad a = b + 3c (3 × 4n bytes). */
static void bench_stream(void** bufs, const int64_t* syms) {
  bench_stream_job job = {(float*)bufs[0], (const float*)bufs[1], (const float*)bufs[2], syms[0], syms[1]};
  kiln_parallel(bench_stream_task, &job);
}
`;

/** The probes' entries, for an object that adds them to its own (bench/native.ts) or has only them (measureLimits). */
export const LIMIT_ENTRIES = [
  { name: "limit_peak", symbol: "bench_peak" },
  { name: "limit_read", symbol: "bench_read" },
  { name: "limit_stream", symbol: "bench_stream" },
] as const;

export const BANDWIDTH_PROBES = ["read", "read_l2", "read_nt", "read_4s", "copy", "triad"] as const;
export type BandwidthProbe = (typeof BANDWIDTH_PROBES)[number];

/** Figures at 1 thread and at the pool's thread count, keyed by the count. */
export type PerThreads = Readonly<Record<number, number>>;

/** What the probes measured. */
export interface LimitFigures {
  /** Threads the benchmarks run on (the pool's count). */
  readonly threads: number;
  readonly isa: string;
  /** Bytes of each probe buffer (the reads walk all three; copy and triad use two and three of them). */
  readonly bufferBytes: number;
  /** Bytes of each array one timed call touches (a read: twice as many). */
  readonly chunkBytes: number;
  /** Each bandwidth probe's best GB/s. */
  readonly probes: Readonly<Record<BandwidthProbe, PerThreads>>;
  /** f32 FMA GFLOP/s. */
  readonly fmaPeak: PerThreads;
  /** vdpbf16ps GFLOP/s, where the target has it. */
  readonly dotPeak?: PerThreads;
}

export interface MachineLimits extends LimitFigures {
  /** The best bandwidth of any probe at any thread count, GB/s, and which probe reached it. */
  readonly bandwidthGBs: number;
  readonly bandwidthBest: string;
  /** The best FMA (and vdpbf16ps) figure at any thread count: the limit GEMM-bound work is held to. */
  readonly peakGflops: number;
  readonly dotPeakGflops?: number;
}

const threadsLabel = (t: number | string) => `${t} thread${Number(t) === 1 ? "" : "s"}`;
const best = (r: PerThreads) => Math.max(...Object.values(r));

export function limitsOf(f: LimitFigures): MachineLimits {
  let top = { gbs: 0, name: "" };
  for (const p of BANDWIDTH_PROBES) {
    for (const [t, gbs] of Object.entries(f.probes[p])) if (gbs > top.gbs) top = { gbs, name: `${p}, ${threadsLabel(t)}` };
  }
  return {
    ...f, bandwidthGBs: top.gbs, bandwidthBest: top.name, peakGflops: best(f.fmaPeak),
    ...(f.dotPeak ? { dotPeakGflops: best(f.dotPeak) } : {}),
  };
}

/** Each figure at its best over two measurements of one run (before and after the work they bound). */
export function bestOf(a: LimitFigures, b: LimitFigures): MachineLimits {
  const max = (x: PerThreads, y: PerThreads): PerThreads => Object.fromEntries(Object.entries(x).map(([t, v]) => [t, Math.max(v, y[Number(t)] ?? 0)]));
  return limitsOf({
    ...a,
    probes: Object.fromEntries(BANDWIDTH_PROBES.map((p) => [p, max(a.probes[p], b.probes[p])])) as LimitFigures["probes"],
    fmaPeak: max(a.fmaPeak, b.fmaPeak),
    ...(a.dotPeak && b.dotPeak ? { dotPeak: max(a.dotPeak, b.dotPeak) } : {}),
  });
}

export interface LimitOptions {
  /** Seconds each figure (a probe at a thread count) is repeated for; its best call counts. Default 0.25. */
  readonly seconds?: number;
  /** Bytes of each of the three buffers. Default 256 MiB: 8× a 32 MiB last-level cache. */
  readonly bufferBytes?: number;
  /** Bytes of each array one timed call reads or writes. Default 32 MiB. */
  readonly chunkBytes?: number;
}

/**
 * Best (shortest) seconds of one call of fn over timed batches of `batch` calls, after one untimed batch: batches
 * repeat for `seconds` of wall time, and at least 5 times.
 */
export function bestSecondsWithin(fn: () => void, seconds: number, batch = 1): number {
  for (let i = 0; i < batch; i++) fn();
  const end = performance.now() + seconds * 1000;
  let best = Infinity;
  for (let r = 0; r < 5 || performance.now() < end; r++) {
    const t0 = performance.now();
    for (let i = 0; i < batch; i++) fn();
    best = Math.min(best, (performance.now() - t0) / 1000 / batch);
  }
  return best;
}

/** Best (shortest) seconds of one call of fn over `reps` timed batches of `batch` calls, after one untimed batch. */
export function bestSeconds(fn: () => void, reps: number, batch = 1): number {
  for (let i = 0; i < batch; i++) fn();
  let best = Infinity;
  for (let r = 0; r < reps; r++) {
    const t0 = performance.now();
    for (let i = 0; i < batch; i++) fn();
    best = Math.min(best, (performance.now() - t0) / 1000 / batch);
  }
  return best;
}

/** The probes of a module that carries LIMIT_ENTRIES. */
export class LimitProbes {
  readonly #mod: NativeModule;
  readonly #out = new Float64Array(256);
  readonly #perIter = new Float64Array(1);
  readonly #hot = new Map<number, number>();
  #best?: MachineLimits;

  constructor(mod: NativeModule) {
    this.#mod = mod;
  }

  /** Each figure at its best over every measurement so far (measure(), measurePeaks(), measureBandwidth()). */
  get best(): MachineLimits {
    if (!this.#best) throw new Error("LimitProbes.best: nothing measured yet");
    return this.#best;
  }

  #keep(l: MachineLimits): MachineLimits {
    this.#best = this.#best ? bestOf(this.#best, l) : l;
    return l;
  }

  /**
   * The FMA and vdpbf16ps peaks again, for `seconds` each (after measure()): right after a GEMM-bound figure. Two
   * vCPUs are placed by the host on two cores or on one core's two hyperthreads, the placement changes while a
   * benchmark runs, and so does what other tenants take of the memory: a limit measured next to a kernel sees the
   * machine as the kernel saw it.
   */
  measurePeaks(seconds = 0.05): void {
    const best = this.best;
    const fmaPeak = this.#perThreads((n) => this.#peak(false, n, seconds));
    const dotPeak = best.dotPeak ? this.#perThreads((n) => this.#peak(true, n, seconds)) : undefined;
    this.#keep(limitsOf({ ...best, fmaPeak, ...(dotPeak ? { dotPeak } : {}) }));
  }

  /** fn's figure on n threads of the pool, for each n of 1 and the pool's count. */
  #perThreads(fn: (n: number) => number): PerThreads {
    const threads = this.#mod.threads;
    const out: Record<number, number> = {};
    try {
      for (const n of threads > 1 ? [1, threads] : [1]) {
        this.#mod.threads = n;
        out[n] = fn(n);
      }
    } finally {
      this.#mod.threads = threads;
    }
    return out;
  }

  /** GFLOP/s of the FMA (or vdpbf16ps) loop on n threads (≈ 0.2 ms a call); 0 when the target lacks the instruction. */
  #peak(dot: boolean, n: number, seconds: number): number {
    const iters = 100_000;
    const s = bestSecondsWithin(() => this.#mod.call("limit_peak", [this.#out, this.#perIter], [iters, dot ? 1 : 0]), seconds);
    return (iters * this.#perIter[0]! * n) / s / 1e9;
  }

  /**
   * Every figure at its best (this measurement's; `best` keeps the best of all). The machine is shared: a long timed call is rarely left alone by other processes,
   * while a kernel's short calls often are. So each call is short — ≈ 1 ms FMA loops, and bandwidth probes timed
   * one window of the buffers at a time (chunkBytes of each array, walking forward, so no window is in a cache) —
   * and repeated for `seconds` (the best call counts).
   */
  measure(options: LimitOptions = {}): MachineLimits {
    const seconds = options.seconds ?? 0.25;
    const fmaPeak = this.#perThreads((n) => this.#peak(false, n, seconds));
    const dotPeak = this.#perThreads((n) => this.#peak(true, n, seconds));
    const { bufferBytes, chunkBytes, probes } = this.#bandwidth(options);
    return this.#keep(limitsOf({
      threads: this.#mod.threads, isa: this.#mod.isa, bufferBytes, chunkBytes, probes, fmaPeak,
      ...(Object.values(dotPeak).some((g) => g > 0) ? { dotPeak } : {}),
    }));
  }

  /** The bandwidth probes again, for `seconds` each (after measure()): right after a bandwidth-bound figure, as measurePeaks. */
  measureBandwidth(seconds = 0.05): void {
    this.#keep(limitsOf({ ...this.best, probes: this.#bandwidth({ seconds }).probes }));
  }

  /** The probe buffers: three arrays, allocated (and every page touched) on the first measurement, kept after. */
  #buffers?: { all: Float32Array; n: number; chunk: number };

  #bandwidth(options: LimitOptions): { bufferBytes: number; chunkBytes: number; probes: LimitFigures["probes"] } {
    const seconds = options.seconds ?? 0.25;
    if (!this.#buffers) {
      const bufferBytes = options.bufferBytes ?? 256 * 2 ** 20;
      const all = new Float32Array((3 * bufferBytes) / 4);
      for (let i = 0; i < all.length; i += 1024) all[i] = 1;
      this.#buffers = { all, n: bufferBytes / 4, chunk: Math.min(options.chunkBytes ?? 32 * 2 ** 20, bufferBytes) / 4 };
    }
    const { all, n, chunk } = this.#buffers;
    const windows = Math.floor(n / chunk);
    const part = (k: number, from: number, floats = chunk) => all.subarray(from + (k % windows) * floats, from + (k % windows + 1) * floats);
    /** Bytes per second of the best window of `bytes`, each call on the next window (k counts calls). */
    const rate = (bytes: number, call: (k: number) => void) => {
      let k = 0;
      return () => bytes / bestSecondsWithin(() => call(k++), seconds) / 1e9;
    };
    // A read window spans two chunks (the read walks all three arrays); copy and triad take one chunk of each array.
    const read = (hint: number) => rate(8 * chunk, (k) => this.#mod.call("limit_read", [part(k, 0, 2 * chunk), this.#out], [2 * chunk, hint]));
    const stream = (triad: number) => rate((2 + triad) * 4 * chunk, (k) => this.#mod.call("limit_stream", [part(k, 0), part(k, n), part(k, 2 * n)], [chunk, triad]));
    const probe: Record<BandwidthProbe, () => number> = { read: read(0), read_l2: read(1), read_nt: read(2), read_4s: read(3), copy: stream(0), triad: stream(1) };
    const probes = Object.fromEntries(BANDWIDTH_PROBES.map((p) => [p, this.#perThreads(probe[p])])) as LimitFigures["probes"];
    return { bufferBytes: 4 * n, chunkBytes: 4 * chunk, probes };
  }

  /**
   * The read bandwidth of a working set of `bytes` that stays in the caches (read again and again, in batches of
   * ≈ 16 MiB, plain and with the prefetch into L2, on 1 thread and on the pool's: a small read gains nothing from a
   * second thread but the dispatch): the limit of a kernel timed hot on that many bytes. Measured once per size.
   */
  hotReadGBs(bytes: number, seconds = 0.25): number {
    const known = this.#hot.get(bytes);
    if (known !== undefined) return known;
    const buf = new Float32Array(Math.ceil(bytes / 4)).fill(1);
    const batch = Math.max(1, Math.floor(2 ** 24 / bytes));
    const read = (hint: number) => () => this.#mod.call("limit_read", [buf, this.#out], [buf.length, hint]);
    const gbs = Math.max(...[0, 1].map((hint) => best(this.#perThreads(() => bytes / bestSecondsWithin(read(hint), seconds / 2, batch) / 1e9))));
    this.#hot.set(bytes, gbs);
    return gbs;
  }

  /** A kernel timed hot on `bytes` at `gbs`, held to the hot read of as many bytes (or the bandwidth, if higher). */
  ofHotRead(l: MachineLimits, what: string, gbs: number, bytes: number): LimitRatio {
    const hot = this.hotReadGBs(bytes);
    if (hot <= l.bandwidthGBs) return ofBandwidth(l, what, gbs);
    return { what, ratio: gbs / hot, of: "the hot read", limit: `the hot read of ${(bytes / 2 ** 20).toFixed(1)} MiB (${hot.toFixed(1)} GB/s)` };
  }
}

/** The probes in an object of their own (for benchmarks that build no kernels), for the host's best target by default. */
export async function limitModule(target?: NativeTarget): Promise<NativeModule> {
  const builder = defaultNativeBuilder(target);
  const source = assembleNativeSource({ code: '#include "simd.h"\n' + LIMIT_PROBES_C, entries: LIMIT_ENTRIES });
  return loadNativeModule(await builder.build(source, await runtimeInputsAsync(builder)));
}

export async function limitProbes(target?: NativeTarget): Promise<LimitProbes> {
  return new LimitProbes(await limitModule(target));
}

export async function measureLimits(options: LimitOptions = {}): Promise<MachineLimits> {
  return (await limitProbes()).measure(options);
}

/** The `limits` object of every benchmark's JSON line: GB/s of each probe and GFLOP/s of each loop, by thread count. */
export function limitsJson(l: MachineLimits): Record<string, unknown> {
  const perThreads = (r: PerThreads) => Object.fromEntries(Object.entries(r).map(([t, v]) => [`${t}t`, v]));
  return {
    threads: l.threads,
    isa: l.isa,
    bandwidth_gbs: {
      max: l.bandwidthGBs,
      best: l.bandwidthBest,
      buffer_bytes: l.bufferBytes,
      window_bytes: l.chunkBytes,
      ...Object.fromEntries(BANDWIDTH_PROBES.map((p) => [p, perThreads(l.probes[p])])),
    },
    fma_peak_gflops: { max: l.peakGflops, ...perThreads(l.fmaPeak) },
    ...(l.dotPeak ? { bf16dot_peak_gflops: { max: l.dotPeakGflops, ...perThreads(l.dotPeak) } } : {}),
  };
}

const PROBE_LABEL: Record<BandwidthProbe, string> = {
  read: "read (16 accumulators)",
  read_l2: "read, prefetch into L2 4 KiB ahead",
  read_nt: "non-temporal read (prefetchnta 4 KiB ahead)",
  read_4s: "read, 4 streams per thread side by side",
  copy: "STREAM copy (read + write bytes)",
  triad: "STREAM triad (2 reads + 1 write)",
};

/** The limits as table rows (one per probe and thread count). */
export function limitsRows(l: MachineLimits): Row[] {
  const rows: Row[] = [];
  const mib = (x: number) => (x / 2 ** 20).toFixed(0);
  const over = `${mib(l.chunkBytes)} MiB windows of ${mib(3 * l.bufferBytes)} MiB`;
  for (const [t, g] of Object.entries(l.fmaPeak)) rows.push({ limit: `f32 FMA peak, ${threadsLabel(t)}`, value: g, unit: "GFLOP/s" });
  for (const [t, g] of Object.entries(l.dotPeak ?? {})) rows.push({ limit: `bf16 dot (vdpbf16ps) peak, ${threadsLabel(t)}`, value: g, unit: "GFLOP/s" });
  for (const p of BANDWIDTH_PROBES) {
    for (const [t, g] of Object.entries(l.probes[p])) rows.push({ limit: `${PROBE_LABEL[p]}, ${threadsLabel(t)}`, value: g, unit: "GB/s" });
  }
  rows.push({ limit: `bandwidth limit (best: ${l.bandwidthBest}; ${over})`, value: l.bandwidthGBs, unit: "GB/s" });
  return rows;
}

export function limitsSummary(l: MachineLimits): string {
  const peaks = Object.entries(l.fmaPeak).map(([t, g]) => `${g.toFixed(0)} (${t}t)`).join(" / ");
  return `machine: ${l.threads} threads, isa ${l.isa}, f32 FMA peak ${peaks} GFLOP/s, bandwidth ${l.bandwidthGBs.toFixed(1)} GB/s (${l.bandwidthBest})`;
}

/** One figure held to a limit: `ratio` = figure / limit, which cannot exceed 1 unless the limit is wrong. */
export interface LimitRatio {
  /** What was measured, e.g. "bf16 decode at context 128". */
  readonly what: string;
  readonly ratio: number;
  /** What the ratio is of, e.g. "the bandwidth bound". */
  readonly of: string;
  /** The limit and its figure, e.g. "the bandwidth limit (read, 2 threads: 24.1 GB/s)". */
  readonly limit: string;
}

export const bandwidthLimit = (l: MachineLimits): string => `the bandwidth limit (${l.bandwidthBest}: ${l.bandwidthGBs.toFixed(1)} GB/s)`;

/** A figure of `gbs` moved to or from memory, held to the bandwidth limit. */
export const ofBandwidth = (l: MachineLimits, what: string, gbs: number): LimitRatio =>
  ({ what, ratio: gbs / l.bandwidthGBs, of: "the bandwidth", limit: bandwidthLimit(l) });

/** A figure of `gflops`, held to the f32 FMA peak, or to the vdpbf16ps peak for kernels built on it. */
export function ofPeak(l: MachineLimits, what: string, gflops: number, dot = false): LimitRatio {
  if (dot && l.dotPeakGflops !== undefined) {
    return { what, ratio: gflops / l.dotPeakGflops, of: "the bf16 dot peak", limit: `the vdpbf16ps peak (${l.dotPeakGflops.toFixed(0)} GFLOP/s)` };
  }
  const peaks = Object.entries(l.fmaPeak).map(([t, g]) => `${t}t ${g.toFixed(0)}`).join(", ");
  return { what, ratio: gflops / l.peakGflops, of: "the FMA peak", limit: `the f32 FMA peak (${peaks} GFLOP/s)` };
}

/** The failure line of every ratio above 1 (NaN is no ratio). */
export function checkRatios(ratios: readonly LimitRatio[]): string[] {
  return ratios.filter((r) => r.ratio > 1).map((r) => `bench: ${r.what} at ${r.ratio.toFixed(2)} of ${r.of}: ${r.limit} is too low`);
}

/** Prints the failure lines (after the table and JSON) and sets a non-zero exit code when there are any. */
export function failOnBrokenLimits(ratios: readonly LimitRatio[]): void {
  const failures = checkRatios(ratios);
  for (const f of failures) console.error(f);
  if (failures.length > 0) process.exitCode = 1;
}

/** `npm run bench -- limits [--seconds s]`: the limits alone (table and JSON line), for a quick look at a machine. */
export async function run(args: string[]): Promise<void> {
  const i = args.indexOf("--seconds");
  const limits = await measureLimits({ seconds: i >= 0 ? Number(args[i + 1]) : undefined });
  printTable(`machine limits (${limits.threads} threads, isa ${limits.isa})`, limitsRows(limits));
  printJsonLine("limits", { limits: limitsJson(limits) });
}
