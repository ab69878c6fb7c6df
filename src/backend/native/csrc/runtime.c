/* runtime.c: errors, the thread pool, the profiling counters, the arena and scratch memory of the native runtime.

   Linked into every model's object (objects must load alone, on machines without a compiler), with hidden
   visibility, so each object has its own pool. The pool is ours rather than OpenMP's: no libgomp at load time,
   and a dispatch costs a cache-line handoff (see bench/native.ts for the measured overhead of both). */
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <time.h>

#include "kiln_runtime.h"

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#define KILN_PAUSE() _mm_pause()
#elif defined(__aarch64__)
#define KILN_PAUSE() __asm__ __volatile__("yield")
#else
#define KILN_PAUSE() ((void)0)
#endif

/* ---- errors ---- */
static _Atomic(const char*) kiln_error_message;

void kiln_fail(const char* message) {
  const char* none = NULL;
  atomic_compare_exchange_strong(&kiln_error_message, &none, message);
}

const char* kiln_take_error(void) { return atomic_exchange(&kiln_error_message, NULL); }

/* ---- thread pool: workers spin for a while after each job, then sleep on a condition variable ---- */
#define KILN_SPIN_NS 200000

/* Two kinds of job. A task job runs fn(ctx, tid, nth) once per thread and waits for every one of them. A range job
   (kiln_parallel_for) cuts [0, n) into chunks that the threads claim from a shared ticket: whoever is running takes
   the next chunk, so a worker that is descheduled (a busy machine) or asleep when the job starts delays it by no more
   than the chunk it is in; the caller waits only for chunks that were claimed.
   A job's fields are published seqlock-style: gen is odd while the caller writes them, even (one more job) after.
   A worker reads them, then checks gen again: a range job does not wait for workers, so the next job may replace it
   while a late worker is looking. Its ticket holds the job's gen, so a stale worker's claim always fails. */
enum { KILN_JOB_TASK, KILN_JOB_RANGE };

static struct {
  pthread_mutex_t dispatch;   /* one dispatcher at a time; others run their job inline */
  pthread_mutex_t mu;
  pthread_cond_t cv;
  atomic_uint gen;            /* bumped twice per job: odd while its fields are written */
  atomic_int pending;         /* workers that have not finished the current task job */
  atomic_int sleepers;
  atomic_int stop;
  atomic_int kind;
  _Atomic(kiln_task_fn) fn;
  _Atomic(void*) ctx;
  atomic_int nth;             /* threads taking part in the current task job, caller included */
  _Atomic(kiln_range_fn) rfn; /* the current range job: chunk i is [i * chunk, min(n, (i + 1) * chunk)) */
  atomic_llong rn, rchunk, rchunks;
  _Atomic uint64_t ticket;    /* (gen of the range job << 32) | next unclaimed chunk */
  atomic_llong rdone;         /* chunks of the range job finished */
  int workers;                /* started worker threads */
  atomic_int threads;         /* wanted threads, caller included (0 until set: 1) */
  int users;                  /* Node environments that loaded this object */
  unsigned start_gen;
  pthread_t handles[KILN_MAX_THREADS];
} kiln_pool = {.dispatch = PTHREAD_MUTEX_INITIALIZER, .mu = PTHREAD_MUTEX_INITIALIZER, .cv = PTHREAD_COND_INITIALIZER};

static _Thread_local int kiln_in_job;
static atomic_llong kiln_jobs;

int64_t kiln_parallel_jobs(void) { return atomic_load_explicit(&kiln_jobs, memory_order_relaxed); }

static int64_t kiln_now_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

