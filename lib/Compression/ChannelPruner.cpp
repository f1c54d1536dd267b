//===- ChannelPruner.cpp - Structured pruning of heads and channels -------===//
//
// Part of the Slim project, under the Apache License v2.0 with LLVM Exceptions.
// SPDX-License-Identifier: Apache-2.0 WITH LLVM-exception
//
//===----------------------------------------------------------------------===//

#include "lib/Compression/ChannelPruner.h"

#include "llvm/Support/FormatVariadic.h"

#include <algorithm>
#include <cmath>
#include <numeric>

using namespace mlir::slim;

std::vector<int64_t>
UnitLayout::keptChannels(int64_t channels,
                         llvm::ArrayRef<int64_t> keptUnits) const {
  std::vector<int64_t> kept;
  int64_t block = units * inner;
  kept.reserve(channels / units * keptUnits.size());
  for (int64_t o = 0; o < channels; o += block)
    for (int64_t u : keptUnits)
      for (int64_t i = 0; i < inner; ++i)
        kept.push_back(o + u * inner + i);
  return kept;
}

llvm::Expected<std::vector<double>>
mlir::slim::scoreChannels(llvm::ArrayRef<float> w, int64_t k, int64_t n,
                          UnitLayout layout, const InputStats *stats,
                          UnitScore score) {
  if (layout.units <= 0 || layout.inner <= 0 ||
      k % (layout.units * layout.inner) != 0)
    return llvm::createStringError(
        llvm::formatv("{0} input channels do not split into {1} units of {2}",
                      k, layout.units, layout.inner)
            .str());
  if (static_cast<int64_t>(w.size()) != k * n)
    return llvm::createStringError("weight size does not match its shape");
  if (score != UnitScore::Magnitude) {
    if (!stats)
      return llvm::createStringError("no calibration statistics for the "
                                     "layer");
    if (stats->channels != k)
      return llvm::createStringError(
          llvm::formatv("the statistics have {0} channels, the layer {1}",
                        stats->channels, k)
              .str());
    if (score == UnitScore::Fluctuation && stats->mean.empty())
      return llvm::createStringError(
          "the statistics file has no signed means (written by an older "
          "slim-run --calibrate: calibrate again)");
  }
  std::vector<double> scores(k, 0.0);
  for (int64_t c = 0; c < k; ++c) {
    double norm2 = 0;
    for (int64_t j = 0; j < n; ++j)
      norm2 += double(w[c * n + j]) * w[c * n + j];
    double s = norm2;
    if (score != UnitScore::Magnitude) {
      double second = stats->xtx[c * k + c];
      if (!std::isfinite(second))
        return llvm::createStringError(
            llvm::formatv("non-finite statistics at input channel {0}", c)
                .str());
      if (score == UnitScore::Wanda) {
        s = std::sqrt(norm2) * std::sqrt(std::max(second, 0.0));
      } else {
        double mean = stats->mean[c];
        s = std::max(second - mean * mean, 0.0) * norm2;
      }
    }
    scores[c] = s;
  }
  return scores;
}

UnitGroup mlir::slim::makeUnitGroup(llvm::ArrayRef<double> channelScores,
                                    UnitLayout layout, int64_t paramsPerUnit,
                                    bool attention) {
  UnitGroup g;
  g.paramsPerUnit = paramsPerUnit;
  g.attention = attention;
  g.scores.assign(layout.units, 0.0);
  double sum = 0, sum2 = 0;
  for (size_t c = 0; c < channelScores.size(); ++c) {
    g.scores[layout.getUnit(c)] += channelScores[c];
    sum += channelScores[c];
    sum2 += channelScores[c] * channelScores[c];
  }
  double perUnit = double(channelScores.size()) / layout.units;
  for (double &s : g.scores)
    s /= perUnit;
  double count = std::max<double>(channelScores.size(), 1);
  g.channelMean = sum / count;
  g.channelStd =
      std::sqrt(std::max(sum2 / count - g.channelMean * g.channelMean, 0.0));
  return g;
}

