/* attention.h: what the paged-attention driver (attention.c) and its kernels per cache type (attention_f32.c,
   attention_bf16kv.c) share: the vector operations beyond simd.h, the tiling constants, the call's arguments and a
   work item, and the driver that plans and runs the items. */
#ifndef KILN_ATTENTION_H
#define KILN_ATTENTION_H

#include "simd.h"

/* ---- vector operations beyond simd.h (max, mul, exp2), per ISA ---- */
#if defined(KILN_ISA_AVX512)
KILN_INLINE kv kva_mul(kv a, kv b) { return _mm512_mul_ps(a, b); }
KILN_INLINE kv kva_max(kv a, kv b) { return _mm512_max_ps(a, b); }
KILN_INLINE float kva_hmax(kv v) { return _mm512_reduce_max_ps(v); }
#elif defined(KILN_ISA_AVX2)
KILN_INLINE kv kva_mul(kv a, kv b) { return _mm256_mul_ps(a, b); }
KILN_INLINE kv kva_max(kv a, kv b) { return _mm256_max_ps(a, b); }
KILN_INLINE float kva_hmax(kv v) {
  __m128 s = _mm_max_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
  s = _mm_max_ps(s, _mm_movehl_ps(s, s));
  s = _mm_max_ss(s, _mm_movehdup_ps(s));
  return _mm_cvtss_f32(s);
}
#else
KILN_INLINE kv kva_mul(kv a, kv b) { return a * b; }
KILN_INLINE kv kva_max(kv a, kv b) { kv r; for (int i = 0; i < KV_LANES; i++) r[i] = a[i] > b[i] ? a[i] : b[i]; return r; }
KILN_INLINE float kva_hmax(kv v) { float m = v[0]; for (int i = 1; i < KV_LANES; i++) m = v[i] > m ? v[i] : m; return m; }
#endif

/* 2^x for x <= 0 (what the softmax needs; larger x is clamped to 128), -inf and x < -127 give 0. The fraction
   f = x - round(x) in [-0.5, 0.5] goes through Cephes' exp2f polynomial (relative error ~2e-7). */
