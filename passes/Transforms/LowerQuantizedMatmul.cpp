//===- LowerQuantizedMatmul.cpp - Weight-quantized matmuls as kernel calls ===//
//
// Part of the Slim project, under the Apache License v2.0 with LLVM Exceptions.
// SPDX-License-Identifier: Apache-2.0 WITH LLVM-exception
//
//===----------------------------------------------------------------------===//

#include "passes/Transforms/Passes.h"
#include "passes/Transforms/Utils.h"

#include "dialects/Slim/IR/SlimOps.h"
#include "lib/Runtime/KernelAbi.h"

namespace mlir::slim {
#define GEN_PASS_DEF_SLIMLOWERQUANTIZEDMATMULPASS
#include "passes/Transforms/Passes.h.inc"
} // namespace mlir::slim

using namespace mlir;
using namespace mlir::slim;

namespace {

/// A view of tensor `t` as a fully dynamic strided memref.
Value asBuffer(OpBuilder &b, Location loc, Value t) {
  auto type = cast<RankedTensorType>(t.getType());
  int64_t dyn = ShapedType::kDynamic;
  SmallVector<int64_t> strides(type.getRank(), dyn);
  auto exact =
      MemRefType::get(type.getShape(), type.getElementType(),
                      StridedLayoutAttr::get(b.getContext(), dyn, strides));
  Value m = bufferization::ToBufferOp::create(b, loc, exact, t,
                                              /*read_only=*/true);
  return memref::CastOp::create(
      b, loc, getFullyDynamicStridedType(type.getElementType(), type.getRank()),
      m);
}

/// The kernel handles integer codes of 2-8 bits, per output channel or in
/// groups along K, for an `N x K` weight used transposed, times a dense f32
/// `M x K` activation.
bool isSupported(MatmulOp op, AssembleOp &assemble, QuantAttr &quant) {
  if (!op.getTransposeRhs())
    return false;
  // Activations [..., K] (leading dimensions are collapsed into rows).
  auto lhs = dyn_cast<RankedTensorType>(op.getLhs().getType());
  if (!lhs || lhs.getRank() < 2 || lhs.getEncoding() ||
      !lhs.getElementType().isF32() || lhs.isDynamicDim(lhs.getRank() - 1))
    return false;
  assemble = op.getRhs().getDefiningOp<AssembleOp>();
  if (!assemble)
    return false;
  auto rhs = cast<RankedTensorType>(op.getRhs().getType());
  quant = dyn_cast<QuantAttr>(rhs.getEncoding());
  if (!quant || quant.getFormat() != QuantFormat::Int || rhs.getRank() != 2 ||
      !rhs.getElementType().isF32() || !rhs.hasStaticShape())
    return false;
  // Per output channel (axis 0) or groups along K (axis 1).
  bool perChannel = quant.isPerChannel() && quant.getAxis() == 0;
  bool grouped = quant.isGrouped() && quant.getAxis() == 1;
  return perChannel || grouped;
}

StringRef kernelName(Type scaleType) {
  if (scaleType.isF16())
    return "slim_rt_qmatmul_f16";
  if (scaleType.isBF16())
    return "slim_rt_qmatmul_bf16";
  return "slim_rt_qmatmul_f32";
}

struct SlimLowerQuantizedMatmulPass
    : slim::impl::SlimLowerQuantizedMatmulPassBase<
          SlimLowerQuantizedMatmulPass> {
  using Base::Base;

  void runOnOperation() override {
    ModuleOp module = getOperation();
    SmallVector<MatmulOp> ops;
    module.walk([&](MatmulOp op) { ops.push_back(op); });
    for (MatmulOp op : ops) {
      AssembleOp assemble;
      QuantAttr quant;
      if (!isSupported(op, assemble, quant))
        continue;
      OpBuilder b(op);
      Location loc = op.getLoc();
      Type scaleType = quant.getScaleType();
      Type f32 = b.getF32Type(), i8 = b.getI8Type(), i32 = b.getI32Type(),
           i64 = b.getI64Type();
      ValueRange storage = assemble.getStorage();
      Value codes = storage[0], scales = storage[1];
      Value zeroPoints = quant.getHasZeroPoint() ? storage[2] : storage[0];

      StringRef name = kernelName(scaleType);
      func::FuncOp callee = slim::getOrDeclareRuntimeFunction(
          module, name,
          b.getFunctionType({getFullyDynamicStridedType(f32, 2),
                             getFullyDynamicStridedType(i8, 2),
                             getFullyDynamicStridedType(scaleType, 2),
                             getFullyDynamicStridedType(i8, 2),
                             getFullyDynamicStridedType(f32, 2), i64, i64, i32},
                            {}));
      auto resultType = cast<RankedTensorType>(op.getResult().getType());
      // Activations of rank > 2 (an imported MatMulNBits keeps [batch,
      // sequence, K]) as rows [batch * sequence, K], the result expanded
      // back.
      Value lhs = op.getLhs();
      int64_t rank = cast<RankedTensorType>(lhs.getType()).getRank();
      SmallVector<ReassociationIndices> reassociation;
      if (rank > 2) {
        ReassociationIndices leading;
        for (int64_t i = 0; i + 1 < rank; ++i)
          leading.push_back(i);
        reassociation = {leading, {rank - 1}};
        lhs = tensor::CollapseShapeOp::create(b, loc, lhs, reassociation);
      }
      auto rowsType = cast<RankedTensorType>(lhs.getType());
      auto flatType = RankedTensorType::get(
          {rowsType.getDimSize(0), resultType.getDimSize(rank - 1)}, f32);
      SmallVector<Value> dyn;
      if (flatType.isDynamicDim(0))
        dyn.push_back(tensor::DimOp::create(b, loc, lhs, 0));
      auto outType = MemRefType::get(flatType.getShape(), f32);
      Value out = memref::AllocOp::create(b, loc, outType, dyn);
      auto constant = [&](int64_t v, unsigned width = 64) {
        return arith::ConstantIntOp::create(b, loc, v, width).getResult();
      };
      uint32_t flags =
          (quant.getIsSigned() ? SLIM_RT_QMATMUL_SIGNED : 0u) |
          (quant.getHasZeroPoint() ? SLIM_RT_QMATMUL_ZERO_POINTS : 0u) |
          (activations == QuantizedActivations::Int8
               ? SLIM_RT_QMATMUL_INT8_ACTIVATIONS
               : 0u);
      SmallVector<Value> args{
          asBuffer(b, loc, lhs),
          asBuffer(b, loc, codes),
          asBuffer(b, loc, scales),
          asBuffer(b, loc, zeroPoints),
          memref::CastOp::create(b, loc, getFullyDynamicStridedType(f32, 2),
                                 out),
          constant(quant.getBits()),
          constant(quant.isGrouped() ? quant.getGroupSize() : 0),
          constant(flags, 32)};
      func::CallOp::create(b, loc, callee, args);
      Value result = bufferization::ToTensorOp::create(
          b, loc, flatType, out, /*restrict=*/true, /*writable=*/true);
      if (rank > 2) {
        SmallVector<OpFoldResult> shape;
        for (int64_t i = 0; i + 1 < rank; ++i)
          shape.push_back(tensor::getMixedSize(b, loc, op.getLhs(), i));
        shape.push_back(b.getIndexAttr(resultType.getDimSize(rank - 1)));
        result = tensor::ExpandShapeOp::create(b, loc, resultType, result,
                                               reassociation, shape);
      }
      op.getResult().replaceAllUsesWith(result);
      op.erase();
      if (assemble->use_empty())
        assemble.erase();
    }
  }
};

} // namespace
