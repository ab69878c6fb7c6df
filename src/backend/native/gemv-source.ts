// GEMV kernel templates in C (decode: one or a few rows of activations against a [N,K] weight, f32 or bf16).
//
// Weight-streaming: each thread walks its own contiguous range of weight rows, four rows at a time, reading every
// weight once per call (for up to 4 activation rows) and widening bf16 in registers. Tiles are specialised for
// 1, 2 and 4 activation rows so that decode (M = 1) does no wasted multiply-adds. Depends on GEMM_C (kiln_mm_args).

type WeightType = "f32" | "bf16";

function gemvTile(t: WeightType, mr: 1 | 2 | 4): string {
  const bt = t === "f32" ? "float" : "uint16_t";
  const load = t === "f32" ? "kv_load" : "kv_load_bf16";
  const loadPart = t === "f32" ? "kv_load_part" : "kv_load_bf16_part";
  return String.raw`
/* y[0:${mr}, n0:n1] = x[0:${mr}, :] · W[n0:n1, :]^T (+ bias) */
static void kiln_gemv_tile_${t}_m${mr}(int64_t K, const float* X, int64_t ldx, const ${bt}* W, int64_t ldw, int64_t n0,
                                      int64_t n1, float* Y, int64_t ldy, const float* bias) {
  const float* x[${mr}];
  for (int i = 0; i < ${mr}; i++) x[i] = X + i * ldx;
  for (int64_t n = n0; n < n1; n += 4) {
    int64_t nr = n1 - n < 4 ? n1 - n : 4;
    const ${bt}* w[4];
    for (int j = 0; j < 4; j++) w[j] = W + (n + (j < nr ? j : nr - 1)) * ldw;
    kv acc[${mr}][4];
    for (int i = 0; i < ${mr}; i++) for (int j = 0; j < 4; j++) acc[i][j] = kv_zero();
    int64_t k = 0;
    for (; k + KV_LANES <= K; k += KV_LANES) {
      /* Rows are short streams the hardware prefetcher keeps restarting: fetch the next 4 rows into L2 ourselves. */
      for (int j = 0; j < 4; j++) KILN_PREFETCH_L2(w[j] + k + 4 * ldw);
      kv w0 = ${load}(w[0] + k), w1 = ${load}(w[1] + k), w2 = ${load}(w[2] + k), w3 = ${load}(w[3] + k);
      for (int i = 0; i < ${mr}; i++) {
        kv xv = kv_load(x[i] + k);
        acc[i][0] = kv_fma(xv, w0, acc[i][0]);
        acc[i][1] = kv_fma(xv, w1, acc[i][1]);
        acc[i][2] = kv_fma(xv, w2, acc[i][2]);
        acc[i][3] = kv_fma(xv, w3, acc[i][3]);
      }
    }
    if (k < K) {
      int64_t r = K - k;
      kv w0 = ${loadPart}(w[0] + k, r), w1 = ${loadPart}(w[1] + k, r), w2 = ${loadPart}(w[2] + k, r), w3 = ${loadPart}(w[3] + k, r);
      for (int i = 0; i < ${mr}; i++) {
        kv xv = kv_load_part(x[i] + k, r);
        acc[i][0] = kv_fma(xv, w0, acc[i][0]);
        acc[i][1] = kv_fma(xv, w1, acc[i][1]);
        acc[i][2] = kv_fma(xv, w2, acc[i][2]);
        acc[i][3] = kv_fma(xv, w3, acc[i][3]);
      }
    }
    for (int i = 0; i < ${mr}; i++) {
      float s[4];
      kv4_store(s, kv_sum4(acc[i][0], acc[i][1], acc[i][2], acc[i][3]));
      float* y = Y + i * ldy + n;
      for (int64_t j = 0; j < nr; j++) y[j] = bias ? s[j] + bias[n + j] : s[j];
    }
  }
}
`;
}

function gemvEntry(t: WeightType): string {
  const bt = t === "f32" ? "float" : "uint16_t";
  return String.raw`${gemvTile(t, 1)}${gemvTile(t, 2)}${gemvTile(t, 4)}
static void kiln_gemv_nt_${t}_rows(void* p, int64_t n0, int64_t n1) {
  const kiln_mm_args* g = (const kiln_mm_args*)p;
  const float* X = (const float*)g->A;
  const ${bt}* W = (const ${bt}*)g->B;
  /* A chunk of W rows stays in L2 while every block of activation rows passes over it. */
  for (int64_t nb = n0; nb < n1; nb += KILN_GEMV_CHUNK) {
    int64_t ne = nb + KILN_GEMV_CHUNK < n1 ? nb + KILN_GEMV_CHUNK : n1;
    for (int64_t m0 = 0; m0 < g->M;) {
      int64_t left = g->M - m0;
      const float* x = X + m0 * g->lda;
      float* y = g->C + m0 * g->ldc;
      if (left >= 4) { kiln_gemv_tile_${t}_m4(g->K, x, g->lda, W, g->ldb, nb, ne, y, g->ldc, g->bias); m0 += 4; }
      else if (left >= 2) { kiln_gemv_tile_${t}_m2(g->K, x, g->lda, W, g->ldb, nb, ne, y, g->ldc, g->bias); m0 += 2; }
      else { kiln_gemv_tile_${t}_m1(g->K, x, g->lda, W, g->ldb, nb, ne, y, g->ldc, g->bias); m0 += 1; }
    }
  }
}

/* y[M,N] = x[M,K] · W[N,K]^T (+ bias[N]) for small M (decode); W is ${t}, read from memory once per call. */
KILN_API void kiln_gemv_nt_${t}(int64_t M, int64_t N, int64_t K, const float* x, int64_t ldx, const ${bt}* W, int64_t ldw,
                               float* y, int64_t ldy, const float* bias) {
  if (M <= 0 || N <= 0) return;
  kiln_mm_args g = {M, N, K, x, ldx, W, ldw, y, ldy, bias};
  if ((double)M * (double)N * (double)K < KILN_MM_SERIAL_WORK) kiln_gemv_nt_${t}_rows(&g, 0, N);
  else kiln_parallel_for(N, 64, kiln_gemv_nt_${t}_rows, &g);
}

/* A Linear layer: GEMV for a few rows, GEMM otherwise (same arguments as kiln_gemm_nt_${t}). */
KILN_API void kiln_linear_${t}(int64_t M, int64_t N, int64_t K, const float* A, int64_t lda, const ${bt}* W, int64_t ldw,
                              float* C, int64_t ldc, const float* bias) {
  if (M <= KILN_GEMV_MAX_M) kiln_gemv_nt_${t}(M, N, K, A, lda, W, ldw, C, ldc, bias);
  else kiln_gemm_nt_${t}(M, N, K, A, lda, W, ldw, C, ldc, bias);
}
`;
}

export const GEMV_C = String.raw`
/* ---- kiln GEMV templates ---- */
#define KILN_GEMV_MAX_M 4
#define KILN_GEMV_CHUNK 64
${gemvEntry("f32")}${gemvEntry("bf16")}`;
