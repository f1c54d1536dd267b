//===- PruneChannels.h - Structured pruning of heads and channels -*- C++
//-*-===//
//
// Part of the Slim project, under the Apache License v2.0 with LLVM Exceptions.
// SPDX-License-Identifier: Apache-2.0 WITH LLVM-exception
//
//===----------------------------------------------------------------------===//

#ifndef SLIM_PASSES_TRANSFORMS_PRUNECHANNELS_H
#define SLIM_PASSES_TRANSFORMS_PRUNECHANNELS_H

#include "lib/Compression/ChannelPruner.h"
#include "lib/Compression/Methods.h"

#include "mlir/IR/BuiltinOps.h"

#include <string>

#include "mlir/Pass/Pass.h"

#include <chrono>

namespace mlir::slim {

struct ChannelPruneOptions {
  const MethodInfo *method = nullptr;
  std::string pattern;
  /// Which groups: attention heads, MLP channels.
  bool heads = true, channels = true;
  /// Fraction of the pruned groups' weights removed.
  double sparsity = 0.2;
  UnitAllocation allocation = UnitAllocation::Global;
  /// FLAP's bias compensation (needs the statistics' signed means).
  bool compensate = false;
  /// Kept consumer input channels per group rounded to a multiple of this.
  int64_t channelMultiple = 1;
  std::string layers, exclude, statsFile, reportFile;
  bool allowEmpty = false;
  bool progress = false;
  /// The pass, for the report's recipe, and when it started.
  Pass *pass = nullptr;
  std::chrono::steady_clock::time_point start;
};

/// Structured pruning of `module` (see `--slim-prune`); errors are emitted.
LogicalResult pruneChannels(ModuleOp module,
                            const ChannelPruneOptions &options);

} // namespace mlir::slim

#endif // SLIM_PASSES_TRANSFORMS_PRUNECHANNELS_H
