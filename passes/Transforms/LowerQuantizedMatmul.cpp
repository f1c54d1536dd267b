//===- LowerQuantizedMatmul.cpp - Weight-quantized matmuls as ukernels ----===//
//
// Part of the Slim project, under the Apache License v2.0 with LLVM Exceptions.
// SPDX-License-Identifier: Apache-2.0 WITH LLVM-exception
//
//===----------------------------------------------------------------------===//

#include "passes/Conversion/Passes.h"
#include "passes/Transforms/KernelSelection.h"
#include "passes/Transforms/Passes.h"
#include "passes/Transforms/Utils.h"

#include "dialects/Slim/IR/SlimOps.h"

namespace mlir::slim {
#define GEN_PASS_DEF_SLIMLOWERQUANTIZEDMATMULPASS
#include "passes/Transforms/Passes.h.inc"
} // namespace mlir::slim

using namespace mlir;
using namespace mlir::slim;

namespace {

struct SlimLowerQuantizedMatmulPass
    : slim::impl::SlimLowerQuantizedMatmulPassBase<
          SlimLowerQuantizedMatmulPass> {
  using Base::Base;

  void runOnOperation() override {
    SmallVector<MatmulOp> ops;
    getOperation().walk([&](MatmulOp op) { ops.push_back(op); });
    KernelSelectionOptions options;
    options.activations = activations;
    IRRewriter b(&getContext());
    for (MatmulOp op : ops) {
      std::string reason;
      FailureOr<QuantizedMatmulKernel> kernel =
          selectQuantizedMatmulKernel(op, options, reason);
      if (failed(kernel)) {
        if (reportFallbacks)
          op.emitRemark("reference lowering: ") << reason;
        continue;
      }
      auto assemble = op.getRhs().getDefiningOp<AssembleOp>();
      auto quantize = op.getLhs().getDefiningOp<QuantizeActivationOp>();
      b.setInsertionPoint(op);
      Location loc = op.getLoc();
      auto resultType = cast<RankedTensorType>(op.getResult().getType());
      // Activations of rank > 2 (an imported MatMulNBits keeps [batch,
      // sequence, K]) as rows [batch * sequence, K], the result expanded
      // back.
      Value lhs = collapseToRows(b, loc, kernel->activation);
      auto rowsType = cast<RankedTensorType>(lhs.getType());
      auto flatType = RankedTensorType::get(
          {rowsType.getDimSize(0), resultType.getShape().back()},
          resultType.getElementType());
      SmallVector<Value> dyn;
      if (flatType.isDynamicDim(0))
        dyn.push_back(tensor::DimOp::create(b, loc, lhs, 0));
      Value init = tensor::EmptyOp::create(b, loc, flatType, dyn);
      // lib/Runtime/KernelAbi.h: x, storage..., scalars...; y.
      SmallVector<Value> inputs{lhs};
      llvm::append_range(inputs, kernel->storage);
      if (kernel->codeTable)
        inputs.push_back(buildCodeTable(b, loc, kernel->quant,
                                        kernel->quantStorage));
      for (auto [value, width] : kernel->scalars)
        inputs.push_back(arith::ConstantIntOp::create(b, loc, value, width));
      Value result = UKernelOp::create(b, loc, TypeRange{flatType},
                                       b.getStringAttr(kernel->callee), inputs,
                                       ValueRange{init})
                         .getResult(0);
      result = expandFromRows(b, loc, result, kernel->activation, resultType);
      b.replaceOp(op, result);
      if (assemble->use_empty())
        b.eraseOp(assemble);
      if (quantize && quantize->use_empty())
        b.eraseOp(quantize);
    }
  }
};

} // namespace
