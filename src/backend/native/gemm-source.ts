// GEMM kernel templates in C: C[M,N] = A[M,K] · B (+ bias), B given as [N,K] (a Linear weight, "nt") or [K,N] ("nn").
//
// The nt kernels read both operands along K, as llamafile's tinyBLAS does: a tile of RM rows of A and 4 rows of B
// keeps RM×4 vector accumulators, and each row of the tile is reduced with one transpose-and-add tree at the end.
// No packing is needed, so bf16 weights are read as they are and widened in registers (or fed to vdpbf16ps, in the
// variant that also rounds A to bf16). K is blocked so the A tile stays in L1 while a block of B rows sits in L2.
// Threads split N (or M, when N is small). The nn kernels broadcast A and load two vectors of a B row per step.
// Every entry point has a plain C signature (sizes and strides as int64_t, strides in elements).

/** C element type of a weight variant. */
type WeightType = "f32" | "bf16";

const ctype = (t: WeightType): string => (t === "f32" ? "float" : "uint16_t");
const load = (t: WeightType): string => (t === "f32" ? "kv_load" : "kv_load_bf16");
const loadPart = (t: WeightType): string => (t === "f32" ? "kv_load_part" : "kv_load_bf16_part");

/** The epilogue of an nt tile: reduce each row's 4 accumulators and store (or add) nr of them. */
const NT_EPILOGUE = String.raw`
  for (int i = 0; i < KILN_NT_RM; i++) {
    if (i >= mr) break;
    float s[4];
    kv4_store(s, kv_sum4(acc[i][0], acc[i][1], acc[i][2], acc[i][3]));
    float* c = C + i * ldc;
    if (accumulate) for (int64_t j = 0; j < nr; j++) c[j] += s[j];
    else if (bias) for (int64_t j = 0; j < nr; j++) c[j] = s[j] + bias[j];
    else for (int64_t j = 0; j < nr; j++) c[j] = s[j];
  }`;

function ntTile(t: WeightType): string {
  const bt = ctype(t);
  return String.raw`
/* C[0:mr, 0:nr] = (C +) A[0:mr, k0:k1] · B[0:nr, k0:k1]^T (+ bias); rows past mr / nr repeat the last valid one. */
static void kiln_nt_tile_${t}(int64_t k0, int64_t k1, const float* A, int64_t lda, const ${bt}* B, int64_t ldb,
                              int64_t mr, int64_t nr, float* C, int64_t ldc, int accumulate, const float* bias) {
  const float* a[KILN_NT_RM];
  const ${bt}* b[4];
  for (int i = 0; i < KILN_NT_RM; i++) a[i] = A + (i < mr ? i : mr - 1) * lda;
  for (int j = 0; j < 4; j++) b[j] = B + (j < nr ? j : nr - 1) * ldb;
  kv acc[KILN_NT_RM][4];
  for (int i = 0; i < KILN_NT_RM; i++) for (int j = 0; j < 4; j++) acc[i][j] = kv_zero();
  int64_t k = k0;
  for (; k + KV_LANES <= k1; k += KV_LANES) {
    kv b0 = ${load(t)}(b[0] + k), b1 = ${load(t)}(b[1] + k), b2 = ${load(t)}(b[2] + k), b3 = ${load(t)}(b[3] + k);
    for (int i = 0; i < KILN_NT_RM; i++) {
      kv av = kv_load(a[i] + k);
      acc[i][0] = kv_fma(av, b0, acc[i][0]);
      acc[i][1] = kv_fma(av, b1, acc[i][1]);
      acc[i][2] = kv_fma(av, b2, acc[i][2]);
      acc[i][3] = kv_fma(av, b3, acc[i][3]);
    }
  }
  if (k < k1) {
    int64_t n = k1 - k;
    kv b0 = ${loadPart(t)}(b[0] + k, n), b1 = ${loadPart(t)}(b[1] + k, n);
    kv b2 = ${loadPart(t)}(b[2] + k, n), b3 = ${loadPart(t)}(b[3] + k, n);
    for (int i = 0; i < KILN_NT_RM; i++) {
      kv av = kv_load_part(a[i] + k, n);
      acc[i][0] = kv_fma(av, b0, acc[i][0]);
      acc[i][1] = kv_fma(av, b1, acc[i][1]);
      acc[i][2] = kv_fma(av, b2, acc[i][2]);
      acc[i][3] = kv_fma(av, b3, acc[i][3]);
    }
  }${NT_EPILOGUE}
}
`;
}