std::vector<std::vector<int64_t>>
mlir::slim::allocateUnits(llvm::ArrayRef<UnitGroup> groups, double fraction,
                          UnitAllocation allocation) {
  std::vector<std::vector<bool>> removed(groups.size());
  for (size_t g = 0; g < groups.size(); ++g)
    removed[g].assign(groups[g].scores.size(), false);
  // Units in ascending order of score within each group.
  auto order = [](const std::vector<double> &s) {
    std::vector<int64_t> idx(s.size());
    std::iota(idx.begin(), idx.end(), 0);
    std::stable_sort(idx.begin(), idx.end(),
                     [&](int64_t a, int64_t b) { return s[a] < s[b]; });
    return idx;
  };
  if (allocation == UnitAllocation::Uniform) {
    for (size_t g = 0; g < groups.size(); ++g) {
      int64_t units = groups[g].scores.size();
      int64_t drop = std::min<int64_t>(std::llround(fraction * units),
                                       std::max<int64_t>(units - 1, 0));
      std::vector<int64_t> idx = order(groups[g].scores);
      for (int64_t i = 0; i < drop; ++i)
        removed[g][idx[i]] = true;
    }
  } else {
    // Standardize per group, then remove the lowest across all groups.
    struct Candidate {
      double z;
      size_t group;
      int64_t unit;
    };
    std::vector<Candidate> all;
    for (size_t g = 0; g < groups.size(); ++g) {
      const UnitGroup &ug = groups[g];
      for (size_t u = 0; u < ug.scores.size(); ++u)
        all.push_back({ug.channelStd > 0
                           ? (ug.scores[u] - ug.channelMean) / ug.channelStd
                           : 0.0,
                       g, static_cast<int64_t>(u)});
    }
    std::stable_sort(
        all.begin(), all.end(),
        [](const Candidate &a, const Candidate &b) { return a.z < b.z; });
    double total = 0;
    for (const UnitGroup &g : groups)
      total += double(g.paramsPerUnit) * g.scores.size();
    double target = fraction * total, done = 0;
    std::vector<int64_t> left(groups.size());
    for (size_t g = 0; g < groups.size(); ++g)
      left[g] = groups[g].scores.size();
    for (const Candidate &c : all) {
      if (done >= target)
        break;
      double p = groups[c.group].paramsPerUnit;
      // Skip a unit that would overshoot by more than it leaves undone.
      if (left[c.group] <= 1 || done + p - target > target - done)
        continue;
      removed[c.group][c.unit] = true;
      --left[c.group];
      done += p;
    }
  }
  // Round each group's kept count to its multiple: units come back (best
  // first) or go (worst first) to the nearest multiple.
  for (size_t g = 0; g < groups.size(); ++g) {
    int64_t m = std::max<int64_t>(groups[g].multiple, 1);
    int64_t units = removed[g].size();
    if (m == 1 || units < m)
      continue;
    int64_t keep = 0;
    for (bool r : removed[g])
      keep += !r;
    int64_t target =
        std::clamp<int64_t>((keep + m / 2) / m * m, m, units / m * m);
    std::vector<int64_t> idx = order(groups[g].scores);
    for (int64_t i = units - 1; i >= 0 && keep < target; --i)
      if (removed[g][idx[i]]) {
        removed[g][idx[i]] = false;
        ++keep;
      }
    for (int64_t i = 0; i < units && keep > target; ++i)
      if (!removed[g][idx[i]]) {
        removed[g][idx[i]] = true;
        --keep;
      }
  }
  std::vector<std::vector<int64_t>> kept(groups.size());
  for (size_t g = 0; g < groups.size(); ++g)
    for (size_t u = 0; u < removed[g].size(); ++u)
      if (!removed[g][u])
        kept[g].push_back(u);
  return kept;
}

std::vector<float> mlir::slim::compensationBias(
    llvm::ArrayRef<float> w, int64_t k, int64_t n, UnitLayout layout,
    llvm::ArrayRef<int64_t> keptUnits, llvm::ArrayRef<float> mean) {
  std::vector<bool> keep(layout.units, false);
  for (int64_t u : keptUnits)
    keep[u] = true;
  std::vector<double> bias(n, 0.0);
  for (int64_t c = 0; c < k; ++c) {
    if (keep[layout.getUnit(c)] || mean[c] == 0.0f)
      continue;
    for (int64_t j = 0; j < n; ++j)
      bias[j] += double(mean[c]) * w[c * n + j];
  }
  return std::vector<float>(bias.begin(), bias.end());
}