/* Claims and runs chunks of the range job `g` until none is left (or the job is no longer g). Returns the chunks run. */
static int64_t kiln_range_claim(unsigned g, kiln_range_fn fn, void* ctx, int64_t n, int64_t chunk, int64_t chunks) {
  int64_t ran = 0;
  uint64_t t = atomic_load_explicit(&kiln_pool.ticket, memory_order_acquire);
  for (;;) {
    if ((uint32_t)(t >> 32) != (uint32_t)g || (int64_t)(t & 0xffffffffu) >= chunks) return ran;
    if (!atomic_compare_exchange_weak_explicit(&kiln_pool.ticket, &t, t + 1, memory_order_acq_rel, memory_order_acquire)) continue;
    int64_t lo = (int64_t)(t & 0xffffffffu) * chunk, hi = lo + chunk < n ? lo + chunk : n;
    fn(ctx, lo, hi);
    atomic_fetch_add_explicit(&kiln_pool.rdone, 1, memory_order_release);
    ran++;
    t = atomic_load_explicit(&kiln_pool.ticket, memory_order_acquire);
  }
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
    if (g & 1) { KILN_PAUSE(); continue; } /* the caller is writing the next job */
    if (atomic_load(&kiln_pool.stop)) break;
    /* Read the job, then check it is still job g (the seqlock's read side): a range job does not wait for this
       worker, so the caller may be writing the next one (of either kind) meanwhile. */
    int kind = atomic_load_explicit(&kiln_pool.kind, memory_order_relaxed);
    int nth = atomic_load_explicit(&kiln_pool.nth, memory_order_relaxed);
    kiln_task_fn task = atomic_load_explicit(&kiln_pool.fn, memory_order_relaxed);
    kiln_range_fn fn = atomic_load_explicit(&kiln_pool.rfn, memory_order_relaxed);
    void* ctx = atomic_load_explicit(&kiln_pool.ctx, memory_order_relaxed);
    int64_t n = atomic_load_explicit(&kiln_pool.rn, memory_order_relaxed);
    int64_t chunk = atomic_load_explicit(&kiln_pool.rchunk, memory_order_relaxed);
    int64_t chunks = atomic_load_explicit(&kiln_pool.rchunks, memory_order_relaxed);
    atomic_thread_fence(memory_order_acquire);
    if (atomic_load_explicit(&kiln_pool.gen, memory_order_relaxed) != g) continue; /* replaced while reading: look again */
    seen = g;
    if (kind == KILN_JOB_TASK) {
      /* A task job waits for every worker, so it stays job g until this one has run it. */
      if (tid < nth) task(ctx, tid, nth);
      atomic_fetch_sub_explicit(&kiln_pool.pending, 1, memory_order_release);
      continue;
    }
    kiln_range_claim(g, fn, ctx, n, chunk, chunks);
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

/* Marks the job's fields as being written (gen odd); kiln_pool_publish makes it even again and wakes the workers. */
static void kiln_pool_begin(void) {
  atomic_fetch_add_explicit(&kiln_pool.gen, 1, memory_order_relaxed);
  atomic_thread_fence(memory_order_release);
}

/* Starts workers up to threads-1; call with kiln_pool.dispatch held. Returns the usable thread count. */
static int kiln_pool_grow(int threads) {
  if (threads > KILN_MAX_THREADS) threads = KILN_MAX_THREADS;
  if (kiln_pool.workers < threads - 1) kiln_pool.start_gen = atomic_load(&kiln_pool.gen); /* read by new workers only */
  while (kiln_pool.workers < threads - 1) {
    int tid = kiln_pool.workers + 1;
    if (pthread_create(&kiln_pool.handles[tid], NULL, kiln_worker_main, (void*)(intptr_t)tid) != 0) break;
    kiln_pool.workers++;
  }
  return kiln_pool.workers + 1 < threads ? kiln_pool.workers + 1 : threads;
}

int kiln_num_threads(void) {
  int n = atomic_load_explicit(&kiln_pool.threads, memory_order_relaxed);
  return n > 0 ? n : 1;
}

void kiln_set_num_threads(int n) {
  atomic_store(&kiln_pool.threads, n < 1 ? 1 : n > KILN_MAX_THREADS ? KILN_MAX_THREADS : n);
}

void kiln_parallel(kiln_task_fn fn, void* ctx) {
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
  atomic_fetch_add_explicit(&kiln_jobs, 1, memory_order_relaxed);
  kiln_pool_begin();
  atomic_store_explicit(&kiln_pool.kind, KILN_JOB_TASK, memory_order_relaxed);
  atomic_store_explicit(&kiln_pool.fn, fn, memory_order_relaxed);
  atomic_store_explicit(&kiln_pool.ctx, ctx, memory_order_relaxed);
  atomic_store_explicit(&kiln_pool.nth, nth, memory_order_relaxed);
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

void kiln_parallel_for_chunks(int64_t n, int64_t grain, int64_t per_thread, kiln_range_fn fn, void* ctx) {
  if (n <= 0) return;
  if (grain < 1) grain = 1;
  if (per_thread < 1) per_thread = 1;
  int nth = kiln_num_threads();
  if (n <= grain || nth <= 1 || kiln_in_job || pthread_mutex_trylock(&kiln_pool.dispatch) != 0) {
    fn(ctx, 0, n);
    return;
  }
  nth = kiln_pool_grow(nth);
  int64_t grains = (n + grain - 1) / grain, want = (int64_t)nth * per_thread;
  int64_t chunk = (grains + want - 1) / want * grain, chunks = (n + chunk - 1) / chunk;
  if (nth <= 1 || chunks <= 1) {
    pthread_mutex_unlock(&kiln_pool.dispatch);
    fn(ctx, 0, n);
    return;
  }
  atomic_fetch_add_explicit(&kiln_jobs, 1, memory_order_relaxed);
  kiln_pool_begin();
  unsigned g = atomic_load_explicit(&kiln_pool.gen, memory_order_relaxed) + 1; /* the gen kiln_pool_publish makes */
  atomic_store_explicit(&kiln_pool.kind, KILN_JOB_RANGE, memory_order_relaxed);
  atomic_store_explicit(&kiln_pool.rfn, fn, memory_order_relaxed);
  atomic_store_explicit(&kiln_pool.ctx, ctx, memory_order_relaxed);
  atomic_store_explicit(&kiln_pool.rn, n, memory_order_relaxed);
  atomic_store_explicit(&kiln_pool.rchunk, chunk, memory_order_relaxed);
  atomic_store_explicit(&kiln_pool.rchunks, chunks, memory_order_relaxed);
  atomic_store_explicit(&kiln_pool.rdone, 0, memory_order_relaxed);
  atomic_store_explicit(&kiln_pool.ticket, (uint64_t)g << 32, memory_order_relaxed);
  kiln_pool_publish();
  kiln_in_job = 1;
  int64_t mine = kiln_range_claim(g, fn, ctx, n, chunk, chunks);
  kiln_in_job = 0;
  /* Only chunks a worker claimed are left: spin for them, then yield (the worker may be waiting for this very core). */
  for (int spins = 1; atomic_load_explicit(&kiln_pool.rdone, memory_order_acquire) < chunks; spins++) {
    if (spins > 128) sched_yield(); else KILN_PAUSE();
  }
  (void)mine;
  pthread_mutex_unlock(&kiln_pool.dispatch);
}

void kiln_parallel_for(int64_t n, int64_t grain, kiln_range_fn fn, void* ctx) {
  kiln_parallel_for_chunks(n, grain, KILN_FOR_CHUNKS, fn, ctx);
}

static void kiln_pool_stop(void) {
  pthread_mutex_lock(&kiln_pool.dispatch);
  kiln_pool_begin();
  atomic_store(&kiln_pool.stop, 1);
  kiln_pool_publish();
  for (int t = 1; t <= kiln_pool.workers; t++) pthread_join(kiln_pool.handles[t], NULL);
  kiln_pool.workers = 0;
  atomic_store(&kiln_pool.stop, 0);
  pthread_mutex_unlock(&kiln_pool.dispatch);
}

/* ---- profiling ---- */
static atomic_int kiln_profile_on;
static _Atomic(kiln_profile_entry*) kiln_profile_entries;
static atomic_int kiln_profile_count;
static atomic_llong kiln_profile_forwards, kiln_profile_forward_ns;

int kiln_profile_enabled(void) { return atomic_load_explicit(&kiln_profile_on, memory_order_relaxed); }

void kiln_set_profile(int on) { atomic_store(&kiln_profile_on, on != 0); }

int64_t kiln_profile_begin(kiln_profile_entry* table, int n) {
  atomic_store(&kiln_profile_count, n);
  atomic_store(&kiln_profile_entries, table);
  return kiln_now_ns();
}

int64_t kiln_profile_lap(kiln_profile_entry* e, int64_t since) {
  int64_t now = kiln_now_ns();
  __atomic_fetch_add(&e->ns, now - since, __ATOMIC_RELAXED);
  __atomic_fetch_add(&e->calls, 1, __ATOMIC_RELAXED);
  return now;
}

void kiln_profile_end(int64_t start) {
  atomic_fetch_add(&kiln_profile_forward_ns, kiln_now_ns() - start);
  atomic_fetch_add(&kiln_profile_forwards, 1);
}

const kiln_profile_entry* kiln_profile_table(int* n, int64_t* forwards, int64_t* forward_ns) {
  *n = atomic_load(&kiln_profile_count);
  *forwards = atomic_load(&kiln_profile_forwards);
  *forward_ns = atomic_load(&kiln_profile_forward_ns);
  return atomic_load(&kiln_profile_entries);
}

void kiln_profile_reset(void) {
  kiln_profile_entry* t = atomic_load(&kiln_profile_entries);
  for (int i = 0, n = atomic_load(&kiln_profile_count); t && i < n; i++) {
    __atomic_store_n(&t[i].calls, 0, __ATOMIC_RELAXED);
    __atomic_store_n(&t[i].ns, 0, __ATOMIC_RELAXED);
  }
  atomic_store(&kiln_profile_forwards, 0);
  atomic_store(&kiln_profile_forward_ns, 0);
}

/* ---- memory ---- */
_Thread_local kiln_arena kiln_default_arena;

void* kiln_arena_reserve(kiln_arena* a, size_t bytes) {
  if (bytes <= a->cap) return a->base;
  size_t cap = kiln_align64(bytes > a->cap + a->cap / 2 ? bytes : a->cap + a->cap / 2);
  free(a->base);
  a->base = (unsigned char*)aligned_alloc(64, cap);
  a->cap = a->base ? cap : 0;
  if (!a->base) kiln_fail("kiln arena: out of memory");
  return a->base;
}

void kiln_arena_release(kiln_arena* a) {
  free(a->base);
  a->base = NULL;
  a->cap = 0;
}

void* kiln_scratch(size_t bytes) {
  void* p = aligned_alloc(64, kiln_align64(bytes ? bytes : 64));
  if (!p) kiln_fail("kiln scratch: out of memory");
  return p;
}

static _Thread_local void* kiln_tls_scratch;
static _Thread_local size_t kiln_tls_scratch_cap;

void* kiln_thread_scratch(size_t bytes) {
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

/* ---- users: the pool and arena are shared by every Node environment that loads this object ---- */
void kiln_runtime_attach(void) {
  pthread_mutex_lock(&kiln_pool.mu);
  kiln_pool.users++;
  pthread_mutex_unlock(&kiln_pool.mu);
}

void kiln_runtime_detach(void) {
  pthread_mutex_lock(&kiln_pool.mu);
  int last = --kiln_pool.users == 0;
  pthread_mutex_unlock(&kiln_pool.mu);
  if (last) {
    kiln_pool_stop();
    kiln_arena_release(&kiln_default_arena);
  }
}
