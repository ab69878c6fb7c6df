/* attention.c: paged causal attention (vLLM-style block table), prefill and decode over a KV cache of fixed-size
   blocks.

   Flash-attention style: a work item is a unit of query rows (at most KILN_ATT_ROWS = 16: consecutive query tokens
   of one sequence × KV heads × the query heads of each KV head's group, so each K/V row is read from memory once per
   group) over a range of context positions, walked KILN_ATT_T = 16 positions at a time with an online softmax
   (running max and sum per row, the accumulator rescaled only when the max grows): no [S, L] score buffer exists.
   Scores are kept in base 2 (scale · log2 e folded in) and exponentiated by a vector exp2 (Cephes polynomial).

   Units: prefill takes many tokens per unit (8 tokens × 2 heads at GQA 2), decode takes a token's heads of many KV
   heads (whose rows are adjacent in the cache, so a unit streams whole blocks; K and V are walked position-major
   across those heads so the hardware prefetchers see a few sequential streams). Two kernels (attention_cache.inc,
   compiled per cache type in attention_f32.c and attention_bf16kv.c, so the two compile in parallel):
    - general (every ISA): QK^T read along D like the nt GEMM (rows × 4 positions of accumulators, one
      transpose-and-add per 4 scores), P·V broadcasting weights against 2 vectors of each V row;
    - AVX-512, units of 8+ rows on one KV head (prefill): rows are the 16 lanes; Q^T is built once per unit, a
      position's scores are one vector (its K elements broadcast against Q^T: no horizontal sums), and the softmax
      runs across positions elementwise.
   Items are claimed dynamically (an atomic counter, largest first) by the threads of one kiln_parallel_for, so causal
   prefill (item costs grow with position) balances. When a unit costs more than a quarter of a thread's share (decode:
   S = 1 is one or a few units) its context is split into chunks (flash-decoding); each chunk leaves (max, sum,
   accumulator) partials and the thread finishing a unit's last chunk merges them. */
#include <stdatomic.h>

#include "attention.h"

typedef struct {
  atomic_int remaining;
  int32_t chunks;
  int64_t part0;
} kiln_att_split;

typedef struct {
  const kiln_att_args* a;
  kiln_att_item_fn fn;
  const kiln_att_item* items;
  int64_t nitems;
  kiln_att_split* splits;
  float* parts;
  atomic_llong next;
} kiln_att_job;

static float* kiln_att_out_row(const kiln_att_args* a, const kiln_att_item* it, int64_t r) {
  int64_t tok, h;
  kiln_att_row(a, it, r, &tok, &h);
  return a->out + (tok * a->NH + h) * a->D;
}

static void kiln_att_write(const kiln_att_args* a, const kiln_att_item* it, const float* l, const float* acc) {
  const int64_t D = a->D, ldacc = KILN_ATT_LDACC(D), rows = kiln_att_rows(it);
  for (int64_t r = 0; r < rows; r++) {
    float* o = kiln_att_out_row(a, it, r);
    kv inv = kv_set1(1.0f / l[r]);
    int64_t d = 0;
    for (; d + KV_LANES <= D; d += KV_LANES) kv_store(o + d, kva_mul(kv_load(acc + r * ldacc + d), inv));
    if (d < D) kv_store_part(o + d, kva_mul(kv_load(acc + r * ldacc + d), inv), D - d);
  }
}

/* out rows of a split unit = the chunks' accumulators, each weighted by 2^(m_c - M), over the weighted sums. */
static void kiln_att_merge(const kiln_att_job* job, const kiln_att_item* it, const kiln_att_split* sp) {
  const kiln_att_args* a = job->a;
  const int64_t D = a->D, ldacc = KILN_ATT_LDACC(D), rows = kiln_att_rows(it), part = KILN_ATT_PART(D);
  for (int64_t r = 0; r < rows; r++) {
    float M = -INFINITY, L = 0.0f;
    for (int32_t c = 0; c < sp->chunks; c++) {
      float mc = job->parts[(sp->part0 + c) * part + r];
      M = mc > M ? mc : M;
    }
    float w[KILN_ATT_MAX_CHUNKS];
    for (int32_t c = 0; c < sp->chunks; c++) {
      const float* pc = job->parts + (sp->part0 + c) * part;
      w[c] = pc[r] == -INFINITY ? 0.0f : exp2f(pc[r] - M);
      L += w[c] * pc[rows + r];
    }
    float* o = kiln_att_out_row(a, it, r);
    for (int64_t d0 = 0; d0 < D; d0 += KV_LANES) {
      kv s = kv_zero();
      for (int32_t c = 0; c < sp->chunks; c++) {
        const float* accc = job->parts + (sp->part0 + c) * part + 2 * rows + r * ldacc;
        s = kv_fma(kv_set1(w[c] / L), kv_load(accc + d0), s);
      }
      if (d0 + KV_LANES <= D) kv_store(o + d0, s); else kv_store_part(o + d0, s, D - d0);
    }
  }
}

