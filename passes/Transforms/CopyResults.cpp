//===- CopyResults.cpp - Fresh result buffers -----------------------------===//
//
// Part of the Slim project, under the Apache License v2.0 with LLVM Exceptions.
// SPDX-License-Identifier: Apache-2.0 WITH LLVM-exception
//
//===----------------------------------------------------------------------===//

#include "passes/Transforms/Passes.h"

#include "mlir/Dialect/Tensor/IR/Tensor.h"
#include "llvm/ADT/SmallPtrSet.h"

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
    // The caller's inputs are read-only: bufferization must not reuse them.
    for (unsigned i = 0; i < func.getNumArguments(); ++i)
      if (isa<TensorType>(func.getArgument(i).getType()))
        func.setArgAttr(i, "bufferization.writable",
                        BoolAttr::get(&getContext(), false));
    func.walk([&](func::ReturnOp ret) {
      OpBuilder b(ret);
      llvm::SmallPtrSet<Value, 8> returned;
      for (OpOperand &operand : ret->getOpOperands()) {
        if (!isa<RankedTensorType>(operand.get().getType()))
          continue;
        // Computed values get fresh buffers anyway; copy only what could
        // alias an argument, a constant or another result.
        Value root = operand.get();
        while (Operation *def = root.getDefiningOp()) {
          if (isa<tensor::CastOp, tensor::ExpandShapeOp,
                  tensor::CollapseShapeOp, tensor::ExtractSliceOp,
                  tensor::ReshapeOp>(def))
            root = def->getOperand(0);
          else
            break;
        }
        Operation *def = root.getDefiningOp();
        bool aliases = !def || isa<arith::ConstantOp, bufferization::ToTensorOp>(def) ||
                       !returned.insert(root).second;
        if (!aliases)
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
