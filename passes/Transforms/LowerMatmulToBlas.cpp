//===- LowerMatmulToBlas.cpp - f32 matmuls as sgemm calls -----------------===//
//
// Part of the Slim project, under the Apache License v2.0 with LLVM Exceptions.
// SPDX-License-Identifier: Apache-2.0 WITH LLVM-exception
//
//===----------------------------------------------------------------------===//

#include "passes/Transforms/Passes.h"

#include "mlir/IR/BuiltinTypes.h"
#include "mlir/IR/PatternMatch.h"
#include "mlir/IR/SymbolTable.h"

namespace mlir::slim {
#define GEN_PASS_DEF_SLIMLOWERMATMULTOBLASPASS
#include "passes/Transforms/Passes.h.inc"
} // namespace mlir::slim

using namespace mlir;

namespace {

/// A memref with a unit innermost stride (rows are contiguous).
bool hasContiguousRows(Value v) {
  auto type = dyn_cast<MemRefType>(v.getType());
  if (!type || !type.getElementType().isF32())
    return false;
  SmallVector<int64_t> strides;
  int64_t offset;
  if (failed(type.getStridesAndOffset(strides, offset)))
    return false;
  return !strides.empty() && strides.back() == 1;
}

/// The fully dynamic strided memref type of `rank` f32 dimensions.
MemRefType anyStrided(MLIRContext *ctx, int64_t rank) {
  SmallVector<int64_t> shape(rank, ShapedType::kDynamic);
  SmallVector<int64_t> strides(rank, ShapedType::kDynamic);
  auto layout =
      StridedLayoutAttr::get(ctx, ShapedType::kDynamic, strides);
  return MemRefType::get(shape, Float32Type::get(ctx), layout);
}

func::FuncOp getOrDeclare(ModuleOp module, StringRef name, int64_t rank) {
  if (auto f = module.lookupSymbol<func::FuncOp>(name))
    return f;
  MLIRContext *ctx = module.getContext();
  OpBuilder b(ctx);
  b.setInsertionPointToStart(module.getBody());
  MemRefType t = anyStrided(ctx, rank);
  auto f = func::FuncOp::create(b, module.getLoc(), name,
                                b.getFunctionType({t, t, t}, {}));
  f.setPrivate();
  f->setAttr("llvm.emit_c_interface", b.getUnitAttr());
  return f;
}

template <typename OpTy>
bool isPlain(OpTy op) {
  // Default (non-transposed, non-broadcast) maps and no element casts.
  return op.getNumDpsInputs() == 2 && op.getNumDpsInits() == 1 &&
         !op.hasUserDefinedMaps();
}

struct SlimLowerMatmulToBlasPass
    : slim::impl::SlimLowerMatmulToBlasPassBase<SlimLowerMatmulToBlasPass> {
  void runOnOperation() override {
    ModuleOp module = getOperation();
    SmallVector<Operation *> ops;
    module.walk([&](Operation *op) {
      if (auto mm = dyn_cast<linalg::MatmulOp>(op)) {
        if (mm.hasPureBufferSemantics() && isPlain(mm) &&
            llvm::all_of(op->getOperands(), hasContiguousRows))
          ops.push_back(op);
      } else if (auto bmm = dyn_cast<linalg::BatchMatmulOp>(op)) {
        if (bmm.hasPureBufferSemantics() && isPlain(bmm) &&
            llvm::all_of(op->getOperands(), hasContiguousRows))
          ops.push_back(op);
      }
    });
    IRRewriter rewriter(&getContext());
    for (Operation *op : ops) {
      bool batched = isa<linalg::BatchMatmulOp>(op);
      int64_t rank = batched ? 3 : 2;
      func::FuncOp callee = getOrDeclare(
          module, batched ? "slim_rt_sgemm_batched" : "slim_rt_sgemm", rank);
      rewriter.setInsertionPoint(op);
      SmallVector<Value> args;
      for (Value v : op->getOperands())
        args.push_back(memref::CastOp::create(
            rewriter, op->getLoc(), anyStrided(&getContext(), rank), v));
      func::CallOp::create(rewriter, op->getLoc(), callee, args);
      rewriter.eraseOp(op);
    }
  }
};

} // namespace
