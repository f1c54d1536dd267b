//===- ModelSegments.h - Cut a model into consecutive runnable parts ------===//
//
// Part of the Slim project, under the Apache License v2.0 with LLVM Exceptions.
// SPDX-License-Identifier: Apache-2.0 WITH LLVM-exception
//
//===----------------------------------------------------------------------===//
//
// Sequential calibration runs a model one part at a time: part l on the
// calibration samples, its layers compressed, then the compressed part's
// results fed to part l+1. The parts are found in the imported model's
// entry function (tensors, one block) from its structure alone:
//
// * a value is on the *stream* when it depends on a linear layer's result
//   (the residual stream of a decoder and everything computed from it);
// * a *cut* is a point between two operations where at most one stream
//   tensor is live (read by an operation after the point). In a decoder
//   these are the residual sums between attention and MLP and between
//   blocks; no exporter's names are consulted.
// * one cut is taken after each run of linear layers, where the next layer
//   reads the stream (never between layers reading one value computed
//   from the inputs alone, as the first block's q/k/v do), so every part
//   holds at least one layer and the first holds the embedding too.
//
// A part's inputs are the values it reads that earlier parts (or the
// function's arguments) define; constants and what is computed from
// constants alone are cloned instead. Values only the function's results
// read (the logits, a prefill's KV cache) are nobody's output: calibration
// does not need them.
//
//===----------------------------------------------------------------------===//

#ifndef SLIM_PASSES_TRANSFORMS_MODELSEGMENTS_H
#define SLIM_PASSES_TRANSFORMS_MODELSEGMENTS_H

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/IR/BuiltinOps.h"
#include "mlir/IR/OwningOpRef.h"

#include <string>

namespace mlir::slim {

struct ModelSegment {
  /// Operations [begin, end) of the entry block (terminator excluded).
  size_t begin = 0, end = 0;
  /// Values defined before the segment (or function arguments) it reads,
  /// in order of first use.
  SmallVector<Value> inputs;
  /// Values the segment defines that later segments read.
  SmallVector<Value> outputs;
  /// Names of the linear layers it holds, in order.
  SmallVector<std::string> layers;
};

struct SegmentPlan {
  func::FuncOp func;
  /// The entry block's operations without the terminator.
  SmallVector<Operation *> ops;
  SmallVector<ModelSegment> segments;
};

/// Cuts `func` (one block, tensor semantics) at the cuts described above;
/// with `cut` false the plan has one segment: the whole function, its
/// arguments as inputs and no outputs (one-shot calibration). Fails, with
/// an error on `func`, when it has no linear layer.
FailureOr<SegmentPlan> planSegments(func::FuncOp func, bool cut);

/// A module with one function, named as the plan's, computing segment `index`
/// of `plan`: its arguments are the segment's inputs, its results (when
/// `withOutputs`) the segment's outputs. Scalars cross as rank-0 tensors
/// (index as i64), since compiled models take and return tensors.
OwningOpRef<ModuleOp> buildSegmentModule(const SegmentPlan &plan, size_t index,
                                         bool withOutputs);

/// The element type a value crosses a cut as: the value's own tensor type,
/// or a rank-0 tensor of a scalar (index as i64).
RankedTensorType getCrossingType(Value value);

} // namespace mlir::slim

#endif // SLIM_PASSES_TRANSFORMS_MODELSEGMENTS_H
