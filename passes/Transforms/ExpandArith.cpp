//===- ExpandArith.cpp - The arith expansions LLVM lowering needs ---------===//
//
// Part of the Slim project, under the Apache License v2.0 with LLVM Exceptions.
// SPDX-License-Identifier: Apache-2.0 WITH LLVM-exception
//
//===----------------------------------------------------------------------===//
//
// Upstream's --arith-expand also rewrites maximumf/minimumf (and the maxnum
// and minnum forms) as compare-and-select chains. LLVM vectorizes a max
// reduction written with the llvm.maximum intrinsic, which
// --convert-arith-to-llvm emits, but not the select chain, so the softmax
// maxima of attention stayed scalar. This pass expands only what has no
// LLVM lowering: ceil/floor division and bf16 conversions.
//
//===----------------------------------------------------------------------===//

#include "passes/Transforms/Passes.h"

#include "mlir/Dialect/Arith/Transforms/Passes.h"
#include "mlir/Transforms/GreedyPatternRewriteDriver.h"

namespace mlir::slim {
#define GEN_PASS_DEF_SLIMEXPANDARITHPASS
#include "passes/Transforms/Passes.h.inc"
} // namespace mlir::slim

using namespace mlir;

namespace {
struct SlimExpandArithPass
    : slim::impl::SlimExpandArithPassBase<SlimExpandArithPass> {
  void runOnOperation() override {
    RewritePatternSet patterns(&getContext());
    arith::populateCeilFloorDivExpandOpsPatterns(patterns);
    arith::populateExpandBFloat16Patterns(patterns);
    if (failed(applyPatternsGreedily(getOperation(), std::move(patterns))))
      signalPassFailure();
  }
};
} // namespace
