//===- TestData.h - Inputs and weights for compression tests ----*- C++ -*-===//
//
// Part of the Slim project, under the Apache License v2.0 with LLVM Exceptions.
// SPDX-License-Identifier: Apache-2.0 WITH LLVM-exception
//
//===----------------------------------------------------------------------===//

#ifndef SLIM_TEST_UNIT_COMPRESSION_TESTDATA_H
#define SLIM_TEST_UNIT_COMPRESSION_TESTDATA_H

#include "lib/Compression/CalibrationStats.h"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <random>
#include <vector>

namespace mlir::slim::testing {

/// Correlated inputs: n rows of k channels, x = z A with a random mixing A
/// and channel scales spanning two orders of magnitude (as LLM activations
/// have outlier channels).
inline std::vector<float> correlatedInputs(int64_t n, int64_t k,
                                           unsigned seed) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> normal;
  std::vector<float> mix(k * k), z(n * k), x(n * k, 0.0f);
  for (float &m : mix)
    m = normal(rng);
  for (float &v : z)
    v = normal(rng);
  for (int64_t r = 0; r < n; ++r)
    for (int64_t j = 0; j < k; ++j) {
      float s = 0;
      for (int64_t i = 0; i < k; ++i)
        s += z[r * k + i] * mix[i * k + j];
      x[r * k + j] = s * (j % 7 == 0 ? 10.0f : 0.3f);
    }
  return x;
}

/// H = X^T X / n.
inline std::vector<float> secondMoment(const std::vector<float> &x, int64_t n,
                                       int64_t k) {
  std::vector<float> h(k * k, 0.0f);
  for (int64_t r = 0; r < n; ++r)
    for (int64_t i = 0; i < k; ++i)
      for (int64_t j = 0; j < k; ++j)
        h[i * k + j] += x[r * k + i] * x[r * k + j] / n;
  return h;
}

inline std::vector<float> randomWeights(int64_t rows, int64_t cols,
                                        unsigned seed) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> normal(0.0f, 0.05f);
  std::vector<float> w(rows * cols);
  for (float &v : w)
    v = normal(rng);
  return w;
}

/// The calibration statistics of `n` rows of `k` inputs `x` (row-major),
/// as a statistics file holds them, with a view for the methods.
struct InputStatsData {
  std::vector<float> xtx, absMean, absMax, mean;
  InputStats view;

  InputStatsData(const std::vector<float> &x, int64_t n, int64_t k)
      : xtx(k * k, 0.0f), absMean(k, 0.0f), absMax(k, 0.0f), mean(k, 0.0f) {
    std::vector<double> sums(k * k, 0.0);
    for (int64_t r = 0; r < n; ++r)
      for (int64_t i = 0; i < k; ++i) {
        float v = x[r * k + i];
        mean[i] += v / n;
        absMean[i] += std::fabs(v) / n;
        absMax[i] = std::max(absMax[i], std::fabs(v));
        for (int64_t j = 0; j < k; ++j)
          sums[i * k + j] += double(v) * x[r * k + j];
      }
    for (int64_t i = 0; i < k * k; ++i)
      xtx[i] = static_cast<float>(sums[i] / n);
    view.channels = k;
    view.rows = n;
    view.xtx = xtx;
    view.absMean = absMean;
    view.absMax = absMax;
    view.mean = mean;
  }
};

} // namespace mlir::slim::testing

#endif // SLIM_TEST_UNIT_COMPRESSION_TESTDATA_H
