// The paged causal-attention template (vLLM-style block table), f32 queries, cache and output:
// one work item per (query token, head), each one pass over its context with an online softmax.
export const ATTENTION_C = String.raw`
/* ---- paged attention ---- */
#include <math.h>
typedef struct {
  int64_t S, NH, NKV, D, BS, max_blocks;
  const float *q, *kcache, *vcache;
  const int32_t *block_table, *q_seq, *q_pos;
  float scale;
  float* out;
} kiln_attn_job;

static void kiln_attn_range(void* p, int64_t lo, int64_t hi) {
  const kiln_attn_job* a = (const kiln_attn_job*)p;
  const int64_t D = a->D, rep = a->NH / a->NKV, row_size = a->NKV * D;
  float acc[512];
  for (int64_t item = lo; item < hi; item++) {
    const int64_t t = item / a->NH, h = item % a->NH;
    const float* q = a->q + item * D;
    const int32_t* table = a->block_table + (int64_t)a->q_seq[t] * a->max_blocks;
    const int64_t last = a->q_pos[t], kvo = (h / rep) * D;
    float max = -INFINITY, sum = 0.0f;
    for (int64_t e = 0; e < D; e++) acc[e] = 0.0f;
    for (int64_t j = 0; j <= last; j++) {
      const int64_t row = ((int64_t)table[j / a->BS] * a->BS + j % a->BS) * row_size + kvo;
      const float* k = a->kcache + row;
      const float* v = a->vcache + row;
      float dot = 0.0f;
      for (int64_t e = 0; e < D; e++) dot += q[e] * k[e];
      const float score = dot * a->scale;
      const float m = score > max ? score : max;
      const float correction = expf(max - m), w = expf(score - m);
      sum = sum * correction + w;
      for (int64_t e = 0; e < D; e++) acc[e] = acc[e] * correction + w * v[e];
      max = m;
    }
    float* o = a->out + item * D;
    for (int64_t e = 0; e < D; e++) o[e] = acc[e] / sum;
  }
}

/* q [S, NH, D]; kcache, vcache [num_blocks, BS, NKV, D]; block_table [sequences, max_blocks]; q_seq, q_pos [S]; out [S, NH, D].
   Query token i attends positions 0..q_pos[i] of sequence q_seq[i]; D <= 512. */
KILN_API void kiln_paged_attention_f32(int64_t S, int64_t NH, int64_t NKV, int64_t D, int64_t BS, int64_t max_blocks,
    const float* q, const float* kcache, const float* vcache,
    const int32_t* block_table, const int32_t* q_seq, const int32_t* q_pos, float scale, float* out) {
  kiln_attn_job job = {S, NH, NKV, D, BS, max_blocks, q, kcache, vcache, block_table, q_seq, q_pos, scale, out};
  kiln_parallel_for(S * NH, 1, kiln_attn_range, &job);
}
`;
