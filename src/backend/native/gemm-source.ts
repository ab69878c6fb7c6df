// GEMM kernel templates in C: C[M,N] = A[M,K] · B (+ bias), B given as [N,K] (a Linear weight, "nt") or [K,N] ("nn").
//
// The nt kernels read both operands along K, as llamafile's tinyBLAS does: a tile of RM rows of A and 4 rows of B
// keeps RM×4 vector accumulators, and each row of the tile is reduced with one transpose-and-add tree at the end.
// B is read where it lies, so bf16 weights are widened in registers (or fed to vdpbf16ps, in the variant that rounds
// A to bf16) and never copied. A (the activations, small) is packed per K block into tiles interleaved by K step, so
// a tile is one sequential stream (no cache-set conflicts between rows at power-of-two strides). K blocks are
// outermost so packed A stays in L2 while blocks of B rows stream past it. Threads split N (or M, when N is small).
// The nn kernels broadcast A and load two vectors of a B row per step.
// Every entry point has a plain C signature (sizes and strides as int64_t, strides in elements).

/** C element type of a weight variant. */
type WeightType = "f32" | "bf16";

const ctype = (t: WeightType): string => (t === "f32" ? "float" : "uint16_t");
const load = (t: WeightType): string => (t === "f32" ? "kv_load" : "kv_load_bf16");
const loadPart = (t: WeightType): string => (t === "f32" ? "kv_load_part" : "kv_load_bf16_part");

/** Multiply-accumulate of one packed A row vector with the 4 B vectors, as C text per variant. */
const MAC = {
  fma: (acc: string, a: string, b: string) => `${acc} = kv_fma(${a}, ${b}, ${acc})`,
  dot: (acc: string, a: string, b: string) => `${acc} = kv_dot_bf16(${acc}, ${a}, ${b})`,
};

interface NtVariant {
  /** Function name suffix. */
  readonly name: string;
  /** C type of B's elements and of packed A's elements. */
  readonly bt: string;
  readonly at: string;
  /** K elements per step (a vector of A), the vector type and the loads. */
  readonly step: string;
  readonly avec: string;
  readonly aload: (p: string) => string;
  readonly bload: (p: string) => string;
  readonly bloadPart: (p: string, n: string) => string;
  readonly mac: (acc: string, a: string, b: string) => string;
  /** Packs one element of A (a float expression) into packed A's type. */
  readonly pack: (x: string) => string;
}

const F32_A = { at: "float", step: "KV_LANES", avec: "kv", aload: (p: string) => `kv_load(${p})`, pack: (x: string) => x, mac: MAC.fma };

const NT_VARIANTS: readonly NtVariant[] = [
  { ...F32_A, name: "f32", bt: "float", bload: (p) => `kv_load(${p})`, bloadPart: (p, n) => `kv_load_part(${p}, ${n})` },
  { ...F32_A, name: "bf16", bt: "uint16_t", bload: (p) => `kv_load_bf16(${p})`, bloadPart: (p, n) => `kv_load_bf16_part(${p}, ${n})` },
];

/** The vdpbf16ps variant: A rounded to bf16 while packing, K pairs multiplied exactly and summed in f32. */
const NT_DOT: NtVariant = {
  name: "bf16dot",
  bt: "uint16_t",
  at: "uint16_t",
  step: "32",
  avec: "__m512i",
  aload: (p) => `_mm512_load_si512(${p})`,
  bload: (p) => `_mm512_loadu_si512(${p})`,
  bloadPart: (p, n) => `_mm512_maskz_loadu_epi16((__mmask32)((1ull << (${n})) - 1), ${p})`,
  mac: MAC.dot,
  pack: (x) => `kiln_f32_to_bf16(${x})`,
};

/**
 * One variant of the nt GEMM: pack A (tiles of RM rows interleaved by K step, so the tile is one sequential stream
 * whatever lda is), the RM×4 tile kernel over packed A and 4 rows of B, the blocked loop nest and the threaded driver.
 */
