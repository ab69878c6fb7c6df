/* attention_bf16kv.c: the paged-attention kernels and entry point over a bf16 cache (widened in registers, as pairs of
   vectors on AVX-512 and AVX2: attention.h) (attention_cache.inc; the driver is attention.c). */
#include "attention.h"

#define ATT_ENTRY kiln_paged_attention_bf16kv
#define ATT_FN(x) att_bf16_##x
#define ATT_T uint16_t
#define ATT_LOAD(p) kv_load_bf16(p)
#define ATT_LOAD_PART(p, n) kv_load_bf16_part(p, n)
#define ATT_WIDEN_K 1
#define ATT_PAIRED KILN_ATT_PAIRED
#include "attention_cache.inc"
