//===- LowerUKernels.cpp - slim.ukernel on memrefs as function calls ------===//
//
// Part of the Slim project, under the Apache License v2.0 with LLVM Exceptions.
// SPDX-License-Identifier: Apache-2.0 WITH LLVM-exception
//
//===----------------------------------------------------------------------===//

#include "passes/Transforms/Passes.h"
#include "passes/Transforms/Utils.h"

#include "dialects/Slim/IR/SlimOps.h"

namespace mlir::slim {
#define GEN_PASS_DEF_SLIMLOWERUKERNELSPASS
#include "passes/Transforms/Passes.h.inc"
} // namespace mlir::slim

using namespace mlir;
using namespace mlir::slim;

namespace {

struct SlimLowerUKernelsPass
    : slim::impl::SlimLowerUKernelsPassBase<SlimLowerUKernelsPass> {
  void runOnOperation() override {
    ModuleOp module = getOperation();
    SmallVector<UKernelOp> ops;
    WalkResult walk = module.walk([&](UKernelOp op) {
      if (!op.hasBufferSemantics()) {
        op.emitOpError("expected memref operands: run bufferization before "
                       "--slim-lower-ukernels");
        return WalkResult::interrupt();
      }
      ops.push_back(op);
      return WalkResult::advance();
    });
    if (walk.wasInterrupted())
      return signalPassFailure();
    IRRewriter b(&getContext());
    for (UKernelOp op : ops) {
      b.setInsertionPoint(op);
      SmallVector<Value> args;
      SmallVector<Type> types;
      for (Value v : op->getOperands()) {
        if (auto type = dyn_cast<MemRefType>(v.getType())) {
          MemRefType dynamic =
              getFullyDynamicStridedType(type.getElementType(), type.getRank());
          if (type != dynamic)
            v = memref::CastOp::create(b, op.getLoc(), dynamic, v);
        }
        args.push_back(v);
        types.push_back(v.getType());
      }
      FunctionType type = b.getFunctionType(types, {});
      func::FuncOp callee =
          getOrDeclareRuntimeFunction(module, op.getCallee(), type);
      if (callee.getFunctionType() != type) {
        op.emitOpError("calls '")
            << op.getCallee() << "' with type " << type
            << ", but the module declares it as " << callee.getFunctionType();
        return signalPassFailure();
      }
      func::CallOp::create(b, op.getLoc(), callee, args);
      b.eraseOp(op);
    }
  }
};

} // namespace