static void kiln_att_worker(void* p, int64_t lo, int64_t hi) {
  (void)lo;
  (void)hi;
  kiln_att_job* job = (kiln_att_job*)p;
  const kiln_att_args* a = job->a;
  float m[KILN_ATT_ROWS], l[KILN_ATT_ROWS];
  float acc[KILN_ATT_ROWS * KILN_ATT_MAX_D] __attribute__((aligned(64)));
  const int64_t ldacc = KILN_ATT_LDACC(a->D);
  for (;;) {
    int64_t k = atomic_fetch_add_explicit(&job->next, 1, memory_order_relaxed);
    if (k >= job->nitems) break;
    const kiln_att_item* it = &job->items[k];
    job->fn(a, it, m, l, acc);
    if (it->unit < 0) {
      kiln_att_write(a, it, l, acc);
      continue;
    }
    const int64_t rows = kiln_att_rows(it);
    float* pp = job->parts + it->part * KILN_ATT_PART(a->D);
    memcpy(pp, m, sizeof(float) * rows);
    memcpy(pp + rows, l, sizeof(float) * rows);
    memcpy(pp + 2 * rows, acc, sizeof(float) * rows * ldacc);
    kiln_att_split* sp = &job->splits[it->unit];
    if (atomic_fetch_sub_explicit(&sp->remaining, 1, memory_order_acq_rel) == 1) kiln_att_merge(job, it, sp);
  }
}

static int kiln_att_by_cost(const void* x, const void* y) {
  const kiln_att_item* a = (const kiln_att_item*)x;
  const kiln_att_item* b = (const kiln_att_item*)y;
  if (a->cost != b->cost) return a->cost > b->cost ? -1 : 1;
  /* qsort is not stable: tie-break on the item's identity so the order is deterministic */
  if (a->i0 != b->i0) return a->i0 < b->i0 ? -1 : 1;
  if (a->kv0 != b->kv0) return a->kv0 < b->kv0 ? -1 : 1;
  if (a->g0 != b->g0) return a->g0 < b->g0 ? -1 : 1;
  return a->c0 < b->c0 ? -1 : a->c0 > b->c0;
}

/* The chunks a unit's context is split into: one, unless it costs more than target (a quarter of a thread's share)
   and is long enough; each chunk at least KILN_ATT_MIN_CHUNK positions, at most KILN_ATT_MAX_CHUNKS of them. */
static int64_t kiln_att_chunks(const kiln_att_item* unit, int64_t target) {
  const int64_t ctx = unit->c1;
  if (unit->cost <= target || ctx < 2 * KILN_ATT_MIN_CHUNK) return 1;
  int64_t chunks = (unit->cost + target - 1) / target;
  if (chunks > ctx / KILN_ATT_MIN_CHUNK) chunks = ctx / KILN_ATT_MIN_CHUNK;
  return chunks > KILN_ATT_MAX_CHUNKS ? KILN_ATT_MAX_CHUNKS : chunks;
}

