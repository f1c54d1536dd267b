//===- ChannelGroups.h - Dimensions that structured pruning shrinks -*- C++
//-*-===//
//
// Part of the Slim project, under the Apache License v2.0 with LLVM Exceptions.
// SPDX-License-Identifier: Apache-2.0 WITH LLVM-exception
//
//===----------------------------------------------------------------------===//
//
// Structured pruning removes whole output channels of some linear layers
// (the producers) together with everything computed from them, down to
// the input channels of the layers that contract them away (the
// consumers): query/key/value heads down to the output projection, gate/up
// channels down to the down projection. A channel group is that set of
// tensor dimensions, found by following the channels through the IR from
// one producer in both directions:
//
// - through `linalg` structured ops by their indexing maps (elementwise
//   ops, broadcasts, transposes, the attention products' batch dimension),
//   refusing reductions over the channels except a consumer's contraction
//   and any body that reads `linalg.index` of them;
// - through `tensor.expand_shape`/`collapse_shape`, where the channels may
//   split into heads x head_dim or merge into batch x heads: each dimension
//   carries its channels as `units` units of `inner` elements (a factor of
//   the dimension), and a split that would cut a unit makes the units
//   coarser (a key/value head with its query heads under grouped-query
//   attention, not a single channel);
// - through `tensor.concat` and full `tensor.extract_slice`s along other
//   dimensions (RoPE's halves, the KV cache), `linalg.softmax` over another
//   dimension, and the function's arguments and results (the KV cache's
//   head dimension: the pruned model takes and returns fewer heads).
//
// Anything else touching the channels (a reduction such as a norm over
// them, a gather, a reshape through a shape tensor) makes the group
// unprunable, with the reason. Constants and `tensor.empty`s along the
// way are sliced or resized per use.
//
//===----------------------------------------------------------------------===//

#ifndef SLIM_PASSES_TRANSFORMS_CHANNELGROUPS_H
#define SLIM_PASSES_TRANSFORMS_CHANNELGROUPS_H

#include "passes/Transforms/LinearLayers.h"

#include "mlir/IR/Value.h"
#include "llvm/ADT/MapVector.h"

#include <string>

namespace mlir::slim {

/// A dimension's index space as (outer, unit, inner): `units` units of
/// `inner` consecutive elements, repeated over the outer part.
struct ChannelFactor {
  int64_t units = 0;
  int64_t inner = 1;
  bool operator==(const ChannelFactor &o) const {
    return units == o.units && inner == o.inner;
  }
};

struct ChannelGroup {
  /// Every value dimension carrying the channels (values are changed in
  /// place by `shrinkChannelGroup`).
  llvm::MapVector<std::pair<Value, unsigned>, ChannelFactor> dims;
  /// Operands defined by constants or tensor.empty, with the dimension and
  /// factor of the channels: sliced or resized per use.
  SmallVector<std::tuple<OpOperand *, unsigned, ChannelFactor>> leaves;
  /// Linear layers whose output channels (weight dim 1) are in the group,
  /// and those contracting them (weight dim 0), with the factor on that
  /// weight dimension.
  SmallVector<std::pair<LinearLayer, ChannelFactor>> producers, consumers;
  /// Whether the channels pass through a batched product (attention).
  bool attention = false;
  int64_t units = 0;

  /// Weights of all the group's linear layers.
  int64_t countParams() const;
};

/// The group of `seed`'s output channels, or the reason it cannot be
/// pruned. `layers` are the module's linear layers (to recognize
/// producers and consumers).
FailureOr<ChannelGroup> findChannelGroup(const LinearLayer &seed,
                                         ArrayRef<LinearLayer> layers,
                                         std::string &why);

/// Keeps `keptUnits` (ascending) of the group: slices the constants,
/// resizes every value and op along the channels, and updates the
/// function's signature where the channels reach it.
LogicalResult shrinkChannelGroup(ChannelGroup &group,
                                 ArrayRef<int64_t> keptUnits);

} // namespace mlir::slim

#endif // SLIM_PASSES_TRANSFORMS_CHANNELGROUPS_H
