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

/// a * b, folded where both are constants.
OpFoldResult mul(IRRewriter &rewriter, Location loc, OpFoldResult a,
                 OpFoldResult b) {
  std::optional<int64_t> ca = getConstantIntValue(a);
  std::optional<int64_t> cb = getConstantIntValue(b);
  if (ca && cb)
    return rewriter.getIndexAttr(*ca * *cb);
  if (ca == 1)
    return b;
  if (cb == 1)
    return a;
  return arith::MulIOp::create(rewriter, loc,
                               getValueOrCreateConstantIndexOp(rewriter, loc, a),
                               getValueOrCreateConstantIndexOp(rewriter, loc, b))
      .getResult();
}

/// The reinterpret_cast `op` stands for: the source's offset, the output
/// sizes, and in each reassociation group strides that are the suffix
/// products of the group's sizes times the stride of the source dimension
/// the group splits (for the identity layout: the suffix products of all
/// sizes, offset 0). Where the result type has a static stride or offset,
/// that value is used (the verifier of expand_shape has checked it).
void lowerExpandShape(IRRewriter &rewriter, memref::ExpandShapeOp op) {
  rewriter.setInsertionPoint(op);
  Location loc = op.getLoc();
  MemRefType srcType = op.getSrcType(), resultType = op.getResultType();
  SmallVector<OpFoldResult> sizes = op.getMixedOutputShape();
  SmallVector<OpFoldResult> strides(sizes.size());
  OpFoldResult offset = rewriter.getIndexAttr(0);
  auto [resultStrides, resultOffset] = resultType.getStridesAndOffset();
  if (srcType.getLayout().isIdentity()) {
    // Row-major strides: the suffix products of the sizes.
    OpFoldResult running = rewriter.getIndexAttr(1);
    for (int64_t d = static_cast<int64_t>(sizes.size()) - 1; d >= 0; --d) {
      strides[d] = running;
      if (d > 0)
        running = mul(rewriter, loc, running, sizes[d]);
    }
  } else {
    auto [srcStrides, srcOffset] = srcType.getStridesAndOffset();
    memref::ExtractStridedMetadataOp metadata;
    auto getMetadata = [&] {
      if (!metadata)
        metadata =
            memref::ExtractStridedMetadataOp::create(rewriter, loc, op.getSrc());
      return metadata;
    };
    for (auto [g, group] : llvm::enumerate(op.getReassociationIndices())) {
      OpFoldResult running =
          ShapedType::isDynamic(srcStrides[g])
              ? OpFoldResult(getMetadata().getStrides()[g])
              : OpFoldResult(rewriter.getIndexAttr(srcStrides[g]));
      for (int64_t d : llvm::reverse(group)) {
        strides[d] = running;
        if (d != group.front())
          running = mul(rewriter, loc, running, sizes[d]);
      }
    }
    offset = ShapedType::isDynamic(srcOffset)
                 ? OpFoldResult(getMetadata().getOffset())
                 : OpFoldResult(rewriter.getIndexAttr(srcOffset));
  }
  for (auto [d, stride] : llvm::enumerate(resultStrides))
    if (!ShapedType::isDynamic(stride))
      strides[d] = rewriter.getIndexAttr(stride);
  if (!ShapedType::isDynamic(resultOffset))
    offset = rewriter.getIndexAttr(resultOffset);
  rewriter.replaceOpWithNewOp<memref::ReinterpretCastOp>(
      op, resultType, op.getSrc(), offset, sizes, strides);
}

struct SlimLowerExpandShapePass
    : slim::impl::SlimLowerExpandShapePassBase<SlimLowerExpandShapePass> {
  void runOnOperation() override {
    SmallVector<memref::ExpandShapeOp> ops;
    getOperation().walk([&](memref::ExpandShapeOp op) {
      MemRefType src = op.getSrcType();
      if (src.getLayout().isIdentity() || src.isStrided())
        ops.push_back(op);
    });
    IRRewriter rewriter(&getContext());
    for (memref::ExpandShapeOp op : ops)
      lowerExpandShape(rewriter, op);
  }
};
} // namespace