/* Units: query tiles × KV heads × head groups, up to KILN_ATT_ROWS rows each; items run largest first. */
void kiln_att_run(const kiln_att_args* a, kiln_att_item_fn fn) {
  const int64_t S = a->S, NH = a->NH, NKV = a->NKV, D = a->D;
  if (S <= 0 || NH <= 0 || D <= 0) return;
  if (NKV <= 0 || NH % NKV != 0) { kiln_fail("kiln_paged_attention: NH must be a multiple of NKV"); return; }
  if (D > KILN_ATT_MAX_D) { kiln_fail("kiln_paged_attention: head size over 256"); return; }
  if (a->BS <= 0) { kiln_fail("kiln_paged_attention: block size must be positive"); return; }
  const int64_t cap = a->BS * a->max_blocks;
  for (int64_t i = 0; i < S; i++) {
    if (a->q_pos[i] < 0 || a->q_pos[i] >= cap || a->q_seq[i] < 0) { kiln_fail("kiln_paged_attention: query position outside its block table"); return; }
  }
  const int64_t G = NH / NKV;
  const int64_t ngroups = (G + KILN_ATT_ROWS - 1) / KILN_ATT_ROWS, gsize = (G + ngroups - 1) / ngroups;
  const int64_t qt = KILN_ATT_ROWS / gsize;
  /* tiles of up to qt consecutive tokens of one sequence */
  int64_t ntiles = 0;
  for (int64_t i = 0; i < S;) {
    int64_t e = i + 1;
    while (e < S && e - i < qt && a->q_seq[e] == a->q_seq[i]) e++;
    ntiles++;
    i = e;
  }
  kiln_att_item* units = (kiln_att_item*)kiln_scratch(sizeof(kiln_att_item) * (size_t)(ntiles * NKV * ngroups));
  if (!units) return;
  int64_t u = 0, total = 0;
  for (int64_t i = 0; i < S;) {
    int64_t e = i + 1, ctx = a->q_pos[i] + 1;
    while (e < S && e - i < qt && a->q_seq[e] == a->q_seq[i]) {
      if (a->q_pos[e] + 1 > ctx) ctx = a->q_pos[e] + 1;
      e++;
    }
    /* KV heads per unit: as many as the rows allow (decode: a whole token's heads, read as contiguous rows) */
    int64_t per = KILN_ATT_ROWS / ((e - i) * gsize);
    per = per < 1 ? 1 : per > NKV ? NKV : per;
    for (int64_t kv0 = 0; kv0 < NKV; kv0 += per) {
      int64_t nkv = NKV - kv0 < per ? NKV - kv0 : per;
      for (int64_t g0 = 0; g0 < G; g0 += gsize) {
        int64_t ng = G - g0 < gsize ? G - g0 : gsize;
        kiln_att_item it = {(int32_t)i, (int32_t)(e - i), (int32_t)kv0, (int32_t)nkv, (int32_t)g0, (int32_t)ng, a->q_seq[i],
                            0, ctx, ctx * (e - i) * nkv * ng, -1, 0};
        units[u++] = it;
        total += it.cost;
      }
    }
    i = e;
  }
  const int64_t nunits = u;
  const int nth = kiln_num_threads();
  const int serial = (double)total * (double)D < KILN_ATT_SERIAL_WORK || nth <= 1;
  /* Split a unit costing more than a quarter of one thread's share, into chunks of whole tiles. */
  const int64_t target = serial ? INT64_MAX : total / (4 * (int64_t)nth) + 1;
  int64_t nitems = 0, nsplit = 0, nparts = 0;
  for (int64_t k = 0; k < nunits; k++) {
    int64_t chunks = kiln_att_chunks(&units[k], target);
    if (chunks > 1) { nsplit++; nparts += chunks; }
    nitems += chunks;
  }
  kiln_att_item* items = units;
  kiln_att_split* splits = NULL;
  float* parts = NULL;
  if (nsplit > 0) {
    items = (kiln_att_item*)kiln_scratch(sizeof(kiln_att_item) * (size_t)nitems);
    splits = (kiln_att_split*)kiln_scratch(sizeof(kiln_att_split) * (size_t)nsplit);
    parts = (float*)kiln_scratch(sizeof(float) * (size_t)(nparts * KILN_ATT_PART(D)));
    if (!items || !splits || !parts) { free(items == units ? NULL : items); free(splits); free(parts); free(units); return; }
    int64_t n = 0, sidx = 0, part = 0;
    for (int64_t k = 0; k < nunits; k++) {
      kiln_att_item it = units[k];
      int64_t ctx = it.c1, chunks = kiln_att_chunks(&it, target);
      if (chunks == 1) { items[n++] = it; continue; }
      int64_t len = (ctx + chunks - 1) / chunks;
      len = (len + KILN_ATT_T - 1) / KILN_ATT_T * KILN_ATT_T;
      chunks = (ctx + len - 1) / len;
      atomic_init(&splits[sidx].remaining, (int)chunks);
      splits[sidx].chunks = (int32_t)chunks;
      splits[sidx].part0 = part;
      for (int64_t c = 0; c < chunks; c++) {
        kiln_att_item ci = it;
        ci.c0 = c * len;
        ci.c1 = (c + 1) * len < ctx ? (c + 1) * len : ctx;
        ci.cost = (ci.c1 - ci.c0) * kiln_att_rows(&it);
        ci.unit = sidx;
        ci.part = part++;
        items[n++] = ci;
      }
      sidx++;
    }
    nitems = n;
  }
  if (!serial) qsort(items, (size_t)nitems, sizeof(kiln_att_item), kiln_att_by_cost);
  kiln_att_job job = {a, fn, items, nitems, splits, parts, 0};
  atomic_init(&job.next, 0);
  if (serial) kiln_att_worker(&job, 0, 1);
  else kiln_parallel_for(nth, 1, kiln_att_worker, &job);
  if (items != units) free(items);
  free(units);
  free(splits);
  free(parts);
}
