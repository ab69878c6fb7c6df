/* gemm.c: the GEMM templates, C[M,N] = A[M,K] · B (+ bias), B given as [N,K] (a Linear weight, "nt") or [K,N] ("nn").

   The nt kernels read both operands along K, as llamafile's tinyBLAS does: a tile of RM rows of A and 4 rows of B
   keeps RM×4 vector accumulators, and each row of the tile is reduced with one transpose-and-add tree at the end.
   B is read where it lies, so bf16 weights are widened in registers (or fed to vdpbf16ps, in the variant that rounds
   A to bf16) and never copied. A (the activations, small) is packed per K block into tiles interleaved by K step, so
   a tile is one sequential stream (no cache-set conflicts between rows at power-of-two strides). K blocks are
   outermost so packed A stays in L2 while blocks of B rows stream past it. Threads split N (or M, when N is small).
   The nn kernels broadcast A and load two vectors of a B row per step. */
#include "matmul.h"

#if defined(KILN_ISA_AVX512)
#define KILN_NT_RM_DEFAULT 6
#define KILN_NN_MR 8
#elif defined(KILN_ISA_AVX2)
#define KILN_NT_RM_DEFAULT 3
#define KILN_NN_MR 6
#else
#define KILN_NT_RM_DEFAULT 2
#define KILN_NN_MR 4
#endif
#ifndef KILN_NT_RM
#define KILN_NT_RM KILN_NT_RM_DEFAULT
#endif
/* nt blocking: KC elements of K per block (a multiple of 32), NB rows of B per block. */
#ifndef KILN_NT_KC
#define KILN_NT_KC 1024
#endif
#ifndef KILN_NT_NB
#define KILN_NT_NB 32
#endif
/* Rows of A packed at once, in tiles: MC × KC floats (~0.5 MiB) stay in L2 beside a block of B. */
#ifndef KILN_NT_MC_TILES
#define KILN_NT_MC_TILES (132 / KILN_NT_RM)
#endif

/* ---- nt, A f32: B f32 or bf16 (widened in registers), multiply-adds in f32 ---- */
#define NT_FMA(acc, a, b) ((acc) = kv_fma(a, b, acc))

#define NT_ENTRY kiln_gemm_nt_f32
#define NT_FN(x) gemm_nt_f32_##x
#define NT_B float
#define NT_A float
#define NT_STEP KV_LANES
#define NT_AVEC kv
#define NT_ALOAD(p) kv_load(p)
#define NT_BLOAD(p) kv_load(p)
#define NT_BLOAD_PART(p, n) kv_load_part(p, n)
#define NT_MAC NT_FMA
#define NT_PACK(x) (x)
#include "gemm_nt.inc"

#define NT_ENTRY kiln_gemm_nt_bf16
#define NT_FN(x) gemm_nt_bf16_##x
#define NT_B uint16_t
#define NT_A float
#define NT_STEP KV_LANES
#define NT_AVEC kv
#define NT_ALOAD(p) kv_load(p)
#define NT_BLOAD(p) kv_load_bf16(p)
#define NT_BLOAD_PART(p, n) kv_load_bf16_part(p, n)
#define NT_MAC NT_FMA
#define NT_PACK(x) (x)
#include "gemm_nt.inc"

/* ---- nt with vdpbf16ps: A rounded to bf16 while packing, K pairs multiplied exactly and summed in f32 ---- */
#if defined(KILN_HAS_BF16DOT)
KILN_INLINE kv kv_dot_bf16(kv acc, __m512i a, __m512i b) { return _mm512_dpbf16_ps(acc, (__m512bh)a, (__m512bh)b); }

#define NT_ENTRY kiln_gemm_nt_bf16dot
#define NT_FN(x) gemm_nt_bf16dot_##x
#define NT_B uint16_t
#define NT_A uint16_t
#define NT_STEP 32
#define NT_AVEC __m512i
#define NT_ALOAD(p) _mm512_load_si512(p)
#define NT_BLOAD(p) _mm512_loadu_si512(p)
#define NT_BLOAD_PART(p, n) _mm512_maskz_loadu_epi16((__mmask32)((1ull << (n)) - 1), p)
#define NT_MAC(acc, a, b) ((acc) = kv_dot_bf16(acc, a, b))
#define NT_PACK(x) kiln_f32_to_bf16(x)
#include "gemm_nt.inc"
#else
/* Without avx512_bf16: the same arithmetic (A rounded to bf16, exact products, f32 sums) through kiln_gemm_nt_bf16. */
void kiln_gemm_nt_bf16dot(int64_t M, int64_t N, int64_t K, const float* A, int64_t lda, const uint16_t* B, int64_t ldb,
                          float* C, int64_t ldc, const float* bias) {
  if (M <= 0 || N <= 0) return;
  float* ar = (float*)kiln_scratch((size_t)(M * K) * 4);
  if (!ar) return;
  for (int64_t i = 0; i < M; i++)
    for (int64_t k = 0; k < K; k++) ar[i * K + k] = kiln_bf16_to_f32(kiln_f32_to_bf16(A[i * lda + k]));
  kiln_gemm_nt_bf16(M, N, K, ar, K, B, ldb, C, ldc, bias);
  free(ar);
}
#endif

/* ---- nn ---- */
#define NN_ENTRY kiln_gemm_nn_f32
#define NN_FN(x) gemm_nn_f32_##x
#define NN_B float
#define NN_LOAD(p) kv_load(p)
#define NN_LOAD_PART(p, n) kv_load_part(p, n)
#include "gemm_nn.inc"

#define NN_ENTRY kiln_gemm_nn_bf16
#define NN_FN(x) gemm_nn_bf16_##x
#define NN_B uint16_t
#define NN_LOAD(p) kv_load_bf16(p)
#define NN_LOAD_PART(p, n) kv_load_bf16_part(p, n)
#include "gemm_nn.inc"