/** The blocked loop nest over one rectangle of C, and the public entry that splits C over threads. */
function ntDriver(name: string, tile: string, at: string, bt: string, kc: string, nb: string): string {
  return String.raw`
static void ${name}_block(const kiln_mm_args* g, int64_t m0, int64_t m1, int64_t n0, int64_t n1) {
  const ${at}* A = (const ${at}*)g->A;
  const ${bt}* B = (const ${bt}*)g->B;
  for (int64_t jb = n0; jb < n1; jb += ${nb}) {
    int64_t je = jb + ${nb} < n1 ? jb + ${nb} : n1;
    int64_t kb = 0;
    do {
      int64_t ke = kb + ${kc} < g->K ? kb + ${kc} : g->K;
      for (int64_t i0 = m0; i0 < m1; i0 += KILN_NT_RM) {
        int64_t mr = m1 - i0 < KILN_NT_RM ? m1 - i0 : KILN_NT_RM;
        for (int64_t j0 = jb; j0 < je; j0 += 4) {
          int64_t nr = je - j0 < 4 ? je - j0 : 4;
          ${tile}(kb, ke, A + i0 * g->lda, g->lda, B + j0 * g->ldb, g->ldb, mr, nr, g->C + i0 * g->ldc + j0, g->ldc,
                  kb > 0, kb == 0 && g->bias ? g->bias + j0 : NULL);
        }
      }
      kb += ${kc};
    } while (kb < g->K);
  }
}
static void ${name}_cols(void* p, int64_t n0, int64_t n1) { ${name}_block((const kiln_mm_args*)p, 0, ((const kiln_mm_args*)p)->M, n0, n1); }
static void ${name}_rows(void* p, int64_t m0, int64_t m1) { ${name}_block((const kiln_mm_args*)p, m0, m1, 0, ((const kiln_mm_args*)p)->N); }
static void ${name}_run(const kiln_mm_args* g) {
  if (g->M <= 0 || g->N <= 0) return;
  if ((double)g->M * (double)g->N * (double)g->K < KILN_MM_SERIAL_WORK) ${name}_block(g, 0, g->M, 0, g->N);
  else if (g->N >= 16 * kiln_num_threads() || g->N >= g->M) kiln_parallel_for(g->N, 16, ${name}_cols, (void*)g);
  else kiln_parallel_for(g->M, KILN_NT_RM, ${name}_rows, (void*)g);
}
`;
}

function ntEntry(t: WeightType): string {
  const bt = ctype(t);
  return String.raw`${ntTile(t)}${ntDriver(`kiln_gemm_nt_${t}`, `kiln_nt_tile_${t}`, "float", bt, "KILN_NT_KC", `KILN_NT_NB_${t.toUpperCase()}`)}
/* C[M,N] = A[M,K] · B[N,K]^T (+ bias[N]); B is ${t} (a Linear weight), accumulation in f32. */
KILN_API void kiln_gemm_nt_${t}(int64_t M, int64_t N, int64_t K, const float* A, int64_t lda, const ${bt}* B, int64_t ldb,
                               float* C, int64_t ldc, const float* bias) {
  kiln_mm_args g = {M, N, K, A, lda, B, ldb, C, ldc, bias};
  kiln_gemm_nt_${t}_run(&g);
}
`;
}

