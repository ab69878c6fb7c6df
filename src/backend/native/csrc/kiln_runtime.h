/* kiln_runtime.h: the one header of Kiln's native runtime. It declares every runtime function (errors, thread pool,
   arena and scratch, the N-API glue's hooks) and every kernel template entry point (GEMM, GEMV, Linear, paged
   attention), and defines the ISA macros and the static inline scalar helpers that generated code uses.

   The runtime is compiled once per target into relocatable objects and linked into every model's shared object.
   Everything here has hidden visibility, so an object exports only its N-API init and keeps its own pool.
   src/codegen/c-entry-points.ts lists the same functions for the C emitter; a test keeps the two in agreement. */
#ifndef KILN_RUNTIME_H
#define KILN_RUNTIME_H

#include <math.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define KILN_API __attribute__((visibility("hidden")))
#define KILN_INLINE static inline __attribute__((always_inline, unused))
/* A read prefetch into L2 (prefetcht1 on x86); never faults, even past the end of a buffer. */
#define KILN_PREFETCH_L2(p) __builtin_prefetch((const void*)(p), 0, 2)

/* The instruction set the kernels are compiled for, chosen by the compiler flags of the target. */
#if defined(__AVX512F__) && defined(__AVX512BW__) && defined(__AVX512VL__) && defined(__AVX512DQ__)
#define KILN_ISA_AVX512 1
#define KILN_ISA "avx512"
#elif defined(__AVX2__) && defined(__FMA__)
#define KILN_ISA_AVX2 1
#define KILN_ISA "avx2"
#else
#define KILN_ISA_PORTABLE 1
#define KILN_ISA "portable"
#endif
#if defined(KILN_ISA_AVX512) && defined(__AVX512BF16__)
#define KILN_HAS_BF16DOT 1
#endif

/* A generated kernel: a function of its own. GCC inlines small static functions into kiln_run, and optimising that
   one huge function took 5x as long as the kernels apart (1.9 s against 0.35 s for a 28-layer decoder), for no speed:
   a kernel is a loop nest, entered a few times per forward. */
#define KILN_KERNEL static __attribute__((noinline))

/* ---- errors: a kernel (on any pool thread) or the wrapper reports a failure; the glue throws it after the call.
   The first message wins; messages are static strings. ---- */
KILN_API void kiln_fail(const char* message);

/* ---- thread pool ---- */
#define KILN_MAX_THREADS 256
typedef void (*kiln_task_fn)(void* ctx, int tid, int nth);
typedef void (*kiln_range_fn)(void* ctx, int64_t begin, int64_t end);

KILN_API int kiln_num_threads(void);
/* Takes effect at the next parallel region; workers are started on demand and never stopped before unload. */
KILN_API void kiln_set_num_threads(int n);
/* Runs fn(ctx, tid, nth) on nth threads (the caller is tid 0) and returns when all are done.
   Nested calls, and calls while another thread dispatches, run inline with nth = 1. */
KILN_API void kiln_parallel(kiln_task_fn fn, void* ctx);
/* Calls fn over [0, n) cut into ranges, each a multiple of grain long (except the last), about per_thread of them per
   thread, which the threads claim as they come: a thread that is late (descheduled, asleep) takes fewer or none.
   Ranges may run in any order on any thread; one range runs on one thread. */
KILN_API void kiln_parallel_for_chunks(int64_t n, int64_t grain, int64_t per_thread, kiln_range_fn fn, void* ctx);
/* kiln_parallel_for_chunks with KILN_FOR_CHUNKS ranges per thread (load balance for a few claims per thread). */
#define KILN_FOR_CHUNKS 4
KILN_API void kiln_parallel_for(int64_t n, int64_t grain, kiln_range_fn fn, void* ctx);
/* Jobs dispatched to more than one thread so far (a region that ran inline is not counted). */
KILN_API int64_t kiln_parallel_jobs(void);

