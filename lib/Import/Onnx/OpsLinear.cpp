//===- OpsLinear.cpp - MatMul and Gemm ------------------------------------===//
//
// Part of the Slim project, under the Apache License v2.0 with LLVM Exceptions.
// SPDX-License-Identifier: Apache-2.0 WITH LLVM-exception
//
//===----------------------------------------------------------------------===//
//
// A MatMul by a 2-D right operand is a linear layer: the activation's leading
// dimensions are collapsed into M and a single `linalg.matmul` of the
// [M, K] activation by the [K, N] weight follows, so compression passes find
// every layer as `linalg.matmul(%act, %constant)`. Other products become
// `linalg.batch_matmul` over the (broadcast) batch dimensions.
//
//===----------------------------------------------------------------------===//

#include "lib/Import/Onnx/GraphImporter.h"

#include "dialects/Slim/IR/SlimOps.h"

#include "onnx/onnx.pb.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Linalg/IR/Linalg.h"
#include "mlir/Dialect/Tensor/IR/Tensor.h"

using namespace mlir;
using namespace mlir::slim::onnx_import;

namespace {

Value zeroFilled(OpBuilder &b, Location loc, ArrayRef<int64_t> shape,
                 Type elementType, ValueRange dyn) {
  return createFilled(b, loc, shape, createScalar(b, loc, elementType, 0.0),
                      dyn);
}

/// Collapses all but the last dimension: [b..., m, k] -> [b*...*m, k].
Value collapseLeading(OpBuilder &b, Location loc, Value x) {
  auto type = cast<RankedTensorType>(x.getType());
  int64_t rank = type.getRank();
  if (rank == 2)
    return x;
  ReassociationIndices lead;
  for (int64_t d = 0; d + 1 < rank; ++d)
    lead.push_back(d);
  return tensor::CollapseShapeOp::create(
      b, loc, x, ArrayRef<ReassociationIndices>{lead, {rank - 1}});
}

/// Expands [P, n] back to [b..., m, n] with the leading sizes of `like`.
Value expandLeading(OpBuilder &b, Location loc, Value y, Value like,
                    int64_t n) {
  auto likeType = cast<RankedTensorType>(like.getType());
  int64_t rank = likeType.getRank();
  if (rank == 2)
    return y;
  SmallVector<int64_t> shape;
  SmallVector<OpFoldResult> sizes;
  ReassociationIndices lead;
  for (int64_t d = 0; d + 1 < rank; ++d) {
    lead.push_back(d);
    shape.push_back(likeType.getDimSize(d));
    sizes.push_back(likeType.isDynamicDim(d)
                        ? OpFoldResult(getDimSize(b, loc, like, d))
                        : OpFoldResult(b.getIndexAttr(likeType.getDimSize(d))));
  }
  auto yType = cast<RankedTensorType>(y.getType());
  shape.push_back(n);
  sizes.push_back(ShapedType::isDynamic(n)
                      ? OpFoldResult(getDimSize(b, loc, y, 1))
                      : OpFoldResult(b.getIndexAttr(n)));
  return tensor::ExpandShapeOp::create(
      b, loc, RankedTensorType::get(shape, yType.getElementType()), y,
      ArrayRef<ReassociationIndices>{lead, {rank - 1}}, sizes);
}

/// [M, K] x [K, N] with linalg.matmul.
Value matmul2d(OpBuilder &b, Location loc, Value x, Value w) {
  auto xt = cast<RankedTensorType>(x.getType());
  auto wt = cast<RankedTensorType>(w.getType());
  SmallVector<int64_t> shape{xt.getDimSize(0), wt.getDimSize(1)};
  SmallVector<Value> dyn = getDynamicSizes(shape, [&](int64_t d) {
    return d == 0 ? getDimSize(b, loc, x, 0) : getDimSize(b, loc, w, 1);
  });
  Value init = zeroFilled(b, loc, shape, xt.getElementType(), dyn);
  return linalg::MatmulOp::create(b, loc, TypeRange{init.getType()},
                                  ValueRange{x, w}, ValueRange{init})
      .getResult(0);
}

} // namespace

