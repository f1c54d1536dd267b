//===- SplitLowRank.cpp - Low-rank parts of a product as two thin products -===//
//
// Part of the Slim project, under the Apache License v2.0 with LLVM Exceptions.
// SPDX-License-Identifier: Apache-2.0 WITH LLVM-exception
//
//===----------------------------------------------------------------------===//
//
// A weight W = U V (`#slim.lowrank`), or Q + U V (a `residual` of
// `#slim.compressed`), multiplies an activation as x Q + (x U) V: two thin
// products of rank r instead of a K x N matrix decoded per call. The
// factors are constants, laid out here as plain [K, N] weights of f32
// `linalg.matmul`s, so the CPU pipeline packs them and runs them in its
// GEMM/GEMV kernels like any dense layer, and the rest of the weight (its
// quantized or sparse stages) keeps its own kernel selection.
//
//===----------------------------------------------------------------------===//

#include "passes/Transforms/Passes.h"
#include "passes/Transforms/Utils.h"

#include "dialects/Slim/IR/SlimOps.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Linalg/IR/Linalg.h"
#include "mlir/Dialect/Tensor/IR/Tensor.h"
#include "mlir/IR/PatternMatch.h"

namespace mlir::slim {
#define GEN_PASS_DEF_SLIMSPLITLOWRANKPASS
#include "passes/Transforms/Passes.h.inc"
} // namespace mlir::slim

using namespace mlir;
using namespace mlir::slim;