/** The vdpbf16ps variant: A rounded to bf16 once per call, pairs of K multiplied exactly and summed in f32. */
const NT_BF16DOT = String.raw`
#if defined(KILN_HAS_BF16DOT)
KILN_INLINE kv kv_dot_bf16(kv acc, __m512i a, __m512i b) { return _mm512_dpbf16_ps(acc, (__m512bh)a, (__m512bh)b); }

static void kiln_nt_tile_bf16dot(int64_t k0, int64_t k1, const uint16_t* A, int64_t lda, const uint16_t* B, int64_t ldb,
                                 int64_t mr, int64_t nr, float* C, int64_t ldc, int accumulate, const float* bias) {
  const uint16_t* a[KILN_NT_RM];
  const uint16_t* b[4];
  for (int i = 0; i < KILN_NT_RM; i++) a[i] = A + (i < mr ? i : mr - 1) * lda;
  for (int j = 0; j < 4; j++) b[j] = B + (j < nr ? j : nr - 1) * ldb;
  kv acc[KILN_NT_RM][4];
  for (int i = 0; i < KILN_NT_RM; i++) for (int j = 0; j < 4; j++) acc[i][j] = kv_zero();
  int64_t k = k0;
  for (; k + 32 <= k1; k += 32) {
    __m512i b0 = _mm512_loadu_si512(b[0] + k), b1 = _mm512_loadu_si512(b[1] + k);
    __m512i b2 = _mm512_loadu_si512(b[2] + k), b3 = _mm512_loadu_si512(b[3] + k);
    for (int i = 0; i < KILN_NT_RM; i++) {
      __m512i av = _mm512_loadu_si512(a[i] + k);
      acc[i][0] = kv_dot_bf16(acc[i][0], av, b0);
      acc[i][1] = kv_dot_bf16(acc[i][1], av, b1);
      acc[i][2] = kv_dot_bf16(acc[i][2], av, b2);
      acc[i][3] = kv_dot_bf16(acc[i][3], av, b3);
    }
  }
  if (k < k1) {
    __mmask32 m = (__mmask32)((1ull << (k1 - k)) - 1);
    __m512i b0 = _mm512_maskz_loadu_epi16(m, b[0] + k), b1 = _mm512_maskz_loadu_epi16(m, b[1] + k);
    __m512i b2 = _mm512_maskz_loadu_epi16(m, b[2] + k), b3 = _mm512_maskz_loadu_epi16(m, b[3] + k);
    for (int i = 0; i < KILN_NT_RM; i++) {
      __m512i av = _mm512_maskz_loadu_epi16(m, a[i] + k);
      acc[i][0] = kv_dot_bf16(acc[i][0], av, b0);
      acc[i][1] = kv_dot_bf16(acc[i][1], av, b1);
      acc[i][2] = kv_dot_bf16(acc[i][2], av, b2);
      acc[i][3] = kv_dot_bf16(acc[i][3], av, b3);
    }
  }${NT_EPILOGUE}
}
${ntDriver("kiln_gemm_nt_bf16dot", "kiln_nt_tile_bf16dot", "uint16_t", "uint16_t", "(2 * KILN_NT_KC)", "KILN_NT_NB_BF16")}
#endif

/* C[M,N] = bf16(A)[M,K] · B[N,K]^T (+ bias): A is rounded to bf16 first, products are exact, sums are f32.
   Uses vdpbf16ps where the target has avx512_bf16, else the same arithmetic through kiln_gemm_nt_bf16. */
KILN_API void kiln_gemm_nt_bf16dot(int64_t M, int64_t N, int64_t K, const float* A, int64_t lda, const uint16_t* B,
                                   int64_t ldb, float* C, int64_t ldc, const float* bias) {
  if (M <= 0 || N <= 0) return;
#if defined(KILN_HAS_BF16DOT)
  uint16_t* a16 = (uint16_t*)kiln_scratch((size_t)(M * K) * 2);
  if (!a16) return;
  for (int64_t i = 0; i < M; i++)
    for (int64_t k = 0; k < K; k++) a16[i * K + k] = kiln_f32_to_bf16(A[i * lda + k]);
  kiln_mm_args g = {M, N, K, a16, K, B, ldb, C, ldc, bias};
  kiln_gemm_nt_bf16dot_run(&g);
#else
  float* ar = (float*)kiln_scratch((size_t)(M * K) * 4);
  if (!ar) return;
  for (int64_t i = 0; i < M; i++)
    for (int64_t k = 0; k < K; k++) ar[i * K + k] = kiln_bf16_to_f32(kiln_f32_to_bf16(A[i * lda + k]));
  kiln_gemm_nt_bf16(M, N, K, ar, K, B, ldb, C, ldc, bias);
  free(ar);
  return;
#endif
#if defined(KILN_HAS_BF16DOT)
  free(a16);
#endif
}
`;