/* The rows of a generated kernel's parallel loop that one thread takes at least: enough for KILN_PARALLEL_WORK units of
   work (about an element-operation each; the emitter estimates a row's). A loop with no more than that runs inline on
   the caller, as a decode step's kernels do; larger ones split into one range per thread. */
#define KILN_PARALLEL_WORK 32768
KILN_INLINE int64_t kiln_grain(int64_t row_work) {
  return row_work >= KILN_PARALLEL_WORK ? 1 : row_work < 1 ? KILN_PARALLEL_WORK : (KILN_PARALLEL_WORK + row_work - 1) / row_work;
}

/* ---- profiling (KILN_PROFILE=1, a run-time switch: the same object serves both). A program's kiln_run keeps one entry
   per distinct kernel function; when profiling is on it registers its table, then laps the clock after each kernel.
   Off, each kernel costs one predictable branch. Counters are updated atomically (JS workers may share an object). ---- */
typedef struct {
  const char* name; /* the kernel function */
  const char* what; /* what it computes: the ops it fuses, a template's shape */
  int64_t calls;
  int64_t ns;
} kiln_profile_entry;

KILN_API int kiln_profile_enabled(void);
KILN_API void kiln_set_profile(int on);
/* Registers the running program's table (n entries) and returns the clock (ns), the start of one forward. */
KILN_API int64_t kiln_profile_begin(kiln_profile_entry* table, int n);
/* Adds the time since `since` and one call to e; returns the clock, the start of the next kernel. */
KILN_API int64_t kiln_profile_lap(kiln_profile_entry* e, int64_t since);
/* Ends a forward begun at `start`. */
KILN_API void kiln_profile_end(int64_t start);
/* The registered table (NULL before any profiled run), its length, and the forwards' count and total time. */
KILN_API const kiln_profile_entry* kiln_profile_table(int* n, int64_t* forwards, int64_t* forward_ns);
KILN_API void kiln_profile_reset(void);

/* ---- memory: an arena (one 64-byte-aligned block, grown on demand) and scratch for kernels ---- */
typedef struct {
  unsigned char* base;
  size_t cap;
} kiln_arena;
/* Per calling thread, so JS worker threads running the same object never share one. */
extern KILN_API _Thread_local kiln_arena kiln_default_arena;

/* Returns a block of at least bytes (64-aligned), or NULL after kiln_fail. Earlier contents are not kept. */
KILN_API void* kiln_arena_reserve(kiln_arena* a, size_t bytes);
KILN_API void kiln_arena_release(kiln_arena* a);
/* Scratch for kernels (packing, conversions): 64-aligned, freed by the caller with free(). */
KILN_API void* kiln_scratch(size_t bytes);
/* Per-thread scratch (packed panels): grows on demand, kept for the thread's life, valid until the thread's next call. */
KILN_API void* kiln_thread_scratch(size_t bytes);

KILN_INLINE size_t kiln_align64(size_t n) { return (n + 63) & ~(size_t)63; }

/* ---- the N-API glue's hooks (napi_glue.c) ---- */
/* Clears the failure message before a call; after it, returns the message (or NULL) and clears it. */
KILN_API const char* kiln_take_error(void);
/* A Node environment starts or stops using this object; the last one out stops the pool and frees the arena. */
KILN_API void kiln_runtime_attach(void);
KILN_API void kiln_runtime_detach(void);

/* The entries an object exports to JS, defined by the object's own code (the table napiGlue() generates). */
typedef void (*kiln_entry_fn)(void** bufs, const int64_t* syms);
typedef struct {
  const char* name;
  kiln_entry_fn fn;
  int64_t buffers; /* checked on every call when >= 0 */
  int64_t symbols;
} kiln_entry;
extern KILN_API const kiln_entry kiln_entries[];
extern KILN_API const int kiln_entry_count;

