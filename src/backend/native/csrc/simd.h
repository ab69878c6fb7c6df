/* simd.h: the vector layer the kernel templates are written against: one `kv` type and a few operations per ISA.
   AVX-512 (16 lanes) and AVX2 (8 lanes) use intrinsics; the portable path uses GCC/Clang vector extensions
   (4 lanes, SSE2 on x86-64, NEON on arm64). bf16 loads widen 16-bit words into f32 lanes (a shift by 16). */
#ifndef KILN_SIMD_H
#define KILN_SIMD_H

#include "kiln_runtime.h"
#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#endif

#if defined(KILN_ISA_AVX512)
typedef __m512 kv;
typedef __m128 kv4;
#define KV_LANES 16
KILN_INLINE kv kv_zero(void) { return _mm512_setzero_ps(); }
KILN_INLINE kv kv_set1(float x) { return _mm512_set1_ps(x); }
KILN_INLINE kv kv_load(const float* p) { return _mm512_loadu_ps(p); }
KILN_INLINE kv kv_load_part(const float* p, int64_t n) { return _mm512_maskz_loadu_ps((__mmask16)((1u << n) - 1), p); }
KILN_INLINE kv kv_widen_bf16(__m256i h) { return _mm512_castsi512_ps(_mm512_slli_epi32(_mm512_cvtepu16_epi32(h), 16)); }
KILN_INLINE kv kv_load_bf16(const uint16_t* p) { return kv_widen_bf16(_mm256_loadu_si256((const __m256i*)p)); }
KILN_INLINE kv kv_load_bf16_part(const uint16_t* p, int64_t n) { return kv_widen_bf16(_mm256_maskz_loadu_epi16((__mmask16)((1u << n) - 1), p)); }
/* 2·KV_LANES bf16 words as two f32 vectors, the even-indexed words and the odd-indexed ones: a shift and a mask,
   no shuffle (the widening shuffle is what bounds a bf16 GEMV on CPUs that split 512-bit ops). */
KILN_INLINE void kv_load_bf16_pairs(const uint16_t* p, kv* even, kv* odd) {
  __m512i v = _mm512_loadu_si512((const void*)p);
  *even = _mm512_castsi512_ps(_mm512_slli_epi32(v, 16));
  *odd = _mm512_castsi512_ps(_mm512_and_si512(v, _mm512_set1_epi32((int)0xffff0000u)));
}
KILN_INLINE kv kv_fma(kv a, kv b, kv c) { return _mm512_fmadd_ps(a, b, c); }
KILN_INLINE kv kv_add(kv a, kv b) { return _mm512_add_ps(a, b); }
KILN_INLINE void kv_store(float* p, kv v) { _mm512_storeu_ps(p, v); }
KILN_INLINE void kv_store_part(float* p, kv v, int64_t n) { _mm512_mask_storeu_ps(p, (__mmask16)((1u << n) - 1), v); }
KILN_INLINE float kv_sum(kv v) { return _mm512_reduce_add_ps(v); }
/* out[0..3] = the sums of a, b, c, d (a transpose-and-add tree). */
KILN_INLINE kv4 kv_sum4(kv a, kv b, kv c, kv d) {
  __m256 a8 = _mm256_add_ps(_mm512_castps512_ps256(a), _mm512_extractf32x8_ps(a, 1));
  __m256 b8 = _mm256_add_ps(_mm512_castps512_ps256(b), _mm512_extractf32x8_ps(b, 1));
  __m256 c8 = _mm256_add_ps(_mm512_castps512_ps256(c), _mm512_extractf32x8_ps(c, 1));
  __m256 d8 = _mm256_add_ps(_mm512_castps512_ps256(d), _mm512_extractf32x8_ps(d, 1));
  __m256 abcd = _mm256_hadd_ps(_mm256_hadd_ps(a8, b8), _mm256_hadd_ps(c8, d8));
  return _mm_add_ps(_mm256_castps256_ps128(abcd), _mm256_extractf128_ps(abcd, 1));
}
KILN_INLINE void kv4_store(float* p, kv4 v) { _mm_storeu_ps(p, v); }
KILN_INLINE float kv4_get(kv4 v, int i) { float t[4]; _mm_storeu_ps(t, v); return t[i]; }

