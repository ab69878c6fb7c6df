// The native runtime's C source, prepended to every shared object: ISA selection, errors, thread pool and arena.
//
// Every object carries its own copy (objects must load alone, on machines without a compiler), so all of it is
// `static` and the object exports only its N-API entry. The pool is ours rather than OpenMP's: no libgomp at load
// time, and a dispatch costs a cache-line handoff (see bench/native.ts for the measured overhead of both).

export const RUNTIME_C = String.raw`
/* ---- kiln native runtime ---- */
#include <stdint.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <pthread.h>
#include <stdatomic.h>
#include <time.h>
#include <sched.h>

#define KILN_API static __attribute__((unused))
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
#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#define KILN_PAUSE() _mm_pause()
#elif defined(__aarch64__)
#define KILN_PAUSE() __asm__ __volatile__("yield")
#else
#define KILN_PAUSE() ((void)0)
#endif

/* ---- errors: a kernel (on any pool thread) or the wrapper reports a failure; the glue throws it after the call.
   The first message wins; messages are static strings. ---- */
static _Atomic(const char*) kiln_error_message;
KILN_API void kiln_fail(const char* message) {
  const char* none = NULL;
  atomic_compare_exchange_strong(&kiln_error_message, &none, message);
}

/* ---- thread pool: workers spin for a while after each job, then sleep on a condition variable ---- */
#define KILN_MAX_THREADS 256
#define KILN_SPIN_NS 200000
typedef void (*kiln_task_fn)(void* ctx, int tid, int nth);

static struct {
  pthread_mutex_t dispatch;   /* one dispatcher at a time; others run their job inline */
  pthread_mutex_t mu;
  pthread_cond_t cv;
  atomic_uint gen;            /* bumped once per job */
  atomic_int pending;         /* workers that have not finished the current job */
  atomic_int sleepers;
  atomic_int stop;
  kiln_task_fn fn;
  void* ctx;
  int nth;                    /* threads taking part in the current job, caller included */
  int workers;                /* started worker threads */
  atomic_int threads;         /* wanted threads, caller included (0 until set: 1) */
  int users;                  /* Node environments that loaded this object */
  unsigned start_gen;
  pthread_t handles[KILN_MAX_THREADS];
} kiln_pool = {.dispatch = PTHREAD_MUTEX_INITIALIZER, .mu = PTHREAD_MUTEX_INITIALIZER, .cv = PTHREAD_COND_INITIALIZER};

static _Thread_local int kiln_in_job;

static int64_t kiln_now_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static void* kiln_worker_main(void* arg) {
  int tid = (int)(intptr_t)arg;
  unsigned seen = kiln_pool.start_gen;
  kiln_in_job = 1;
  for (;;) {
    unsigned g;
    int64_t spin_until = 0;
    int spins = 0;
    while ((g = atomic_load_explicit(&kiln_pool.gen, memory_order_acquire)) == seen) {
      if ((++spins & 255) != 0) { KILN_PAUSE(); continue; }
      sched_yield(); /* let other runnable threads have this core: on a busy machine spinning must not starve them */
      int64_t now = kiln_now_ns();
      if (spin_until == 0) { spin_until = now + KILN_SPIN_NS; continue; }
      if (now < spin_until) continue;
      pthread_mutex_lock(&kiln_pool.mu);
      atomic_fetch_add(&kiln_pool.sleepers, 1);
      while (atomic_load(&kiln_pool.gen) == seen) pthread_cond_wait(&kiln_pool.cv, &kiln_pool.mu);
      atomic_fetch_sub(&kiln_pool.sleepers, 1);
      pthread_mutex_unlock(&kiln_pool.mu);
      spins = 0;
      spin_until = 0;
    }
    seen = g;
    if (atomic_load(&kiln_pool.stop)) break;
    if (tid < kiln_pool.nth) kiln_pool.fn(kiln_pool.ctx, tid, kiln_pool.nth);
    atomic_fetch_sub_explicit(&kiln_pool.pending, 1, memory_order_release);
  }
  return NULL;
}

/* Wakes every worker for a new job (or for stop): Dekker-style with the sleepers count, so none misses it. */
static void kiln_pool_publish(void) {
  atomic_fetch_add(&kiln_pool.gen, 1);
  if (atomic_load(&kiln_pool.sleepers) > 0) {
    pthread_mutex_lock(&kiln_pool.mu);
    pthread_cond_broadcast(&kiln_pool.cv);
    pthread_mutex_unlock(&kiln_pool.mu);
  }
}

/* Starts workers up to threads-1; call with kiln_pool.dispatch held. Returns the usable thread count. */
static int kiln_pool_grow(int threads) {
  if (threads > KILN_MAX_THREADS) threads = KILN_MAX_THREADS;
  kiln_pool.start_gen = atomic_load(&kiln_pool.gen);
  while (kiln_pool.workers < threads - 1) {
    int tid = kiln_pool.workers + 1;
    if (pthread_create(&kiln_pool.handles[tid], NULL, kiln_worker_main, (void*)(intptr_t)tid) != 0) break;
    kiln_pool.workers++;
  }
  return kiln_pool.workers + 1 < threads ? kiln_pool.workers + 1 : threads;
}

KILN_API int kiln_num_threads(void) {
  int n = atomic_load_explicit(&kiln_pool.threads, memory_order_relaxed);
  return n > 0 ? n : 1;
}

/* Takes effect at the next parallel region; workers are started on demand and never stopped before unload. */
KILN_API void kiln_set_num_threads(int n) {
  atomic_store(&kiln_pool.threads, n < 1 ? 1 : n > KILN_MAX_THREADS ? KILN_MAX_THREADS : n);
}

/* Runs fn(ctx, tid, nth) on nth threads (the caller is tid 0) and returns when all are done.
   Nested calls, and calls while another thread dispatches, run inline with nth = 1. */
KILN_API void kiln_parallel(kiln_task_fn fn, void* ctx) {
  int nth = kiln_num_threads();
  if (nth <= 1 || kiln_in_job || pthread_mutex_trylock(&kiln_pool.dispatch) != 0) {
    fn(ctx, 0, 1);
    return;
  }
  nth = kiln_pool_grow(nth);
  if (nth <= 1) {
    pthread_mutex_unlock(&kiln_pool.dispatch);
    fn(ctx, 0, 1);
    return;
  }
  kiln_pool.fn = fn;
  kiln_pool.ctx = ctx;
  kiln_pool.nth = nth;
  atomic_store(&kiln_pool.pending, kiln_pool.workers);
  kiln_pool_publish();
  kiln_in_job = 1;
  fn(ctx, 0, nth);
  kiln_in_job = 0;
  /* Spin for the stragglers, then yield: on a busy machine one of them may be waiting for this very core. */
  for (int spins = 1; atomic_load_explicit(&kiln_pool.pending, memory_order_acquire) > 0; spins++) {
    if (spins > 128) sched_yield(); else KILN_PAUSE();
  }
  pthread_mutex_unlock(&kiln_pool.dispatch);
}

typedef void (*kiln_range_fn)(void* ctx, int64_t begin, int64_t end);
typedef struct { kiln_range_fn fn; void* ctx; int64_t n, grain; } kiln_for_job;

static void kiln_for_task(void* p, int tid, int nth) {
  const kiln_for_job* job = (const kiln_for_job*)p;
  int64_t chunks = (job->n + job->grain - 1) / job->grain;
  int64_t lo = chunks * tid / nth * job->grain, hi = chunks * (tid + 1) / nth * job->grain;
  if (hi > job->n) hi = job->n;
  if (lo < hi) job->fn(job->ctx, lo, hi);
}

/* Splits [0, n) into one contiguous range per thread, each a multiple of grain (except the last). */
KILN_API void kiln_parallel_for(int64_t n, int64_t grain, kiln_range_fn fn, void* ctx) {
  if (n <= 0) return;
  if (grain < 1) grain = 1;
  if (n <= grain || kiln_num_threads() <= 1) { fn(ctx, 0, n); return; }
  kiln_for_job job = {fn, ctx, n, grain};
  kiln_parallel(kiln_for_task, &job);
}

static void kiln_pool_stop(void) {
  pthread_mutex_lock(&kiln_pool.dispatch);
  atomic_store(&kiln_pool.stop, 1);
  kiln_pool_publish();
  for (int t = 1; t <= kiln_pool.workers; t++) pthread_join(kiln_pool.handles[t], NULL);
  kiln_pool.workers = 0;
  atomic_store(&kiln_pool.stop, 0);
  pthread_mutex_unlock(&kiln_pool.dispatch);
}

/* ---- arena: one 64-byte-aligned block for the memory plan, grown on demand and reused across calls ---- */
typedef struct { unsigned char* base; size_t cap; } kiln_arena;
/* Per calling thread, so JS worker threads running the same object never share one. */
static _Thread_local kiln_arena kiln_default_arena;

KILN_INLINE size_t kiln_align64(size_t n) { return (n + 63) & ~(size_t)63; }

/* Returns a block of at least bytes (64-aligned), or NULL after kiln_fail. Earlier contents are not kept. */
KILN_API void* kiln_arena_reserve(kiln_arena* a, size_t bytes) {
  if (bytes <= a->cap) return a->base;
  size_t cap = kiln_align64(bytes > a->cap + a->cap / 2 ? bytes : a->cap + a->cap / 2);
  free(a->base);
  a->base = (unsigned char*)aligned_alloc(64, cap);
  a->cap = a->base ? cap : 0;
  if (!a->base) kiln_fail("kiln arena: out of memory");
  return a->base;
}

KILN_API void kiln_arena_release(kiln_arena* a) {
  free(a->base);
  a->base = NULL;
  a->cap = 0;
}

/* Scratch for kernels (packing, conversions): 64-aligned, freed by the caller with free(). */
KILN_API void* kiln_scratch(size_t bytes) {
  void* p = aligned_alloc(64, kiln_align64(bytes ? bytes : 64));
  if (!p) kiln_fail("kiln scratch: out of memory");
  return p;
}

/* Per-thread scratch (packed panels): grows on demand, kept for the thread's life, valid until the thread's next call. */
static _Thread_local void* kiln_tls_scratch;
static _Thread_local size_t kiln_tls_scratch_cap;
KILN_API void* kiln_thread_scratch(size_t bytes) {
  if (bytes > kiln_tls_scratch_cap) {
    free(kiln_tls_scratch);
    kiln_tls_scratch_cap = kiln_align64(bytes);
    kiln_tls_scratch = aligned_alloc(64, kiln_tls_scratch_cap);
    if (!kiln_tls_scratch) {
      kiln_tls_scratch_cap = 0;
      kiln_fail("kiln thread scratch: out of memory");
    }
  }
  return kiln_tls_scratch;
}

/* ---- bf16 / f16 scalars (round to nearest even, as src/tensor/half.ts) ---- */
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
`;
