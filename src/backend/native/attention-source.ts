// Paged causal attention in C (vLLM-style block table): prefill and decode over a KV cache of fixed-size blocks.
//
// Flash-attention style: a work item is a unit of query rows (at most KILN_ATT_ROWS = 16: consecutive query tokens
// of one sequence × KV heads × the query heads of each KV head's group, so each K/V row is read from memory once per
// group) over a range of context positions, walked KILN_ATT_T = 16 positions at a time with an online softmax
// (running max and sum per row, the accumulator rescaled only when the max grows): no [S, L] score buffer exists.
// Scores are kept in base 2 (scale · log2 e folded in) and exponentiated by a vector exp2 (Cephes polynomial).
//
// Units: prefill takes many tokens per unit (8 tokens × 2 heads at GQA 2), decode takes a token's heads of many KV
// heads (whose rows are adjacent in the cache, so a unit streams whole blocks; K and V are walked position-major
// across those heads so the hardware prefetchers see a few sequential streams). Two kernels:
//  - general (every ISA): QK^T read along D like the nt GEMM (rows × 4 positions of accumulators, one
//    transpose-and-add per 4 scores), P·V broadcasting weights against 2 vectors of each V row;
//  - AVX-512, units of 8+ rows on one KV head (prefill): rows are the 16 lanes; Q^T is built once per unit, a
//    position's scores are one vector (its K elements broadcast against Q^T: no horizontal sums), and the softmax
//    runs across positions elementwise.
// Items are claimed dynamically (an atomic counter, largest first) by the threads of one kiln_parallel_for, so causal
// prefill (item costs grow with position) balances. When a unit costs more than a quarter of a thread's share (decode:
// S = 1 is one or a few units) its context is split into chunks (flash-decoding); each chunk leaves (max, sum,
// accumulator) partials and the thread finishing a unit's last chunk merges them. Depends on SIMD_C and the runtime.

/** C element type of a cache variant. */
type CacheType = "f32" | "bf16";

const ctype = (t: CacheType): string => (t === "f32" ? "float" : "uint16_t");
const load = (t: CacheType): string => (t === "f32" ? "kv_load" : "kv_load_bf16");
const loadPart = (t: CacheType): string => (t === "f32" ? "kv_load_part" : "kv_load_bf16_part");
/** The entry's name suffix per cache type. */
const entryName = (t: CacheType): string => (t === "f32" ? "f32" : "bf16kv");

/** Row counts the QK (rows × 4 positions) and PV (rows × 2 vectors) register tiles are specialised for. */
const QK_ROWS = [1, 2, 4] as const;
const PV_ROWS = [1, 2, 4, 8] as const;

/** Vector operations the attention needs beyond the shared layer (max, mul, exp2), per ISA. */
const VECTOR_C = String.raw`
#include <math.h>
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
`;

/** s[r * KILN_ATT_T + t] = q[r] · (k[t] + koff)[0:D] for r < mr, t < 4 (rows of q and k read along D). */
function qkTile(t: CacheType, mr: number): string {
  const ct = ctype(t);
  const fmas = (kl: (p: string) => string, ql: (p: string) => string) => String.raw`
      kv k0 = ${kl("k0p + d")}, k1 = ${kl("k1p + d")}, k2 = ${kl("k2p + d")}, k3 = ${kl("k3p + d")};
      for (int r = 0; r < ${mr}; r++) {
        kv qv = ${ql("q[r] + d")};
        a[r][0] = kv_fma(qv, k0, a[r][0]);
        a[r][1] = kv_fma(qv, k1, a[r][1]);
        a[r][2] = kv_fma(qv, k2, a[r][2]);
        a[r][3] = kv_fma(qv, k3, a[r][3]);
      }`;
  return String.raw`
static void kiln_att_qk_${t}_m${mr}(int64_t D, const float* const* q, const ${ct}* const* k, int64_t koff, float* s) {
  const ${ct}* k0p = k[0] + koff;
  const ${ct}* k1p = k[1] + koff;
  const ${ct}* k2p = k[2] + koff;
  const ${ct}* k3p = k[3] + koff;
  kv a[${mr}][4];
  for (int r = 0; r < ${mr}; r++) a[r][0] = a[r][1] = a[r][2] = a[r][3] = kv_zero();
  int64_t d = 0;
  for (; d + KV_LANES <= D; d += KV_LANES) {${fmas((p) => `${load(t)}(${p})`, (p) => `kv_load(${p})`)}
  }
  if (d < D) {
    int64_t n = D - d;${fmas((p) => `${loadPart(t)}(${p}, n)`, (p) => `kv_load_part(${p}, n)`)}
  }
  for (int r = 0; r < ${mr}; r++) kv4_store(s + r * KILN_ATT_T, kv_sum4(a[r][0], a[r][1], a[r][2], a[r][3]));
}
`;
}