/// The product of an activation [..., K] by a weight that may be a
/// `#slim.quant` tensor (`compressed`, possibly [N, K] with `transposed`).
FailureOr<Value> mlir::slim::onnx_import::buildLinear(NodeImporter &n, Value x,
                                                      const TensorValue &w,
                                                      bool transposed) {
  OpBuilder &b = n.b;
  Location loc = n.loc;
  auto xt = cast<RankedTensorType>(x.getType());
  if (w.compressed) {
    auto wt = cast<RankedTensorType>(w.compressed.getType());
    SmallVector<int64_t> shape(xt.getShape());
    shape.back() = wt.getDimSize(transposed ? 0 : 1);
    Value lhs = x;
    if (xt.getRank() < 2)
      return n.emitError() << "expected an activation of rank >= 2";
    auto op = mlir::slim::MatmulOp::create(
        b, loc, RankedTensorType::get(shape, xt.getElementType()), lhs,
        w.compressed, transposed ? b.getUnitAttr() : UnitAttr());
    return op.getResult();
  }
  Value weight = w.value;
  if (transposed) {
    auto wt = w.getType();
    SmallVector<int64_t> shape{wt.getDimSize(1), wt.getDimSize(0)};
    SmallVector<Value> dyn = getDynamicSizes(
        shape, [&](int64_t d) { return getDimSize(b, loc, weight, 1 - d); });
    Value init = createEmpty(b, loc, shape, wt.getElementType(), dyn);
    weight = linalg::TransposeOp::create(b, loc, weight, init,
                                         ArrayRef<int64_t>{1, 0})
                 .getResult()[0];
  }
  int64_t nDim = cast<RankedTensorType>(weight.getType()).getDimSize(1);
  Value y = matmul2d(b, loc, collapseLeading(b, loc, x), weight);
  return expandLeading(b, loc, y, x, nDim);
}

