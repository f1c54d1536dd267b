//===- QGemv.cpp - Reference product with a group-quantized weight --------===//
//
// Part of the Slim project, under the Apache License v2.0 with LLVM Exceptions.
// SPDX-License-Identifier: Apache-2.0 WITH LLVM-exception
//
//===----------------------------------------------------------------------===//

#include "lib/Kernels/QGemv.h"
#include "lib/Kernels/QGemvInternal.h"

using slim::qgemv::unscaled;

extern "C" void slim_uk_qgemv_f32_generic(int64_t m, int64_t n0, int64_t n1,
                                          const float *a, int64_t lda,
                                          const slim_uk_qweight *w, float *c,
                                          int64_t ldc, uint32_t flags) {
  bool isSigned = flags & SLIM_UK_QGEMV_SIGNED;
  // Kept values j (all K inputs where the weight is dense), each times the
  // input it sits at.
  int64_t kv = slim_uk_qweight_values(w), bits = w->bits,
          group = slim::qgemv::groupSize(w);
  int64_t groups = (kv + group - 1) / group, rowBytes = (kv * bits + 7) / 8;
  for (int64_t n = n0; n < n1; ++n) {
    const uint8_t *row = w->codes + n * w->codesStride;
    for (int64_t i = 0; i < m; ++i) {
      const float *x = a + i * lda;
      float acc = 0.0f;
      for (int64_t g = 0; g < groups; ++g) {
        float scale = slim_uk_qscale(w, n, g, flags);
        int zp = slim_uk_qzero(w, n, g, flags);
        int64_t end = (g + 1) * group < kv ? (g + 1) * group : kv;
        for (int64_t j = g * group; j < end; ++j)
          acc += x[slim_uk_qweight_input(w, n, j)] *
                 (unscaled(w, row, rowBytes, j, zp, isSigned) * scale);
      }
      float *out = c + i * ldc + n;
      *out = (flags & SLIM_UK_QGEMV_ACCUMULATE ? *out : 0.0f) + acc;
    }
  }
}

extern "C" void slim_uk_qdequant_f32_generic(int64_t n0, int64_t n1,
                                             const slim_uk_qweight *w,
                                             float *out, int64_t ldo,
                                             uint32_t flags) {
  bool isSigned = flags & SLIM_UK_QGEMV_SIGNED;
  int64_t kv = slim_uk_qweight_values(w), bits = w->bits,
          group = slim::qgemv::groupSize(w);
  int64_t groups = (kv + group - 1) / group, rowBytes = (kv * bits + 7) / 8;
  for (int64_t n = n0; n < n1; ++n) {
    const uint8_t *row = w->codes + n * w->codesStride;
    float *o = out + (n - n0) * ldo;
    if (w->sparseM > 0)
      for (int64_t q = 0; q < w->k; ++q)
        o[q] = 0.0f;
    for (int64_t g = 0; g < groups; ++g) {
      float scale = slim_uk_qscale(w, n, g, flags);
      int zp = slim_uk_qzero(w, n, g, flags);
      int64_t end = (g + 1) * group < kv ? (g + 1) * group : kv;
      // Added, not stored: an unused slot of a run holds a value 0 at any
      // position, possibly a kept value's.
      for (int64_t j = g * group; j < end; ++j) {
        float v = unscaled(w, row, rowBytes, j, zp, isSigned) * scale;
        if (w->sparseM > 0)
          o[slim_uk_qweight_input(w, n, j)] += v;
        else
          o[j] = v;
      }
    }
  }
}
