//===- GemmPackedTest.cpp - The packed-weight GEMM kernels vs an oracle ---===//
//
// Part of the Slim project, under the Apache License v2.0 with LLVM Exceptions.
// SPDX-License-Identifier: Apache-2.0 WITH LLVM-exception
//
//===----------------------------------------------------------------------===//

#include "lib/Kernels/GemmPacked.h"

#include <gtest/gtest.h>

#include <cmath>
#include <random>
#include <vector>

namespace {

constexpr int64_t kPanel = SLIM_PACKED_PANEL;

using Kernel = void (*)(int64_t, int64_t, int64_t, int64_t, const float *,
                        int64_t, const float *, float *, int64_t, uint32_t);

/// B [N, K] row-major in the panel layout of GemmPacked.h.
std::vector<float> pack(const std::vector<float> &b, int64_t n, int64_t k) {
  std::vector<float> out(n * k);
  for (int64_t p = 0; p < n / kPanel; ++p)
    for (int64_t q = 0; q < k; ++q)
      for (int64_t j = 0; j < kPanel; ++j)
        out[(p * k + q) * kPanel + j] = b[(p * kPanel + j) * k + q];
  return out;
}

/// Row counts on both sides of the few-row path and of the row blocks
/// (one tile short, ragged tiles), K on both sides of the depth blocks, a
/// sub-range of panels (one thread's share) crossing a panel group, padded
/// leading dimensions, an empty K; C is accumulated into or overwritten
/// (starting from NaN, which must not leak through), columns outside the
/// panels and the padding are never written.
void checkKernel(Kernel kernel) {
  std::mt19937 rng(11);
  std::normal_distribution<float> normal;
  for (bool accumulate : {true, false})
    for (int64_t m : {1, 2, 5, 8, 9, 12, 13, 25, 150, 301})
      for (int64_t k : {0, 1, 7, 255, 256, 257, 600})
        for (int64_t panels : {1, 3, 4, 11}) {
          int64_t n = panels * kPanel, lda = k + 3, ldc = n + 5;
          std::vector<float> a(m * lda), b(n * k), c(m * ldc);
          for (float &v : a)
            v = normal(rng);
          for (float &v : b)
            v = normal(rng);
          for (float &v : c)
            v = normal(rng);
          std::vector<float> bp = pack(b, n, k);
          int64_t p0 = panels > 2 ? 1 : 0, p1 = panels;
          std::vector<float> got = c;
          for (int64_t i = 0; i < m && !accumulate; ++i)
            for (int64_t j = p0 * kPanel; j < p1 * kPanel; ++j)
              got[i * ldc + j] = NAN;
          kernel(m, p0, p1, k, a.data(), lda, bp.data(), got.data(), ldc,
                 accumulate ? SLIM_UK_GEMM_ACCUMULATE : 0);
          for (int64_t i = 0; i < m; ++i)
            for (int64_t j = 0; j < ldc; ++j) {
              bool inside = j >= p0 * kPanel && j < p1 * kPanel;
              double want = inside && !accumulate ? 0.0 : c[i * ldc + j];
              if (inside)
                for (int64_t q = 0; q < k; ++q)
                  want += double(a[i * lda + q]) * b[j * k + q];
              ASSERT_NEAR(got[i * ldc + j], want,
                          1e-4 * std::sqrt(double(k)) + 1e-5)
                  << (accumulate ? "C += A B" : "C = A B") << " m=" << m
                  << " k=" << k << " panels=" << panels << " at " << i << ","
                  << j;
            }
        }
}

/// slim_uk_pack_panel_f32: the panel of 16 rows, K across the 8-column
/// blocks and ragged.
void checkPackPanel(void (*packPanel)(const float *, int64_t, int64_t,
                                      float *)) {
  for (int64_t k : {0, 1, 7, 8, 9, 64, 77}) {
    int64_t ldr = k + 3;
    std::vector<float> rows(kPanel * ldr), panel(k * kPanel + 5, -1.0f);
    for (size_t i = 0; i < rows.size(); ++i)
      rows[i] = float(i);
    packPanel(rows.data(), ldr, k, panel.data());
    for (int64_t q = 0; q < k; ++q)
      for (int64_t j = 0; j < kPanel; ++j)
        ASSERT_EQ(panel[q * kPanel + j], rows[j * ldr + q])
            << "k=" << k << " at " << q << "," << j;
    for (int64_t i = k * kPanel; i < k * kPanel + 5; ++i)
      ASSERT_EQ(panel[i], -1.0f) << "k=" << k << ": wrote past the panel";
  }
}

TEST(GemmPacked, PackPanel) {
  checkPackPanel(slim_uk_pack_panel_f32_generic);
#if defined(__x86_64__)
  __builtin_cpu_init();
  if (!__builtin_cpu_supports("avx2") || !__builtin_cpu_supports("fma"))
    GTEST_SKIP() << "this CPU has no AVX2+FMA: the AVX2 panel packing is not run";
  checkPackPanel(slim_uk_pack_panel_f32_avx2);
#endif
}

TEST(GemmPacked, GenericMatchesOracle) {
  checkKernel(slim_uk_gemm_packed_f32_generic);
}

TEST(GemmPacked, Avx2MatchesOracle) {
#if defined(__x86_64__)
  __builtin_cpu_init();
  if (!__builtin_cpu_supports("avx2") || !__builtin_cpu_supports("fma"))
    GTEST_SKIP() << "this CPU has no AVX2+FMA: the AVX2 packed GEMM is not run";
  checkKernel(slim_uk_gemm_packed_f32_avx2);
#else
  GTEST_SKIP() << "not an x86-64 machine";
#endif
}

TEST(GemmPacked, Avx512MatchesOracle) {
#if defined(__x86_64__)
  __builtin_cpu_init();
  if (!__builtin_cpu_supports("avx512f"))
    GTEST_SKIP()
        << "this CPU has no AVX-512F: the AVX-512 packed GEMM is not run";
  checkKernel(slim_uk_gemm_packed_f32_avx512);
#else
  GTEST_SKIP() << "not an x86-64 machine";
#endif
}

} // namespace
