//===- CopyResults.cpp - Fresh result buffers -----------------------------===//
//
// Part of the Slim project, under the Apache License v2.0 with LLVM Exceptions.
// SPDX-License-Identifier: Apache-2.0 WITH LLVM-exception
//
//===----------------------------------------------------------------------===//

#include "passes/Transforms/Passes.h"

namespace mlir::slim {
#define GEN_PASS_DEF_SLIMCOPYRESULTSPASS
#include "passes/Transforms/Passes.h.inc"
} // namespace mlir::slim

using namespace mlir;

namespace {
struct SlimCopyResultsPass
    : slim::impl::SlimCopyResultsPassBase<SlimCopyResultsPass> {
  void runOnOperation() override {
    func::FuncOp func = getOperation();
    if (!func.isPublic() || func.isExternal())
      return;
    func.walk([&](func::ReturnOp ret) {
      OpBuilder b(ret);
      for (OpOperand &operand : ret->getOpOperands()) {
        if (!isa<RankedTensorType>(operand.get().getType()))
          continue;
        auto copy = bufferization::AllocTensorOp::create(
            b, ret.getLoc(), cast<RankedTensorType>(operand.get().getType()),
            ValueRange{}, operand.get());
        operand.set(copy);
      }
    });
  }
};
} // namespace
