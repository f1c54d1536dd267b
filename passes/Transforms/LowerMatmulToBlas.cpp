//===- LowerMatmulToBlas.cpp - f32 matmuls as sgemm calls -----------------===//
//
// Part of the Slim project, under the Apache License v2.0 with LLVM Exceptions.
// SPDX-License-Identifier: Apache-2.0 WITH LLVM-exception
//
//===----------------------------------------------------------------------===//

#include "passes/Transforms/Passes.h"
#include "passes/Transforms/Utils.h"

#include "mlir/Dialect/Linalg/IR/Linalg.h"
#include "mlir/IR/AffineMap.h"
#include "mlir/IR/BuiltinTypes.h"
#include "mlir/IR/PatternMatch.h"
#include "mlir/IR/SymbolTable.h"

namespace mlir::slim {
#define GEN_PASS_DEF_SLIMLOWERMATMULTOBLASPASS
#include "passes/Transforms/Passes.h.inc"
} // namespace mlir::slim

using namespace mlir;

namespace {

/// Replaces `op` by a call of the runtime function `name`, its operands cast
/// to fully dynamic strided memrefs of `rank` dimensions.
void replaceByCall(IRRewriter &rewriter, ModuleOp module, Operation *op,
                   StringRef name, int64_t rank) {
  MemRefType t = slim::getFullyDynamicStridedType(
      Float32Type::get(module.getContext()), rank);
  SmallVector<Type> types(op->getNumOperands(), t);
  func::FuncOp callee = slim::getOrDeclareRuntimeFunction(
      module, name, rewriter.getFunctionType(types, {}));
  rewriter.setInsertionPoint(op);
  SmallVector<Value> args;
  for (Value v : op->getOperands())
    args.push_back(memref::CastOp::create(rewriter, op->getLoc(), t, v));
  func::CallOp::create(rewriter, op->getLoc(), callee, args);
  rewriter.eraseOp(op);
}

/// Which operands of a matmul or batch matmul BLAS reads transposed, or
/// nothing if the op is not a plain product (broadcasts, element casts,
/// other maps).
template <typename OpTy>
std::optional<std::pair<bool, bool>> blasTransposes(OpTy op) {
  if (op.getNumDpsInputs() != 2 || op.getNumDpsInits() != 1)
    return std::nullopt;
  if (!op.hasUserDefinedMaps())
    return std::make_pair(false, false);
  MLIRContext *ctx = op.getContext();
  unsigned batch = std::is_same_v<OpTy, linalg::BatchMatmulOp> ? 1 : 0;
  SmallVector<AffineExpr> d;
  for (unsigned i = 0; i < batch + 3; ++i)
    d.push_back(getAffineDimExpr(i, ctx));
  AffineExpr m = d[batch], n = d[batch + 1], k = d[batch + 2];
  auto map = [&](AffineExpr x, AffineExpr y) {
    SmallVector<AffineExpr> e(d.begin(), d.begin() + batch);
    e.push_back(x);
    e.push_back(y);
    return AffineMap::get(batch + 3, 0, e, ctx);
  };
  SmallVector<AffineMap> maps = op.getIndexingMapsArray();
  if (maps.size() != 3 || maps[2] != map(m, n))
    return std::nullopt;
  bool ta = maps[0] == map(k, m), tb = maps[1] == map(n, k);
  if (!ta && maps[0] != map(m, k))
    return std::nullopt;
  if (!tb && maps[1] != map(k, n))
    return std::nullopt;
  return std::make_pair(ta, tb);
}

/// The static strides of `v`'s memref type, or nothing.
std::optional<SmallVector<int64_t>> staticStrides(Value v) {
  auto type = dyn_cast<MemRefType>(v.getType());
  SmallVector<int64_t> strides;
  int64_t offset;
  if (!type || failed(type.getStridesAndOffset(strides, offset)))
    return std::nullopt;
  return strides;
}

/// A linalg.mmt4d of `--slim-fold-transposes{pack-weights}`: A [M, K, 1, 1]
/// with unit-stride rows, a contiguous packed weight [N / 16, K, 16, 1] and
/// C [M, N / 16, 1, 16] whose rows are contiguous runs of N floats, all f32:
/// what slim_rt_sgemm_packed computes (lib/Kernels/GemmPacked.h).
bool isPackedProduct(linalg::Mmt4DOp op) {
  if (!op.hasPureBufferSemantics() || op.getNumDpsInputs() != 2 ||
      op.getNumDpsInits() != 1)
    return false;
  Value a = op.getDpsInputOperand(0)->get(),
        b = op.getDpsInputOperand(1)->get(), c = op.getDpsInitOperand(0)->get();
  auto aType = dyn_cast<MemRefType>(a.getType());
  auto bType = dyn_cast<MemRefType>(b.getType());
  auto cType = dyn_cast<MemRefType>(c.getType());
  if (!aType || !bType || !cType ||
      !llvm::all_of(TypeRange{aType, bType, cType}, [](Type t) {
        return cast<MemRefType>(t).getElementType().isF32();
      }))
    return false;
  ArrayRef<int64_t> as = aType.getShape(), bs = bType.getShape(),
                    cs = cType.getShape();
  if (as[2] != 1 || as[3] != 1 || bs[2] != 16 || bs[3] != 1 || cs[2] != 1 ||
      cs[3] != 16 || !bType.hasStaticShape() || !bType.getLayout().isIdentity())
    return false;
  std::optional<SmallVector<int64_t>> sa = staticStrides(a),
                                      sc = staticStrides(c);
  return sa && sc && (*sa)[1] == 1 && (*sc)[1] == 16 && (*sc)[3] == 1;
}

struct SlimLowerMatmulToBlasPass
    : slim::impl::SlimLowerMatmulToBlasPassBase<SlimLowerMatmulToBlasPass> {
  void runOnOperation() override {
    ModuleOp module = getOperation();
    SmallVector<std::pair<Operation *, std::pair<bool, bool>>> ops;
    SmallVector<Operation *> packed;
    module.walk([&](Operation *op) {
      std::optional<std::pair<bool, bool>> t;
      if (auto mm = dyn_cast<linalg::MatmulOp>(op)) {
        if (mm.hasPureBufferSemantics())
          t = blasTransposes(mm);
      } else if (auto bmm = dyn_cast<linalg::BatchMatmulOp>(op)) {
        if (bmm.hasPureBufferSemantics())
          t = blasTransposes(bmm);
      } else if (auto mmt4d = dyn_cast<linalg::Mmt4DOp>(op)) {
        if (isPackedProduct(mmt4d))
          packed.push_back(op);
        return;
      }
      if (t && llvm::all_of(op->getOperands(), [](Value v) {
            return slim::hasContiguousF32Rows(v);
          }))
        ops.push_back({op, *t});
    });
    IRRewriter rewriter(&getContext());
    // A zero fill of the output right before the product is folded into
    // it: the `_overwrite` entry points compute C = A B without reading C.
    auto overwrite = [&](Operation *op) {
      linalg::FillOp fill =
          slim::getZeroFillBefore(op, op->getOperands().back());
      if (!fill)
        return "";
      rewriter.eraseOp(fill);
      return "_overwrite";
    };
    for (auto [op, t] : ops) {
      bool batched = isa<linalg::BatchMatmulOp>(op);
      // slim_rt_sgemm[_batched][_{nt,tn,tt}]: which of A, B are transposed.
      std::string name = batched ? "slim_rt_sgemm_batched" : "slim_rt_sgemm";
      if (t.first || t.second)
        name +=
            std::string("_") + (t.first ? "t" : "n") + (t.second ? "t" : "n");
      name += overwrite(op);
      replaceByCall(rewriter, module, op, name, batched ? 3 : 2);
    }
    for (Operation *op : packed)
      replaceByCall(rewriter, module, op,
                    std::string("slim_rt_sgemm_packed") + overwrite(op), 4);
  }
};

} // namespace
