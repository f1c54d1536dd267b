//===- MethodsTest.cpp - Tests of the compression method registry ---------===//
//
// Part of the Slim project, under the Apache License v2.0 with LLVM Exceptions.
// SPDX-License-Identifier: Apache-2.0 WITH LLVM-exception
//
//===----------------------------------------------------------------------===//

#include "lib/Compression/Methods.h"
#include "test/unit/Compression/TestData.h"

#include "gtest/gtest.h"

#include <cmath>

using namespace mlir::slim;
using namespace mlir::slim::testing;

namespace {

/// Statistics of correlated inputs for a layer of `k` inputs.
struct Stats : InputStatsData {
  explicit Stats(int64_t k)
      : InputStatsData(correlatedInputs(256, k, 41), 256, k) {}
};

TEST(Methods, RegistryNamesEveryMethodOnce) {
  EXPECT_EQ(listMethods(CompressionFamily::Quantize),
            "rtn, gptq, awq or smoothquant");
  EXPECT_EQ(listMethods(CompressionFamily::Prune),
            "magnitude, wanda, sparsegpt or flap");
  for (const MethodInfo &m : getMethods())
    EXPECT_EQ(lookupMethod(m.family, m.name), &m) << m.name.str();
  EXPECT_EQ(lookupMethod(CompressionFamily::Prune, "gptq"), nullptr);
  EXPECT_EQ(lookupMethod(CompressionFamily::Quantize, "rtn")->needs, kNoStats);
  EXPECT_TRUE(lookupMethod(CompressionFamily::Quantize, "awq")->needs &
              kAbsMean);
  EXPECT_TRUE(lookupMethod(CompressionFamily::Prune, "sparsegpt")->needs &
              kSecondMoment);
}

/// Each quantization method runs through the registry, reports its own
/// fields, and refuses to run without the statistics it reads.
TEST(Methods, QuantizeLayerByName) {
  const int64_t rows = 16, cols = 64;
  std::vector<float> w = randomWeights(rows, cols, 42);
  Stats stats(cols);
  for (const char *name : {"rtn", "gptq", "awq", "smoothquant"}) {
    QuantizeSettings s;
    s.method = lookupMethod(CompressionFamily::Quantize, name);
    s.scheme.groupSize = 32;
    auto q = quantizeLayer({w, rows, cols, &stats.view}, s);
    ASSERT_TRUE(static_cast<bool>(q))
        << name << ": " << llvm::toString(q.takeError());
    EXPECT_EQ(q->effectiveWeight.size(), w.size());
    // (GPTQ and AWQ trade weight error for output error.)
    EXPECT_LT(relativeWeightError(w, q->effectiveWeight), 0.5) << name;
    std::vector<std::string> keys;
    for (auto &[key, value] : q->fields)
      keys.push_back(key);
    if (std::string(name) == "gptq") {
      EXPECT_EQ(keys, (std::vector<std::string>{"damp", "cholesky_retries",
                                                "dead_inputs", "act_order"}));
    } else if (std::string(name) == "awq") {
      EXPECT_EQ(keys, std::vector<std::string>{"awq_alpha"});
      EXPECT_EQ(q->inputScales.size(), size_t(cols));
    } else if (std::string(name) == "smoothquant") {
      EXPECT_EQ(keys, std::vector<std::string>{"smooth_alpha"});
      EXPECT_TRUE(q->quantizeActivations);
    } else {
      EXPECT_TRUE(keys.empty());
    }
    auto without = quantizeLayer({w, rows, cols, nullptr}, s);
    if (s.method->needs == kNoStats) {
      EXPECT_TRUE(static_cast<bool>(without)) << name;
    } else {
      ASSERT_FALSE(static_cast<bool>(without)) << name;
      EXPECT_EQ(llvm::toString(without.takeError()),
                "method=" + std::string(name) +
                    " needs calibration statistics");
    }
  }
}

TEST(Methods, PruneLayerByName) {
  const int64_t rows = 16, cols = 64;
  std::vector<float> w = randomWeights(rows, cols, 43);
  Stats stats(cols);
  PruneOptions o;
  o.pattern.n = 2;
  o.pattern.m = 4;
  for (const char *name : {"magnitude", "wanda", "sparsegpt"}) {
    const MethodInfo *m = lookupMethod(CompressionFamily::Prune, name);
    auto p = pruneLayer({w, rows, cols, &stats.view}, *m, o);
    ASSERT_TRUE(static_cast<bool>(p)) << name;
    EXPECT_EQ(p->pruned.countKept(), rows * cols / 2) << name;
    EXPECT_EQ(p->fields.size(), std::string(name) == "sparsegpt" ? 3u
                                : std::string(name) == "wanda"   ? 1u
                                                                 : 0u)
        << name;
  }
}

/// A low-rank residual of GPTQ's error: closer in output error than GPTQ
/// alone, the quantized part GPTQ's own codes; quantizers that rescale the
/// activation are refused.
TEST(Methods, FactorizeTheErrorOfAQuantizer) {
  const int64_t rows = 32, cols = 64;
  std::vector<float> w = randomWeights(rows, cols, 44);
  Stats stats(cols);
  LayerData layer{w, rows, cols, &stats.view};
  QuantizeSettings gptq;
  gptq.method = lookupMethod(CompressionFamily::Quantize, "gptq");
  gptq.scheme.bits = 3;
  gptq.scheme.groupSize = 32;
  auto alone = quantizeLayer(layer, gptq);
  ASSERT_TRUE(static_cast<bool>(alone));
  FactorizeOptions o;
  o.rank.rank = 4;
  const MethodInfo *svdLlm =
      lookupMethod(CompressionFamily::Factorize, "svd-llm");
  auto f = factorizeLayer(layer, *svdLlm, o, &gptq);
  ASSERT_TRUE(static_cast<bool>(f)) << llvm::toString(f.takeError());
  ASSERT_TRUE(f->factors.quant.has_value());
  EXPECT_EQ(f->factors.quant->codes, alone->q.codes);
  EXPECT_LT(
      relativeOutputError(w, f->factors.weights, rows, cols, stats.view.xtx),
      relativeOutputError(w, alone->effectiveWeight, rows, cols,
                          stats.view.xtx));
  QuantizeSettings awq = gptq;
  awq.method = lookupMethod(CompressionFamily::Quantize, "awq");
  auto refused = factorizeLayer(layer, *svdLlm, o, &awq);
  ASSERT_FALSE(static_cast<bool>(refused));
  EXPECT_NE(llvm::toString(refused.takeError()).find("not awq"),
            std::string::npos);
}

} // namespace
