//===- GemmInt8.cpp - int8 x int8 products, portable reference ------------===//
//
// Part of the Slim project, under the Apache License v2.0 with LLVM Exceptions.
// SPDX-License-Identifier: Apache-2.0 WITH LLVM-exception
//
//===----------------------------------------------------------------------===//

#include "lib/Kernels/GemmInt8.h"

extern "C" void slim_uk_gemm_s8s8_f32_generic(
    int64_t m, int64_t n0, int64_t n1, int64_t k, const int8_t *a,
    int64_t lda, const float *aScale, const int8_t *b, int64_t ldb,
    const float *bScale, float *c, int64_t ldc) {
  for (int64_t i = 0; i < m; ++i)
    for (int64_t n = n0; n < n1; ++n) {
      const int8_t *x = a + i * lda, *w = b + n * ldb;
      int32_t acc = 0;
      for (int64_t t = 0; t < k; ++t)
        acc += int32_t(x[t]) * int32_t(w[t]);
      c[i * ldc + n] = float(acc) * (aScale[i] * bScale[n]);
    }
}