namespace {

/// The f32 values of a constant factor of `type` (f32, f16 or bf16), or
/// nothing if its data is not available.
std::optional<std::vector<float>> factorValues(Value v) {
  auto cst = v.getDefiningOp<arith::ConstantOp>();
  auto type = dyn_cast<RankedTensorType>(v.getType());
  if (!cst || !type || !type.hasStaticShape())
    return std::nullopt;
  Type element = type.getElementType();
  if (!element.isF32() && !element.isF16() && !element.isBF16())
    return std::nullopt;
  auto elements = dyn_cast<ElementsAttr>(cst.getValue());
  if (!elements)
    return std::nullopt;
  std::vector<float> out;
  out.reserve(type.getNumElements());
  if (auto dense = dyn_cast<DenseElementsAttr>(elements)) {
    for (APFloat f : dense.getValues<APFloat>()) {
      bool lost;
      f.convert(APFloat::IEEEsingle(), APFloat::rmNearestTiesToEven, &lost);
      out.push_back(f.convertToFloat());
    }
    return out;
  }
  std::optional<ArrayRef<char>> bytes = getConstantBytes(elements);
  int64_t width = element.getIntOrFloatBitWidth() / 8;
  if (!bytes || static_cast<int64_t>(bytes->size()) !=
                    type.getNumElements() * width)
    return std::nullopt;
  const auto &semantics = cast<FloatType>(element).getFloatSemantics();
  for (int64_t i = 0; i < type.getNumElements(); ++i) {
    uint64_t raw = 0;
    std::memcpy(&raw, bytes->data() + i * width, width);
    APFloat f(semantics, APInt(width * 8, raw));
    bool lost;
    f.convert(APFloat::IEEEsingle(), APFloat::rmNearestTiesToEven, &lost);
    out.push_back(f.convertToFloat());
  }
  return out;
}

/// An f32 constant [rows, cols] of `values` (row-major [rows, cols], or
/// the transpose of row-major [cols, rows] with `transpose`).
Value buildFactor(OpBuilder &b, Location loc, ArrayRef<float> values,
                  int64_t rows, int64_t cols, bool transpose) {
  AsmResourceBlob blob = allocateWeightBlob(rows * cols * sizeof(float));
  float *dst = reinterpret_cast<float *>(blob.getMutableData().data());
  for (int64_t i = 0; i < rows; ++i)
    for (int64_t j = 0; j < cols; ++j)
      dst[i * cols + j] = transpose ? values[j * rows + i] : values[i * cols + j];
  auto type = RankedTensorType::get({rows, cols}, b.getF32Type());
  return arith::ConstantOp::create(
      b, loc,
      DenseResourceElementsAttr::get(type, "low_rank_factor", std::move(blob)));
}

/// The encoding of `stages` without the low-rank part, or null if nothing
/// remains.
Attribute withoutLowRank(MLIRContext *ctx, const EncodingStages &stages) {
  if (stages.sparse && stages.quant)
    return CompressedAttr::get(ctx, {stages.sparse, stages.quant},
                               LowRankAttr());
  if (stages.sparse)
    return stages.sparse;
  if (stages.quant)
    return stages.quant;
  return {};
}

LogicalResult split(slim::MatmulOp op) {
  auto wt = op.getRhs().getType();
  EncodingStages stages = getEncodingStages(wt.getEncoding());
  auto assemble = op.getRhs().getDefiningOp<AssembleOp>();
  auto lt = dyn_cast<RankedTensorType>(op.getLhs().getType());
  auto rt = cast<RankedTensorType>(op.getResult().getType());
  if (!stages.lowRank || !assemble || !lt || lt.getEncoding() ||
      !lt.getElementType().isF32() || !rt.getElementType().isF32() ||
      lt.getRank() < 2 || !wt.getElementType().isF32() || !wt.hasStaticShape())
    return failure();
  FailureOr<StorageLayout> layout =
      StorageLayout::get(wt, [&] { return op.emitError(); });
  if (failed(layout))
    return failure();
  ValueRange storage = assemble.getStorage();
  Value u = layout->lookup(storage, "u"), v = layout->lookup(storage, "v");
  if (!u || !v)
    return failure();
  std::optional<std::vector<float>> uValues = factorValues(u);
  std::optional<std::vector<float>> vValues = factorValues(v);
  if (!uValues || !vValues)
    return failure();
  // W [A, B] = U [A, r] V [r, B]. Plain: W is [K, N], x W = (x U) V.
  // Transposed: W is [N, K], x W^T = (x V^T) U^T.
  int64_t a = wt.getDimSize(0), bDim = wt.getDimSize(1),
          r = stages.lowRank.getRank();
  bool transposed = op.getTransposeRhs();
  int64_t k = transposed ? bDim : a, n = transposed ? a : bDim;

  OpBuilder b(op);
  Location loc = op.getLoc();
  Value first = transposed ? buildFactor(b, loc, *vValues, k, r, true)
                           : buildFactor(b, loc, *uValues, k, r, false);
  Value second = transposed ? buildFactor(b, loc, *uValues, r, n, true)
                            : buildFactor(b, loc, *vValues, r, n, false);

  // The remaining stages, if any, as a product of their own.
  Value rest;
  if (Attribute encoding = withoutLowRank(op.getContext(), stages)) {
    auto restType =
        RankedTensorType::get(wt.getShape(), wt.getElementType(), encoding);
    SmallVector<Value> restStorage;
    for (auto [c, value] : llvm::zip(layout->getComponents(), storage))
      if (c.name != "u" && c.name != "v")
        restStorage.push_back(value);
    Value weight = AssembleOp::create(b, loc, restType, restStorage);
    rest = slim::MatmulOp::create(b, loc, rt, op.getLhs(), weight,
                                  op.getTransposeRhsAttr())
               .getResult();
  }

  // Rows [M, K] of the activation (leading dimensions collapsed).
  Value x = collapseToRows(b, loc, op.getLhs());
  if (rest)
    rest = collapseToRows(b, loc, rest);
  auto xType = cast<RankedTensorType>(x.getType());
  Value thin =
      linalg::MatmulOp::create(
          b, loc, TypeRange{RankedTensorType::get({xType.getDimSize(0), r},
                                                  b.getF32Type())},
          ValueRange{x, first}, ValueRange{createZeroRows(b, loc, x, r)})
          .getResult(0);
  Value acc = rest ? rest : createZeroRows(b, loc, x, n);
  Value result = linalg::MatmulOp::create(b, loc, TypeRange{acc.getType()},
                                          ValueRange{thin, second},
                                          ValueRange{acc})
                     .getResult(0);
  result = expandFromRows(b, loc, result, op.getLhs(), rt);
  op.getResult().replaceAllUsesWith(result);
  op.erase();
  return success();
}

struct SlimSplitLowRankPass
    : slim::impl::SlimSplitLowRankPassBase<SlimSplitLowRankPass> {
  void runOnOperation() override {
    SmallVector<slim::MatmulOp> ops;
    getOperation().walk([&](slim::MatmulOp op) { ops.push_back(op); });
    for (slim::MatmulOp op : ops)
      (void)split(op);
  }
};

} // namespace