function ntVariant(v: NtVariant): string {
  const n = `kiln_gemm_nt_${v.name}`;
  const macs = (a: string) => [0, 1, 2, 3].map((j) => `      ${v.mac(`acc[i][${j}]`, a, `b${j}`)};`).join("\n");
  return String.raw`
/* ap[((t * steps + s) * RM + i) * STEP + l] = A[m0 + t * RM + i, kb + s * STEP + l], rows past m1 repeating the last
   one and K past ke zero. */
static void ${n}_pack(const float* A, int64_t lda, int64_t m0, int64_t m1, int64_t kb, int64_t ke, ${v.at}* ap) {
  const int64_t step = ${v.step}, steps = (ke - kb + step - 1) / step;
  for (int64_t t = 0; m0 + t * KILN_NT_RM < m1; t++) {
    for (int i = 0; i < KILN_NT_RM; i++) {
      int64_t row = m0 + t * KILN_NT_RM + i < m1 ? m0 + t * KILN_NT_RM + i : m1 - 1;
      const float* a = A + row * lda + kb;
      ${v.at}* out = ap + (t * steps * KILN_NT_RM + i) * step;
      for (int64_t s = 0; s < steps; s++, out += KILN_NT_RM * step, a += step) {
        int64_t len = ke - kb - s * step < step ? ke - kb - s * step : step;
        for (int64_t l = 0; l < len; l++) out[l] = ${v.pack("a[l]")};
        for (int64_t l = len; l < step; l++) out[l] = 0;
      }
    }
  }
}

/* C[0:mr, 0:nr] = (C +) Apacked[0:mr, 0:kn] · B[0:nr, 0:kn]^T (+ bias); B rows past nr repeat the last valid one. */
static void ${n}_tile(int64_t kn, const ${v.at}* ap, const ${v.bt}* B, int64_t ldb, int64_t mr, int64_t nr, float* C,
                      int64_t ldc, int accumulate, const float* bias) {
  const int64_t step = ${v.step};
  const ${v.bt}* b[4];
  for (int j = 0; j < 4; j++) b[j] = B + (j < nr ? j : nr - 1) * ldb;
  kv acc[KILN_NT_RM][4];
  for (int i = 0; i < KILN_NT_RM; i++) for (int j = 0; j < 4; j++) acc[i][j] = kv_zero();
  int64_t k = 0;
  for (; k + step <= kn; k += step, ap += KILN_NT_RM * step) {
    ${v.avec} b0 = ${v.bload("b[0] + k")}, b1 = ${v.bload("b[1] + k")}, b2 = ${v.bload("b[2] + k")}, b3 = ${v.bload("b[3] + k")};
    for (int i = 0; i < KILN_NT_RM; i++) {
      ${v.avec} av = ${v.aload("ap + i * step")};
${macs("av")}
    }
  }
  if (k < kn) {
    int64_t r = kn - k;
    ${v.avec} b0 = ${v.bloadPart("b[0] + k", "r")}, b1 = ${v.bloadPart("b[1] + k", "r")};
    ${v.avec} b2 = ${v.bloadPart("b[2] + k", "r")}, b3 = ${v.bloadPart("b[3] + k", "r")};
    for (int i = 0; i < KILN_NT_RM; i++) {
      ${v.avec} av = ${v.aload("ap + i * step")};
${macs("av")}
    }
  }
  for (int i = 0; i < KILN_NT_RM; i++) {
    if (i >= mr) break;
    float s[4];
    kv4_store(s, kv_sum4(acc[i][0], acc[i][1], acc[i][2], acc[i][3]));
    float* c = C + i * ldc;
    if (accumulate) for (int64_t j = 0; j < nr; j++) c[j] += s[j];
    else if (bias) for (int64_t j = 0; j < nr; j++) c[j] = s[j] + bias[j];
    else for (int64_t j = 0; j < nr; j++) c[j] = s[j];
  }
}

/* C[m0:m1, n0:n1] on one thread, by blocks of MC rows of A. Within one, K blocks are outermost: packed A[mb:me, kb:ke]
   stays in L2 while blocks of B rows (which fit L2 too) stream past it, each B tile reused by every A tile. */
static void ${n}_block(const kiln_mm_args* g, int64_t m0, int64_t m1, int64_t n0, int64_t n1) {
  const int64_t step = ${v.step}, kc = KILN_NT_KC, mc = KILN_NT_MC_TILES * KILN_NT_RM;
  const int64_t rows = m1 - m0 < mc ? m1 - m0 : mc;
  const int64_t kcap = ((g->K < kc ? g->K : kc) + step - 1) / step * step;
  const size_t bytes = (size_t)((rows + KILN_NT_RM - 1) / KILN_NT_RM * KILN_NT_RM * (kcap > 0 ? kcap : step)) * sizeof(${v.at});
  ${v.at}* ap = (${v.at}*)kiln_thread_scratch(bytes);
  if (!ap) return;
  const ${v.bt}* B = (const ${v.bt}*)g->B;
  for (int64_t mb = m0; mb < m1; mb += mc) {
    const int64_t me = mb + mc < m1 ? mb + mc : m1, tiles = (me - mb + KILN_NT_RM - 1) / KILN_NT_RM;
    int64_t kb = 0;
    do {
      int64_t ke = kb + kc < g->K ? kb + kc : g->K;
      int64_t steps = (ke - kb + step - 1) / step;
      ${n}_pack((const float*)g->A, g->lda, mb, me, kb, ke, ap);
      for (int64_t jb = n0; jb < n1; jb += KILN_NT_NB) {
        int64_t je = jb + KILN_NT_NB < n1 ? jb + KILN_NT_NB : n1;
        for (int64_t t = 0; t < tiles; t++) {
          int64_t i0 = mb + t * KILN_NT_RM, mr = me - i0 < KILN_NT_RM ? me - i0 : KILN_NT_RM;
          for (int64_t j0 = jb; j0 < je; j0 += 4) {
            int64_t nr = je - j0 < 4 ? je - j0 : 4;
            ${n}_tile(ke - kb, ap + t * steps * KILN_NT_RM * step, B + j0 * g->ldb + kb, g->ldb, mr, nr,
                      g->C + i0 * g->ldc + j0, g->ldc, kb > 0, kb == 0 && g->bias ? g->bias + j0 : NULL);
          }
        }
      }
      kb += kc;
    } while (kb < g->K);
  }
}
static void ${n}_cols(void* p, int64_t n0, int64_t n1) { ${n}_block((const kiln_mm_args*)p, 0, ((const kiln_mm_args*)p)->M, n0, n1); }
static void ${n}_rows(void* p, int64_t m0, int64_t m1) { ${n}_block((const kiln_mm_args*)p, m0, m1, 0, ((const kiln_mm_args*)p)->N); }

/* C[M,N] = A[M,K] · B[N,K]^T (+ bias[N]); B is ${v.bt === "float" ? "f32" : "bf16"} (a Linear weight), sums in f32.${v.name === "bf16dot" ? "\n   A is rounded to bf16 (products of bf16 pairs are exact)." : ""} */
KILN_API void ${n}(int64_t M, int64_t N, int64_t K, const float* A, int64_t lda, const ${v.bt}* B, int64_t ldb, float* C,
                  int64_t ldc, const float* bias) {
  if (M <= 0 || N <= 0) return;
  kiln_mm_args g = {M, N, K, A, lda, B, ldb, C, ldc, bias};
  if ((double)M * (double)N * (double)K < KILN_MM_SERIAL_WORK) ${n}_block(&g, 0, M, 0, N);
  else if (N >= 16 * kiln_num_threads() || N >= M) kiln_parallel_for(N, 16, ${n}_cols, &g);
  else kiln_parallel_for(M, KILN_NT_RM, ${n}_rows, &g);
}
`;
}

