//===- Softmax.cpp - Reference row-wise f32 softmax -----------------------===//
//
// Part of the Slim project, under the Apache License v2.0 with LLVM Exceptions.
// SPDX-License-Identifier: Apache-2.0 WITH LLVM-exception
//
//===----------------------------------------------------------------------===//

#include "lib/Kernels/Softmax.h"

#include <cmath>

extern "C" void slim_uk_softmax_f32_generic(int64_t rows, int64_t n,
                                            const float *in, int64_t ldin,
                                            float *out, int64_t ldout) {
  for (int64_t i = 0; i < rows; ++i) {
    const float *x = in + i * ldin;
    float *y = out + i * ldout;
    float max = -INFINITY;
    for (int64_t j = 0; j < n; ++j)
      max = std::fmax(max, x[j]);
    float sum = 0.0f;
    for (int64_t j = 0; j < n; ++j) {
      y[j] = std::exp(x[j] - max);
      sum += y[j];
    }
    for (int64_t j = 0; j < n; ++j)
      y[j] = y[j] / sum;
  }
}
