//===- PrunerTest.cpp - Tests of magnitude, Wanda and SparseGPT pruning ---===//
//
// Part of the Slim project, under the Apache License v2.0 with LLVM Exceptions.
// SPDX-License-Identifier: Apache-2.0 WITH LLVM-exception
//
//===----------------------------------------------------------------------===//

#include "lib/Compression/Pruner.h"
#include "test/unit/Compression/TestData.h"

#include "gtest/gtest.h"

#include <cmath>
#include <vector>

using namespace mlir::slim;
using namespace mlir::slim::testing;

namespace {

const PruneCriterion kCriteria[] = {PruneCriterion::Magnitude,
                                    PruneCriterion::Wanda,
                                    PruneCriterion::SparseGPT};

const char *nameOf(PruneCriterion c) {
  switch (c) {
  case PruneCriterion::Magnitude:
    return "magnitude";
  case PruneCriterion::Wanda:
    return "wanda";
  case PruneCriterion::SparseGPT:
    return "sparsegpt";
  }
  return "?";
}

PruneOptions nm(PruneCriterion c, unsigned n, unsigned m) {
  PruneOptions o;
  o.criterion = c;
  o.pattern.n = n;
  o.pattern.m = m;
  o.blockSize = 32;
  return o;
}

PruneOptions unstructured(PruneCriterion c, double sparsity) {
  PruneOptions o;
  o.criterion = c;
  o.pattern.sparsity = sparsity;
  o.blockSize = 32;
  return o;
}

std::string errorOf(llvm::Expected<PrunedMatrix> p) {
  if (p)
    return "";
  return llvm::toString(p.takeError());
}

TEST(Pruner, BadOptionsNameTheValue) {
  std::vector<float> w(4 * 12, 1.0f), h(12 * 12, 0.0f);
  for (int i = 0; i < 12; ++i)
    h[i * 12 + i] = 1.0f;
  EXPECT_NE(errorOf(pruneWeights(w, 4, 12, h,
                                 unstructured(PruneCriterion::Magnitude, 1.0)))
                .find("sparsity=1.00 is out of range [0, 1)"),
            std::string::npos);
  EXPECT_NE(
      errorOf(pruneWeights(w, 4, 12, h,
                           unstructured(PruneCriterion::Magnitude, -0.25)))
          .find("out of range"),
      std::string::npos);
  EXPECT_NE(
      errorOf(pruneWeights(w, 4, 12, h, nm(PruneCriterion::Magnitude, 4, 4)))
          .find("N must be between 1 and M - 1"),
      std::string::npos);
  EXPECT_NE(
      errorOf(pruneWeights(w, 4, 12, h, nm(PruneCriterion::Magnitude, 2, 8)))
          .find("multiple of 8, the layer has 12"),
      std::string::npos);
  EXPECT_NE(errorOf(pruneWeights(w, 4, 12, {}, nm(PruneCriterion::Wanda, 2, 4)))
                .find("needs the calibration X^T X"),
            std::string::npos);
  PruneOptions q = unstructured(PruneCriterion::Magnitude, 0.5);
  q.quant = QuantScheme();
  EXPECT_NE(errorOf(pruneWeights(w, 4, 12, h, q)).find("needs N:M sparsity"),
            std::string::npos);
  PruneOptions odd = nm(PruneCriterion::SparseGPT, 2, 4);
  odd.quant = QuantScheme();
  odd.quant->groupSize = 3;
  EXPECT_NE(errorOf(pruneWeights(w, 4, 12, h, odd))
                .find("group-size=3 must be a multiple of N=2"),
            std::string::npos);
}

/// Every run of M inputs keeps exactly N weights, pruned weights are zero,
/// and the run storage gives back the weights.
TEST(Pruner, NMMasksAreExact) {
  const int64_t n = 256, rows = 24, cols = 64;
  std::vector<float> h = secondMoment(correlatedInputs(n, cols, 3), n, cols);
  std::vector<float> w = randomWeights(rows, cols, 4);
  for (PruneCriterion c : kCriteria)
    for (auto [keep, run] : {std::pair{2u, 4u}, {4u, 8u}, {1u, 4u}, {3u, 8u}}) {
      auto p = pruneWeights(w, rows, cols, h, nm(c, keep, run));
      ASSERT_TRUE(static_cast<bool>(p)) << llvm::toString(p.takeError());
      for (int64_t r = 0; r < rows; ++r)
        for (int64_t c0 = 0; c0 < cols; c0 += run) {
          unsigned kept = 0;
          for (unsigned j = 0; j < run; ++j) {
            int64_t at = r * cols + c0 + j;
            kept += p->mask[at];
            if (!p->mask[at]) {
              EXPECT_EQ(p->weights[at], 0.0f);
            } else if (c != PruneCriterion::SparseGPT) {
              EXPECT_EQ(p->weights[at], w[at]);
            }
          }
          EXPECT_EQ(kept, keep) << nameOf(c) << " " << keep << ":" << run;
        }
      std::vector<float> values;
      std::vector<uint8_t> positions;
      p->getRuns(values, positions);
      int64_t valueCols = cols / run * keep;
      ASSERT_EQ(values.size(), size_t(rows * valueCols));
      std::vector<float> dense(rows * cols, 0.0f);
      for (int64_t r = 0; r < rows; ++r)
        for (int64_t v = 0; v < valueCols; ++v) {
          ASSERT_LT(positions[r * valueCols + v], run);
          dense[r * cols + v / keep * run + positions[r * valueCols + v]] +=
              values[r * valueCols + v];
        }
      EXPECT_EQ(dense, p->weights);
    }
}

/// Unstructured pruning removes floor(sparsity * count) weights of the
/// layer (magnitude), of each row (Wanda) or of each block of columns
/// (SparseGPT, blocks of 32 here); CSR storage gives back the weights.
TEST(Pruner, UnstructuredCountsAndCsr) {
  const int64_t n = 256, rows = 20, cols = 96;
  std::vector<float> h = secondMoment(correlatedInputs(n, cols, 5), n, cols);
  std::vector<float> w = randomWeights(rows, cols, 6);
  for (PruneCriterion c : kCriteria)
    for (double s : {0.0, 0.3, 0.5, 0.9}) {
      auto p = pruneWeights(w, rows, cols, h, unstructured(c, s));
      ASSERT_TRUE(static_cast<bool>(p)) << llvm::toString(p.takeError());
      int64_t pruned = rows * cols - p->countKept();
      int64_t expected =
          c == PruneCriterion::Magnitude ? int64_t(s * rows * cols)
          : c == PruneCriterion::Wanda   ? rows * int64_t(s * cols)
                                         : (cols / 32) * int64_t(s * rows * 32);
      EXPECT_EQ(pruned, expected) << nameOf(c) << " sparsity " << s;
      if (c == PruneCriterion::Wanda)
        for (int64_t r = 0; r < rows; ++r) {
          int64_t kept = 0;
          for (int64_t j = 0; j < cols; ++j)
            kept += p->mask[r * cols + j];
          EXPECT_EQ(kept, cols - int64_t(s * cols));
        }
      std::vector<float> values;
      std::vector<int32_t> rowPtr, colIdx;
      p->getCsr(values, rowPtr, colIdx);
      ASSERT_EQ(rowPtr.size(), size_t(rows + 1));
      ASSERT_EQ(values.size(), size_t(p->countKept()));
      std::vector<float> dense(rows * cols, 0.0f);
      for (int64_t r = 0; r < rows; ++r)
        for (int32_t k = rowPtr[r]; k < rowPtr[r + 1]; ++k)
          dense[r * cols + colIdx[k]] = values[k];
      EXPECT_EQ(dense, p->weights);
      if (s == 0.0 && c != PruneCriterion::SparseGPT) {
        EXPECT_EQ(p->weights, w);
      }
    }
}

/// Magnitude keeps the largest weights.
TEST(Pruner, MagnitudeKeepsTheLargest) {
  std::vector<float> w = {0.1f, -3.0f, 0.2f, 2.0f, 5.0f, -0.3f, 0.05f, 4.0f};
  auto p = pruneWeights(w, 1, 8, {}, nm(PruneCriterion::Magnitude, 2, 4));
  ASSERT_TRUE(static_cast<bool>(p));
  EXPECT_EQ(p->weights, (std::vector<float>{0, -3, 0, 2, 5, 0, 0, 4}));
  auto u =
      pruneWeights(w, 2, 4, {}, unstructured(PruneCriterion::Magnitude, 0.75));
  ASSERT_TRUE(static_cast<bool>(u));
  EXPECT_EQ(u->weights, (std::vector<float>{0, 0, 0, 0, 5, 0, 0, 4}));
}

/// On correlated inputs with outlier channels the output error orders
/// SparseGPT <= Wanda <= magnitude, unstructured and N:M.
TEST(Pruner, ErrorsOrderSparseGptWandaMagnitude) {
  const int64_t n = 512, rows = 48, cols = 96;
  std::vector<float> h = secondMoment(correlatedInputs(n, cols, 11), n, cols);
  std::vector<float> w = randomWeights(rows, cols, 12);
  for (bool structured : {false, true}) {
    double errors[3];
    for (int i = 0; i < 3; ++i) {
      PruneOptions o =
          structured ? nm(kCriteria[i], 2, 4) : unstructured(kCriteria[i], 0.5);
      PruneInfo info;
      auto p = pruneWeights(w, rows, cols, h, o, &info);
      ASSERT_TRUE(static_cast<bool>(p)) << llvm::toString(p.takeError());
      errors[i] = relativeOutputError(w, p->weights, rows, cols, h);
      EXPECT_EQ(info.choleskyRetries, 0);
    }
    EXPECT_LT(errors[2], errors[1]) << "structured=" << structured;
    EXPECT_LT(errors[1], errors[0]) << "structured=" << structured;
    EXPECT_GT(errors[2], 0.0);
  }
}

/// 2:4 + int4: the kept values are a quantized matrix whose dequantized
/// values are the weights; SparseGPT's joint sweep beats pruning then
/// rounding (Wanda + RTN) on the output error.
TEST(Pruner, JointQuantizationStoresTheWeights) {
  const int64_t n = 512, rows = 32, cols = 128;
  std::vector<float> h = secondMoment(correlatedInputs(n, cols, 21), n, cols);
  std::vector<float> w = randomWeights(rows, cols, 22);
  for (bool symmetric : {true, false})
    for (int64_t group : {int64_t(0), int64_t(16), int64_t(32)}) {
      double errors[3];
      for (int i = 0; i < 3; ++i) {
        PruneOptions o = nm(kCriteria[i], 2, 4);
        o.quant = QuantScheme();
        o.quant->bits = 4;
        o.quant->symmetric = symmetric;
        o.quant->groupSize = group;
        auto p = pruneWeights(w, rows, cols, h, o);
        ASSERT_TRUE(static_cast<bool>(p)) << llvm::toString(p.takeError());
        ASSERT_TRUE(p->quant.has_value());
        EXPECT_EQ(p->quant->rows, rows);
        EXPECT_EQ(p->quant->cols, cols / 2);
        std::vector<float> values;
        std::vector<uint8_t> positions;
        p->getRuns(values, positions);
        for (int64_t r = 0; r < rows; ++r)
          for (int64_t v = 0; v < cols / 2; ++v)
            ASSERT_EQ(values[r * (cols / 2) + v], p->quant->dequantize(r, v))
                << nameOf(kCriteria[i]) << " at " << r << "," << v;
        errors[i] = relativeOutputError(w, p->weights, rows, cols, h);
      }
      EXPECT_LT(errors[2], errors[1])
          << "symmetric=" << symmetric << " group=" << group;
    }
}

/// Inputs never seen in calibration (zero H rows and columns) are counted,
/// the factorization needs no retry, and their weights are pruned first.
TEST(Pruner, DeadInputsArePrunedFirst) {
  const int64_t n = 256, rows = 8, cols = 32;
  std::vector<float> x = correlatedInputs(n, cols, 31);
  for (int64_t r = 0; r < n; ++r)
    x[r * cols + 5] = x[r * cols + 6] = 0.0f;
  std::vector<float> h = secondMoment(x, n, cols);
  std::vector<float> w = randomWeights(rows, cols, 32);
  for (PruneCriterion c : {PruneCriterion::Wanda, PruneCriterion::SparseGPT}) {
    PruneInfo info;
    auto p = pruneWeights(w, rows, cols, h, nm(c, 2, 4), &info);
    ASSERT_TRUE(static_cast<bool>(p)) << llvm::toString(p.takeError());
    EXPECT_EQ(info.deadColumns, 2) << nameOf(c);
    for (int64_t r = 0; r < rows; ++r) {
      EXPECT_EQ(p->mask[r * cols + 5], 0) << nameOf(c);
      EXPECT_EQ(p->mask[r * cols + 6], 0) << nameOf(c);
    }
  }
}

/// Non-finite statistics are refused with a message, not turned into
/// garbage weights (an off-diagonal NaN included).
TEST(Pruner, NonFiniteStatisticsAreRefused) {
  const int64_t n = 64, rows = 8, cols = 16;
  std::vector<float> h = secondMoment(correlatedInputs(n, cols, 51), n, cols);
  std::vector<float> w = randomWeights(rows, cols, 52);
  h[3 * cols + 5] = std::nanf("");
  EXPECT_NE(errorOf(pruneWeights(w, rows, cols, h,
                                 nm(PruneCriterion::SparseGPT, 2, 4)))
                .find("non-finite"),
            std::string::npos);
  h[3 * cols + 5] = 0.0f;
  h[2 * cols + 2] = INFINITY;
  EXPECT_NE(
      errorOf(pruneWeights(w, rows, cols, h, nm(PruneCriterion::Wanda, 2, 4)))
          .find("non-finite"),
      std::string::npos);
}

} // namespace