/**
 * acc[r][0:D] += sum over t < nt of p[r][t] · (v[t] + voff)[0:D] for r < mr (acc rows ldacc apart, padded to 2
 * vectors). The weights are p[r * KILN_ATT_T + t] ("rows" layout) or p[t * 16 + r] ("cols": one vector per position).
 */
function pvTile(t: CacheType, mr: number, layout: "rows" | "cols" = "rows"): string {
  const pidx = layout === "rows" ? "r * KILN_ATT_T + j" : "j * 16 + r";
  const ct = ctype(t);
  const body = (v0: string, v1: string) => String.raw`
      for (int64_t j = 0; j < nt; j++) {
        kv v0 = ${v0}, v1 = ${v1};
        for (int r = 0; r < ${mr}; r++) {
          kv pr = kv_set1(p[${pidx}]);
          c[r][0] = kv_fma(pr, v0, c[r][0]);
          c[r][1] = kv_fma(pr, v1, c[r][1]);
        }
      }`;
  return String.raw`
static void kiln_att_pv_${t}_m${mr}${layout === "cols" ? "_c" : ""}(int64_t D, int64_t nt, const float* p, const ${ct}* const* v, int64_t voff, float* acc, int64_t ldacc) {
  for (int64_t d = 0; d < D; d += 2 * KV_LANES) {
    kv c[${mr}][2];
    for (int r = 0; r < ${mr}; r++) {
      c[r][0] = kv_load(acc + r * ldacc + d);
      c[r][1] = kv_load(acc + r * ldacc + d + KV_LANES);
    }
    if (d + 2 * KV_LANES <= D) {${body(`${load(t)}(v[j] + voff + d)`, `${load(t)}(v[j] + voff + d + KV_LANES)`)}
    } else {
      int64_t n0 = D - d < KV_LANES ? D - d : KV_LANES, n1 = D - d - n0;${body(`${loadPart(t)}(v[j] + voff + d, n0)`, `n1 > 0 ? ${loadPart(t)}(v[j] + voff + d + KV_LANES, n1) : kv_zero()`)}
    }
    for (int r = 0; r < ${mr}; r++) {
      kv_store(acc + r * ldacc + d, c[r][0]);
      kv_store(acc + r * ldacc + d + KV_LANES, c[r][1]);
    }
  }
}
`;
}

/**
 * The P·V tile used by the kernels: as many vectors of D per pass as the registers hold for mr rows
 * (KILN_ATT_PV_NV_M<mr>), so the weights are broadcast and the accumulators loaded once per pass; a tail narrower than
 * a pass goes through the 2-vector tile.
 */
function pvWide(t: CacheType, mr: number, layout: "rows" | "cols" = "rows"): string {
  const ct = ctype(t);
  const sfx = layout === "cols" ? "_c" : "";
  const pidx = layout === "rows" ? "r * KILN_ATT_T + j" : "j * 16 + r";
  return String.raw`
static void kiln_att_pvw_${t}_m${mr}${sfx}(int64_t D, int64_t nt, const float* p, const ${ct}* const* v, int64_t voff, float* acc, int64_t ldacc) {
  enum { NV = KILN_ATT_PV_NV_M${mr} };
  int64_t d = 0;
  if (NV > 2) {
    for (; d + NV * KV_LANES <= D; d += NV * KV_LANES) {
      kv c[${mr}][NV];
      for (int r = 0; r < ${mr}; r++) for (int u = 0; u < NV; u++) c[r][u] = kv_load(acc + r * ldacc + d + u * KV_LANES);
      for (int64_t j = 0; j < nt; j++) {
        kv w[NV];
        for (int u = 0; u < NV; u++) w[u] = ${load(t)}(v[j] + voff + d + u * KV_LANES);
        for (int r = 0; r < ${mr}; r++) {
          kv pr = kv_set1(p[${pidx}]);
          for (int u = 0; u < NV; u++) c[r][u] = kv_fma(pr, w[u], c[r][u]);
        }
      }
      for (int r = 0; r < ${mr}; r++) for (int u = 0; u < NV; u++) kv_store(acc + r * ldacc + d + u * KV_LANES, c[r][u]);
    }
  }
  if (d < D) kiln_att_pv_${t}_m${mr}${sfx}(D - d, nt, p, v, voff + d, acc + d, ldacc);
}
`;
}

