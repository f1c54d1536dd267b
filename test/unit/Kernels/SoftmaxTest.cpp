//===- SoftmaxTest.cpp - The row-wise softmax kernels against an oracle ---===//
//
// Part of the Slim project, under the Apache License v2.0 with LLVM Exceptions.
// SPDX-License-Identifier: Apache-2.0 WITH LLVM-exception
//
//===----------------------------------------------------------------------===//

#include "lib/Kernels/Softmax.h"

#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <random>
#include <vector>

namespace {

using Kernel = void (*)(int64_t, int64_t, const float *, int64_t, float *,
                        int64_t);

/// Row lengths around the vector width and attention's, inputs over a wide
/// range, masked entries (-inf and float's lowest, as exporters write
/// masks), a fully masked row of lowest values (uniform), padded leading
/// dimensions left untouched, and in place. A row of -inf is NaN, as in
/// linalg.softmax's decomposition (-inf - -inf).
void checkKernel(Kernel kernel) {
  std::mt19937 rng(5);
  std::uniform_real_distribution<float> uniform(-30.0f, 30.0f);
  const float lowest = std::numeric_limits<float>::lowest();
  for (int64_t n : {1, 7, 8, 9, 64, 129, 512, 1000})
    for (bool inPlace : {false, true}) {
      int64_t rows = 4, ld = n + 3;
      std::vector<float> in(rows * ld), out(rows * ld, 42.0f);
      for (float &v : in)
        v = uniform(rng);
      for (int64_t j = 1; j < n; j += 3)
        in[1 * ld + j] = -INFINITY;
      for (int64_t j = 1; j < n; j += 2)
        in[2 * ld + j] = lowest;
      for (int64_t j = 0; j < n; ++j)
        in[3 * ld + j] = lowest;
      std::vector<float> src = in;
      float *dst = inPlace ? in.data() : out.data();
      kernel(rows, n, in.data(), ld, dst, ld);
      for (int64_t i = 0; i < rows; ++i) {
        double max = -INFINITY, sum = 0;
        for (int64_t j = 0; j < n; ++j)
          max = std::fmax(max, double(src[i * ld + j]));
        for (int64_t j = 0; j < n; ++j)
          sum += std::exp(double(src[i * ld + j]) - max);
        for (int64_t j = 0; j < n; ++j) {
          // x - max is rounded to float before exp: relative error up to
          // |x - max| * 2^-24 on top of the kernel's own.
          double d = double(src[i * ld + j]) - max;
          double want = std::exp(d) / sum;
          ASSERT_NEAR(dst[i * ld + j], want,
                      want == 0 ? 0.0 : (2e-6 + 1.2e-7 * std::fabs(d)) * want + 1e-37)
              << "n=" << n << " row " << i << " col " << j;
        }
        for (int64_t j = n; j < ld; ++j)
          ASSERT_EQ(dst[i * ld + j], inPlace ? src[i * ld + j] : 42.0f);
      }
    }
}

void checkMaskedRow(Kernel kernel) {
  std::vector<float> in(9, -INFINITY), out(9);
  kernel(1, 9, in.data(), 9, out.data(), 9);
  for (float v : out)
    EXPECT_TRUE(std::isnan(v));
}

TEST(Softmax, GenericMatchesOracle) {
  checkKernel(slim_uk_softmax_f32_generic);
  checkMaskedRow(slim_uk_softmax_f32_generic);
}
TEST(Softmax, Avx2MatchesOracle) {
#if defined(__x86_64__)
  __builtin_cpu_init();
  if (!__builtin_cpu_supports("avx2") || !__builtin_cpu_supports("fma"))
    GTEST_SKIP() << "this CPU has no AVX2+FMA: the AVX2 softmax is not run";
  checkKernel(slim_uk_softmax_f32_avx2);
  checkMaskedRow(slim_uk_softmax_f32_avx2);
#else
  GTEST_SKIP() << "not an x86-64 machine";
#endif
}

TEST(Softmax, Avx512MatchesOracle) {
#if defined(__x86_64__)
  __builtin_cpu_init();
  if (!__builtin_cpu_supports("avx512f"))
    GTEST_SKIP() << "this CPU has no AVX-512F: the AVX-512 softmax is not run";
  checkKernel(slim_uk_softmax_f32_avx512);
  checkMaskedRow(slim_uk_softmax_f32_avx512);
#else
  GTEST_SKIP() << "not an x86-64 machine";
#endif
}

} // namespace