#elif defined(KILN_ISA_AVX2)
typedef __m256 kv;
typedef __m128 kv4;
#define KV_LANES 8
KILN_INLINE kv kv_zero(void) { return _mm256_setzero_ps(); }
KILN_INLINE kv kv_set1(float x) { return _mm256_set1_ps(x); }
KILN_INLINE kv kv_load(const float* p) { return _mm256_loadu_ps(p); }
KILN_INLINE __m256i kv_mask(int64_t n) { return _mm256_cmpgt_epi32(_mm256_set1_epi32((int)n), _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7)); }
KILN_INLINE kv kv_load_part(const float* p, int64_t n) { return _mm256_maskload_ps(p, kv_mask(n)); }
KILN_INLINE kv kv_widen_bf16(__m128i h) { return _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_cvtepu16_epi32(h), 16)); }
KILN_INLINE kv kv_load_bf16(const uint16_t* p) { return kv_widen_bf16(_mm_loadu_si128((const __m128i*)p)); }
KILN_INLINE kv kv_load_bf16_part(const uint16_t* p, int64_t n) {
  uint16_t t[8] = {0};
  memcpy(t, p, (size_t)n * 2);
  return kv_load_bf16(t);
}
KILN_INLINE void kv_load_bf16_pairs(const uint16_t* p, kv* even, kv* odd) {
  __m256i v = _mm256_loadu_si256((const __m256i*)p);
  *even = _mm256_castsi256_ps(_mm256_slli_epi32(v, 16));
  *odd = _mm256_castsi256_ps(_mm256_and_si256(v, _mm256_set1_epi32((int)0xffff0000u)));
}
KILN_INLINE kv kv_fma(kv a, kv b, kv c) { return _mm256_fmadd_ps(a, b, c); }
KILN_INLINE kv kv_add(kv a, kv b) { return _mm256_add_ps(a, b); }
KILN_INLINE void kv_store(float* p, kv v) { _mm256_storeu_ps(p, v); }
KILN_INLINE void kv_store_part(float* p, kv v, int64_t n) { _mm256_maskstore_ps(p, kv_mask(n), v); }
KILN_INLINE float kv_sum(kv v) {
  __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
  s = _mm_add_ps(s, _mm_movehl_ps(s, s));
  s = _mm_add_ss(s, _mm_movehdup_ps(s));
  return _mm_cvtss_f32(s);
}
KILN_INLINE kv4 kv_sum4(kv a, kv b, kv c, kv d) {
  __m256 abcd = _mm256_hadd_ps(_mm256_hadd_ps(a, b), _mm256_hadd_ps(c, d));
  return _mm_add_ps(_mm256_castps256_ps128(abcd), _mm256_extractf128_ps(abcd, 1));
}
KILN_INLINE void kv4_store(float* p, kv4 v) { _mm_storeu_ps(p, v); }
KILN_INLINE float kv4_get(kv4 v, int i) { float t[4]; _mm_storeu_ps(t, v); return t[i]; }

#else
typedef float kv __attribute__((vector_size(16)));
typedef kv kv4;
#define KV_LANES 4
KILN_INLINE kv kv_zero(void) { kv z = {0, 0, 0, 0}; return z; }
KILN_INLINE kv kv_set1(float x) { kv v = {x, x, x, x}; return v; }
KILN_INLINE kv kv_load(const float* p) { kv v; memcpy(&v, p, sizeof v); return v; }
KILN_INLINE kv kv_load_part(const float* p, int64_t n) { kv v = kv_zero(); memcpy(&v, p, (size_t)n * 4); return v; }
KILN_INLINE kv kv_load_bf16(const uint16_t* p) {
  kv v = {kiln_bf16_to_f32(p[0]), kiln_bf16_to_f32(p[1]), kiln_bf16_to_f32(p[2]), kiln_bf16_to_f32(p[3])};
  return v;
}
KILN_INLINE kv kv_load_bf16_part(const uint16_t* p, int64_t n) {
  uint16_t t[4] = {0, 0, 0, 0};
  memcpy(t, p, (size_t)n * 2);
  return kv_load_bf16(t);
}
KILN_INLINE void kv_load_bf16_pairs(const uint16_t* p, kv* even, kv* odd) {
  kv e = {kiln_bf16_to_f32(p[0]), kiln_bf16_to_f32(p[2]), kiln_bf16_to_f32(p[4]), kiln_bf16_to_f32(p[6])};
  kv o = {kiln_bf16_to_f32(p[1]), kiln_bf16_to_f32(p[3]), kiln_bf16_to_f32(p[5]), kiln_bf16_to_f32(p[7])};
  *even = e;
  *odd = o;
}
KILN_INLINE kv kv_fma(kv a, kv b, kv c) { return a * b + c; }
KILN_INLINE kv kv_add(kv a, kv b) { return a + b; }
KILN_INLINE void kv_store(float* p, kv v) { memcpy(p, &v, sizeof v); }
KILN_INLINE void kv_store_part(float* p, kv v, int64_t n) { memcpy(p, &v, (size_t)n * 4); }
KILN_INLINE float kv_sum(kv v) { return (v[0] + v[1]) + (v[2] + v[3]); }
KILN_INLINE kv4 kv_sum4(kv a, kv b, kv c, kv d) { kv4 r = {kv_sum(a), kv_sum(b), kv_sum(c), kv_sum(d)}; return r; }
KILN_INLINE void kv4_store(float* p, kv4 v) { memcpy(p, &v, sizeof v); }
KILN_INLINE float kv4_get(kv4 v, int i) { return v[i]; }
#endif

/* x[0:n] with each whole block of 2·KV_LANES split into its even-indexed then its odd-indexed elements (the order
   kv_load_bf16_pairs reads a weight block in); the elements after the last whole block are copied as they are. */
KILN_INLINE void kv_deinterleave_pairs(const float* x, float* out, int64_t n) {
  int64_t k = 0;
  for (; k + 2 * KV_LANES <= n; k += 2 * KV_LANES) {
    for (int i = 0; i < KV_LANES; i++) {
      out[k + i] = x[k + 2 * i];
      out[k + KV_LANES + i] = x[k + 2 * i + 1];
    }
  }
  for (; k < n; k++) out[k] = x[k];
}

#endif