/* ---- kernel templates. Sizes and strides are int64_t, strides in elements; bf16 operands are uint16_t words. ---- */
/* C[M,N] = A[M,K] · B[N,K]^T (+ bias[N]); B is a Linear weight (f32, bf16); sums in f32. */
KILN_API void kiln_gemm_nt_f32(int64_t M, int64_t N, int64_t K, const float* A, int64_t lda, const float* B, int64_t ldb,
                               float* C, int64_t ldc, const float* bias);
KILN_API void kiln_gemm_nt_bf16(int64_t M, int64_t N, int64_t K, const float* A, int64_t lda, const uint16_t* B,
                                int64_t ldb, float* C, int64_t ldc, const float* bias);
/* As kiln_gemm_nt_bf16 with A rounded to bf16 (products of bf16 pairs are exact): vdpbf16ps where the target has it. */
KILN_API void kiln_gemm_nt_bf16dot(int64_t M, int64_t N, int64_t K, const float* A, int64_t lda, const uint16_t* B,
                                   int64_t ldb, float* C, int64_t ldc, const float* bias);
/* C[M,N] = A[M,K] · B[K,N] (+ bias[N]); B row-major [K,N]. */
KILN_API void kiln_gemm_nn_f32(int64_t M, int64_t N, int64_t K, const float* A, int64_t lda, const float* B, int64_t ldb,
                               float* C, int64_t ldc, const float* bias);
KILN_API void kiln_gemm_nn_bf16(int64_t M, int64_t N, int64_t K, const float* A, int64_t lda, const uint16_t* B,
                                int64_t ldb, float* C, int64_t ldc, const float* bias);
/* y[M,N] = x[M,K] · W[N,K]^T (+ bias[N]) for small M (decode); W read from memory once per call. */
KILN_API void kiln_gemv_nt_f32(int64_t M, int64_t N, int64_t K, const float* x, int64_t ldx, const float* W, int64_t ldw,
                               float* y, int64_t ldy, const float* bias);
KILN_API void kiln_gemv_nt_bf16(int64_t M, int64_t N, int64_t K, const float* x, int64_t ldx, const uint16_t* W,
                                int64_t ldw, float* y, int64_t ldy, const float* bias);
/* A Linear layer: GEMV for a few rows, GEMM otherwise (the arguments of kiln_gemm_nt_*). */
KILN_API void kiln_linear_f32(int64_t M, int64_t N, int64_t K, const float* A, int64_t lda, const float* W, int64_t ldw,
                              float* C, int64_t ldc, const float* bias);
KILN_API void kiln_linear_bf16(int64_t M, int64_t N, int64_t K, const float* A, int64_t lda, const uint16_t* W,
                               int64_t ldw, float* C, int64_t ldc, const float* bias);
/* Paged causal attention (vLLM-style block table), f32 queries and output; an f32 or a bf16 cache.
   q: [S, NH, D] contiguous; kcache, vcache: [num_blocks, BS, NKV, D] contiguous; out: [S, NH, D].
   Query token i belongs to sequence q_seq[i] and sits at position q_pos[i]; it attends the
   context positions j = 0..q_pos[i] (inclusive) of its sequence, whose K/V live at cache slot
   block_table[q_seq[i] * max_blocks + j / BS] * BS + j % BS  (slot = row of the [num_blocks*BS, NKV, D] view).
   GQA: query head h reads KV head h / (NH / NKV). Softmax of scale * q·k over j, then weights · v. */
KILN_API void kiln_paged_attention_f32(int64_t S, int64_t NH, int64_t NKV, int64_t D, int64_t BS, int64_t max_blocks,
                                       const float* q, const float* kcache, const float* vcache,
                                       const int32_t* block_table, const int32_t* q_seq, const int32_t* q_pos,
                                       float scale, float* out);
KILN_API void kiln_paged_attention_bf16kv(int64_t S, int64_t NH, int64_t NKV, int64_t D, int64_t BS,
                                          int64_t max_blocks, const float* q, const uint16_t* kcache,
                                          const uint16_t* vcache, const int32_t* block_table, const int32_t* q_seq,
                                          const int32_t* q_pos, float scale, float* out);