/**
 * Scores of 8 positions (j..j+7) for the next rows from r: the largest 4-position tile that fits, twice (the second
 * only if position j + 4 exists); 2 rows on AVX-512 take the 2 × 8 tile with the 16-lane reduction tree.
 */
function qk8(end: string, call: (mr: number, j: string) => string, m2x8: string): string {
  const twice = (mr: number) => `${call(mr, "j")}; if (j + 4 < nt) ${call(mr, "j + 4")}; r += ${mr};`;
  return String.raw`if (${end} - r >= 4 && KILN_ATT_QK_MAX >= 4) { ${twice(4)} }
          else if (${end} - r >= 2) {
#if defined(KILN_ISA_AVX512)
            ${m2x8}; r += 2;
#else
            ${twice(2)}
#endif
          } else { ${twice(1)} }`;
}

/**
 * AVX-512: s[r * KILN_ATT_T + t] = q[r] · (k[t] + koff)[0:D] for r < 2, t < 8 (decode at GQA 2): 16 accumulators
 * summed into one vector by a transpose-and-add tree (45 instructions for 16 scores, against 76 for four 4-way sums).
 */
function qk8Tile(t: CacheType): string {
  const ct = ctype(t);
  /* tree input m is accumulator 4 * (m % 4) + m / 4 (r * 8 + t): the tree's output lanes come out transposed 4 × 4 */
  const P = (m: number) => 4 * (m % 4) + Math.floor(m / 4);
  const fmas = (kl: (p: string) => string, ql: (p: string) => string) => String.raw`
    kv q0 = ${ql("q[0] + d")}, q1 = ${ql("q[1] + d")};
    for (int u = 0; u < 8; u++) {
      kv kt = ${kl("kk[u] + d")};
      a[u] = kv_fma(q0, kt, a[u]);
      a[8 + u] = kv_fma(q1, kt, a[8 + u]);
    }`;
  const x = [0, 1, 2, 3, 4, 5, 6, 7]
    .map((i) => `  __m512 x${i} = _mm512_add_ps(_mm512_shuffle_f32x4(a[${P(2 * i)}], a[${P(2 * i + 1)}], 0x44), _mm512_shuffle_f32x4(a[${P(2 * i)}], a[${P(2 * i + 1)}], 0xEE));`)
    .join("\n");
  const y = [0, 1, 2, 3]
    .map((i) => `  __m512 y${i} = _mm512_add_ps(_mm512_shuffle_f32x4(x${2 * i}, x${2 * i + 1}, 0x88), _mm512_shuffle_f32x4(x${2 * i}, x${2 * i + 1}, 0xDD));`)
    .join("\n");
  return String.raw`
#if defined(KILN_ISA_AVX512)
static void kiln_att_qk8_${t}_m2(int64_t D, const float* const* q, const ${ct}* const* k, int64_t koff, float* s) {
  const ${ct}* kk[8];
  for (int u = 0; u < 8; u++) kk[u] = k[u] + koff;
  kv a[16];
  for (int u = 0; u < 16; u++) a[u] = kv_zero();
  int64_t d = 0;
  for (; d + KV_LANES <= D; d += KV_LANES) {${fmas((p) => `${load(t)}(${p})`, (p) => `kv_load(${p})`)}
  }
  if (d < D) {
    int64_t n = D - d;${fmas((p) => `${loadPart(t)}(${p}, n)`, (p) => `kv_load_part(${p}, n)`)}
  }
${x}
${y}
  __m512 z0 = _mm512_add_ps(_mm512_shuffle_ps(y0, y1, 0x44), _mm512_shuffle_ps(y0, y1, 0xEE));
  __m512 z1 = _mm512_add_ps(_mm512_shuffle_ps(y2, y3, 0x44), _mm512_shuffle_ps(y2, y3, 0xEE));
  __m512 w = _mm512_add_ps(_mm512_shuffle_ps(z0, z1, 0x88), _mm512_shuffle_ps(z0, z1, 0xDD));
  _mm256_storeu_ps(s, _mm512_castps512_ps256(w));
  _mm256_storeu_ps(s + KILN_ATT_T, _mm512_extractf32x8_ps(w, 1));
}
#endif
`;
}

/** Row-chunk dispatch: the largest specialised tile that fits the remaining rows (and the ISA's register budget). */
function dispatch(sizes: readonly number[], max: string, call: (mr: number) => string, end: string): string {
  const desc = [...sizes].sort((a, b) => b - a);
  return desc
    .map((mr, i) => {
      const cond = i === desc.length - 1 ? "" : `if (${end} - r >= ${mr} && ${max} >= ${mr}) `;
      return `${cond}{ ${call(mr)}; r += ${mr}; }`;
    })
    .join(" else ");
}

