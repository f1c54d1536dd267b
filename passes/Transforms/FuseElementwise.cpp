//===- FuseElementwise.cpp - Fuse elementwise producers into consumers ----===//
//
// Part of the Slim project, under the Apache License v2.0 with LLVM Exceptions.
// SPDX-License-Identifier: Apache-2.0 WITH LLVM-exception
//
//===----------------------------------------------------------------------===//
//
// Upstream's --linalg-fuse-elementwise-ops also propagates reshapes through
// linalg ops, which turns named matmuls into generics and loses their BLAS
// lowering. This pass applies only the producer-consumer fusion of
// elementwise linalg.generic ops, so named ops stay as they are.
//
//===----------------------------------------------------------------------===//

#include "passes/Transforms/Passes.h"

#include "mlir/Dialect/Linalg/Transforms/Transforms.h"
#include "mlir/Transforms/GreedyPatternRewriteDriver.h"

namespace mlir::slim {
#define GEN_PASS_DEF_SLIMFUSEELEMENTWISEPASS
#include "passes/Transforms/Passes.h.inc"
} // namespace mlir::slim

using namespace mlir;

namespace {
struct SlimFuseElementwisePass
    : slim::impl::SlimFuseElementwisePassBase<SlimFuseElementwisePass> {
  void runOnOperation() override {
    RewritePatternSet patterns(&getContext());
    slim::populateFuseElementwisePatterns(patterns);
    if (failed(applyPatternsGreedily(getOperation(), std::move(patterns))))
      signalPassFailure();
  }
};
} // namespace

void mlir::slim::populateFuseElementwisePatterns(RewritePatternSet &patterns) {
  // Fuse a producer only into its single consumer: a value read by several
  // ops is computed once instead of once per reader.
  linalg::populateElementwiseOpsFusionPatterns(
      patterns, [](OpOperand *fused) {
        Operation *producer = fused->get().getDefiningOp();
        return producer && isa<linalg::GenericOp>(producer) &&
               producer->hasOneUse();
      });
  linalg::populateEraseUnnecessaryInputsPatterns(patterns);
  linalg::GenericOp::getCanonicalizationPatterns(patterns, patterns.getContext());
  tensor::EmptyOp::getCanonicalizationPatterns(patterns, patterns.getContext());
}
