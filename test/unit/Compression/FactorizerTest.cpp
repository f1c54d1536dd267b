//===- FactorizerTest.cpp - Tests of SVD, SVD-LLM and ASVD factorization --===//
//
// Part of the Slim project, under the Apache License v2.0 with LLVM Exceptions.
// SPDX-License-Identifier: Apache-2.0 WITH LLVM-exception
//
//===----------------------------------------------------------------------===//

#include "lib/Compression/Factorizer.h"
#include "test/unit/Compression/TestData.h"

#include "gtest/gtest.h"

#include <cmath>
#include <numeric>

using namespace mlir::slim;
using namespace mlir::slim::testing;

namespace {

FactorizeOptions withRank(FactorizeCriterion c, int64_t rank) {
  FactorizeOptions o;
  o.criterion = c;
  o.rank.rank = rank;
  return o;
}

std::string errorOf(llvm::Expected<FactorizedMatrix> f) {
  if (f)
    return "";
  return llvm::toString(f.takeError());
}

/// A rank-`r` matrix plus small noise.
std::vector<float> lowRankPlusNoise(int64_t rows, int64_t cols, int64_t r,
                                    unsigned seed) {
  std::vector<float> a = randomWeights(rows, r, seed),
                     b = randomWeights(r, cols, seed + 1),
                     noise = randomWeights(rows, cols, seed + 2);
  std::vector<float> w(rows * cols);
  for (int64_t i = 0; i < rows; ++i)
    for (int64_t j = 0; j < cols; ++j) {
      float s = 0.01f * noise[i * cols + j];
      for (int64_t k = 0; k < r; ++k)
        s += 20.0f * a[i * r + k] * b[k * cols + j];
      w[i * cols + j] = s;
    }
  return w;
}

TEST(Factorizer, BadOptionsNameTheValue) {
  std::vector<float> w(6 * 8, 1.0f);
  EXPECT_NE(errorOf(factorizeWeights(w, 6, 8, {}, {},
                                     withRank(FactorizeCriterion::SVD, 7)))
                .find("rank=7 is larger than the layer allows, min(6, 8) = 6"),
            std::string::npos);
  FactorizeOptions both = withRank(FactorizeCriterion::SVD, 2);
  both.rank.energy = 0.9;
  EXPECT_NE(errorOf(factorizeWeights(w, 6, 8, {}, {}, both))
                .find("exactly one of rank, ratio and energy"),
            std::string::npos);
  FactorizeOptions ratio;
  ratio.rank.paramRatio = 1.5;
  EXPECT_NE(errorOf(factorizeWeights(w, 6, 8, {}, {}, ratio))
                .find("ratio=1.50 is out of range (0, 1]"),
            std::string::npos);
  FactorizeOptions energy;
  energy.rank.energy = -0.5;
  EXPECT_NE(errorOf(factorizeWeights(w, 6, 8, {}, {}, energy))
                .find("energy=-0.50 is out of range (0, 1]"),
            std::string::npos);
  EXPECT_NE(errorOf(factorizeWeights(w, 6, 8, {}, {},
                                     withRank(FactorizeCriterion::SVDLLM, 2)))
                .find("svd-llm needs the calibration X^T X"),
            std::string::npos);
  EXPECT_NE(errorOf(factorizeWeights(w, 6, 8, {}, {},
                                     withRank(FactorizeCriterion::ASVD, 2)))
                .find("asvd needs the calibration mean |x|"),
            std::string::npos);
  FactorizeOptions residual = ratio;
  residual.rank.paramRatio = 0.5;
  residual.residualOf = QuantScheme();
  EXPECT_NE(errorOf(factorizeWeights(w, 6, 8, {}, {}, residual))
                .find("give rank or energy for a residual"),
            std::string::npos);
}

/// Plain SVD reaches the Eckart-Young bound: the weight error is the norm of
/// the dropped singular values, so a rank-r matrix plus small noise is
/// recovered at rank r, and U V is what the weights say.
TEST(Factorizer, SvdRecoversLowRank) {
  const int64_t rows = 40, cols = 64, r = 5;
  std::vector<float> w = lowRankPlusNoise(rows, cols, r, 3);
  auto f = factorizeWeights(w, rows, cols, {}, {},
                            withRank(FactorizeCriterion::SVD, r));
  ASSERT_TRUE(static_cast<bool>(f)) << llvm::toString(f.takeError());
  EXPECT_FALSE(f->keepDense);
  EXPECT_EQ(f->rank, r);
  ASSERT_EQ(f->u.size(), size_t(rows * r));
  ASSERT_EQ(f->v.size(), size_t(r * cols));
  EXPECT_LT(relativeWeightError(w, f->weights), 1e-2); // the noise
  EXPECT_GT(f->retainedEnergy, 0.9999);
  for (int64_t i = 0; i < rows; i += 7)
    for (int64_t j = 0; j < cols; j += 5) {
      double uv = 0;
      for (int64_t k = 0; k < r; ++k)
        uv += f->u[i * r + k] * f->v[k * cols + j];
      EXPECT_NEAR(uv, f->weights[i * cols + j], 1e-4);
    }
  // A smaller rank loses exactly the energy it drops.
  auto g = factorizeWeights(w, rows, cols, {}, {},
                            withRank(FactorizeCriterion::SVD, 2));
  ASSERT_TRUE(static_cast<bool>(g));
  double err = relativeWeightError(w, g->weights);
  EXPECT_NEAR(err * err, 1.0 - g->retainedEnergy, 1e-4);
}

/// The rank from a parameter ratio or an energy target; a rank that would
/// not save bytes keeps the layer dense.
TEST(Factorizer, RankChoices) {
  const int64_t rows = 48, cols = 96;
  std::vector<float> w = randomWeights(rows, cols, 7);
  FactorizeOptions ratio;
  ratio.rank.paramRatio = 0.5;
  auto f = factorizeWeights(w, rows, cols, {}, {}, ratio);
  ASSERT_TRUE(static_cast<bool>(f));
  EXPECT_EQ(f->rank, 16); // floor(0.5 * 48 * 96 / 144)
  FactorizeOptions energy;
  energy.rank.energy = 0.8;
  auto e = factorizeWeights(w, rows, cols, {}, {}, energy);
  ASSERT_TRUE(static_cast<bool>(e));
  EXPECT_GE(e->retainedEnergy, 0.8);
  auto less = factorizeWeights(w, rows, cols, {}, {},
                               withRank(FactorizeCriterion::SVD, e->rank - 1));
  ASSERT_TRUE(static_cast<bool>(less));
  EXPECT_LT(less->retainedEnergy, 0.8);
  auto dense = factorizeWeights(w, rows, cols, {}, {},
                                withRank(FactorizeCriterion::SVD, 40));
  ASSERT_TRUE(static_cast<bool>(dense));
  EXPECT_TRUE(dense->keepDense);
  EXPECT_EQ(dense->weights, w);
}

/// On correlated inputs with outlier channels, whitening by the inputs
/// (SVD-LLM) gives a lower output error than plain SVD at the same rank,
/// and so does ASVD's scaling.
TEST(Factorizer, ActivationAwareBeatsPlainSvd) {
  const int64_t n = 512, rows = 48, cols = 96;
  std::vector<float> x = correlatedInputs(n, cols, 11);
  std::vector<float> h = secondMoment(x, n, cols);
  std::vector<float> absMean(cols, 0.0f);
  for (int64_t r = 0; r < n; ++r)
    for (int64_t c = 0; c < cols; ++c)
      absMean[c] += std::fabs(x[r * cols + c]) / n;
  std::vector<float> w = randomWeights(rows, cols, 12);
  for (int64_t rank : {8, 16, 24}) {
    double errors[3];
    FactorizeCriterion all[] = {FactorizeCriterion::SVD,
                                FactorizeCriterion::SVDLLM,
                                FactorizeCriterion::ASVD};
    for (int i = 0; i < 3; ++i) {
      auto f =
          factorizeWeights(w, rows, cols, h, absMean, withRank(all[i], rank));
      ASSERT_TRUE(static_cast<bool>(f)) << llvm::toString(f.takeError());
      errors[i] = relativeOutputError(w, f->weights, rows, cols, h);
    }
    EXPECT_LT(errors[1], errors[0]) << "rank " << rank;
    EXPECT_LT(errors[2], errors[0]) << "rank " << rank;
    EXPECT_LE(errors[1], errors[2] * 1.0001) << "rank " << rank;
  }
}

/// Low-rank compensation: int4 + a rank-r residual fitted to the whitened
/// quantization error has a lower output error than int4 alone, and the
/// weights are the quantized ones plus U V.
TEST(Factorizer, ResidualCompensatesQuantization) {
  const int64_t n = 512, rows = 48, cols = 96;
  std::vector<float> x = correlatedInputs(n, cols, 21);
  std::vector<float> h = secondMoment(x, n, cols);
  std::vector<float> w = randomWeights(rows, cols, 22);
  QuantScheme s;
  s.bits = 3;
  s.groupSize = 32;
  auto q = quantizeRtn(w, rows, cols, s);
  ASSERT_TRUE(static_cast<bool>(q));
  double alone = relativeOutputError(w, q->dequantizeAll(), rows, cols, h);
  FactorizeOptions o = withRank(FactorizeCriterion::SVDLLM, 8);
  o.residualOf = s;
  auto f = factorizeWeights(w, rows, cols, h, {}, o);
  ASSERT_TRUE(static_cast<bool>(f)) << llvm::toString(f.takeError());
  ASSERT_TRUE(f->quant.has_value());
  EXPECT_EQ(f->quant->codes, q->codes);
  double compensated = relativeOutputError(w, f->weights, rows, cols, h);
  EXPECT_LT(compensated, 0.8 * alone);
  std::vector<float> deq = q->dequantizeAll();
  for (int64_t j = 0; j < cols; j += 11) {
    double uv = 0;
    for (int64_t k = 0; k < f->rank; ++k)
      uv += f->u[k] * f->v[k * cols + j];
    EXPECT_NEAR(deq[j] + uv, f->weights[j], 1e-5);
  }
}

/// Non-finite statistics are refused (SVD-LLM's Hessian, ASVD's means).
TEST(Factorizer, NonFiniteStatisticsAreRefused) {
  const int64_t n = 64, rows = 8, cols = 16;
  std::vector<float> h = secondMoment(correlatedInputs(n, cols, 61), n, cols);
  std::vector<float> w = randomWeights(rows, cols, 62), mean(cols, 1.0f);
  h[1 * cols + 7] = std::nanf("");
  EXPECT_NE(errorOf(factorizeWeights(w, rows, cols, h, mean,
                                     withRank(FactorizeCriterion::SVDLLM, 2)))
                .find("non-finite"),
            std::string::npos);
  mean[4] = INFINITY;
  EXPECT_NE(errorOf(factorizeWeights(w, rows, cols, h, mean,
                                     withRank(FactorizeCriterion::ASVD, 2)))
                .find("non-finite"),
            std::string::npos);
}

/// A residual of a given base (a pruned weight): the weights are the base
/// plus U V, closer to the weight than the base alone; a base together with
/// a quantization scheme is refused.
TEST(Factorizer, ResidualOfAGivenBase) {
  const int64_t rows = 24, cols = 40;
  std::vector<float> w = randomWeights(rows, cols, 31), base = w;
  for (size_t k = 0; k < base.size(); k += 2)
    base[k] = 0.0f;
  FactorizeOptions o = withRank(FactorizeCriterion::SVD, 4);
  o.base = base;
  auto f = factorizeWeights(w, rows, cols, {}, {}, o);
  ASSERT_TRUE(static_cast<bool>(f)) << llvm::toString(f.takeError());
  EXPECT_FALSE(f->quant.has_value());
  EXPECT_LT(relativeWeightError(w, f->weights),
            relativeWeightError(w, base));
  double uv = 0;
  for (int64_t k = 0; k < f->rank; ++k)
    uv += f->u[k] * f->v[k * cols + 3];
  EXPECT_NEAR(base[3] + uv, f->weights[3], 1e-6);
  o.residualOf = QuantScheme();
  EXPECT_NE(errorOf(factorizeWeights(w, rows, cols, {}, {}, o))
                .find("either a quantization or a given base"),
            std::string::npos);
}

} // namespace
