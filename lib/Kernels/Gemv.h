//===- Gemv.h - Few-row f32 products with a row-major [N, K] weight -*- C -*-===//
//
// Part of the Slim project, under the Apache License v2.0 with LLVM Exceptions.
// SPDX-License-Identifier: Apache-2.0 WITH LLVM-exception
//
//===----------------------------------------------------------------------===//
//
// The kernels of decoding's dense products: C[i, n] += sum_k A[i, k] B[n, k]
// for i < m <= SLIM_GEMV_MAX_ROWS and n in [n0, n1), B stored row-major
// [N, K] (each output channel's weights contiguous). ukernel rules: plain C
// ABI, no allocation, no threads, no globals; the caller splits [0, N)
// across threads. Each ISA variant is tested against the reference.
//
//===----------------------------------------------------------------------===//

#ifndef SLIM_LIB_KERNELS_GEMV_H
#define SLIM_LIB_KERNELS_GEMV_H

#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/// The most rows (tokens) one call handles.
#define SLIM_GEMV_MAX_ROWS 4

/// Portable reference (lib/Kernels/generic).
void slim_uk_gemv_nt_f32_generic(int64_t m, int64_t n0, int64_t n1, int64_t k,
                                 const float *a, int64_t lda, const float *b,
                                 int64_t ldb, float *c, int64_t ldc);

/// AVX2 + FMA (lib/Kernels/x86_64); only call where the CPU has both.
void slim_uk_gemv_nt_f32_avx2(int64_t m, int64_t n0, int64_t n1, int64_t k,
                              const float *a, int64_t lda, const float *b,
                              int64_t ldb, float *c, int64_t ldc);

#ifdef __cplusplus
}
#endif

#endif // SLIM_LIB_KERNELS_GEMV_H