function nnEntry(t: WeightType): string {
  const bt = ctype(t);
  return String.raw`
/* C[0:mr, 0:nr] = A[0:mr, :] · B[:, 0:nr] (+ bias), nr <= 2 vectors; A is broadcast, B rows are loaded. */
static void kiln_nn_tile_${t}(int64_t K, const float* A, int64_t lda, const ${bt}* B, int64_t ldb, int64_t mr, int64_t nr,
                              float* C, int64_t ldc, const float* bias) {
  const float* a[KILN_NN_MR];
  for (int i = 0; i < KILN_NN_MR; i++) a[i] = A + (i < mr ? i : mr - 1) * lda;
  kv acc[KILN_NN_MR][2];
  for (int i = 0; i < KILN_NN_MR; i++) acc[i][0] = acc[i][1] = kv_zero();
  int64_t n0 = nr < KV_LANES ? nr : KV_LANES, n1 = nr - n0;
  if (n1 == KV_LANES) {
    for (int64_t k = 0; k < K; k++) {
      kv b0 = ${load(t)}(B + k * ldb), b1 = ${load(t)}(B + k * ldb + KV_LANES);
      for (int i = 0; i < KILN_NN_MR; i++) {
        kv av = kv_set1(a[i][k]);
        acc[i][0] = kv_fma(av, b0, acc[i][0]);
        acc[i][1] = kv_fma(av, b1, acc[i][1]);
      }
    }
  } else {
    for (int64_t k = 0; k < K; k++) {
      kv b0 = n0 == KV_LANES ? ${load(t)}(B + k * ldb) : ${loadPart(t)}(B + k * ldb, n0);
      kv b1 = n1 > 0 ? ${loadPart(t)}(B + k * ldb + KV_LANES, n1) : kv_zero();
      for (int i = 0; i < KILN_NN_MR; i++) {
        kv av = kv_set1(a[i][k]);
        acc[i][0] = kv_fma(av, b0, acc[i][0]);
        acc[i][1] = kv_fma(av, b1, acc[i][1]);
      }
    }
  }
  kv bias0 = kv_zero(), bias1 = kv_zero();
  if (bias) {
    bias0 = n0 == KV_LANES ? kv_load(bias) : kv_load_part(bias, n0);
    if (n1 > 0) bias1 = n1 == KV_LANES ? kv_load(bias + KV_LANES) : kv_load_part(bias + KV_LANES, n1);
  }
  for (int i = 0; i < KILN_NN_MR; i++) {
    if (i >= mr) break;
    float* c = C + i * ldc;
    kv c0 = kv_add(acc[i][0], bias0), c1 = kv_add(acc[i][1], bias1);
    if (n0 == KV_LANES) kv_store(c, c0); else kv_store_part(c, c0, n0);
    if (n1 == KV_LANES) kv_store(c + KV_LANES, c1); else if (n1 > 0) kv_store_part(c + KV_LANES, c1, n1);
  }
}

static void kiln_gemm_nn_${t}_cols(void* p, int64_t n0, int64_t n1) {
  const kiln_mm_args* g = (const kiln_mm_args*)p;
  const float* A = (const float*)g->A;
  const ${bt}* B = (const ${bt}*)g->B;
  for (int64_t j0 = n0; j0 < n1; j0 += 2 * KV_LANES) {
    int64_t nr = n1 - j0 < 2 * KV_LANES ? n1 - j0 : 2 * KV_LANES;
    for (int64_t i0 = 0; i0 < g->M; i0 += KILN_NN_MR) {
      int64_t mr = g->M - i0 < KILN_NN_MR ? g->M - i0 : KILN_NN_MR;
      kiln_nn_tile_${t}(g->K, A + i0 * g->lda, g->lda, B + j0, g->ldb, mr, nr, g->C + i0 * g->ldc + j0, g->ldc,
                        g->bias ? g->bias + j0 : NULL);
    }
  }
}

/* C[M,N] = A[M,K] · B[K,N] (+ bias[N]); B is ${t} and row-major [K,N]. */
KILN_API void kiln_gemm_nn_${t}(int64_t M, int64_t N, int64_t K, const float* A, int64_t lda, const ${bt}* B, int64_t ldb,
                               float* C, int64_t ldc, const float* bias) {
  if (M <= 0 || N <= 0) return;
  kiln_mm_args g = {M, N, K, A, lda, B, ldb, C, ldc, bias};
  if ((double)M * (double)N * (double)K < KILN_MM_SERIAL_WORK) kiln_gemm_nn_${t}_cols(&g, 0, N);
  else kiln_parallel_for(N, 2 * KV_LANES, kiln_gemm_nn_${t}_cols, &g);
}
`;
}

export const GEMM_C = String.raw`
/* ---- kiln GEMM templates ---- */
#if defined(KILN_ISA_AVX512)
#define KILN_NT_RM 6
#define KILN_NN_MR 8
#elif defined(KILN_ISA_AVX2)
#define KILN_NT_RM 3
#define KILN_NN_MR 6
#else
#define KILN_NT_RM 2
#define KILN_NN_MR 4
#endif
#ifndef KILN_NT_KC
#define KILN_NT_KC 512
#endif
#ifndef KILN_NT_NB_F32
#define KILN_NT_NB_F32 64
#endif
#ifndef KILN_NT_NB_BF16
#define KILN_NT_NB_BF16 128
#endif
/* Below this many multiply-adds a GEMM runs on the calling thread only. */
#define KILN_MM_SERIAL_WORK 65536.0

typedef struct {
  int64_t M, N, K;
  const void* A;
  int64_t lda;
  const void* B;
  int64_t ldb;
  float* C;
  int64_t ldc;
  const float* bias;
} kiln_mm_args;
${ntEntry("f32")}${ntEntry("bf16")}${NT_BF16DOT}${nnEntry("f32")}${nnEntry("bf16")}`;
