//===- QuantizerTest.cpp - Tests of RTN, GPTQ and calibration statistics --===//
//
// Part of the Slim project, under the Apache License v2.0 with LLVM Exceptions.
// SPDX-License-Identifier: Apache-2.0 WITH LLVM-exception
//
//===----------------------------------------------------------------------===//

#include "lib/Compression/CalibrationStats.h"
#include "lib/Compression/Quantizer.h"
#include "test/unit/Compression/TestData.h"

#include "llvm/Support/FileSystem.h"
#include "llvm/Support/raw_ostream.h"

#include "gtest/gtest.h"

#include <cmath>
#include <random>
#include <vector>

using namespace mlir::slim;
using namespace mlir::slim::testing;

namespace {

TEST(Quantizer, ScaleRoundingMatchesStorageTypes) {
  EXPECT_EQ(roundToScaleType(0.1f, ScaleType::F32), 0.1f);
  EXPECT_EQ(roundToScaleType(0.1f, ScaleType::F16), 0.0999755859375f);
  EXPECT_EQ(roundToScaleType(0.1f, ScaleType::BF16), 0.10009765625f);
  EXPECT_EQ(roundToScaleType(1e6f, ScaleType::F16), 65504.0f);
}

TEST(Quantizer, SchemeValidationNamesTheOption) {
  QuantScheme s;
  s.bits = 9;
  llvm::Error e = s.validate(64);
  ASSERT_TRUE(static_cast<bool>(e));
  EXPECT_NE(llvm::toString(std::move(e)).find("bits=9"), std::string::npos);
  s.bits = 4;
  s.groupSize = -2;
  e = s.validate(64);
  ASSERT_TRUE(static_cast<bool>(e));
  EXPECT_NE(llvm::toString(std::move(e)).find("group-size=-2"),
            std::string::npos);
  s.groupSize = 48; // ragged: groups of 48 and 16
  EXPECT_FALSE(static_cast<bool>(s.validate(64)));
}

/// A group size that does not divide the row: the last group is shorter
/// and has ranges of its own.
TEST(Quantizer, RaggedLastGroup) {
  const int64_t rows = 3, cols = 40, group = 16;
  std::vector<float> w(rows * cols);
  for (int64_t r = 0; r < rows; ++r)
    for (int64_t c = 0; c < cols; ++c)
      w[r * cols + c] = c < 32 ? 0.5f * ((c + r) % 16 - 8) : 100.0f * (c % 2);
  QuantScheme s;
  s.bits = 4;
  s.symmetric = true;
  s.groupSize = group;
  s.scaleType = ScaleType::F32;
  auto q = quantizeRtn(w, rows, cols, s);
  ASSERT_TRUE(static_cast<bool>(q));
  EXPECT_EQ(q->groupsPerRow, 3);
  EXPECT_EQ(q->groupLength(2), 8);
  EXPECT_EQ(q->scales.size(), 9u);
  // The large values of the short group do not widen the others' ranges.
  EXPECT_FLOAT_EQ(q->scales[0], 0.5f);
  EXPECT_EQ(q->dequantizeAll(), w);
  std::vector<float> h(cols * cols, 0.0f);
  for (int64_t i = 0; i < cols; ++i)
    h[i * cols + i] = 1.0f + i;
  auto g = quantizeGptq(w, rows, cols, h, s, GptqOptions());
  ASSERT_TRUE(static_cast<bool>(g));
  EXPECT_EQ(g->dequantizeAll(), w);
}

/// Weights already on a 4-bit asymmetric grid (every group uses codes 0 and
/// 15) are reproduced exactly by both algorithms.
TEST(Quantizer, ExactWhenBitsSuffice) {
  const int64_t rows = 8, cols = 64, group = 16;
  std::mt19937 rng(3);
  std::uniform_int_distribution<int> code(0, 15), zp(0, 15);
  std::vector<float> w(rows * cols);
  for (int64_t r = 0; r < rows; ++r)
    for (int64_t g = 0; g < cols / group; ++g) {
      int z = zp(rng);
      float scale = 0.25f * (1 + (r + g) % 3);
      for (int64_t c = 0; c < group; ++c) {
        int q = c == 0 ? 0 : c == 1 ? 15 : code(rng);
        w[r * cols + g * group + c] = (q - z) * scale;
      }
    }
  QuantScheme s;
  s.bits = 4;
  s.groupSize = group;
  auto rtn = quantizeRtn(w, rows, cols, s);
  ASSERT_TRUE(static_cast<bool>(rtn)) << llvm::toString(rtn.takeError());
  EXPECT_EQ(rtn->dequantizeAll(), w);

  std::vector<float> x = correlatedInputs(256, cols, 5);
  std::vector<float> h = secondMoment(x, 256, cols);
  for (bool actOrder : {false, true}) {
    GptqOptions o;
    o.actOrder = actOrder;
    o.blockSize = 24; // blocks straddling groups
    auto gptq = quantizeGptq(w, rows, cols, h, s, o);
    ASSERT_TRUE(static_cast<bool>(gptq)) << llvm::toString(gptq.takeError());
    EXPECT_EQ(gptq->dequantizeAll(), w) << "actOrder=" << actOrder;
  }
}

TEST(Quantizer, RtnCodesAndParamsFollowTheScheme) {
  // One row, one group: symmetric puts the extreme value on code -8.
  std::vector<float> w{0.5f, -1.0f, 0.25f, 0.0f};
  QuantScheme s;
  s.bits = 4;
  s.symmetric = true;
  s.scaleType = ScaleType::F32;
  auto q = quantizeRtn(w, 1, 4, s);
  ASSERT_TRUE(static_cast<bool>(q));
  EXPECT_FLOAT_EQ(q->scales[0], 0.125f);
  EXPECT_EQ(q->codes[1], 0x8); // -8 in 4-bit two's complement
  EXPECT_TRUE(q->zeroPoints.empty());
  EXPECT_EQ(q->dequantizeAll(), w);

  // Asymmetric, per channel: the range includes zero.
  std::vector<float> pos{1.0f, 2.0f, 3.0f, 4.0f, 1.5f, 1.5f, 1.5f, 1.5f};
  s.symmetric = false;
  auto a = quantizeRtn(pos, 2, 4, s);
  ASSERT_TRUE(static_cast<bool>(a));
  ASSERT_EQ(a->zeroPoints.size(), 2u);
  EXPECT_EQ(a->zeroPoints[0], 0);
  EXPECT_FLOAT_EQ(a->scales[0], 4.0f / 15);
  EXPECT_NEAR(a->dequantize(0, 3), 4.0f, 1e-6);
}

/// On correlated inputs GPTQ's output error is below RTN's for every bit
/// width, group size and act-order setting tried.
TEST(Quantizer, GptqBeatsRtnOnCorrelatedInputs) {
  const int64_t n = 512, rows = 48, cols = 96;
  std::vector<float> x = correlatedInputs(n, cols, 11);
  std::vector<float> h = secondMoment(x, n, cols);
  std::vector<float> w = randomWeights(rows, cols, 12);
  for (unsigned bits : {2u, 3u, 4u}) {
    for (int64_t group : {int64_t(0), int64_t(32)}) {
      for (bool actOrder : {false, true}) {
        QuantScheme s;
        s.bits = bits;
        s.groupSize = group;
        auto rtn = quantizeRtn(w, rows, cols, s);
        ASSERT_TRUE(static_cast<bool>(rtn));
        GptqOptions o;
        o.actOrder = actOrder;
        o.blockSize = 32;
        GptqInfo info;
        auto gptq = quantizeGptq(w, rows, cols, h, s, o, &info);
        ASSERT_TRUE(static_cast<bool>(gptq)) << llvm::toString(gptq.takeError());
        EXPECT_EQ(info.choleskyRetries, 0);
        double eRtn = relativeOutputError(w, rtn->dequantizeAll(), rows, cols, h);
        double eGptq =
            relativeOutputError(w, gptq->dequantizeAll(), rows, cols, h);
        EXPECT_LT(eGptq, eRtn) << "bits=" << bits << " group=" << group
                               << " actOrder=" << actOrder;
        EXPECT_GT(eGptq, 0.0);
      }
    }
  }
}

/// The reference implementation's lazy group ranges also beat RTN at 3 and
/// 4 bits (at 2 bits they do not on these inputs, which is why static
/// groups are the default).
TEST(Quantizer, LazyGroupsBeatRtnAtThreeAndFourBits) {
  const int64_t n = 512, rows = 48, cols = 96;
  std::vector<float> x = correlatedInputs(n, cols, 11);
  std::vector<float> h = secondMoment(x, n, cols);
  std::vector<float> w = randomWeights(rows, cols, 12);
  for (unsigned bits : {3u, 4u}) {
    QuantScheme s;
    s.bits = bits;
    s.groupSize = 32;
    GptqOptions o;
    o.staticGroups = false;
    auto rtn = quantizeRtn(w, rows, cols, s);
    auto gptq = quantizeGptq(w, rows, cols, h, s, o);
    ASSERT_TRUE(rtn && gptq);
    EXPECT_LT(relativeOutputError(w, gptq->dequantizeAll(), rows, cols, h),
              relativeOutputError(w, rtn->dequantizeAll(), rows, cols, h))
        << "bits=" << bits;
  }
}

/// AWQ's search includes alpha = 0 (plain RTN), so it is never worse than
/// RTN on the calibration inputs, and with outlier channels it is better.
TEST(Quantizer, AwqNoWorseThanRtn) {
  const int64_t n = 512, rows = 48, cols = 96;
  std::vector<float> x = correlatedInputs(n, cols, 61);
  std::vector<float> h = secondMoment(x, n, cols);
  std::vector<float> mean(cols, 0.0f);
  for (int64_t r = 0; r < n; ++r)
    for (int64_t c = 0; c < cols; ++c)
      mean[c] += std::fabs(x[r * cols + c]) / n;
  std::vector<float> w = randomWeights(rows, cols, 62);
  for (unsigned bits : {3u, 4u}) {
    QuantScheme s;
    s.bits = bits;
    s.groupSize = 32;
    auto rtn = quantizeRtn(w, rows, cols, s);
    auto awq = quantizeAwq(w, rows, cols, mean, h, s, AwqOptions());
    ASSERT_TRUE(rtn && awq);
    std::vector<float> what = awq->q.dequantizeAll();
    for (int64_t r = 0; r < rows; ++r)
      for (int64_t c = 0; c < cols; ++c)
        what[r * cols + c] /= awq->inputScales[c];
    double eAwq = relativeOutputError(w, what, rows, cols, h);
    double eRtn = relativeOutputError(w, rtn->dequantizeAll(), rows, cols, h);
    EXPECT_LT(eAwq, eRtn) << "bits=" << bits;
    EXPECT_GT(awq->alpha, 0.0);
  }
}

TEST(Quantizer, OutputErrorMatchesDirectComputation) {
  const int64_t n = 64, rows = 5, cols = 12;
  std::vector<float> x = correlatedInputs(n, cols, 21);
  std::vector<float> h = secondMoment(x, n, cols);
  std::vector<float> w = randomWeights(rows, cols, 22);
  QuantScheme s;
  s.bits = 3;
  auto q = quantizeRtn(w, rows, cols, s);
  ASSERT_TRUE(static_cast<bool>(q));
  std::vector<float> wq = q->dequantizeAll();
  double num = 0, den = 0;
  for (int64_t t = 0; t < n; ++t)
    for (int64_t r = 0; r < rows; ++r) {
      double y = 0, yq = 0;
      for (int64_t c = 0; c < cols; ++c) {
        y += double(w[r * cols + c]) * x[t * cols + c];
        yq += double(wq[r * cols + c]) * x[t * cols + c];
      }
      num += (y - yq) * (y - yq);
      den += y * y;
    }
  EXPECT_NEAR(relativeOutputError(w, wq, rows, cols, h), std::sqrt(num / den),
              1e-4);
}

TEST(Quantizer, SingularHessianIsDampedAndDeadInputsZeroed) {
  // Fewer samples than channels: X^T X is singular; channel 3 never fires.
  const int64_t n = 6, rows = 4, cols = 16;
  std::vector<float> x = correlatedInputs(n, cols, 31);
  for (int64_t r = 0; r < n; ++r)
    x[r * cols + 3] = 0.0f;
  std::vector<float> h = secondMoment(x, n, cols);
  std::vector<float> w = randomWeights(rows, cols, 32);
  QuantScheme s;
  GptqOptions o;
  o.dampFraction = 0.0;
  GptqInfo info;
  auto q = quantizeGptq(w, rows, cols, h, s, o, &info);
  ASSERT_TRUE(static_cast<bool>(q)) << llvm::toString(q.takeError());
  EXPECT_GE(info.choleskyRetries, 1);
  EXPECT_GT(info.dampFraction, 0.0);
  EXPECT_EQ(info.deadColumns, 1);
  for (int64_t r = 0; r < rows; ++r)
    EXPECT_EQ(q->dequantize(r, 3), 0.0f);
}

TEST(Quantizer, IndefiniteHessianFailsClearly) {
  const int64_t cols = 8;
  std::vector<float> h(cols * cols, 0.0f);
  for (int64_t i = 0; i < cols; ++i)
    h[i * cols + i] = -1.0f;
  std::vector<float> w = randomWeights(2, cols, 41);
  auto q = quantizeGptq(w, 2, cols, h, QuantScheme(), GptqOptions());
  ASSERT_FALSE(static_cast<bool>(q));
  EXPECT_NE(llvm::toString(q.takeError()).find("Cholesky factorization failed"),
            std::string::npos);
}

TEST(CalibrationStats, WriteThenReadBack) {
  const int64_t n = 10, k = 6;
  std::vector<float> x = correlatedInputs(n, k, 51);
  InputAccumulator acc(k), other(3);
  acc.add(x.data(), 4, k);
  acc.add(x.data() + 4 * k, n - 4, k);
  std::vector<float> y{1, -2, 3, -4, 5, -6};
  other.add(y.data(), 2, 3);
  llvm::SmallString<128> path;
  ASSERT_FALSE(llvm::sys::fs::createTemporaryFile("stats", "bin", path));
  ASSERT_FALSE(static_cast<bool>(CalibrationStatsWriter::write(
      path, "test-model", 2, n,
      {{&acc, {"a.q", "a.k"}}, {&other, {"b"}}})));
  auto stats = CalibrationStats::open(path);
  ASSERT_TRUE(static_cast<bool>(stats)) << llvm::toString(stats.takeError());
  EXPECT_EQ(stats->getSource(), "test-model");
  EXPECT_EQ(stats->getTokens(), n);
  EXPECT_EQ(stats->getNumLayers(), 3u);
  EXPECT_EQ(stats->lookup("missing"), nullptr);
  const InputStats *q = stats->lookup("a.q");
  ASSERT_NE(q, nullptr);
  EXPECT_EQ(q, stats->lookup("a.k"));
  EXPECT_EQ(q->rows, n);
  std::vector<float> h = secondMoment(x, n, k);
  for (int64_t i = 0; i < k * k; ++i)
    EXPECT_NEAR(q->xtx[i], h[i], 1e-4 * (1 + std::fabs(h[i])));
  for (int64_t c = 0; c < k; ++c) {
    double mean = 0, max = 0;
    for (int64_t r = 0; r < n; ++r) {
      mean += std::fabs(x[r * k + c]) / n;
      max = std::max<double>(max, std::fabs(x[r * k + c]));
    }
    EXPECT_NEAR(q->absMean[c], mean, 1e-5 * (1 + mean));
    EXPECT_FLOAT_EQ(q->absMax[c], max);
  }
  const InputStats *b = stats->lookup("b");
  ASSERT_NE(b, nullptr);
  EXPECT_FLOAT_EQ(b->absMean[1], 3.5f);
  EXPECT_FLOAT_EQ(b->xtx[0], (1 + 16) / 2.0f);
  llvm::sys::fs::remove(path);
}

TEST(CalibrationStats, RejectsCorruptFiles) {
  llvm::SmallString<128> path;
  ASSERT_FALSE(llvm::sys::fs::createTemporaryFile("stats", "bin", path));
  InputAccumulator acc(4);
  std::vector<float> x(8, 1.0f);
  acc.add(x.data(), 2, 4);
  ASSERT_FALSE(static_cast<bool>(
      CalibrationStatsWriter::write(path, "m", 1, 2, {{&acc, {"l"}}})));
  // Truncated: the arrays no longer fit.
  {
    auto whole = llvm::MemoryBuffer::getFile(path);
    ASSERT_TRUE(static_cast<bool>(whole));
    std::string bytes = (*whole)->getBuffer().drop_back(8).str();
    std::error_code ec;
    llvm::raw_fd_ostream os(path, ec);
    os << bytes;
  }
  auto t = CalibrationStats::open(path);
  ASSERT_FALSE(static_cast<bool>(t));
  EXPECT_NE(llvm::toString(t.takeError()).find("outside the file"),
            std::string::npos);
  // Not a stats file at all.
  {
    std::error_code ec;
    llvm::raw_fd_ostream os(path, ec);
    os << "hello, world, this is not it";
  }
  auto m = CalibrationStats::open(path);
  ASSERT_FALSE(static_cast<bool>(m));
  EXPECT_NE(llvm::toString(m.takeError()).find("not a statistics file"),
            std::string::npos);
  llvm::sys::fs::remove(path);
  auto missing = CalibrationStats::open(path);
  ASSERT_FALSE(static_cast<bool>(missing));
  EXPECT_NE(llvm::toString(missing.takeError()).find(path.str().str()),
            std::string::npos);
}

} // namespace
