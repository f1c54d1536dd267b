//===- ChannelPrunerTest.cpp - Tests of structured pruning's numerics -----===//
//
// Part of the Slim project, under the Apache License v2.0 with LLVM Exceptions.
// SPDX-License-Identifier: Apache-2.0 WITH LLVM-exception
//
//===----------------------------------------------------------------------===//

#include "lib/Compression/ChannelPruner.h"
#include "test/unit/Compression/TestData.h"

#include "gtest/gtest.h"

#include <cmath>
#include <random>
#include <vector>

using namespace mlir::slim;

namespace {

using Stats = mlir::slim::testing::InputStatsData;

TEST(ChannelPrunerTest, LayoutMapsChannelsToUnits) {
  // 2 outer blocks of 3 units of 2 channels.
  UnitLayout layout{3, 2};
  EXPECT_EQ(layout.getUnit(0), 0);
  EXPECT_EQ(layout.getUnit(3), 1);
  EXPECT_EQ(layout.getUnit(5), 2);
  EXPECT_EQ(layout.getUnit(6), 0);
  std::vector<int64_t> expected{0, 1, 4, 5, 6, 7, 10, 11};
  EXPECT_EQ(layout.keptChannels(12, {0, 2}), expected);
}

TEST(ChannelPrunerTest, ScoresFollowTheCriteria) {
  // 4 units of 1 channel, 3 outputs; channel 1 has a constant input, so
  // its fluctuation is 0 whatever its weights.
  int64_t k = 4, n = 3, rows = 64;
  std::mt19937 rng(3);
  std::normal_distribution<float> normal;
  std::vector<float> x(rows * k);
  for (int64_t r = 0; r < rows; ++r)
    for (int64_t c = 0; c < k; ++c)
      x[r * k + c] = c == 1 ? 2.5f : normal(rng) * (c + 1);
  Stats s(x, rows, k);
  std::vector<float> w(k * n);
  for (float &v : w)
    v = normal(rng);
  auto magnitude =
      scoreChannels(w, k, n, {4, 1}, nullptr, UnitScore::Magnitude);
  auto wanda = scoreChannels(w, k, n, {4, 1}, &s.view, UnitScore::Wanda);
  auto flap = scoreChannels(w, k, n, {4, 1}, &s.view, UnitScore::Fluctuation);
  ASSERT_TRUE(bool(magnitude) && bool(wanda) && bool(flap));
  for (int64_t c = 0; c < k; ++c) {
    double norm2 = 0;
    for (int64_t j = 0; j < n; ++j)
      norm2 += double(w[c * n + j]) * w[c * n + j];
    double second = s.xtx[c * k + c];
    EXPECT_NEAR((*magnitude)[c], norm2, 1e-9 * norm2);
    EXPECT_NEAR((*wanda)[c], std::sqrt(norm2 * second), 1e-6 * (1 + norm2));
    double var = std::max(second - double(s.mean[c]) * s.mean[c], 0.0);
    EXPECT_NEAR((*flap)[c], var * norm2, 1e-4 * (1 + var * norm2));
  }
  EXPECT_LT((*flap)[1], 1e-4 * (*flap)[0]);
}

TEST(ChannelPrunerTest, ScoringErrorsNameWhatIsMissing) {
  std::vector<float> w(8, 1.0f);
  auto uneven = scoreChannels(w, 4, 2, {3, 1}, nullptr, UnitScore::Magnitude);
  ASSERT_FALSE(bool(uneven));
  EXPECT_NE(llvm::toString(uneven.takeError()).find("do not split"),
            std::string::npos);
  auto noStats = scoreChannels(w, 4, 2, {4, 1}, nullptr, UnitScore::Wanda);
  ASSERT_FALSE(bool(noStats));
  llvm::consumeError(noStats.takeError());
  std::vector<float> x(16, 1.0f);
  Stats s(x, 4, 4);
  s.view.mean = {};
  auto noMean = scoreChannels(w, 4, 2, {4, 1}, &s.view, UnitScore::Fluctuation);
  ASSERT_FALSE(bool(noMean));
  EXPECT_NE(llvm::toString(noMean.takeError()).find("signed means"),
            std::string::npos);
}

TEST(ChannelPrunerTest, UniformAllocationRemovesTheLowestPerGroup) {
  std::vector<UnitGroup> groups(2);
  groups[0].scores = {5, 1, 3, 2};
  groups[0].paramsPerUnit = 10;
  groups[1].scores = {0.1, 0.4};
  groups[1].paramsPerUnit = 100;
  auto kept = allocateUnits(groups, 0.5, UnitAllocation::Uniform);
  EXPECT_EQ(kept[0], (std::vector<int64_t>{0, 2}));
  EXPECT_EQ(kept[1], (std::vector<int64_t>{1}));
  // Every group keeps one unit, whatever the fraction.
  auto most = allocateUnits(groups, 0.99, UnitAllocation::Uniform);
  EXPECT_EQ(most[0].size(), 1u);
  EXPECT_EQ(most[1].size(), 1u);
}

TEST(ChannelPrunerTest, UnitGroupsAverageTheirChannels) {
  UnitGroup g = makeUnitGroup({1, 3, 5, 7, 2, 4}, {3, 1}, 7, true);
  // Channel c is in unit c % 3.
  EXPECT_EQ(g.scores, (std::vector<double>{4, 2.5, 4.5}));
  EXPECT_DOUBLE_EQ(g.channelMean, 22.0 / 6);
  EXPECT_NEAR(g.channelStd, std::sqrt(104.0 / 6 - (22.0 / 6) * (22.0 / 6)),
              1e-12);
  EXPECT_EQ(g.paramsPerUnit, 7);
  EXPECT_TRUE(g.attention);
}

TEST(ChannelPrunerTest, GlobalAllocationRanksStandardizedScores) {
  // Each group's units standardized by its own channels (FLAP): z of
  // group 0 -1.34 -0.45 0.45 1.34; group 1 -0.85 -0.57 -0.28 1.70; the
  // attention group (2 units of 2 channels) -1 and 1.
  std::vector<UnitGroup> groups{
      makeUnitGroup({10, 11, 12, 13}, {4, 1}, 10, false),
      makeUnitGroup({1, 2, 3, 10}, {4, 1}, 10, false),
      makeUnitGroup({1, 5, 1, 5}, {2, 1}, 10, true)};
  // 100 weights; 30 % = the 3 lowest units.
  auto kept = allocateUnits(groups, 0.3, UnitAllocation::Global);
  EXPECT_EQ(kept[0], (std::vector<int64_t>{1, 2, 3}));
  EXPECT_EQ(kept[1], (std::vector<int64_t>{1, 2, 3}));
  EXPECT_EQ(kept[2], (std::vector<int64_t>{1}));
  // Never below one unit per group.
  auto all = allocateUnits(groups, 0.95, UnitAllocation::Global);
  for (const auto &k : all)
    EXPECT_GE(k.size(), 1u);
}

TEST(ChannelPrunerTest, KeptUnitsRoundToTheMultiple) {
  std::vector<UnitGroup> groups(1);
  groups[0].scores = {1, 2, 3, 4, 5, 6, 7, 8};
  groups[0].paramsPerUnit = 1;
  groups[0].multiple = 4;
  // 5 of 8 removed leaves 3: the best removed unit comes back.
  auto kept = allocateUnits(groups, 0.6, UnitAllocation::Uniform);
  EXPECT_EQ(kept[0], (std::vector<int64_t>{4, 5, 6, 7}));
  // Never below one multiple.
  kept = allocateUnits(groups, 0.9, UnitAllocation::Uniform);
  EXPECT_EQ(kept[0].size(), 4u);
}

TEST(ChannelPrunerTest, BiasCompensationIsTheRemovedMeanContribution) {
  // Removed channels with a constant input: y = x W over all channels
  // equals the pruned product plus the bias, exactly.
  int64_t k = 6, n = 2, rows = 5;
  std::mt19937 rng(5);
  std::normal_distribution<float> normal;
  std::vector<float> w(k * n), x(rows * k);
  for (float &v : w)
    v = normal(rng);
  UnitLayout layout{3, 1}; // channels c and c + 3 form unit c % 3
  std::vector<int64_t> kept{0, 2};
  for (int64_t r = 0; r < rows; ++r)
    for (int64_t c = 0; c < k; ++c)
      x[r * k + c] = layout.getUnit(c) == 1 ? 0.5f * (c + 1) : normal(rng);
  Stats s(x, rows, k);
  std::vector<float> bias = compensationBias(w, k, n, layout, kept, s.mean);
  std::vector<int64_t> channels = layout.keptChannels(k, kept);
  for (int64_t r = 0; r < rows; ++r)
    for (int64_t j = 0; j < n; ++j) {
      double full = 0, pruned = bias[j];
      for (int64_t c = 0; c < k; ++c)
        full += double(x[r * k + c]) * w[c * n + j];
      for (int64_t c : channels)
        pruned += double(x[r * k + c]) * w[c * n + j];
      EXPECT_NEAR(pruned, full, 1e-5);
    }
}

} // namespace
