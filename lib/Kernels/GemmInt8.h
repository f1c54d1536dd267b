//===- GemmInt8.h - int8 x int8 products with per-row scales ------*- C -*-===//
//
// Part of the Slim project, under the Apache License v2.0 with LLVM Exceptions.
// SPDX-License-Identifier: Apache-2.0 WITH LLVM-exception
//
//===----------------------------------------------------------------------===//
//
// SmoothQuant's W8A8 product: C[i, n] = aScale[i] * bScale[n] *
// sum_k A[i, k] B[n, k] for rows i < m and output channels n in [n0, n1),
// A and B signed 8-bit and row-major (B one output channel per row), the
// sums exact in int32 (K up to 2^17). ukernel rules: plain C ABI, no
// allocation, no threads, no globals; the caller splits [0, N) across
// threads. Each ISA variant is tested against the reference.
//
// A's codes must lie in [-127, 127] (what a symmetric per-row quantizer
// produces): the AVX2 variant multiplies |B| (up to 128, unsigned) by A with
// B's sign in 16-bit pairs, which would saturate for -128 * -128 twice.
//
//===----------------------------------------------------------------------===//

#ifndef SLIM_LIB_KERNELS_GEMMINT8_H
#define SLIM_LIB_KERNELS_GEMMINT8_H

#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/// Portable reference (lib/Kernels/generic).
void slim_uk_gemm_s8s8_f32_generic(int64_t m, int64_t n0, int64_t n1,
                                   int64_t k, const int8_t *a, int64_t lda,
                                   const float *aScale, const int8_t *b,
                                   int64_t ldb, const float *bScale, float *c,
                                   int64_t ldc);

/// AVX2 (lib/Kernels/x86_64); only call where the CPU has it.
void slim_uk_gemm_s8s8_f32_avx2(int64_t m, int64_t n0, int64_t n1, int64_t k,
                                const int8_t *a, int64_t lda,
                                const float *aScale, const int8_t *b,
                                int64_t ldb, const float *bScale, float *c,
                                int64_t ldc);

#ifdef __cplusplus
}
#endif

#endif // SLIM_LIB_KERNELS_GEMMINT8_H
