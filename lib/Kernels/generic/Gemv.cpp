//===- Gemv.cpp - Reference few-row product with an [N, K] weight ---------===//
//
// Part of the Slim project, under the Apache License v2.0 with LLVM Exceptions.
// SPDX-License-Identifier: Apache-2.0 WITH LLVM-exception
//
//===----------------------------------------------------------------------===//

#include "lib/Kernels/Gemv.h"

extern "C" void slim_uk_gemv_nt_f32_generic(int64_t m, int64_t n0, int64_t n1,
                                            int64_t k, const float *a,
                                            int64_t lda, const float *b,
                                            int64_t ldb, float *c,
                                            int64_t ldc) {
  for (int64_t i = 0; i < m; ++i)
    for (int64_t n = n0; n < n1; ++n) {
      const float *w = b + n * ldb, *x = a + i * lda;
      float acc = 0.0f;
      for (int64_t j = 0; j < k; ++j)
        acc += x[j] * w[j];
      c[i * ldc + n] += acc;
    }
}
