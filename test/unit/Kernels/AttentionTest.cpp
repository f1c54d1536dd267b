//===- AttentionTest.cpp - The fused attention kernels vs an oracle -------===//
//
// Part of the Slim project, under the Apache License v2.0 with LLVM Exceptions.
// SPDX-License-Identifier: Apache-2.0 WITH LLVM-exception
//
//===----------------------------------------------------------------------===//

#include "lib/Kernels/Attention.h"

#include <gtest/gtest.h>

#include <cmath>
#include <random>
#include <vector>

namespace {

using Kernel = void (*)(int64_t, int64_t, int64_t, int64_t, const float *,
                        int64_t, const float *, int64_t, const float *,
                        const float *, int64_t, const float *const *, int64_t,
                        float, float *, int64_t, float *);

enum class Mask { None, Causal, Random, RowMasked, Broadcast };

/// softmax(scale q k^T + mask) v in double, masked keys (-inf) excluded;
/// rows with every key masked give NaN, no keys give 0.
std::vector<double> oracle(int64_t rows, int64_t t, int64_t d, int64_t dv,
                           const std::vector<float> &q,
                           const std::vector<float> &k,
                           const std::vector<float> &v,
                           const std::vector<const float *> &mask,
                           int64_t maskStride, float scale) {
  std::vector<double> out(rows * dv, 0.0);
  for (int64_t i = 0; i < rows; ++i) {
    std::vector<double> x(t);
    double max = -INFINITY;
    for (int64_t j = 0; j < t; ++j) {
      double m = mask.empty() ? 0.0 : mask[i][j * maskStride];
      double s = 0;
      for (int64_t c = 0; c < d; ++c)
        s += double(q[i * d + c]) * k[j * d + c];
      x[j] = m == -INFINITY ? -INFINITY : s * scale + m;
      max = std::max(max, x[j]);
    }
    if (t > 0 && max == -INFINITY) {
      for (int64_t c = 0; c < dv; ++c)
        out[i * dv + c] = NAN;
      continue;
    }
    double sum = 0;
    for (int64_t j = 0; j < t; ++j)
      sum += x[j] = std::exp(x[j] - max);
    for (int64_t c = 0; c < dv; ++c)
      for (int64_t j = 0; j < t; ++j)
        out[i * dv + c] += x[j] / sum * v[j * dv + c];
  }
  return out;
}

/// Row counts 1-6 (1-12 where the kernel takes them), key counts around the 16-key panels, head sizes with
/// and without vector tails, masks: none, causal (the rows at the last
/// positions), random with masked keys, one row fully masked, one value
/// for every key (stride 0); K packed or not.
void checkKernel(Kernel kernel, bool packed,
                 int64_t maxRows = SLIM_ATTENTION_ROWS) {
  std::mt19937 rng(5);
  std::normal_distribution<float> normal;
  std::bernoulli_distribution drop(0.3);
  for (Mask kind : {Mask::None, Mask::Causal, Mask::Random, Mask::RowMasked,
                    Mask::Broadcast})
    for (int64_t rows : {1, 3, 6, 7, 12}) {
      if (rows > maxRows)
        continue;
      for (int64_t t : {0, 1, 5, 16, 17, 100})
        for (auto [d, dv] :
             {std::pair<int64_t, int64_t>{64, 64}, {5, 7}, {24, 32}, {40, 48}}) {
          std::vector<float> q(rows * d), k(t * d), v(t * dv);
          for (float &x : q)
            x = normal(rng);
          for (float &x : k)
            x = normal(rng);
          for (float &x : v)
            x = normal(rng);
          std::vector<std::vector<float>> maskRows(rows,
                                                   std::vector<float>(t + 1));
          int64_t maskStride = kind == Mask::Broadcast ? 0 : 1;
          for (int64_t i = 0; i < rows; ++i)
            for (int64_t j = 0; j <= t; ++j) {
              float &m = maskRows[i][j];
              m = 0.1f * normal(rng);
              if (kind == Mask::Causal && j > t - rows + i)
                m = -INFINITY;
              if (kind == Mask::Random && drop(rng))
                m = -INFINITY;
              if (kind == Mask::RowMasked && i == rows / 2)
                m = -INFINITY;
            }
          std::vector<const float *> mask;
          if (kind != Mask::None)
            for (auto &row : maskRows)
              mask.push_back(row.data());
          float scale = 0.125f;
          std::vector<float> kp((t + 15) / 16 * 16 * d);
          slim_uk_attention_pack_k_f32(t, d, k.data(), d, kp.data());
          std::vector<float> o(rows * dv, 12345.0f),
              scratch(rows * ((t + 15) / 16 * 16) + 1);
          kernel(rows, t, d, dv, q.data(), d, k.data(), d,
                 packed ? kp.data() : nullptr, v.data(), dv,
                 mask.empty() ? nullptr : mask.data(), maskStride, scale,
                 o.data(), dv, scratch.data());
          std::vector<double> want =
              oracle(rows, t, d, dv, q, k, v, mask, maskStride, scale);
          for (int64_t i = 0; i < rows * dv; ++i) {
            if (std::isnan(want[i])) {
              ASSERT_TRUE(std::isnan(o[i])) << "row " << i / dv;
              continue;
            }
            ASSERT_NEAR(o[i], want[i], 2e-5 * std::sqrt(double(d) + t) + 1e-6)
                << "mask kind " << int(kind) << " rows=" << rows << " t=" << t
                << " d=" << d << " dv=" << dv << " at " << i / dv << ","
                << i % dv;
          }
        }
    }
}

TEST(Attention, GenericMatchesOracle) {
  checkKernel(slim_uk_attention_f32_generic, false,
              SLIM_ATTENTION_ROWS_AVX512);
}

TEST(Attention, Avx2MatchesOracle) {
#if defined(__x86_64__)
  __builtin_cpu_init();
  if (!__builtin_cpu_supports("avx2") || !__builtin_cpu_supports("fma"))
    GTEST_SKIP() << "this CPU has no AVX2+FMA: the AVX2 attention is not run";
  checkKernel(slim_uk_attention_f32_avx2, /*packed=*/true);
  checkKernel(slim_uk_attention_f32_avx2, /*packed=*/false);
#else
  GTEST_SKIP() << "not an x86-64 machine";
#endif
}

TEST(Attention, Avx512MatchesOracle) {
#if defined(__x86_64__)
  __builtin_cpu_init();
  if (!__builtin_cpu_supports("avx512f"))
    GTEST_SKIP() << "this CPU has no AVX-512F: the AVX-512 attention is not run";
  checkKernel(slim_uk_attention_f32_avx512, /*packed=*/true,
              SLIM_ATTENTION_ROWS_AVX512);
  checkKernel(slim_uk_attention_f32_avx512, /*packed=*/false,
              SLIM_ATTENTION_ROWS_AVX512);
#else
  GTEST_SKIP() << "not an x86-64 machine";
#endif
}

} // namespace
