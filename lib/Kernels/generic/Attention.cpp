//===- Attention.cpp - Reference fused f32 attention ----------------------===//
//
// Part of the Slim project, under the Apache License v2.0 with LLVM Exceptions.
// SPDX-License-Identifier: Apache-2.0 WITH LLVM-exception
//
//===----------------------------------------------------------------------===//

#include "lib/Kernels/Attention.h"
#include "lib/Kernels/Softmax.h"

#include <cmath>

extern "C" void slim_uk_attention_pack_k_f32(int64_t t, int64_t d,
                                             const float *k, int64_t ldk,
                                             float *kp) {
  constexpr int64_t kPanel = SLIM_ATTENTION_PANEL;
  for (int64_t p = 0; p * kPanel < t; ++p)
    for (int64_t c = 0; c < d; ++c)
      for (int64_t j = 0; j < kPanel; ++j) {
        int64_t key = p * kPanel + j;
        kp[(p * d + c) * kPanel + j] = key < t ? k[key * ldk + c] : 0.0f;
      }
}

extern "C" void slim_uk_attention_f32_generic(
    int64_t rows, int64_t t, int64_t d, int64_t dv, const float *q, int64_t ldq,
    const float *k, int64_t ldk, const float *kp, const float *v, int64_t ldv,
    const float *const *mask, int64_t maskStride, float scale, float *o,
    int64_t ldo, float *scratch) {
  for (int64_t i = 0; i < rows; ++i) {
    float *x = scratch;
    for (int64_t j = 0; j < t; ++j) {
      float m = mask ? mask[i][j * maskStride] : 0.0f;
      if (m == -INFINITY) {
        x[j] = -INFINITY;
      } else {
        float s = 0.0f;
        for (int64_t c = 0; c < d; ++c)
          s += q[i * ldq + c] * k[j * ldk + c];
        x[j] = s * scale + m;
      }
    }
    slim_uk_softmax_f32_generic(1, t, x, t, x, t);
    for (int64_t c = 0; c < dv; ++c) {
      float acc = 0.0f;
      for (int64_t j = 0; j < t; ++j)
        acc += x[j] * v[j * ldv + c];
      o[i * ldo + c] = acc;
    }
  }
}