#if defined(KILN_ISA_AVX512) || defined(KILN_ISA_AVX2)
#if defined(KILN_ISA_AVX512)
#define KVA_PS(op) _mm512_##op##_ps
#else
#define KVA_PS(op) _mm256_##op##_ps
#endif
KILN_INLINE kv kva_exp2(kv x) {
  x = KVA_PS(min)(KVA_PS(max)(x, kv_set1(-127.0f)), kv_set1(128.0f));
#if defined(KILN_ISA_AVX512)
  kv n = _mm512_roundscale_ps(x, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
#else
  kv n = _mm256_round_ps(x, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
#endif
  kv f = KVA_PS(sub)(x, n);
  kv p = kv_set1(1.535336188319500e-4f);
  p = kv_fma(p, f, kv_set1(1.339887440266574e-3f));
  p = kv_fma(p, f, kv_set1(9.618437357674640e-3f));
  p = kv_fma(p, f, kv_set1(5.550332471162809e-2f));
  p = kv_fma(p, f, kv_set1(2.402264791363012e-1f));
  p = kv_fma(p, f, kv_set1(6.931472028550421e-1f));
  p = kv_fma(p, f, kv_set1(1.0f));
#if defined(KILN_ISA_AVX512)
  /* 2^n by exponent arithmetic: n = -127 gives a zero float (so does -inf, clamped there); n = 128 infinity. */
  __m512i e = _mm512_slli_epi32(_mm512_add_epi32(_mm512_cvtps_epi32(n), _mm512_set1_epi32(127)), 23);
  return _mm512_mul_ps(p, _mm512_castsi512_ps(e));
#else
  __m256i e = _mm256_slli_epi32(_mm256_add_epi32(_mm256_cvtps_epi32(n), _mm256_set1_epi32(127)), 23);
  return _mm256_mul_ps(p, _mm256_castsi256_ps(e));
#endif
}
#else
KILN_INLINE kv kva_exp2(kv x) { kv r; for (int i = 0; i < KV_LANES; i++) r[i] = x[i] < -127.0f ? 0.0f : exp2f(x[i]); return r; }
#endif

/* bf16 rows read in pairs of vectors (AVX-512, AVX2): 2·KV_LANES words loaded as one integer vector split into the
   even-indexed elements (shifted into the high half) and the odd ones (masked): two plain ALU ops per 2·KV_LANES
   elements, where widening each vector takes a lane-crossing zero-extend and a shift (on Intel the zero-extend shares
   port 5 with the second FMA unit). A dot product does not care about the order of its elements (Q is put in the
   same order once per item); a P·V accumulator kept in that order is put back in place once per item (kva_unpair). */
#if defined(KILN_ISA_AVX512)
#define KILN_ATT_PAIRED 1
KILN_INLINE void kva_split_bf16(__m512i x, kv* e, kv* o) {
  *e = _mm512_castsi512_ps(_mm512_slli_epi32(x, 16));
  *o = _mm512_castsi512_ps(_mm512_and_si512(x, _mm512_set1_epi32((int)0xFFFF0000u)));
}
KILN_INLINE void kva_load_bf16_pair(const uint16_t* p, kv* e, kv* o) { kva_split_bf16(_mm512_loadu_si512(p), e, o); }
KILN_INLINE void kva_load_bf16_pair_part(const uint16_t* p, int64_t n, kv* e, kv* o) {
  kva_split_bf16(_mm512_maskz_loadu_epi16((__mmask32)((1ull << n) - 1), p), e, o);
}
/* x[0, 32): evens then odds → element order */
KILN_INLINE void kva_unpair(float* x) {
  const __m512i lo = _mm512_setr_epi32(0, 16, 1, 17, 2, 18, 3, 19, 4, 20, 5, 21, 6, 22, 7, 23);
  const __m512i hi = _mm512_setr_epi32(8, 24, 9, 25, 10, 26, 11, 27, 12, 28, 13, 29, 14, 30, 15, 31);
  const __m512 e = _mm512_loadu_ps(x), o = _mm512_loadu_ps(x + 16);
  _mm512_storeu_ps(x, _mm512_permutex2var_ps(e, lo, o));
  _mm512_storeu_ps(x + 16, _mm512_permutex2var_ps(e, hi, o));
}
#elif defined(KILN_ISA_AVX2)
#define KILN_ATT_PAIRED 1
KILN_INLINE void kva_split_bf16(__m256i x, kv* e, kv* o) {
  *e = _mm256_castsi256_ps(_mm256_slli_epi32(x, 16));
  *o = _mm256_castsi256_ps(_mm256_and_si256(x, _mm256_set1_epi32((int)0xFFFF0000u)));
}
KILN_INLINE void kva_load_bf16_pair(const uint16_t* p, kv* e, kv* o) { kva_split_bf16(_mm256_loadu_si256((const __m256i*)p), e, o); }
KILN_INLINE void kva_load_bf16_pair_part(const uint16_t* p, int64_t n, kv* e, kv* o) {
  uint16_t t[16] = {0};
  memcpy(t, p, (size_t)n * 2);
  kva_load_bf16_pair(t, e, o);
}
/* x[0, 16): evens then odds → element order */
KILN_INLINE void kva_unpair(float* x) {
  const __m256 e = _mm256_loadu_ps(x), o = _mm256_loadu_ps(x + 8);
  const __m256 a = _mm256_unpacklo_ps(e, o), b = _mm256_unpackhi_ps(e, o); /* e0 o0 e1 o1 | e4 o4 e5 o5; e2 .. | e6 .. */
  _mm256_storeu_ps(x, _mm256_permute2f128_ps(a, b, 0x20));
  _mm256_storeu_ps(x + 8, _mm256_permute2f128_ps(a, b, 0x31));
}
#else
#define KILN_ATT_PAIRED 0
#endif
#if KILN_ATT_PAIRED
/* dst[0, ld) = src[0, n) in paired order (per 2·KV_LANES: evens, then odds), zeros past n */
KILN_INLINE void kva_pair(const float* src, int64_t n, float* dst, int64_t ld) {
  for (int64_t c = 0; c < ld; c += 2 * KV_LANES) {
    for (int64_t i = 0; i < KV_LANES; i++) {
      dst[c + i] = c + 2 * i < n ? src[c + 2 * i] : 0.0f;
      dst[c + KV_LANES + i] = c + 2 * i + 1 < n ? src[c + 2 * i + 1] : 0.0f;
    }
  }
}
#endif

#define KILN_ATT_T 16              /* context positions per tile (scores of one row: 16 floats) */
#define KILN_ATT_ROWS 16           /* query rows per item: tokens × the heads of one KV group */
#define KILN_ATT_MAX_D 256
#define KILN_ATT_MIN_CHUNK 64      /* context positions below which a unit is never split */
#define KILN_ATT_MAX_CHUNKS 64     /* chunks of one split unit (the merge weighs them on the stack) */
#define KILN_ATT_SERIAL_WORK 65536.0
/* positions per P·V pass over the KV heads of a unit with several (fewer: V read as fewer, more sequential
   streams; more: less accumulator traffic). A unit of one KV head passes over the whole tile at once. */
#ifndef KILN_ATT_PV_POS
#define KILN_ATT_PV_POS 8
#endif
/* AVX-512: items of at least this many rows on one KV head take the transposed (lanes = rows) kernel */
#ifndef KILN_ATT_TRANSPOSED
#define KILN_ATT_TRANSPOSED 1
#endif
#ifndef KILN_ATT_TRANSPOSED_ROWS
#define KILN_ATT_TRANSPOSED_ROWS 8
#endif
#ifndef KILN_ATT_PREFETCH
#define KILN_ATT_PREFETCH(p) KILN_PREFETCH_L2(p)
#endif
/* accumulator row stride: D rounded up to 2 vectors */
#define KILN_ATT_LDACC(D) (((D) + 2 * KV_LANES - 1) / (2 * KV_LANES) * (2 * KV_LANES))
/* floats per chunk partial: m[rows], l[rows], acc[rows][ldacc] (sized for the most rows) */
#define KILN_ATT_PART(D) (KILN_ATT_ROWS * (KILN_ATT_LDACC(D) + 2))
/* register tiles: QK rows × 4 positions, P·V rows × NV vectors */
#if defined(KILN_ISA_AVX512)
#define KILN_ATT_QK_MAX 4
#define KILN_ATT_PV_MAX 8
#define KILN_ATT_PV_NV_M1 8
#define KILN_ATT_PV_NV_M2 8
#define KILN_ATT_PV_NV_M4 4
#define KILN_ATT_PV_NV_M8 2
#else
#define KILN_ATT_QK_MAX 2
#define KILN_ATT_PV_MAX 4
#define KILN_ATT_PV_NV_M1 4
#define KILN_ATT_PV_NV_M2 4
#define KILN_ATT_PV_NV_M4 2
#define KILN_ATT_PV_NV_M8 2
#endif

typedef struct {
  int64_t S, NH, NKV, D, BS, max_blocks;
  const float* q;
  const void* kcache;
  const void* vcache;
  const int32_t* block_table;
  const int32_t* q_seq;
  const int32_t* q_pos;
  float scale;
  float* out;
} kiln_att_args;

/* A unit: query tokens i0..i0+nt-1 (one sequence) × KV heads kv0..kv0+nkv-1 × the query heads g0..g0+ng-1 of
   each one's group; rows r = (kl * nt + t) * ng + g (the rows of one KV head are adjacent). Decode takes many KV
   heads per unit (their rows lie side by side in the cache, so a unit streams whole blocks), prefill many tokens.
   An item: a unit over context positions [c0, c1); a split unit's items write partials and the last one merges. */
typedef struct {
  int32_t i0, nt, kv0, nkv, g0, ng, seq;
  int64_t c0, c1;
  int64_t cost;
  int64_t unit;   /* index into the split table, or -1: the item is the whole unit and writes out */
  int64_t part;   /* this chunk's partial (KILN_ATT_PART floats from parts + part * KILN_ATT_PART) */
} kiln_att_item;

typedef void (*kiln_att_item_fn)(const kiln_att_args* a, const kiln_att_item* it, float* m, float* l, float* acc);

KILN_INLINE int64_t kiln_att_rows(const kiln_att_item* it) { return (int64_t)it->nt * it->nkv * it->ng; }

/* The query token and head of row r of an item. */
KILN_INLINE void kiln_att_row(const kiln_att_args* a, const kiln_att_item* it, int64_t r, int64_t* tok, int64_t* h) {
  const int64_t per_kv = (int64_t)it->nt * it->ng, kl = r / per_kv, t = r % per_kv / it->ng, g = r % it->ng;
  *tok = it->i0 + t;
  *h = (it->kv0 + kl) * (a->NH / a->NKV) + it->g0 + g;
}

/* Plans the call's items, splits long ones when the threads would otherwise idle, and runs them on every thread,
   each through fn (the kernel of the cache's type). */
KILN_API void kiln_att_run(const kiln_att_args* a, kiln_att_item_fn fn);

#endif
