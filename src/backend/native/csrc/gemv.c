/* gemv.c: the GEMV templates (decode: one or a few rows of activations against a [N,K] weight, f32 or bf16) and the
   Linear entry points, which take the GEMV for a few rows and the nt GEMM (gemm.c) otherwise.

   Weight-streaming: each thread walks its own contiguous range of weight rows, four rows at a time, reading every
   weight once per call (for up to 4 activation rows) and widening bf16 in registers (a shift and a mask per pair of
   words, against activations deinterleaved once per call). */
#include "matmul.h"

/* Rows of activations up to which a Linear layer takes the GEMV (measured here against the nt GEMM on a 3072×1024
   weight from DRAM: at 8 rows the GEMV takes 0.67× the GEMM's time in bf16, 0.83× in f32; at 16 about the same). */
#define KILN_GEMV_MAX_M 8
/* Weight rows per L2-resident chunk. */
#define KILN_GEMV_CHUNK 64
/* bf16 weights are fetched this many rows ahead with prefetchnta (read once per call: kept out of the outer caches);
   measured on an EPYC VM, decode +12% over prefetcht1 (8 rows ahead: about the same; 2 or 16: slower). */
#define GEMV_PF_ROWS 4
#define GEMV_PF_HINT 0

#define GEMV_ENTRY kiln_gemv_nt_f32
#define GEMV_LINEAR kiln_linear_f32
#define GEMM_NT kiln_gemm_nt_f32
#define GEMV_FN(x) gemv_f32_##x
#define GEMV_W float
#define GEMV_LOAD(p) kv_load(p)
#define GEMV_LOAD_PART(p, n) kv_load_part(p, n)
#include "gemv_nt.inc"

#define GEMV_ENTRY kiln_gemv_nt_bf16
#define GEMV_LINEAR kiln_linear_bf16
#define GEMM_NT kiln_gemm_nt_bf16
#define GEMV_FN(x) gemv_bf16_##x
#define GEMV_W uint16_t
#define GEMV_LOAD(p) kv_load_bf16(p)
#define GEMV_LOAD_PART(p, n) kv_load_bf16_part(p, n)
#define GEMV_PAIRS
#include "gemv_nt.inc"
