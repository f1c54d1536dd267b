//===- DecomposeAggregateOps.cpp - Expand linalg aggregate ops ------------===//
//
// Part of the Slim project, under the Apache License v2.0 with LLVM Exceptions.
// SPDX-License-Identifier: Apache-2.0 WITH LLVM-exception
//
//===----------------------------------------------------------------------===//

#include "passes/Transforms/Passes.h"

#include "mlir/Dialect/Linalg/IR/LinalgInterfaces.h"
#include "mlir/IR/PatternMatch.h"

namespace mlir::slim {
#define GEN_PASS_DEF_SLIMDECOMPOSEAGGREGATEOPSPASS
#include "passes/Transforms/Passes.h.inc"
} // namespace mlir::slim

using namespace mlir;

namespace {
struct SlimDecomposeAggregateOpsPass
    : slim::impl::SlimDecomposeAggregateOpsPassBase<
          SlimDecomposeAggregateOpsPass> {
  using Base::Base;
  void runOnOperation() override {
    SmallVector<linalg::AggregatedOpInterface> ops;
    getOperation().walk([&](linalg::AggregatedOpInterface op) {
      if (!(keepSoftmax && slim::isKernelSoftmax(op)))
        ops.push_back(op);
    });
    IRRewriter rewriter(&getContext());
    for (linalg::AggregatedOpInterface op : ops) {
      rewriter.setInsertionPoint(op);
      FailureOr<SmallVector<Value>> parts = op.decomposeOperation(rewriter);
      if (failed(parts)) {
        op->emitError("cannot decompose this aggregate op");
        return signalPassFailure();
      }
      rewriter.replaceOp(op, *parts);
    }
  }
};
} // namespace

bool mlir::slim::isKernelSoftmax(Operation *op) {
  auto softmax = dyn_cast<linalg::SoftmaxOp>(op);
  if (!softmax)
    return false;
  auto type = dyn_cast<ShapedType>(softmax.getInput().getType());
  auto outType = dyn_cast<ShapedType>(softmax.getOutput().getType());
  return type && outType && type.hasRank() && type.getRank() >= 1 &&
         type.getElementType().isF32() && outType.getElementType().isF32() &&
         static_cast<int64_t>(softmax.getDimension()) == type.getRank() - 1;
}
