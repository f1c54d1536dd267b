//===- OpsNormalization.cpp - Reductions and normalizations ---------------===//
//
// Part of the Slim project, under the Apache License v2.0 with LLVM Exceptions.
// SPDX-License-Identifier: Apache-2.0 WITH LLVM-exception
//
//===----------------------------------------------------------------------===//
//
// ReduceMean/Sum/Max/Min, Softmax (as linalg.softmax), LayerNormalization and
// the onnxruntime contrib ops SimplifiedLayerNormalization (RMSNorm),
// SkipSimplifiedLayerNormalization and RotaryEmbedding.
//
//===----------------------------------------------------------------------===//

#include "lib/Import/Onnx/GraphImporter.h"

#include "onnx/onnx.pb.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Linalg/IR/Linalg.h"
#include "mlir/Dialect/Math/IR/Math.h"
#include "mlir/Dialect/SCF/IR/SCF.h"
#include "mlir/Dialect/Tensor/IR/Tensor.h"

#include <limits>

using namespace mlir;
using namespace mlir::slim::onnx_import;

namespace {

enum class ReduceKind { Sum, Max, Min };

/// Reduces `x` over `axes` (sorted, unique), dropping them.
Value reduce(OpBuilder &b, Location loc, Value x, ArrayRef<bool> reduced,
             ReduceKind kind, bool isUnsigned) {
  auto t = cast<RankedTensorType>(x.getType());
  int64_t rank = t.getRank();
  Type et = t.getElementType();
  SmallVector<int64_t> shape;
  SmallVector<AffineExpr> exprs;
  SmallVector<Value> dyn;
  SmallVector<utils::IteratorType> iterators;
  for (int64_t d = 0; d < rank; ++d) {
    iterators.push_back(reduced[d] ? utils::IteratorType::reduction
                                   : utils::IteratorType::parallel);
    if (reduced[d])
      continue;
    shape.push_back(t.getDimSize(d));
    exprs.push_back(b.getAffineDimExpr(d));
    if (t.isDynamicDim(d))
      dyn.push_back(getDimSize(b, loc, x, d));
  }
  Value initValue;
  bool isFloat = isa<FloatType>(et);
  if (kind == ReduceKind::Sum) {
    initValue = createScalar(b, loc, et, 0.0);
  } else if (isFloat) {
    auto ft = cast<FloatType>(et);
    initValue = arith::ConstantOp::create(
        b, loc, et,
        b.getFloatAttr(ft, APFloat::getInf(ft.getFloatSemantics(),
                                           kind == ReduceKind::Max)));
  } else {
    unsigned w = et.getIntOrFloatBitWidth();
    APInt v = kind == ReduceKind::Max
                  ? (isUnsigned ? APInt::getMinValue(w) : APInt::getSignedMinValue(w))
                  : (isUnsigned ? APInt::getMaxValue(w) : APInt::getSignedMaxValue(w));
    initValue = arith::ConstantOp::create(b, loc, et, b.getIntegerAttr(et, v));
  }
  Value init = createFilled(b, loc, shape, initValue, dyn);
  SmallVector<AffineMap> maps{b.getMultiDimIdentityMap(rank),
                              AffineMap::get(rank, 0, exprs, b.getContext())};
  return linalg::GenericOp::create(
             b, loc, TypeRange{init.getType()}, ValueRange{x}, ValueRange{init},
             maps, iterators,
             [&](OpBuilder &nb, Location nl, ValueRange args) {
               Value r;
               switch (kind) {
               case ReduceKind::Sum:
                 r = isFloat ? Value(arith::AddFOp::create(nb, nl, args[0], args[1]))
                             : Value(arith::AddIOp::create(nb, nl, args[0], args[1]));
                 break;
               case ReduceKind::Max:
                 r = isFloat ? Value(arith::MaximumFOp::create(nb, nl, args[0], args[1]))
                     : isUnsigned ? Value(arith::MaxUIOp::create(nb, nl, args[0], args[1]))
                                  : Value(arith::MaxSIOp::create(nb, nl, args[0], args[1]));
                 break;
               case ReduceKind::Min:
                 r = isFloat ? Value(arith::MinimumFOp::create(nb, nl, args[0], args[1]))
                     : isUnsigned ? Value(arith::MinUIOp::create(nb, nl, args[0], args[1]))
                                  : Value(arith::MinSIOp::create(nb, nl, args[0], args[1]));
                 break;
               }
               linalg::YieldOp::create(nb, nl, r);
             })
      .getResult(0);
}

/// Re-inserts the reduced dimensions of `original` as size 1.
Value keepDims(OpBuilder &b, Location loc, Value reducedValue, Value original,
               ArrayRef<bool> reduced) {
  auto ot = cast<RankedTensorType>(original.getType());
  auto rt = cast<RankedTensorType>(reducedValue.getType());
  int64_t rank = ot.getRank();
  SmallVector<int64_t> shape;
  SmallVector<OpFoldResult> sizes;
  SmallVector<ReassociationIndices> groups;
  ReassociationIndices pending;
  for (int64_t d = 0; d < rank; ++d) {
    pending.push_back(d);
    if (reduced[d]) {
      shape.push_back(1);
      sizes.push_back(b.getIndexAttr(1));
    } else {
      shape.push_back(ot.getDimSize(d));
      sizes.push_back(ot.isDynamicDim(d)
                          ? OpFoldResult(getDimSize(b, loc, original, d))
                          : OpFoldResult(b.getIndexAttr(ot.getDimSize(d))));
      groups.push_back(pending);
      pending.clear();
    }
  }
  if (!pending.empty() && !groups.empty())
    groups.back().append(pending.begin(), pending.end());
  return tensor::ExpandShapeOp::create(
      b, loc, RankedTensorType::get(shape, rt.getElementType()), reducedValue,
      groups, sizes);
}

/// Number of elements over the reduced dimensions, as a scalar of `et`.
Value reducedCount(OpBuilder &b, Location loc, Value x, ArrayRef<bool> reduced,
                   Type et) {
  Value count = arith::ConstantIndexOp::create(b, loc, 1);
  for (auto [d, r] : llvm::enumerate(reduced))
    if (r)
      count = arith::MulIOp::create(b, loc, count, getDimSize(b, loc, x, d));
  Value i64 = arith::IndexCastOp::create(b, loc, b.getI64Type(), count);
  if (isa<FloatType>(et))
    return arith::SIToFPOp::create(b, loc, et, i64);
  return castScalar(b, loc, i64, kInt64, et.getIntOrFloatBitWidth() == 64 ? kInt64 : kInt32);
}

/// A reduction whose axes arrive at run time: each dimension is reduced (kept
/// as size 1) under an scf.if on whether the axes name it; keepdims=0 then
/// drops the reduced dimensions with a run-time reshape. Mean divides by the
/// product of the reduced sizes.
LogicalResult importRuntimeReduce(NodeImporter &n, StringRef op) {
  const TensorValue &in = n.input(0);
  OpBuilder &b = n.b;
  Location loc = n.loc;
  RankedTensorType t = in.getType();
  int64_t rank = t.getRank();
  auto elems = n.getIntElements(1);
  if (!elems)
    return n.emitError() << "axes must be a 1-D integer tensor";
  bool keep = n.getInt("keepdims", 1) != 0;
  Type et = t.getElementType();
  bool isUnsigned = isUnsignedDType(in.dtype);
  ReduceKind kind = op == "ReduceMax"   ? ReduceKind::Max
                    : op == "ReduceMin" ? ReduceKind::Min
                                        : ReduceKind::Sum;
  auto i64 = [&](int64_t v) {
    return arith::ConstantIntOp::create(b, loc, b.getI64Type(), v).getResult();
  };
  SmallVector<Value> isReduced;
  for (int64_t d = 0; d < rank; ++d) {
    Value hit = arith::ConstantIntOp::create(b, loc, b.getI1Type(), 0);
    for (const IntElem &e : *elems) {
      Value a = toI64(b, loc, e);
      Value neg = arith::CmpIOp::create(b, loc, arith::CmpIPredicate::slt, a, i64(0));
      a = arith::SelectOp::create(b, loc, neg, arith::AddIOp::create(b, loc, a, i64(rank)), a);
      hit = arith::OrIOp::create(
          b, loc, hit, arith::CmpIOp::create(b, loc, arith::CmpIPredicate::eq, a, i64(d)));
    }
    isReduced.push_back(hit);
  }
  auto dynType = RankedTensorType::get(SmallVector<int64_t>(rank, ShapedType::kDynamic), et);
  Value x = tensor::CastOp::create(b, loc, dynType, in.value);
  Value count = i64(1);
  for (int64_t d = 0; d < rank; ++d) {
    SmallVector<bool> only(rank, false);
    only[d] = true;
    Value dim = arith::IndexCastOp::create(b, loc, b.getI64Type(), getDimSize(b, loc, x, d));
    count = arith::MulIOp::create(
        b, loc, count, arith::SelectOp::create(b, loc, isReduced[d], dim, i64(1)));
    Value cur = x;
    auto ifOp = scf::IfOp::create(
        b, loc, isReduced[d],
        [&](OpBuilder &tb, Location tl) {
          Value r = reduce(tb, tl, cur, only, kind, isUnsigned);
          r = keepDims(tb, tl, r, cur, only);
          scf::YieldOp::create(tb, tl, ValueRange{tensor::CastOp::create(tb, tl, dynType, r)});
        },
        [&](OpBuilder &eb, Location el) { scf::YieldOp::create(eb, el, ValueRange{cur}); });
    x = ifOp.getResult(0);
  }
  if (op == "ReduceMean") {
    bool isFloat = isa<FloatType>(et);
    Value c = isFloat ? Value(arith::SIToFPOp::create(b, loc, et, count))
                      : castScalar(b, loc, count, kInt64, in.dtype);
    FailureOr<Value> mean = buildElementwise(
        n, {x}, et, [&](OpBuilder &nb, Location nl, ValueRange v) -> Value {
          return isFloat ? Value(arith::DivFOp::create(nb, nl, v[0], c))
                         : Value(arith::DivSIOp::create(nb, nl, v[0], c));
        });
    if (failed(mean))
      return failure();
    x = *mean;
  }
  if (!keep) {
    // Drop the reduced dimensions: the output rank is the rank minus the
    // number of (distinct) axes, which the axes tensor's length gives.
    int64_t outRank = rank - static_cast<int64_t>(elems->size());
    if (outRank < 0)
      return n.emitError() << "more axes than dimensions";
    x = dropDimsAtRunTime(b, loc, x, isReduced, outRank);
  }
  n.setOutput(0, x, in.dtype);
  return success();
}

LogicalResult importReduce(NodeImporter &n, StringRef op,
                           int64_t axesInputSince) {
  if (failed(n.expectInputs(1, 2)))
    return failure();
  const TensorValue &in = n.input(0);
  if (in.dtype == kBool)
    return n.emitError() << "expected a numeric input";
  RankedTensorType t = in.getType();
  int64_t rank = t.getRank();
  std::optional<SmallVector<int64_t>> axes;
  if (n.getOpset() < axesInputSince) {
    axes = n.getInts("axes");
  } else if (n.hasInput(1)) {
    axes = n.getConstInts(1);
    if (!axes) {
      if (n.input(1).getType().hasStaticShape() &&
          n.input(1).getType().getNumElements() > 0)
        return importRuntimeReduce(n, op);
      return n.emitError() << "axes must be a constant";
    }
  }
  bool keep = n.getInt("keepdims", 1) != 0;
  if ((!axes || axes->empty()) && n.getInt("noop_with_empty_axes", 0)) {
    n.setOutput(0, in);
    return success();
  }
  SmallVector<bool> reduced(rank, !axes || axes->empty());
  if (axes) {
    for (int64_t a : *axes) {
      FailureOr<int64_t> axis = normalizeAxis(n, a, rank);
      if (failed(axis))
        return failure();
      reduced[*axis] = true;
    }
  }
  OpBuilder &b = n.b;
  Location loc = n.loc;
  ReduceKind kind = op == "ReduceMax"   ? ReduceKind::Max
                    : op == "ReduceMin" ? ReduceKind::Min
                                        : ReduceKind::Sum;
  Value r = reduce(b, loc, in.value, reduced, kind, isUnsignedDType(in.dtype));
  if (op == "ReduceMean") {
    Type et = t.getElementType();
    Value count = reducedCount(b, loc, in.value, reduced, et);
    bool isFloat = isa<FloatType>(et);
    FailureOr<Value> mean = buildElementwise(
        n, {r}, et, [&](OpBuilder &nb, Location nl, ValueRange v) -> Value {
          return isFloat ? Value(arith::DivFOp::create(nb, nl, v[0], count))
                         : Value(arith::DivSIOp::create(nb, nl, v[0], count));
        });
    if (failed(mean))
      return failure();
    r = *mean;
  }
  if (keep)
    r = keepDims(b, loc, r, in.value, reduced);
  n.setOutput(0, r, in.dtype);
  return success();
}

LogicalResult importSoftmax(NodeImporter &n) {
  if (failed(n.expectInputs(1, 1)))
    return failure();
  const TensorValue &in = n.input(0);
  if (!isFloatDType(in.dtype))
    return n.emitError() << "expected a floating-point input";
  RankedTensorType t = in.getType();
  int64_t rank = t.getRank();
  OpBuilder &b = n.b;
  Location loc = n.loc;
  bool coerce2d = n.getOpset() < 13;
  FailureOr<int64_t> axis =
      normalizeAxis(n, n.getInt("axis", coerce2d ? 1 : -1), rank);
  if (failed(axis))
    return failure();
  auto softmax = [&](Value x, int64_t dim) -> Value {
    auto xt = cast<RankedTensorType>(x.getType());
    Value init = createEmpty(
        b, loc, xt.getShape(), xt.getElementType(),
        getDynamicSizes(xt.getShape(), [&](int64_t d) { return getDimSize(b, loc, x, d); }));
    return linalg::SoftmaxOp::create(b, loc, TypeRange{xt}, x, init, dim)
        .getResult()[0];
  };
  if (!coerce2d || *axis == rank - 1) {
    n.setOutput(0, softmax(in.value, *axis), in.dtype);
    return success();
  }
  // Opsets < 13: softmax over the flattened trailing dimensions [axis, rank).
  ReassociationIndices outer, inner;
  for (int64_t d = 0; d < rank; ++d)
    (d < *axis ? outer : inner).push_back(d);
  if (outer.empty()) {
    // Everything is one row: add a leading unit dim.
    return n.emitError() << "axis 0 with opset < 13 is unsupported";
  }
  Value flat = tensor::CollapseShapeOp::create(
      b, loc, in.value, ArrayRef<ReassociationIndices>{outer, inner});
  Value s = softmax(flat, 1);
  SmallVector<OpFoldResult> sizes;
  for (int64_t d = 0; d < rank; ++d)
    sizes.push_back(t.isDynamicDim(d) ? OpFoldResult(getDimSize(b, loc, in.value, d))
                                      : OpFoldResult(b.getIndexAttr(t.getDimSize(d))));
  Value out = tensor::ExpandShapeOp::create(
      b, loc, t, s, ArrayRef<ReassociationIndices>{outer, inner}, sizes);
  n.setOutput(0, out, in.dtype);
  return success();
}

/// Normalizes `x` over dims [axis, rank): LayerNorm (with mean) or RMSNorm
/// (without). Returns {y_unscaled, mean (keepdims) or null, invstd (keepdims)}.
struct NormParts {
  Value normalized, mean, invStd;
};

FailureOr<NormParts> normalize(NodeImporter &n, Value x, int64_t axis,
                               float epsilon, bool subtractMean) {
  OpBuilder &b = n.b;
  Location loc = n.loc;
  auto t = cast<RankedTensorType>(x.getType());
  int64_t rank = t.getRank();
  Type et = t.getElementType();
  SmallVector<bool> reduced(rank, false);
  for (int64_t d = axis; d < rank; ++d)
    reduced[d] = true;
  Value count = reducedCount(b, loc, x, reduced, et);
  NormParts parts;
  Value centered = x;
  if (subtractMean) {
    Value sum = reduce(b, loc, x, reduced, ReduceKind::Sum, false);
    FailureOr<Value> mean = buildElementwise(
        n, {sum}, et, [&](OpBuilder &nb, Location nl, ValueRange v) -> Value {
          return arith::DivFOp::create(nb, nl, v[0], count);
        });
    if (failed(mean))
      return failure();
    parts.mean = keepDims(b, loc, *mean, x, reduced);
    FailureOr<Value> c = buildElementwise(
        n, {x, parts.mean}, et, [](OpBuilder &nb, Location nl, ValueRange v) -> Value {
          return arith::SubFOp::create(nb, nl, v[0], v[1]);
        });
    if (failed(c))
      return failure();
    centered = *c;
  }
  FailureOr<Value> squares = buildElementwise(
      n, {centered}, et, [](OpBuilder &nb, Location nl, ValueRange v) -> Value {
        return arith::MulFOp::create(nb, nl, v[0], v[0]);
      });
  if (failed(squares))
    return failure();
  Value ssum = reduce(b, loc, *squares, reduced, ReduceKind::Sum, false);
  FailureOr<Value> invStd = buildElementwise(
      n, {ssum}, et, [&](OpBuilder &nb, Location nl, ValueRange v) -> Value {
        Value var = arith::DivFOp::create(nb, nl, v[0], count);
        Value e = createScalar(nb, nl, et, epsilon);
        return math::RsqrtOp::create(nb, nl, arith::AddFOp::create(nb, nl, var, e));
      });
  if (failed(invStd))
    return failure();
  parts.invStd = keepDims(b, loc, *invStd, x, reduced);
  FailureOr<Value> y = buildElementwise(
      n, {centered, parts.invStd}, et,
      [](OpBuilder &nb, Location nl, ValueRange v) -> Value {
        return arith::MulFOp::create(nb, nl, v[0], v[1]);
      });
  if (failed(y))
    return failure();
  parts.normalized = *y;
  return parts;
}

FailureOr<Value> scaleAndShift(NodeImporter &n, Value y, Value scale,
                               Value bias) {
  Type et = cast<RankedTensorType>(y.getType()).getElementType();
  SmallVector<Value> operands{y, scale};
  if (bias)
    operands.push_back(bias);
  return buildElementwise(n, operands, et,
                          [&](OpBuilder &nb, Location nl, ValueRange v) -> Value {
                            Value r = arith::MulFOp::create(nb, nl, v[0], v[1]);
                            if (v.size() > 2)
                              r = arith::AddFOp::create(nb, nl, r, v[2]);
                            return r;
                          });
}

/// Runs `fn` in f32 when `dtype` is a 16-bit float and `stash` asks for it.
Value toCompute(NodeImporter &n, Value v, int32_t dtype, bool upcast) {
  return upcast ? castTensor(n.b, n.loc, v, dtype, kFloat) : v;
}

LogicalResult importLayerNorm(NodeImporter &n, bool rms, bool skip) {
  unsigned minIn = skip ? 3 : 2, maxIn = skip ? 4 : 3;
  if (failed(n.expectInputs(minIn, maxIn)))
    return failure();
  const TensorValue &in = n.input(0);
  if (!isFloatDType(in.dtype))
    return n.emitError() << "expected a floating-point input";
  int64_t rank = in.getType().getRank();
  FailureOr<int64_t> axis = normalizeAxis(n, n.getInt("axis", -1), rank);
  if (failed(axis))
    return failure();
  float epsilon = n.getFloat("epsilon", rms && !skip ? 1e-5f : 1e-5f);
  int32_t dtype = in.dtype;
  bool upcast = (dtype == kFloat16 || dtype == kBFloat16) &&
                n.getInt("stash_type", 1) == 1;
  int32_t cdt = upcast ? kFloat : dtype;
  Value x = toCompute(n, in.value, dtype, upcast);
  Value gamma, beta;
  Value sum;
  if (skip) {
    // SkipSimplifiedLayerNormalization(input, skip, gamma, bias?).
    Value s = toCompute(n, n.operand(1), n.input(1).dtype, upcast);
    SmallVector<Value> operands{x, s};
    if (n.hasInput(3))
      operands.push_back(toCompute(n, n.operand(3), n.input(3).dtype, upcast));
    Type et = cast<RankedTensorType>(x.getType()).getElementType();
    FailureOr<Value> added = buildElementwise(
        n, operands, et, [](OpBuilder &nb, Location nl, ValueRange v) -> Value {
          Value r = arith::AddFOp::create(nb, nl, v[0], v[1]);
          if (v.size() > 2)
            r = arith::AddFOp::create(nb, nl, r, v[2]);
          return r;
        });
    if (failed(added))
      return failure();
    x = sum = *added;
    gamma = toCompute(n, n.operand(2), n.input(2).dtype, upcast);
  } else {
    gamma = toCompute(n, n.operand(1), n.input(1).dtype, upcast);
    if (n.hasInput(2))
      beta = toCompute(n, n.operand(2), n.input(2).dtype, upcast);
  }
  FailureOr<NormParts> parts = normalize(n, x, *axis, epsilon, !rms);
  if (failed(parts))
    return failure();
  FailureOr<Value> y = scaleAndShift(n, parts->normalized, gamma, beta);
  if (failed(y))
    return failure();
  auto back = [&](Value v) { return upcast ? castTensor(n.b, n.loc, v, cdt, dtype) : v; };
  n.setOutput(0, back(*y), dtype);
  if (skip) {
    // Outputs: output, mean (unused by RMSNorm), inv_std_var, sum.
    if (n.wantsOutput(1))
      return n.emitError() << "the mean output is not produced by RMS "
                              "normalization";
    n.setOutput(2, parts->invStd, cdt);
    n.setOutput(3, back(sum), dtype);
  } else if (rms) {
    // SimplifiedLayerNormalization outputs: Y, inv_std_var.
    n.setOutput(1, parts->invStd, cdt);
  } else {
    // LayerNormalization outputs: Y, Mean, InvStdDev (in the stash type).
    n.setOutput(1, parts->mean, cdt);
    n.setOutput(2, parts->invStd, cdt);
  }
  return success();
}

/// com.microsoft.RotaryEmbedding(input, position_ids, cos_cache, sin_cache).
LogicalResult importRotary(NodeImporter &n) {
  if (failed(n.expectInputs(4, 4)))
    return failure();
  const TensorValue &in = n.input(0);
  if (!isFloatDType(in.dtype))
    return n.emitError() << "expected a floating-point input";
  RankedTensorType t = in.getType();
  int64_t rank = t.getRank();
  if (rank != 3 && rank != 4)
    return n.emitError() << "expected input of rank 3 or 4, got " << rank;
  if (n.getInt("is_packed_batching", 0))
    return n.emitError() << "packed batching is unsupported";
  bool interleaved = n.getInt("interleaved", 0) != 0;
  int64_t numHeads = n.getInt("num_heads", 0);
  float scale = n.getFloat("scale", 1.0f);
  RankedTensorType cosType = n.input(2).getType();
  if (cosType.getRank() != 2 || cosType.isDynamicDim(1))
    return n.emitError() << "expected a 2-D cos_cache with a static last "
                            "dimension";
  int64_t half = cosType.getDimSize(1);
  int64_t headSize;
  if (rank == 4) {
    headSize = t.getDimSize(3);
  } else {
    if (numHeads <= 0) {
      int64_t rot = n.getInt("rotary_embedding_dim", 0);
      headSize = rot > 0 ? rot : 2 * half;
    } else {
      if (t.isDynamicDim(2))
        return n.emitError() << "expected a static hidden size";
      headSize = t.getDimSize(2) / numHeads;
    }
  }
  if (ShapedType::isDynamic(headSize))
    return n.emitError() << "expected a static head size";
  int64_t rotDim = n.getInt("rotary_embedding_dim", 0);
  if (rotDim == 0)
    rotDim = headSize;
  if (rotDim != 2 * half || rotDim > headSize)
    return n.emitError() << "rotary dimension " << rotDim
                         << " does not match cos_cache width " << half;
  const TensorValue &pos = n.input(1);
  if (pos.dtype != kInt64)
    return n.emitError() << "expected int64 position_ids";
  RankedTensorType posType = pos.getType();
  bool offsetForm = posType.getRank() == 1 && posType.getDimSize(0) == 1;
  if (!offsetForm && posType.getRank() != 2)
    return n.emitError() << "expected position_ids of shape [batch, sequence] "
                            "or [1]";

  OpBuilder &b = n.b;
  Location loc = n.loc;
  Value x = in.value, cosC = n.operand(2), sinC = n.operand(3), posV = pos.value;
  Type et = t.getElementType();
  Value init = createEmpty(
      b, loc, t.getShape(), et,
      getDynamicSizes(t.getShape(), [&](int64_t d) { return getDimSize(b, loc, x, d); }));
  AffineMap id = b.getMultiDimIdentityMap(rank);
  SmallVector<utils::IteratorType> iterators(rank, utils::IteratorType::parallel);
  Value result =
      linalg::GenericOp::create(
          b, loc, TypeRange{init.getType()}, ValueRange{}, ValueRange{init},
          ArrayRef<AffineMap>{id}, iterators,
          [&](OpBuilder &nb, Location nl, ValueRange) {
            auto c = [&](int64_t v) { return arith::ConstantIndexOp::create(nb, nl, v).getResult(); };
            SmallVector<Value> idx(rank);
            for (int64_t d = 0; d < rank; ++d)
              idx[d] = linalg::IndexOp::create(nb, nl, d);
            // [B, S, N*H] or [B, N, S, H].
            Value bIdx = idx[0];
            Value sIdx = rank == 3 ? idx[1] : idx[2];
            Value last = idx[rank - 1];
            Value i = rank == 3 ? Value(arith::RemUIOp::create(nb, nl, last, c(headSize))) : last;
            Value headBase = arith::SubIOp::create(nb, nl, last, i);
            Value p;
            if (offsetForm) {
              Value off = tensor::ExtractOp::create(nb, nl, posV, ValueRange{c(0)});
              p = arith::AddIOp::create(nb, nl,
                                        arith::IndexCastOp::create(nb, nl, nb.getIndexType(), off),
                                        sIdx);
            } else {
              Value v = tensor::ExtractOp::create(nb, nl, posV, ValueRange{bIdx, sIdx});
              p = arith::IndexCastOp::create(nb, nl, nb.getIndexType(), v);
            }
            Value xi = tensor::ExtractOp::create(nb, nl, x, idx);
            // Positions past the rotary dimension pass through.
            Value inRot = arith::CmpIOp::create(nb, nl, arith::CmpIPredicate::ult, i, c(rotDim));
            Value j, partner, isFirst;
            if (interleaved) {
              // Pairs (2j, 2j+1).
              j = arith::DivUIOp::create(nb, nl, i, c(2));
              Value odd = arith::RemUIOp::create(nb, nl, i, c(2));
              isFirst = arith::CmpIOp::create(nb, nl, arith::CmpIPredicate::eq, odd, c(0));
              partner = arith::SelectOp::create(nb, nl, isFirst,
                                                arith::AddIOp::create(nb, nl, i, c(1)),
                                                arith::SubIOp::create(nb, nl, i, c(1)));
            } else {
              // Halves (j, j + half).
              isFirst = arith::CmpIOp::create(nb, nl, arith::CmpIPredicate::ult, i, c(half));
              j = arith::SelectOp::create(nb, nl, isFirst, i, arith::SubIOp::create(nb, nl, i, c(half)));
              partner = arith::SelectOp::create(nb, nl, isFirst,
                                                arith::AddIOp::create(nb, nl, i, c(half)),
                                                arith::SubIOp::create(nb, nl, i, c(half)));
            }
            // Keep indices in range for positions outside the rotary part.
            Value jc = arith::MinUIOp::create(nb, nl, j, c(half - 1));
            Value pc = arith::MinUIOp::create(nb, nl, partner, c(headSize - 1));
            SmallVector<Value> pidx(idx);
            pidx[rank - 1] = arith::AddIOp::create(nb, nl, headBase, pc);
            Value xp = tensor::ExtractOp::create(nb, nl, x, pidx);
            Value cs = tensor::ExtractOp::create(nb, nl, cosC, ValueRange{p, jc});
            Value sn = tensor::ExtractOp::create(nb, nl, sinC, ValueRange{p, jc});
            cs = castScalar(nb, nl, cs, n.input(2).dtype, in.dtype);
            sn = castScalar(nb, nl, sn, n.input(3).dtype, in.dtype);
            // first: x*cos - x_partner*sin; second: x*cos + x_partner*sin.
            Value xs = arith::MulFOp::create(nb, nl, xp, sn);
            Value rot = arith::SelectOp::create(
                nb, nl, isFirst,
                arith::SubFOp::create(nb, nl, arith::MulFOp::create(nb, nl, xi, cs), xs),
                arith::AddFOp::create(nb, nl, arith::MulFOp::create(nb, nl, xi, cs), xs));
            if (scale != 1.0f)
              rot = arith::MulFOp::create(nb, nl, rot, createScalar(nb, nl, et, scale));
            linalg::YieldOp::create(nb, nl, ValueRange{arith::SelectOp::create(nb, nl, inRot, rot, xi)});
          })
          .getResult(0);
  n.setOutput(0, result, in.dtype);
  return success();
}

} // namespace

void mlir::slim::onnx_import::registerNormalizationOps(OpRegistry &r) {
  r.add("", "ReduceSum", [](NodeImporter &n) { return importReduce(n, "ReduceSum", 13); });
  r.add("", "ReduceMean", [](NodeImporter &n) { return importReduce(n, "ReduceMean", 18); });
  r.add("", "ReduceMax", [](NodeImporter &n) { return importReduce(n, "ReduceMax", 18); });
  r.add("", "ReduceMin", [](NodeImporter &n) { return importReduce(n, "ReduceMin", 18); });
  r.add("", "Softmax", importSoftmax);
  r.add("", "LayerNormalization", [](NodeImporter &n) { return importLayerNorm(n, false, false); });
  r.add("com.microsoft", "SimplifiedLayerNormalization",
        [](NodeImporter &n) { return importLayerNorm(n, true, false); });
  r.add("", "SimplifiedLayerNormalization",
        [](NodeImporter &n) { return importLayerNorm(n, true, false); });
  r.add("com.microsoft", "SkipSimplifiedLayerNormalization",
        [](NodeImporter &n) { return importLayerNorm(n, true, true); });
  r.add("com.microsoft", "RotaryEmbedding", importRotary);
}