const NT_BF16DOT = String.raw`
#if defined(KILN_HAS_BF16DOT)
KILN_INLINE kv kv_dot_bf16(kv acc, __m512i a, __m512i b) { return _mm512_dpbf16_ps(acc, (__m512bh)a, (__m512bh)b); }
${ntVariant(NT_DOT)}
#else
/* Without avx512_bf16: the same arithmetic (A rounded to bf16, exact products, f32 sums) through kiln_gemm_nt_bf16. */
KILN_API void kiln_gemm_nt_bf16dot(int64_t M, int64_t N, int64_t K, const float* A, int64_t lda, const uint16_t* B,
                                   int64_t ldb, float* C, int64_t ldc, const float* bias) {
  if (M <= 0 || N <= 0) return;
  float* ar = (float*)kiln_scratch((size_t)(M * K) * 4);
  if (!ar) return;
  for (int64_t i = 0; i < M; i++)
    for (int64_t k = 0; k < K; k++) ar[i * K + k] = kiln_bf16_to_f32(kiln_f32_to_bf16(A[i * lda + k]));
  kiln_gemm_nt_bf16(M, N, K, ar, K, B, ldb, C, ldc, bias);
  free(ar);
}
#endif
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
${NT_VARIANTS.map(ntVariant).join("")}${NT_BF16DOT}${nnEntry("f32")}${nnEntry("bf16")}`;
