//===- LowerSoftmax.cpp - f32 softmax rows as kernel calls ----------------===//
//
// Part of the Slim project, under the Apache License v2.0 with LLVM Exceptions.
// SPDX-License-Identifier: Apache-2.0 WITH LLVM-exception
//
//===----------------------------------------------------------------------===//

#include "passes/Transforms/Passes.h"
#include "passes/Transforms/Utils.h"

#include "mlir/IR/BuiltinTypes.h"
#include "mlir/IR/PatternMatch.h"

namespace mlir::slim {
#define GEN_PASS_DEF_SLIMLOWERSOFTMAXPASS
#include "passes/Transforms/Passes.h.inc"
} // namespace mlir::slim

using namespace mlir;

namespace {

struct SlimLowerSoftmaxPass
    : slim::impl::SlimLowerSoftmaxPassBase<SlimLowerSoftmaxPass> {
  void runOnOperation() override {
    ModuleOp module = getOperation();
    SmallVector<linalg::SoftmaxOp> ops;
    module.walk([&](linalg::SoftmaxOp op) {
      if (isa<MemRefType>(op.getInput().getType()) &&
          isa<MemRefType>(op.getOutput().getType()) &&
          slim::isKernelSoftmax(op))
        ops.push_back(op);
    });
    if (ops.empty())
      return;
    MLIRContext *ctx = &getContext();
    auto unranked = UnrankedMemRefType::get(Float32Type::get(ctx), 0);
    func::FuncOp callee = slim::getOrDeclareRuntimeFunction(
        module, "slim_rt_softmax_f32",
        FunctionType::get(ctx, {unranked, unranked}, {}));
    IRRewriter rewriter(ctx);
    for (linalg::SoftmaxOp op : ops) {
      rewriter.setInsertionPoint(op);
      Value in = memref::CastOp::create(rewriter, op.getLoc(), unranked,
                                        op.getInput());
      Value out = memref::CastOp::create(rewriter, op.getLoc(), unranked,
                                         op.getOutput());
      func::CallOp::create(rewriter, op.getLoc(), callee, ValueRange{in, out});
      rewriter.eraseOp(op);
    }
  }
};

} // namespace
