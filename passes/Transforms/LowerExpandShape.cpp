//===- LowerExpandShape.cpp - expand_shape as reinterpret_cast -----------===//
//
// Part of the Slim project, under the Apache License v2.0 with LLVM Exceptions.
// SPDX-License-Identifier: Apache-2.0 WITH LLVM-exception
//
//===----------------------------------------------------------------------===//

#include "passes/Transforms/Passes.h"

#include "mlir/Dialect/Arith/Utils/Utils.h"
#include "mlir/Dialect/Utils/StaticValueUtils.h"
#include "mlir/IR/PatternMatch.h"

namespace mlir::slim {
#define GEN_PASS_DEF_SLIMLOWEREXPANDSHAPEPASS
#include "passes/Transforms/Passes.h.inc"
} // namespace mlir::slim

using namespace mlir;

namespace {
struct SlimLowerExpandShapePass
    : slim::impl::SlimLowerExpandShapePassBase<SlimLowerExpandShapePass> {
  void runOnOperation() override {
    SmallVector<memref::ExpandShapeOp> ops;
    getOperation().walk([&](memref::ExpandShapeOp op) {
      if (op.getSrcType().getLayout().isIdentity() &&
          op.getResultType().getLayout().isIdentity())
        ops.push_back(op);
    });
    IRRewriter rewriter(&getContext());
    for (memref::ExpandShapeOp op : ops) {
      rewriter.setInsertionPoint(op);
      Location loc = op.getLoc();
      SmallVector<OpFoldResult> sizes = op.getMixedOutputShape();
      // Row-major strides: the suffix products of the sizes.
      SmallVector<OpFoldResult> strides(sizes.size());
      OpFoldResult running = rewriter.getIndexAttr(1);
      for (int64_t d = static_cast<int64_t>(sizes.size()) - 1; d >= 0; --d) {
        strides[d] = running;
        std::optional<int64_t> a = getConstantIntValue(running);
        std::optional<int64_t> b = getConstantIntValue(sizes[d]);
        if (a && b) {
          running = rewriter.getIndexAttr(*a * *b);
        } else {
          running = arith::MulIOp::create(
                        rewriter, loc,
                        getValueOrCreateConstantIndexOp(rewriter, loc, running),
                        getValueOrCreateConstantIndexOp(rewriter, loc, sizes[d]))
                        .getResult();
        }
      }
      rewriter.replaceOpWithNewOp<memref::ReinterpretCastOp>(
          op, op.getResultType(), op.getSrc(), rewriter.getIndexAttr(0), sizes,
          strides);
    }
  }
};
} // namespace
