//===- GemvTest.cpp - The few-row GEMV kernels against the reference ------===//
//
// Part of the Slim project, under the Apache License v2.0 with LLVM Exceptions.
// SPDX-License-Identifier: Apache-2.0 WITH LLVM-exception
//
//===----------------------------------------------------------------------===//

#include "lib/Kernels/Gemv.h"

#include <gtest/gtest.h>

#include <cmath>
#include <random>
#include <vector>

namespace {

/// Double-precision C[i, n] += sum_k A[i, k] B[n, k]: the oracle.
std::vector<double> oracle(int64_t m, int64_t n, int64_t k,
                           const std::vector<float> &a, int64_t lda,
                           const std::vector<float> &b, int64_t ldb,
                           const std::vector<float> &c, int64_t ldc) {
  std::vector<double> out(c.begin(), c.end());
  for (int64_t i = 0; i < m; ++i)
    for (int64_t j = 0; j < n; ++j) {
      double acc = 0;
      for (int64_t q = 0; q < k; ++q)
        acc += double(a[i * lda + q]) * b[j * ldb + q];
      out[i * ldc + j] += acc;
    }
  return out;
}

using Kernel = void (*)(int64_t, int64_t, int64_t, int64_t, const float *,
                        int64_t, const float *, int64_t, float *, int64_t);

/// Every row count, ragged K and N, padded leading dimensions, and a
/// sub-range of output channels (what one thread gets).
void checkKernel(Kernel kernel) {
  std::mt19937 rng(7);
  std::normal_distribution<float> normal;
  for (int64_t m : {1, 2, 3, 4, 6})
    for (int64_t k : {1, 7, 8, 31, 64, 577, 1024, 1031})
      for (int64_t n : {1, 5, 16, 37}) {
        int64_t lda = k + 3, ldb = k + 5, ldc = n + 2;
        std::vector<float> a(m * lda), b(n * ldb), c(m * ldc);
        for (float &v : a) v = normal(rng);
        for (float &v : b) v = normal(rng);
        for (float &v : c) v = normal(rng);
        int64_t n0 = n > 4 ? 1 : 0, n1 = n;
        std::vector<float> got = c;
        kernel(m, n0, n1, k, a.data(), lda, b.data(), ldb, got.data(), ldc);
        std::vector<double> want = oracle(m, n, k, a, lda, b, ldb, c, ldc);
        for (int64_t i = 0; i < m; ++i)
          for (int64_t j = 0; j < n; ++j) {
            double expected = j < n0 ? c[i * ldc + j] : want[i * ldc + j];
            EXPECT_NEAR(got[i * ldc + j], expected, 1e-4 * std::sqrt(double(k)) + 1e-5)
                << "m=" << m << " k=" << k << " n=" << n << " at " << i << "," << j;
          }
        // Padding between rows of C is never written.
        for (int64_t i = 0; i < m; ++i)
          for (int64_t j = n; j < ldc; ++j)
            EXPECT_EQ(got[i * ldc + j], c[i * ldc + j]);
      }
}

TEST(Gemv, GenericMatchesOracle) { checkKernel(slim_uk_gemv_nt_f32_generic); }

TEST(Gemv, Avx2MatchesOracle) {
#if defined(__x86_64__)
  __builtin_cpu_init();
  if (!__builtin_cpu_supports("avx2") || !__builtin_cpu_supports("fma"))
    GTEST_SKIP() << "this CPU has no AVX2+FMA: the AVX2 GEMV kernel is not run";
  checkKernel(slim_uk_gemv_nt_f32_avx2);
#else
  GTEST_SKIP() << "not an x86-64 machine";
#endif
}

} // namespace