/**
 * AVX-512, an item whose rows (up to 16) all read one KV head (prefill): the rows are the 16 lanes. Q is transposed
 * once per item (pre-scaled into base 2); a tile's scores are 16 vectors, one per position, each built by
 * broadcasting that position's K elements against Q^T, with no horizontal reductions; the online softmax runs across
 * positions elementwise (max, sum and rescale factors of all rows in one vector); P·V reads the weights per position.
 */
function transposedItem(t: CacheType): string {
  const ct = ctype(t);
  /* bf16 K rows are widened into an f32 tile first (one pass), so the broadcasts are plain f32 loads */
  const kt = t === "f32" ? ct : "float";
  const fmas = [0, 1, 2, 3, 4, 5, 6, 7].map((u) => `        s8[${u}] = _mm512_fmadd_ps(_mm512_set1_ps(k${u}[d]), qv, s8[${u}]);`).join("\n");
  const widen = t === "f32" ? "" : String.raw`
    float kw[KILN_ATT_T][KILN_ATT_MAX_D] __attribute__((aligned(64)));
    const float* kq[KILN_ATT_T];
    for (int64_t j = 0; j < KILN_ATT_T; j++) {
      if (j < nt) {
        int64_t d = 0;
        for (; d + 16 <= D; d += 16) _mm512_store_ps(kw[j] + d, kv_load_bf16(kp[j] + d));
        if (d < D) kv_store_part(kw[j] + d, kv_load_bf16_part(kp[j] + d, D - d), D - d);
        kq[j] = kw[j];
      } else {
        kq[j] = kq[nt - 1];
      }
    }`;
  const kq = t === "f32" ? "kp" : "kq";
  return String.raw`${PV_ROWS.map((mr) => pvTile(t, mr, "cols") + pvWide(t, mr, "cols")).join("")}
static void kiln_att_item_t_${t}(const kiln_att_args* a, const kiln_att_item* it, float* m, float* l, float* acc) {
  const int64_t D = a->D, ldacc = KILN_ATT_LDACC(D), rows = kiln_att_rows(it), BS = a->BS;
  const ${ct}* kc = (const ${ct}*)a->kcache;
  const ${ct}* vc = (const ${ct}*)a->vcache;
  const int32_t* table = a->block_table + (int64_t)it->seq * a->max_blocks;
  const int64_t kv_off = (int64_t)it->kv0 * D, row_stride = a->NKV * D;
  const float sc = a->scale * 1.44269504088896340736f; /* scores in base 2 */
  float qt[KILN_ATT_MAX_D * 16] __attribute__((aligned(64)));
  float lastf[16] __attribute__((aligned(64)));
  int64_t last_max = -1;
  for (int64_t r = 0; r < 16; r++) {
    if (r < rows) {
      int64_t tok, h;
      kiln_att_row(a, it, r, &tok, &h);
      const float* q = a->q + (tok * a->NH + h) * D;
      for (int64_t d = 0; d < D; d++) qt[d * 16 + r] = q[d] * sc;
      lastf[r] = (float)a->q_pos[tok];
      if (a->q_pos[tok] > last_max) last_max = a->q_pos[tok];
      for (int64_t d = 0; d < ldacc; d += 16) _mm512_storeu_ps(acc + r * ldacc + d, _mm512_setzero_ps());
    } else {
      /* idle lanes: zero scores at every position (finite, never read back) */
      for (int64_t d = 0; d < D; d++) qt[d * 16 + r] = 0.0f;
      lastf[r] = 3.0e38f;
    }
  }
  const int64_t c1 = it->c1 < last_max + 1 ? it->c1 : last_max + 1;
  const __m512 lastv = _mm512_load_ps(lastf), ninf = _mm512_set1_ps(-INFINITY);
  __m512 mv = ninf, lv = _mm512_setzero_ps();
  float pt[KILN_ATT_T * 16] __attribute__((aligned(64)));
  float corr_r[16] __attribute__((aligned(64)));
  const ${ct}* kp[KILN_ATT_T];
  const ${ct}* vp[KILN_ATT_T];
  const int strided = a->NKV > 1;
  int64_t blk = it->c0 / BS, off = it->c0 % BS;
  for (int64_t j0 = it->c0; j0 < c1; j0 += KILN_ATT_T) {
    const int64_t nt = c1 - j0 < KILN_ATT_T ? c1 - j0 : KILN_ATT_T;
    for (int64_t j = 0; j < KILN_ATT_T; j++) {
      if (j < nt) {
        int64_t slot = (int64_t)table[blk] * BS + off;
        kp[j] = kc + slot * row_stride + kv_off;
        vp[j] = vc + slot * row_stride + kv_off;
        if (++off == BS) { off = 0; blk++; }
      } else {
        kp[j] = kp[nt - 1];
        vp[j] = vp[nt - 1];
      }
    }
    if (strided && j0 + KILN_ATT_T < c1) {
      /* the next tile's first rows: one KV head's rows are NKV·D apart, a stride the prefetchers do not follow */
      int64_t b = blk, o = off;
      for (int64_t j = 0; j < 4 && j0 + KILN_ATT_T + j < c1; j++) {
        int64_t slot = (int64_t)table[b] * BS + o;
        for (int64_t x = 0; x < D * (int64_t)sizeof(${ct}); x += 64) {
          KILN_ATT_PREFETCH((const char*)(kc + slot * row_stride + kv_off) + x);
          KILN_ATT_PREFETCH((const char*)(vc + slot * row_stride + kv_off) + x);
        }
        if (++o == BS) { o = 0; b++; }
      }
    }
${widen}
    __m512 sv[KILN_ATT_T];
    for (int64_t jg = 0; jg < KILN_ATT_T; jg += 8) {
      if (jg >= nt) { for (int u = 0; u < 8; u++) sv[jg + u] = ninf; continue; }
      const ${kt}* k0 = ${kq}[jg + 0];
      const ${kt}* k1 = ${kq}[jg + 1];
      const ${kt}* k2 = ${kq}[jg + 2];
      const ${kt}* k3 = ${kq}[jg + 3];
      const ${kt}* k4 = ${kq}[jg + 4];
      const ${kt}* k5 = ${kq}[jg + 5];
      const ${kt}* k6 = ${kq}[jg + 6];
      const ${kt}* k7 = ${kq}[jg + 7];
      __m512 s8[8];
      for (int u = 0; u < 8; u++) s8[u] = _mm512_setzero_ps();
      for (int64_t d = 0; d < D; d++) {
        __m512 qv = _mm512_load_ps(qt + d * 16);
${fmas}
      }
      for (int u = 0; u < 8; u++) sv[jg + u] = s8[u];
    }
    /* causal mask per row (lanes), positions past the tile's end; then the online softmax across positions */
    __m512 mt = ninf;
    for (int64_t j = 0; j < KILN_ATT_T; j++) {
      __mmask16 ok = j < nt ? _mm512_cmp_ps_mask(_mm512_set1_ps((float)(j0 + j)), lastv, _CMP_LE_OQ) : 0;
      sv[j] = _mm512_mask_blend_ps(ok, ninf, sv[j]);
      mt = _mm512_max_ps(mt, sv[j]);
    }
    const __m512 mnew = _mm512_max_ps(mv, mt);
    /* rows with nothing attended yet keep m = -inf; subtract 0 there so no -inf - -inf */
    const __m512 msafe = _mm512_mask_blend_ps(_mm512_cmp_ps_mask(mnew, ninf, _CMP_EQ_OQ), mnew, _mm512_setzero_ps());
    const __m512 corr = kva_exp2(_mm512_sub_ps(mv, msafe));
    __m512 sum = _mm512_setzero_ps();
    for (int64_t j = 0; j < KILN_ATT_T; j++) {
      __m512 p = kva_exp2(_mm512_sub_ps(sv[j], msafe));
      _mm512_store_ps(pt + j * 16, p);
      sum = _mm512_add_ps(sum, p);
    }
    lv = _mm512_fmadd_ps(lv, corr, sum);
    __mmask16 changed = _mm512_cmp_ps_mask(mnew, mv, _CMP_NEQ_UQ) & _mm512_cmp_ps_mask(mv, ninf, _CMP_NEQ_UQ);
    changed &= (__mmask16)((1u << rows) - 1);
    if (changed) {
      _mm512_store_ps(corr_r, corr);
      for (int64_t r = 0; r < rows; r++) {
        if (!((changed >> r) & 1)) continue;
        __m512 cv = _mm512_set1_ps(corr_r[r]);
        for (int64_t d = 0; d < ldacc; d += 16) _mm512_storeu_ps(acc + r * ldacc + d, _mm512_mul_ps(_mm512_loadu_ps(acc + r * ldacc + d), cv));
      }
    }
    mv = mnew;
    for (int64_t r = 0; r < rows;) {
      ${dispatch(PV_ROWS, "KILN_ATT_PV_MAX", (mr) => `kiln_att_pvw_${t}_m${mr}_c(D, nt, pt + r, vp, 0, acc + r * ldacc, ldacc)`, "rows")}
    }
  }
  float mo[16] __attribute__((aligned(64))), lo[16] __attribute__((aligned(64)));
  _mm512_store_ps(mo, mv);
  _mm512_store_ps(lo, lv);
  for (int64_t r = 0; r < rows; r++) {
    m[r] = mo[r];
    l[r] = lo[r];
  }
}
`;
}

