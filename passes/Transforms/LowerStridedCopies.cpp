//===- LowerStridedCopies.cpp - Strided memref.copy as a linalg.copy -------===//
//
// Part of the Slim project, under the Apache License v2.0 with LLVM Exceptions.
// SPDX-License-Identifier: Apache-2.0 WITH LLVM-exception
//
//===----------------------------------------------------------------------===//
//
// finalize-memref-to-llvm lowers a memref.copy between identity-layout
// buffers to memcpy, and every other copy to a call of the generic
// `memrefCopy`, which moves one element at a time through a byte loop over
// descriptors. A KV-cache concatenation writes into a strided subview, so
// every decode step paid that for every layer. As a linalg.copy the copy
// becomes loops LLVM vectorizes.
//
//===----------------------------------------------------------------------===//

#include "passes/Transforms/Passes.h"

namespace mlir::slim {
#define GEN_PASS_DEF_SLIMLOWERSTRIDEDCOPIESPASS
#include "passes/Transforms/Passes.h.inc"
} // namespace mlir::slim

using namespace mlir;

namespace {
struct SlimLowerStridedCopiesPass
    : slim::impl::SlimLowerStridedCopiesPassBase<SlimLowerStridedCopiesPass> {
  void runOnOperation() override {
    SmallVector<memref::CopyOp> copies;
    getOperation().walk([&](memref::CopyOp op) {
      auto src = dyn_cast<MemRefType>(op.getSource().getType());
      auto dst = dyn_cast<MemRefType>(op.getTarget().getType());
      if (!src || !dst || src.getRank() == 0)
        return;
      if (src.getLayout().isIdentity() && dst.getLayout().isIdentity())
        return; // memcpy
      copies.push_back(op);
    });
    IRRewriter rewriter(&getContext());
    for (memref::CopyOp op : copies) {
      rewriter.setInsertionPoint(op);
      rewriter.replaceOpWithNewOp<linalg::CopyOp>(op, op.getSource(),
                                                  op.getTarget());
    }
  }
};
} // namespace
