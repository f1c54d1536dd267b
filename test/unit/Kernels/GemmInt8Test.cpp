//===- GemmInt8Test.cpp - The W8A8 kernels against an exact oracle --------===//
//
// Part of the Slim project, under the Apache License v2.0 with LLVM Exceptions.
// SPDX-License-Identifier: Apache-2.0 WITH LLVM-exception
//
//===----------------------------------------------------------------------===//

#include "lib/Kernels/GemmInt8.h"

#include <gtest/gtest.h>

#include <cmath>
#include <random>
#include <vector>

namespace {

using Kernel = void (*)(int64_t, int64_t, int64_t, int64_t, const int8_t *,
                        int64_t, const float *, const int8_t *, int64_t,
                        const float *, float *, int64_t);

/// Every row count (1-9, and 300 rows of prefill), ragged K, padded leading
/// dimensions, a sub-range of output channels, and the extreme codes (A in
/// [-127, 127], B in [-128, 127]): the integer sums must be exact, so the
/// only error is the final f32 scaling.
void checkKernel(Kernel kernel) {
  std::mt19937 rng(11);
  std::uniform_int_distribution<int> codeA(-127, 127), codeB(-128, 127);
  std::uniform_real_distribution<float> scale(1e-3f, 2e-2f);
  for (int64_t m : {1, 2, 3, 4, 5, 8, 9, 300})
    for (int64_t k : {1, 31, 32, 33, 64, 576, 1000, 4096})
      for (int64_t n : {1, 7, 37}) {
        if (m == 300 && k > 576)
          continue;
        int64_t lda = k + 3, ldb = k + 5, ldc = n + 2;
        std::vector<int8_t> a(m * lda), b(n * ldb);
        std::vector<float> sa(m), sb(n), c(m * ldc, -7.0f);
        for (int8_t &v : a) v = int8_t(codeA(rng));
        for (int8_t &v : b) v = int8_t(codeB(rng));
        // The worst case for 16-bit pairs: the largest magnitudes at once.
        if (k >= 2) {
          a[0] = a[1] = -127;
          b[0] = b[1] = -128;
        }
        for (float &v : sa) v = scale(rng);
        for (float &v : sb) v = scale(rng);
        int64_t n0 = n > 4 ? 1 : 0, n1 = n;
        kernel(m, n0, n1, k, a.data(), lda, sa.data(), b.data(), ldb, sb.data(),
               c.data(), ldc);
        for (int64_t i = 0; i < m; ++i)
          for (int64_t j = 0; j < ldc; ++j) {
            if (j < n0 || j >= n1) {
              ASSERT_EQ(c[i * ldc + j], -7.0f) << "wrote outside [n0, n1)";
              continue;
            }
            int64_t exact = 0;
            for (int64_t t = 0; t < k; ++t)
              exact += int64_t(a[i * lda + t]) * b[j * ldb + t];
            double want = double(exact) * double(sa[i]) * double(sb[j]);
            ASSERT_NEAR(c[i * ldc + j], want, 3e-7 * std::fabs(want) + 1e-30)
                << "m=" << m << " k=" << k << " n=" << n << " at " << i << ","
                << j;
          }
      }
}

TEST(GemmInt8, GenericMatchesOracle) {
  checkKernel(slim_uk_gemm_s8s8_f32_generic);
}

TEST(GemmInt8, Avx2MatchesOracle) {
#if defined(__x86_64__)
  __builtin_cpu_init();
  if (!__builtin_cpu_supports("avx2"))
    GTEST_SKIP() << "this CPU has no AVX2: the AVX2 int8 GEMM is not run";
  checkKernel(slim_uk_gemm_s8s8_f32_avx2);
#else
  GTEST_SKIP() << "not an x86-64 machine";
#endif
}

} // namespace