/** One item: (m, l, acc) of its rows over context positions [c0, c1), for one cache type. */
function itemFn(t: CacheType): string {
  const ct = ctype(t);
  return String.raw`${QK_ROWS.map((mr) => qkTile(t, mr)).join("")}${qk8Tile(t)}${PV_ROWS.map((mr) => pvTile(t, mr) + pvWide(t, mr)).join("")}
#if defined(KILN_ISA_AVX512) && KILN_ATT_TRANSPOSED
${transposedItem(t)}
#endif
static void kiln_att_item_${t}(const kiln_att_args* a, const kiln_att_item* it, float* m, float* l, float* acc) {
#if defined(KILN_ISA_AVX512) && KILN_ATT_TRANSPOSED
  if (it->nkv == 1 && kiln_att_rows(it) >= KILN_ATT_TRANSPOSED_ROWS) {
    kiln_att_item_t_${t}(a, it, m, l, acc);
    return;
  }
#endif
  const int64_t D = a->D, ldacc = KILN_ATT_LDACC(D), rows = kiln_att_rows(it), BS = a->BS;
  const int64_t grows = (int64_t)it->nt * it->ng; /* rows per KV head */
  const ${ct}* kc = (const ${ct}*)a->kcache;
  const ${ct}* vc = (const ${ct}*)a->vcache;
  const int32_t* table = a->block_table + (int64_t)it->seq * a->max_blocks;
  const int64_t kv_off = (int64_t)it->kv0 * D, row_stride = a->NKV * D;
  const float* qrow[KILN_ATT_ROWS];
  int64_t last[KILN_ATT_ROWS]; /* the last context position each row attends */
  int64_t last_max = -1;
  for (int64_t r = 0; r < rows; r++) {
    int64_t tok, h;
    kiln_att_row(a, it, r, &tok, &h);
    qrow[r] = a->q + (tok * a->NH + h) * D;
    last[r] = a->q_pos[tok];
    if (last[r] > last_max) last_max = last[r];
    m[r] = -INFINITY;
    l[r] = 0.0f;
    for (int64_t d = 0; d < ldacc; d += KV_LANES) kv_store(acc + r * ldacc + d, kv_zero());
  }
  const int64_t c1 = it->c1 < last_max + 1 ? it->c1 : last_max + 1;
  const kv scale = kv_set1(a->scale * 1.44269504088896340736f); /* scores in base 2 */
  float s[KILN_ATT_ROWS * KILN_ATT_T] __attribute__((aligned(64)));
  /* K/V row pointers of this tile and the next (positions past a tile's end repeat its last row: read, never used).
     When the unit has only some of the KV heads, the next tile's rows are prefetched while this one is computed:
     its rows are NKV·D apart, a stride the hardware prefetchers do not follow across pages. */
  const ${ct}* rowp[2][2][KILN_ATT_T];
  const int64_t row_bytes = D * it->nkv * (int64_t)sizeof(${ct}); /* the rows of consecutive KV heads are adjacent */
  const int strided = it->nkv < a->NKV; /* else a block's rows are one contiguous stream, which the hardware follows */
  const int64_t pv_pos = it->nkv > 1 ? KILN_ATT_PV_POS : KILN_ATT_T;
  int64_t blk = it->c0 / BS, off = it->c0 % BS;
#define KILN_ATT_FILL(buf, j0)                                                          \
  do {                                                                                  \
    const int64_t n_ = c1 - (j0) < KILN_ATT_T ? c1 - (j0) : KILN_ATT_T;                 \
    for (int64_t j = 0; j < KILN_ATT_T; j++) {                                          \
      if (j < n_) {                                                                     \
        int64_t slot = (int64_t)table[blk] * BS + off;                                  \
        (buf)[0][j] = kc + slot * row_stride + kv_off;                                  \
        (buf)[1][j] = vc + slot * row_stride + kv_off;                                  \
        if (++off == BS) { off = 0; blk++; }                                            \
      } else {                                                                          \
        (buf)[0][j] = (buf)[0][n_ - 1];                                                 \
        (buf)[1][j] = (buf)[1][n_ - 1];                                                 \
      }                                                                                 \
    }                                                                                   \
  } while (0)
  if (it->c0 < c1) KILN_ATT_FILL(rowp[0], it->c0);
  int cur = 0;
  for (int64_t j0 = it->c0; j0 < c1; j0 += KILN_ATT_T, cur ^= 1) {
    const int64_t nt = c1 - j0 < KILN_ATT_T ? c1 - j0 : KILN_ATT_T;
    const ${ct}* const* kp = rowp[cur][0];
    const ${ct}* const* vp = rowp[cur][1];
    if (j0 + KILN_ATT_T < c1) {
      KILN_ATT_FILL(rowp[cur ^ 1], j0 + KILN_ATT_T);
    }
    if (j0 + KILN_ATT_T < c1 && strided) {
      const int64_t nn = c1 - j0 - KILN_ATT_T < KILN_ATT_T ? c1 - j0 - KILN_ATT_T : KILN_ATT_T;
      for (int64_t j = 0; j < nn; j++) {
        const char* kr = (const char*)rowp[cur ^ 1][0][j];
        const char* vr = (const char*)rowp[cur ^ 1][1][j];
        for (int64_t b = 0; b < row_bytes; b += 64) {
          KILN_ATT_PREFETCH(kr + b);
          KILN_ATT_PREFETCH(vr + b);
        }
      }
    }
    /* scores */
    /* position-major over the KV heads: each position's rows of all the unit's heads are adjacent, so K is read as
       a few sequential streams (which the hardware prefetchers follow), not one stream per position */
    for (int64_t j = 0; j < nt; j += 8) {
      for (int64_t kl = 0; kl < it->nkv; kl++) {
        const int64_t rend = (kl + 1) * grows;
        for (int64_t r = kl * grows; r < rend;) {
          ${qk8("rend", (mr, jj) => `kiln_att_qk_${t}_m${mr}(D, qrow + r, kp + ${jj}, kl * D, s + r * KILN_ATT_T + ${jj})`, `kiln_att_qk8_${t}_m2(D, qrow + r, kp + j, kl * D, s + r * KILN_ATT_T + j)`)}
        }
      }
    }
    /* online softmax: s becomes the weights of this tile */
    for (int64_t r = 0; r < rows; r++) {
      float* sr = s + r * KILN_ATT_T;
      int64_t valid = last[r] - j0 + 1 < nt ? last[r] - j0 + 1 : nt;
      if (valid <= 0) { memset(sr, 0, sizeof(float) * KILN_ATT_T); continue; }
      for (int64_t j = 0; j < KILN_ATT_T; j += KV_LANES) kv_store(sr + j, kva_mul(kv_load(sr + j), scale));
      for (int64_t j = valid; j < KILN_ATT_T; j++) sr[j] = -INFINITY;
      kv mx = kv_set1(-INFINITY);
      for (int64_t j = 0; j < KILN_ATT_T; j += KV_LANES) mx = kva_max(mx, kv_load(sr + j));
      float mt = kva_hmax(mx), mnew = mt > m[r] ? mt : m[r];
      kv mv = kv_set1(-mnew), sum = kv_zero();
      for (int64_t j = 0; j < KILN_ATT_T; j += KV_LANES) {
        kv e = kva_exp2(kv_add(kv_load(sr + j), mv));
        kv_store(sr + j, e);
        sum = kv_add(sum, e);
      }
      if (mnew > m[r]) {
        float corr = exp2f(m[r] - mnew); /* 0 on the first tile (m = -inf) */
        if (l[r] != 0.0f) {
          kv cv = kv_set1(corr);
          for (int64_t d = 0; d < ldacc; d += KV_LANES) kv_store(acc + r * ldacc + d, kva_mul(kv_load(acc + r * ldacc + d), cv));
        }
        l[r] *= corr;
        m[r] = mnew;
      }
      l[r] += kv_sum(sum);
    }
    /* acc += weights · V */
    for (int64_t j = 0; j < nt; j += pv_pos) {
      const int64_t np = nt - j < pv_pos ? nt - j : pv_pos;
      for (int64_t kl = 0; kl < it->nkv; kl++) {
        const int64_t rend = (kl + 1) * grows;
        for (int64_t r = kl * grows; r < rend;) {
          ${dispatch(PV_ROWS, "KILN_ATT_PV_MAX", (mr) => `kiln_att_pvw_${t}_m${mr}(D, np, s + r * KILN_ATT_T + j, vp + j, kl * D, acc + r * ldacc, ldacc)`, "rend")}
        }
      }
    }
  }
#undef KILN_ATT_FILL
}

${paged(t)}`;
}