/* ---- scalar helpers (round to nearest even, as src/tensor/half.ts) ---- */
KILN_INLINE float kiln_bf16_to_f32(uint16_t h) {
  uint32_t u = (uint32_t)h << 16;
  float f;
  memcpy(&f, &u, 4);
  return f;
}

KILN_INLINE uint16_t kiln_f32_to_bf16(float f) {
  uint32_t u;
  memcpy(&u, &f, 4);
  if ((u & 0x7f800000u) == 0x7f800000u && (u & 0x007fffffu)) return (uint16_t)((u >> 16) | 0x40);
  return (uint16_t)((u + 0x7fffu + ((u >> 16) & 1u)) >> 16);
}

static inline float kiln_f16_to_f32(uint16_t h) {
  uint32_t s = (uint32_t)(h & 0x8000) << 16, e = (h >> 10) & 0x1f, m = h & 0x3ff;
  float f;
  if (e == 0) {
    f = (float)m * 5.9604644775390625e-8f;
    return s ? -f : f;
  }
  uint32_t u = e == 31 ? (s | 0x7f800000u | (m << 13)) : (s | ((e + 112) << 23) | (m << 13));
  memcpy(&f, &u, 4);
  return f;
}

static inline uint16_t kiln_f32_to_f16(float f) {
  uint32_t u;
  memcpy(&u, &f, 4);
  uint32_t sign = (u >> 16) & 0x8000, exp = (u >> 23) & 0xff, mant = u & 0x7fffff;
  if (exp == 0xff) return (uint16_t)(sign | 0x7c00 | (mant ? 0x200 : 0));
  int e = (int)exp - 112;
  if (e >= 31) return (uint16_t)(sign | 0x7c00);
  if (e <= 0) { /* subnormal half */
    if (e < -10) return (uint16_t)sign;
    mant |= 0x800000;
    int shift = 14 - e;
    uint32_t half = 1u << (shift - 1), rest = mant & ((1u << shift) - 1), h = mant >> shift;
    if (rest > half || (rest == half && (h & 1))) h++;
    return (uint16_t)(sign | h);
  }
  uint32_t h = ((uint32_t)e << 10) | (mant >> 13), rest = mant & 0x1fff;
  if (rest > 0x1000 || (rest == 0x1000 && (h & 1))) h++;
  return (uint16_t)(sign | h);
}

/* Rounding of an f32 value to what a bf16 / f16 store would keep (each op of generated code rounds as the reference). */
static inline float kiln_round_bf16(float x) { return kiln_bf16_to_f32(kiln_f32_to_bf16(x)); }
static inline float kiln_round_f16(float x) { return kiln_f16_to_f32(kiln_f32_to_f16(x)); }
/* max/min that propagate NaN (as the reference's Math.max/Math.min do). */
static inline float kiln_fmax(float a, float b) { return (a != a || b != b) ? NAN : (a > b ? a : b); }
static inline float kiln_fmin(float a, float b) { return (a != a || b != b) ? NAN : (a < b ? a : b); }
static inline float kiln_sigmoid(float x) { return 1.0f / (1.0f + expf(-x)); }
static inline float kiln_silu(float x) { return x / (1.0f + expf(-x)); }
static inline float kiln_gelu(float x) { return 0.5f * x * (1.0f + erff(x * 0.70710678118654752f)); }
static inline float kiln_gelu_tanh(float x) {
  return 0.5f * x * (1.0f + tanhf(0.79788456080286536f * (x + 0.044715f * x * x * x)));
}
/* A gather index taken from a tensor value: negative counts from the end (as in PyTorch). */
static inline int64_t kiln_wrap_index(int64_t v, int64_t n) { return v < 0 ? v + n : v; }

#endif
