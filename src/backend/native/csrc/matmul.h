/* matmul.h: what the GEMM and GEMV templates share: their argument block and the size below which they stay serial. */
#ifndef KILN_MATMUL_H
#define KILN_MATMUL_H

#include "simd.h"

/* Below this many multiply-adds a GEMM or GEMV runs on the calling thread only. */
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

#endif