function paged(t: CacheType): string {
  const ct = ctype(t);
  return String.raw`/* Paged causal attention (vLLM-style block table), f32 queries/output, ${t === "f32" ? "f32" : "bf16 (widened in registers)"} cache.
   q: [S, NH, D] contiguous; kcache, vcache: [num_blocks, BS, NKV, D] contiguous; out: [S, NH, D].
   Query token i belongs to sequence q_seq[i] and sits at position q_pos[i]; it attends the
   context positions j = 0..q_pos[i] (inclusive) of its sequence, whose K/V live at cache slot
   block_table[q_seq[i] * max_blocks + j / BS] * BS + j % BS  (slot = row of the [num_blocks*BS, NKV, D] view).
   GQA: query head h reads KV head h / (NH / NKV). Softmax of scale * q·k over j, then weights · v. */
KILN_API void kiln_paged_attention_${entryName(t)}(int64_t S, int64_t NH, int64_t NKV, int64_t D, int64_t BS, int64_t max_blocks,
    const float* q, const ${ct}* kcache, const ${ct}* vcache,
    const int32_t* block_table, const int32_t* q_seq, const int32_t* q_pos, float scale, float* out) {
  kiln_att_args a = {S, NH, NKV, D, BS, max_blocks, q, kcache, vcache, block_table, q_seq, q_pos, scale, out};
  kiln_att_run(&a, kiln_att_item_${t});
}
`;
}

