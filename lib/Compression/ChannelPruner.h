//===- ChannelPruner.h - Structured pruning of heads and channels -*- C++
//-*-===//
//
// Part of the Slim project, under the Apache License v2.0 with LLVM Exceptions.
// SPDX-License-Identifier: Apache-2.0 WITH LLVM-exception
//
//===----------------------------------------------------------------------===//
//
// The numerical side of structured pruning: a model's prunable groups
// (the attention heads between the query/key/value projections and the
// output projection, the intermediate channels between gate/up and down)
// are found on the IR (passes/Transforms/ChannelGroups); here each group
// is a number of interchangeable units, each unit a set of input channels
// of the group's consumer layer(s). This file scores the units from the
// consumer's weight and calibration inputs, chooses which to keep across
// all groups, and computes FLAP's bias compensation.
//
// Unit layout: a consumer weight [K, N] (K input channels, row-major) whose
// K channels split as (outer, unit, inner) with `units` units of `inner`
// channels: channel c belongs to unit (c / inner) % units. An attention
// group of H/G query heads per key/value head has units = G key/value
// heads and inner = (H/G) * head_dim; an MLP group units = intermediate
// channels and inner = 1.
//
//===----------------------------------------------------------------------===//

#ifndef SLIM_LIB_COMPRESSION_CHANNELPRUNER_H
#define SLIM_LIB_COMPRESSION_CHANNELPRUNER_H

#include "lib/Compression/CalibrationStats.h"

#include "llvm/ADT/ArrayRef.h"
#include "llvm/Support/Error.h"

#include <cstdint>
#include <string>
#include <vector>

namespace mlir::slim {

/// How a unit's importance is measured on its consumer's input channels c
/// and weight rows W[c, :].
enum class UnitScore {
  /// sum_c ||W[c, :]||^2 (no statistics).
  Magnitude,
  /// sum_c ||W[c, :]|| * ||x_c|| (Wanda's criterion per channel, as FLAP's
  /// "Wanda-sp" baseline).
  Wanda,
  /// FLAP (An et al., 2024): sum_c Var(x_c) * ||W[c, :]||^2, the
  /// fluctuation of the channel's input; removed channels' means are
  /// folded into a bias (`compensationBias`).
  Fluctuation,
};

/// How many units each group keeps.
enum class UnitAllocation {
  /// The same fraction of units removed in every group.
  Uniform,
  /// FLAP's adaptive structure: each group's unit scores standardized by
  /// its channel scores' mean and deviation, then ranked across all
  /// groups (attention and MLP together), so layers whose channels are
  /// uneven lose more and layers whose channels all matter keep more.
  Global,
};

/// The channels of unit layout (units, inner) over `channels` inputs.
struct UnitLayout {
  int64_t units = 0;
  int64_t inner = 1;

  /// The unit of input channel `c`.
  int64_t getUnit(int64_t c) const { return (c / inner) % units; }
  /// The input channels of the kept units, in order, out of `channels`.
  std::vector<int64_t> keptChannels(int64_t channels,
                                    llvm::ArrayRef<int64_t> keptUnits) const;
};

/// Importance of each input channel of one consumer weight `w` [k, n]
/// (row-major, row = input channel); `layout` is checked against k.
/// `stats` are the consumer's calibration inputs (required by Wanda and
/// Fluctuation; Fluctuation also needs the signed mean). Errors name what
/// is missing.
llvm::Expected<std::vector<double>>
scoreChannels(llvm::ArrayRef<float> w, int64_t k, int64_t n, UnitLayout layout,
              const InputStats *stats, UnitScore score);

/// One group as the allocation sees it.
struct UnitGroup {
  /// Importance per unit: the mean of its channels' scores (higher =
  /// keep).
  std::vector<double> scores;
  /// Mean and standard deviation of the group's channel scores: FLAP
  /// standardizes each layer's scores by them before ranking globally.
  double channelMean = 0, channelStd = 0;
  /// Weights removed with one unit (all the group's layers together).
  int64_t paramsPerUnit = 0;
  bool attention = false;
  /// The kept units are rounded to a multiple of this (when the group has
  /// at least that many), after the allocation.
  int64_t multiple = 1;
};

/// The group of `channelScores` (one per consumer input channel) under
/// `layout`.
UnitGroup makeUnitGroup(llvm::ArrayRef<double> channelScores, UnitLayout layout,
                        int64_t paramsPerUnit, bool attention);

/// The kept units of every group (ascending), removing about `fraction` of
/// the groups' parameters; every group keeps at least one unit.
std::vector<std::vector<int64_t>>
allocateUnits(llvm::ArrayRef<UnitGroup> groups, double fraction,
              UnitAllocation allocation);

/// FLAP's bias compensation for a consumer `w` [k, n]: the removed input
/// channels' contribution at their calibration mean, sum_c mean[c] *
/// W[c, :] over removed c, so that the pruned layer's output keeps the
/// expected value. `mean` has k entries.
std::vector<float> compensationBias(llvm::ArrayRef<float> w, int64_t k,
                                    int64_t n, UnitLayout layout,
                                    llvm::ArrayRef<int64_t> keptUnits,
                                    llvm::ArrayRef<float> mean);

} // namespace mlir::slim

#endif // SLIM_LIB_COMPRESSION_CHANNELPRUNER_H
