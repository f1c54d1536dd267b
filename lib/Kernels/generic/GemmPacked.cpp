//===- GemmPacked.cpp - Reference product with a panel-packed weight ------===//
//
// Part of the Slim project, under the Apache License v2.0 with LLVM Exceptions.
// SPDX-License-Identifier: Apache-2.0 WITH LLVM-exception
//
//===----------------------------------------------------------------------===//

#include "lib/Kernels/GemmPacked.h"

extern "C" void slim_uk_gemm_packed_f32_generic(int64_t m, int64_t p0,
                                                int64_t p1, int64_t k,
                                                const float *a, int64_t lda,
                                                const float *bp, float *c,
                                                int64_t ldc, uint32_t flags) {
  constexpr int64_t kPanel = SLIM_PACKED_PANEL;
  for (int64_t i = 0; i < m; ++i)
    for (int64_t p = p0; p < p1; ++p) {
      float acc[kPanel] = {};
      const float *panel = bp + p * k * kPanel, *x = a + i * lda;
      for (int64_t q = 0; q < k; ++q)
        for (int64_t j = 0; j < kPanel; ++j)
          acc[j] += x[q] * panel[q * kPanel + j];
      float *out = c + i * ldc + p * kPanel;
      for (int64_t j = 0; j < kPanel; ++j)
        out[j] = (flags & SLIM_UK_GEMM_ACCUMULATE ? out[j] : 0.0f) + acc[j];
    }
}

extern "C" void slim_uk_pack_panel_f32_generic(const float *rows, int64_t ldr,
                                               int64_t k, float *panel) {
  for (int64_t q = 0; q < k; ++q)
    for (int64_t j = 0; j < SLIM_PACKED_PANEL; ++j)
      panel[q * SLIM_PACKED_PANEL + j] = rows[j * ldr + q];
}