const DRIVER_C = String.raw`
/* ---- kiln paged attention ---- */
#define KILN_ATT_T 16              /* context positions per tile (scores of one row: 16 floats) */
#define KILN_ATT_ROWS 16           /* query rows per item: tokens × the heads of one KV group */
#define KILN_ATT_MAX_D 256
#define KILN_ATT_MIN_CHUNK 64      /* context positions below which a unit is never split */
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

typedef struct {
  atomic_int remaining;
  int32_t chunks;
  int64_t part0;
} kiln_att_split;

typedef void (*kiln_att_item_fn)(const kiln_att_args* a, const kiln_att_item* it, float* m, float* l, float* acc);

typedef struct {
  const kiln_att_args* a;
  kiln_att_item_fn fn;
  const kiln_att_item* items;
  int64_t nitems;
  kiln_att_split* splits;
  float* parts;
  atomic_llong next;
} kiln_att_job;

KILN_INLINE int64_t kiln_att_rows(const kiln_att_item* it) { return (int64_t)it->nt * it->nkv * it->ng; }

/* The query token and head of row r of an item. */
KILN_INLINE void kiln_att_row(const kiln_att_args* a, const kiln_att_item* it, int64_t r, int64_t* tok, int64_t* h) {
  const int64_t per_kv = (int64_t)it->nt * it->ng, kl = r / per_kv, t = r % per_kv / it->ng, g = r % it->ng;
  *tok = it->i0 + t;
  *h = (it->kv0 + kl) * (a->NH / a->NKV) + it->g0 + g;
}

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
    float w[64];
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

/* Plans units (query tiles × KV heads × head groups, up to KILN_ATT_ROWS rows each), splits long ones when the threads would otherwise idle,
   and runs the items largest first on every thread. */
static void kiln_att_run(const kiln_att_args* a, kiln_att_item_fn fn) {
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
    int64_t ctx = units[k].c1, chunks = 1;
    if (units[k].cost > target && ctx >= 2 * KILN_ATT_MIN_CHUNK) {
      chunks = (units[k].cost + target - 1) / target;
      if (chunks > ctx / KILN_ATT_MIN_CHUNK) chunks = ctx / KILN_ATT_MIN_CHUNK;
      if (chunks > 64) chunks = 64;
    }
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
      int64_t ctx = it.c1, chunks = 1;
      if (it.cost > target && ctx >= 2 * KILN_ATT_MIN_CHUNK) {
        chunks = (it.cost + target - 1) / target;
        if (chunks > ctx / KILN_ATT_MIN_CHUNK) chunks = ctx / KILN_ATT_MIN_CHUNK;
        if (chunks > 64) chunks = 64;
      }
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
`;

/** The attention templates: kiln_paged_attention_f32 and kiln_paged_attention_bf16kv. Depends on SIMD_C. */
export const ATTENTION_C = VECTOR_C + DRIVER_C + itemFn("f32") + itemFn("bf16");