namespace {

/// Batched product with numpy broadcasting of the batch dimensions.
FailureOr<Value> batchMatmul(NodeImporter &n, Value a, Value c) {
  OpBuilder &b = n.b;
  Location loc = n.loc;
  auto at = cast<RankedTensorType>(a.getType());
  auto ct = cast<RankedTensorType>(c.getType());
  int64_t batchRank = std::max(at.getRank(), ct.getRank()) - 2;
  SmallVector<int64_t> batch;
  SmallVector<std::pair<Value, int64_t>> src;
  for (int64_t d = 0; d < batchRank; ++d) {
    int64_t ad = d - (batchRank - (at.getRank() - 2));
    int64_t cd = d - (batchRank - (ct.getRank() - 2));
    int64_t as = ad >= 0 ? at.getDimSize(ad) : 1;
    int64_t cs = cd >= 0 ? ct.getDimSize(cd) : 1;
    if (!ShapedType::isDynamic(as) && as != 1) {
      if (!ShapedType::isDynamic(cs) && cs != 1 && cs != as)
        return n.emitError() << "batch dimensions " << as << " and " << cs
                             << " cannot be broadcast";
      batch.push_back(as);
      src.push_back({a, ad});
    } else if (!ShapedType::isDynamic(cs) && cs != 1) {
      batch.push_back(cs);
      src.push_back({c, cd});
    } else if (ShapedType::isDynamic(as)) {
      batch.push_back(as);
      src.push_back({a, ad});
    } else if (ShapedType::isDynamic(cs)) {
      batch.push_back(cs);
      src.push_back({c, cd});
    } else {
      batch.push_back(1);
      src.push_back({Value(), 0});
    }
  }
  // A dynamic batch dimension of an operand other than the one the size is
  // taken from must match it (ONNX exporters never rely on a dynamic 1).
  for (int64_t d = 0; d < batchRank; ++d) {
    for (auto [v, t] : {std::pair{a, at}, std::pair{c, ct}}) {
      int64_t od = d - (batchRank - (t.getRank() - 2));
      if (od < 0 || !t.isDynamicDim(od) ||
          (src[d].first == v && src[d].second == od))
        continue;
      Value want = src[d].first
                       ? getDimSize(b, loc, src[d].first, src[d].second)
                       : arith::ConstantIndexOp::create(b, loc, batch[d]);
      emitEqualCheck(n, getDimSize(b, loc, v, od), want,
                     "batch dimensions cannot be broadcast");
    }
  }
  auto broadcastOperand = [&](Value v) -> Value {
    auto t = cast<RankedTensorType>(v.getType());
    SmallVector<int64_t> shape(batch);
    shape.push_back(t.getDimSize(t.getRank() - 2));
    shape.push_back(t.getDimSize(t.getRank() - 1));
    if (t.getShape() == ArrayRef<int64_t>(shape))
      return v;
    SmallVector<Value> dyn = getDynamicSizes(shape, [&](int64_t d) -> Value {
      if (d < batchRank)
        return getDimSize(b, loc, src[d].first, src[d].second);
      return getDimSize(b, loc, v, t.getRank() - (shape.size() - d));
    });
    return broadcastTo(b, loc, v, shape, dyn);
  };
  Value a3 = broadcastOperand(a), c3 = broadcastOperand(c);
  // Collapse the batch dimensions into one.
  auto collapse = [&](Value v) -> Value {
    auto t = cast<RankedTensorType>(v.getType());
    int64_t rank = t.getRank();
    if (rank == 3)
      return v;
    ReassociationIndices lead;
    for (int64_t d = 0; d < rank - 2; ++d)
      lead.push_back(d);
    if (lead.empty())
      return tensor::ExpandShapeOp::create(
          b, loc,
          RankedTensorType::get({1, t.getDimSize(0), t.getDimSize(1)},
                                t.getElementType()),
          v, ArrayRef<ReassociationIndices>{{0, 1}, {2}});
    return tensor::CollapseShapeOp::create(
        b, loc, v,
        ArrayRef<ReassociationIndices>{lead, {rank - 2}, {rank - 1}});
  };
  Value a2 = collapse(a3), c2 = collapse(c3);
  auto a2t = cast<RankedTensorType>(a2.getType());
  auto c2t = cast<RankedTensorType>(c2.getType());
  SmallVector<int64_t> shape{a2t.getDimSize(0), a2t.getDimSize(1),
                             c2t.getDimSize(2)};
  SmallVector<Value> dyn = getDynamicSizes(shape, [&](int64_t d) {
    return d == 2 ? getDimSize(b, loc, c2, 2) : getDimSize(b, loc, a2, d);
  });
  Value init = zeroFilled(b, loc, shape, a2t.getElementType(), dyn);
  Value y = linalg::BatchMatmulOp::create(b, loc, TypeRange{init.getType()},
                                          ValueRange{a2, c2}, ValueRange{init})
                .getResult(0);
  // Expand back to [batch..., m, n].
  SmallVector<int64_t> outShape(batch);
  outShape.push_back(at.getDimSize(at.getRank() - 2));
  outShape.push_back(ct.getDimSize(ct.getRank() - 1));
  if (batchRank == 1)
    return y;
  SmallVector<OpFoldResult> sizes;
  for (int64_t d = 0; d < batchRank; ++d)
    sizes.push_back(
        ShapedType::isDynamic(batch[d])
            ? OpFoldResult(getDimSize(b, loc, src[d].first, src[d].second))
            : OpFoldResult(b.getIndexAttr(batch[d])));
  sizes.push_back(ShapedType::isDynamic(outShape[batchRank])
                      ? OpFoldResult(getDimSize(b, loc, y, 1))
                      : OpFoldResult(b.getIndexAttr(outShape[batchRank])));
  sizes.push_back(ShapedType::isDynamic(outShape[batchRank + 1])
                      ? OpFoldResult(getDimSize(b, loc, y, 2))
                      : OpFoldResult(b.getIndexAttr(outShape[batchRank + 1])));
  ReassociationIndices lead;
  for (int64_t d = 0; d < batchRank; ++d)
    lead.push_back(d);
  SmallVector<ReassociationIndices> groups;
  if (batchRank == 0)
    groups = {{0, 1}, {2}};
  else
    groups = {lead, {batchRank}, {batchRank + 1}};
  return tensor::ExpandShapeOp::create(
             b, loc, RankedTensorType::get(outShape, a2t.getElementType()), y,
             groups, sizes)
      .getResult();
}

LogicalResult importMatMul(NodeImporter &n) {
  if (failed(n.expectInputs(2, 2)))
    return failure();
  const TensorValue &a = n.input(0), &w = n.input(1);
  if (a.dtype != w.dtype)
    return n.emitError() << "input #1 is " << getDTypeName(w.dtype)
                         << " but input #0 is " << getDTypeName(a.dtype);
  if (a.dtype == kBool)
    return n.emitError() << "expected numeric inputs";
  OpBuilder &b = n.b;
  Location loc = n.loc;
  Value x = a.value;
  auto xt = a.getType();
  auto wt = w.getType();
  if (xt.getRank() == 0 || wt.getRank() == 0)
    return n.emitError() << "MatMul operands must have rank >= 1";
  // numpy: a 1-D lhs is a row, a 1-D rhs a column; both are dropped after.
  bool squeezeLhs = xt.getRank() == 1, squeezeRhs = wt.getRank() == 1;
  if (squeezeLhs)
    x = tensor::ExpandShapeOp::create(
        b, loc,
        RankedTensorType::get({1, xt.getDimSize(0)}, xt.getElementType()), x,
        ArrayRef<ReassociationIndices>{{0, 1}},
        ArrayRef<OpFoldResult>{
            b.getIndexAttr(1),
            xt.isDynamicDim(0)
                ? OpFoldResult(getDimSize(b, loc, x, 0))
                : OpFoldResult(b.getIndexAttr(xt.getDimSize(0)))});
  TensorValue rhs = w;
  if (squeezeRhs) {
    rhs.value = tensor::ExpandShapeOp::create(
        b, loc,
        RankedTensorType::get({wt.getDimSize(0), 1}, wt.getElementType()),
        w.value, ArrayRef<ReassociationIndices>{{0, 1}},
        ArrayRef<OpFoldResult>{
            wt.isDynamicDim(0) ? OpFoldResult(getDimSize(b, loc, w.value, 0))
                               : OpFoldResult(b.getIndexAttr(wt.getDimSize(0))),
            b.getIndexAttr(1)});
    rhs.compressed = {};
  }
  auto x2t = cast<RankedTensorType>(x.getType());
  auto r2t = rhs.getType();
  int64_t k1 = x2t.getShape().back(), k2 = r2t.getDimSize(r2t.getRank() - 2);
  if (!ShapedType::isDynamic(k1) && !ShapedType::isDynamic(k2) && k1 != k2)
    return n.emitError() << "inner dimensions differ: " << k1 << " and " << k2;
  emitDimsEqualCheck(n, x, x2t.getRank() - 1, rhs.value, r2t.getRank() - 2,
                     "the inner dimensions of the product differ");

  FailureOr<Value> y = r2t.getRank() == 2
                           ? buildLinear(n, x, rhs, /*transposed=*/false)
                           : batchMatmul(n, x, rhs.value);
  if (failed(y))
    return failure();
  Value result = *y;
  auto rt = cast<RankedTensorType>(result.getType());
  if (squeezeLhs || squeezeRhs) {
    SmallVector<int64_t> shape(rt.getShape());
    int64_t rank = shape.size();
    SmallVector<ReassociationIndices> groups;
    SmallVector<int64_t> outShape;
    if (squeezeRhs) {
      shape.pop_back();
    }
    if (squeezeLhs) {
      shape.erase(shape.end() - 1);
    }
    // Drop the unit dims with a collapse: merge each dropped dim into its
    // neighbour group.
    int64_t drop1 = squeezeLhs ? rank - 2 : -1,
            drop2 = squeezeRhs ? rank - 1 : -1;
    ReassociationIndices pending;
    for (int64_t d = 0; d < rank; ++d) {
      pending.push_back(d);
      if (d != drop1 && d != drop2) {
        groups.push_back(pending);
        pending.clear();
        outShape.push_back(rt.getDimSize(d));
      }
    }
    if (!pending.empty() && !groups.empty())
      groups.back().append(pending.begin(), pending.end());
    result = tensor::CollapseShapeOp::create(
        b, loc, RankedTensorType::get(outShape, rt.getElementType()), result,
        groups);
  }
  n.setOutput(0, result, a.dtype);
  return success();
}

LogicalResult importGemm(NodeImporter &n) {
  if (failed(n.expectInputs(2, 3)))
    return failure();
  const TensorValue &a = n.input(0), &w = n.input(1);
  if (a.getType().getRank() != 2 || w.getType().getRank() != 2)
    return n.emitError() << "expected rank-2 A and B";
  if (!isFloatDType(a.dtype) && !isIntegerDType(a.dtype))
    return n.emitError() << "expected numeric inputs";
  OpBuilder &b = n.b;
  Location loc = n.loc;
  float alpha = n.getFloat("alpha", 1.0f), beta = n.getFloat("beta", 1.0f);
  bool transA = n.getInt("transA", 0) != 0, transB = n.getInt("transB", 0) != 0;
  Value x = a.value;
  if (transA) {
    auto t = a.getType();
    SmallVector<int64_t> shape{t.getDimSize(1), t.getDimSize(0)};
    Value init = createEmpty(b, loc, shape, t.getElementType(),
                             getDynamicSizes(shape, [&](int64_t d) {
                               return getDimSize(b, loc, x, 1 - d);
                             }));
    x = linalg::TransposeOp::create(b, loc, x, init, ArrayRef<int64_t>{1, 0})
            .getResult()[0];
  }
  FailureOr<Value> y = buildLinear(n, x, w, transB);
  if (failed(y))
    return failure();
  Type et = a.getType().getElementType();
  Value result = *y;
  if (alpha != 1.0f) {
    FailureOr<Value> scaled = buildElementwise(
        n, {result}, et,
        [&](OpBuilder &nb, Location nl, ValueRange v) -> Value {
          Value s = createScalar(nb, nl, et, alpha);
          return isa<FloatType>(et)
                     ? Value(arith::MulFOp::create(nb, nl, v[0], s))
                     : Value(arith::MulIOp::create(nb, nl, v[0], s));
        });
    if (failed(scaled))
      return failure();
    result = *scaled;
  }
  if (n.hasInput(2) && beta != 0.0f) {
    FailureOr<Value> sum = buildElementwise(
        n, {result, n.operand(2)}, et,
        [&](OpBuilder &nb, Location nl, ValueRange v) -> Value {
          Value c = v[1];
          bool isFloat = isa<FloatType>(et);
          if (beta != 1.0f) {
            Value s = createScalar(nb, nl, et, beta);
            c = isFloat ? Value(arith::MulFOp::create(nb, nl, c, s))
                        : Value(arith::MulIOp::create(nb, nl, c, s));
          }
          return isFloat ? Value(arith::AddFOp::create(nb, nl, v[0], c))
                         : Value(arith::AddIOp::create(nb, nl, v[0], c));
        });
    if (failed(sum))
      return failure();
    result = *sum;
  }
  n.setOutput(0, result, a.dtype);
  return success();
}

} // namespace

void mlir::slim::onnx_import::registerLinearOps(OpRegistry &r) {
  r.add("", "MatMul", importMatMul);
  r.add("", "Gemm", importGemm);
}
