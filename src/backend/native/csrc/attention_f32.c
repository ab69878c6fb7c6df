/* attention_f32.c: the paged-attention kernels and entry point over an f32 cache (attention_cache.inc; the driver is
   attention.c). */
#include "attention.h"

#define ATT_ENTRY kiln_paged_attention_f32
#define ATT_FN(x) att_f32_##x
#define ATT_T float
#define ATT_LOAD(p) kv_load(p)
#define ATT_LOAD_PART(p, n) kv_load_part(p, n)
#define ATT_WIDEN_K 0
#define ATT_PAIRED 0
#include "attention_cache.inc"
