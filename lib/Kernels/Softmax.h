//===- Softmax.h - Row-wise f32 softmax --------------------------*- C -*-===//
//
// Part of the Slim project, under the Apache License v2.0 with LLVM Exceptions.
// SPDX-License-Identifier: Apache-2.0 WITH LLVM-exception
//
//===----------------------------------------------------------------------===//
//
// out[i, :] = softmax(in[i, :]) for `rows` rows of `n` contiguous floats:
// the max, exp(x - max) with their sum, and the scaling by 1 / sum, each
// row staying in L1 (attention's score rows: 128-2048 floats), instead of
// the four passes over the whole score tensor that linalg.softmax's
// decomposition makes. Same order of operations as that decomposition
// (maximum ignoring NaN, exp of the difference, division by the sum), so
// rows of -inf give NaN as it does. `in` and `out` may be the same buffer.
// ukernel rules: plain C ABI, no allocation, no threads, no globals.
//
//===----------------------------------------------------------------------===//

#ifndef SLIM_LIB_KERNELS_SOFTMAX_H
#define SLIM_LIB_KERNELS_SOFTMAX_H

#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/// Portable reference (lib/Kernels/generic), std::exp.
void slim_uk_softmax_f32_generic(int64_t rows, int64_t n, const float *in,
                                 int64_t ldin, float *out, int64_t ldout);

/// AVX2 + FMA (lib/Kernels/x86_64); only call where the CPU has both. exp
/// within 2 ulp of the reference.
void slim_uk_softmax_f32_avx2(int64_t rows, int64_t n, const float *in,
                              int64_t ldin, float *out, int64_t ldout);

/// AVX-512F (lib/Kernels/x86_64); only call where the CPU has it.
void slim_uk_softmax_f32_avx512(int64_t rows, int64_t n, const float *in,
                                int64_t ldin, float *out, int64_t ldout);

#ifdef __cplusplus
}
#endif

#endif // SLIM_LIB_KERNELS_SOFTMAX_H
