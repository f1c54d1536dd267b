//===- OpsQuantized.cpp - Pre-quantized ONNX operators --------------------===//
//
// Part of the Slim project, under the Apache License v2.0 with LLVM Exceptions.
// SPDX-License-Identifier: Apache-2.0 WITH LLVM-exception
//
//===----------------------------------------------------------------------===//
//
// QuantizeLinear / DequantizeLinear (per-tensor, per-axis, blocked) and
// com.microsoft.MatMulNBits. A DequantizeLinear of a constant integer weight
// and every MatMulNBits weight import as `#slim.quant` tensors assembled from
// the model's own bytes (codes are not repacked: ONNX's and Slim's layouts
// agree), so models quantized by onnxruntime's tools arrive compressed.
// Q/DQ of activations import as elementwise arithmetic.
//
//===----------------------------------------------------------------------===//

#include "lib/Import/Onnx/GraphImporter.h"
#include "lib/Import/Onnx/ModelLoader.h"

#include "dialects/Slim/IR/SlimOps.h"
#include "lib/Compression/Packing.h"

#include "onnx/onnx.pb.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Linalg/IR/Linalg.h"
#include "mlir/Dialect/Math/IR/Math.h"
#include "mlir/Dialect/Tensor/IR/Tensor.h"
#include "mlir/IR/DialectResourceBlobManager.h"

#include <cstring>

using namespace mlir;
using namespace mlir::slim;
using namespace mlir::slim::onnx_import;

namespace {

/// Granularity of a Q/DQ scale relative to the quantized tensor.
struct Granularity {
  enum Kind { PerTensor, PerAxis, Blocked } kind = PerTensor;
  int64_t axis = 0;
  int64_t blockSize = 0;
};

FailureOr<Granularity> getGranularity(NodeImporter &n, RankedTensorType x,
                                      RankedTensorType scale) {
  Granularity g;
  int64_t rank = x.getRank();
  if (scale.getRank() == 0 || (scale.getRank() == 1 && scale.getDimSize(0) == 1))
    return g;
  FailureOr<int64_t> axis = normalizeAxis(n, n.getInt("axis", 1), rank);
  if (failed(axis))
    return failure();
  g.axis = *axis;
  int64_t block = n.getInt("block_size", 0);
  if (block > 0) {
    if (scale.getRank() != rank)
      return n.emitError() << "blocked scales must have the input's rank";
    g.kind = Granularity::Blocked;
    g.blockSize = block;
    return g;
  }
  if (scale.getRank() != 1)
    return n.emitError() << "per-axis scales must be 1-D";
  g.kind = Granularity::PerAxis;
  return g;
}

/// Broadcasts a Q/DQ parameter to `x`'s shape for elementwise use.
Value expandParam(NodeImporter &n, Value param, Value x, const Granularity &g) {
  OpBuilder &b = n.b;
  Location loc = n.loc;
  auto xt = cast<RankedTensorType>(x.getType());
  auto pt = cast<RankedTensorType>(param.getType());
  int64_t rank = xt.getRank();
  if (g.kind == Granularity::PerTensor) {
    if (pt.getRank() == 0)
      return param;
    return tensor::CollapseShapeOp::create(
        b, loc, RankedTensorType::get({}, pt.getElementType()), param,
        ArrayRef<ReassociationIndices>{});
  }
  SmallVector<Value> dyn = getDynamicSizes(xt.getShape(), [&](int64_t d) {
    return getDimSize(b, loc, x, d);
  });
  Value init = createEmpty(b, loc, xt.getShape(), pt.getElementType(), dyn);
  SmallVector<AffineExpr> exprs;
  if (g.kind == Granularity::PerAxis) {
    exprs.push_back(b.getAffineDimExpr(g.axis));
  } else {
    for (int64_t d = 0; d < rank; ++d)
      exprs.push_back(d == g.axis ? b.getAffineDimExpr(d).floorDiv(g.blockSize)
                                  : b.getAffineDimExpr(d));
  }
  SmallVector<AffineMap> maps{AffineMap::get(rank, 0, exprs, b.getContext()),
                              b.getMultiDimIdentityMap(rank)};
  SmallVector<utils::IteratorType> it(rank, utils::IteratorType::parallel);
  return linalg::GenericOp::create(
             b, loc, TypeRange{init.getType()}, ValueRange{param},
             ValueRange{init}, maps, it,
             [](OpBuilder &nb, Location nl, ValueRange args) {
               linalg::YieldOp::create(nb, nl, args[0]);
             })
      .getResult(0);
}

std::pair<int64_t, int64_t> intRange(int32_t dtype) {
  switch (dtype) {
  case kInt8:
    return {-128, 127};
  case kUInt8:
    return {0, 255};
  case kInt16:
    return {-32768, 32767};
  case kUInt16:
    return {0, 65535};
  case kInt32:
    return {INT32_MIN, INT32_MAX};
  default:
    return {0, 0};
  }
}

LogicalResult importQuantizeLinear(NodeImporter &n) {
  if (failed(n.expectInputs(2, 3)))
    return failure();
  const TensorValue &x = n.input(0), &scale = n.input(1);
  if (!isFloatDType(x.dtype))
    return n.emitError() << "expected a floating-point input";
  int32_t outType = n.hasInput(2) ? n.input(2).dtype
                                  : n.getInt("output_dtype", kUInt8);
  if (outType == 0)
    outType = kUInt8;
  auto [qmin, qmax] = intRange(outType);
  if (qmin == qmax)
    return n.emitError() << "unsupported output type " << getDTypeName(outType);
  FailureOr<Granularity> g = getGranularity(n, x.getType(), scale.getType());
  if (failed(g))
    return failure();
  SmallVector<Value> operands{x.value, expandParam(n, scale.value, x.value, *g)};
  if (n.hasInput(2))
    operands.push_back(expandParam(n, n.operand(2), x.value, *g));
  int32_t xdt = x.dtype, sdt = scale.dtype;
  FailureOr<Value> y = buildElementwise(
      n, operands, getElementType(n.getContext(), outType),
      [&](OpBuilder &b, Location l, ValueRange v) -> Value {
        Value xf = castScalar(b, l, v[0], xdt, kFloat);
        Value sf = castScalar(b, l, v[1], sdt, kFloat);
        Value q = math::RoundEvenOp::create(b, l, arith::DivFOp::create(b, l, xf, sf));
        if (v.size() > 2)
          q = arith::AddFOp::create(b, l, q, castScalar(b, l, v[2], outType, kFloat));
        q = arith::MaximumFOp::create(b, l, q, createScalar(b, l, b.getF32Type(), qmin));
        q = arith::MinimumFOp::create(b, l, q, createScalar(b, l, b.getF32Type(), qmax));
        return castScalar(b, l, q, kFloat, outType);
      });
  if (failed(y))
    return failure();
  n.setOutput(0, *y, outType);
  return success();
}

/// Reshapes a constant to `shape` without copying its data.
Value reshapeConstant(OpBuilder &b, Location loc, const TensorValue &c,
                      ArrayRef<int64_t> shape, Type elementType) {
  auto type = RankedTensorType::get(shape, elementType);
  if (auto dense = dyn_cast<DenseElementsAttr>(c.constant)) {
    DenseElementsAttr attr =
        dense.getElementType() == elementType
            ? dense.reshape(type)
            : DenseElementsAttr::getFromRawBuffer(type, dense.getRawData());
    return arith::ConstantOp::create(b, loc, attr);
  }
  auto res = cast<DenseResourceElementsAttr>(c.constant);
  return arith::ConstantOp::create(
      b, loc, DenseResourceElementsAttr::get(type, res.getRawHandle()));
}

/// The bytes of a constant (dense or dense_resource).
ArrayRef<char> constantBytes(const TensorValue &c) {
  if (auto dense = dyn_cast<DenseElementsAttr>(c.constant))
    return dense.getRawData();
  return cast<DenseResourceElementsAttr>(c.constant).getData();
}

/// Unpacks `rows` rows of `perRow` packed `bits`-wide codes (each row
/// starting at a multiple of `rowBytes`) into one i8 each, sign-extended
/// when `isSigned`. Used for zero points, which Slim stores unpacked.
SmallVector<int8_t> unpackRows(ArrayRef<char> raw, int64_t rows,
                               int64_t perRow, int64_t rowBytes, unsigned bits,
                               bool isSigned) {
  SmallVector<int8_t> out;
  SmallVector<uint8_t> codes(perRow);
  for (int64_t r = 0; r < rows; ++r) {
    ArrayRef<uint8_t> row(
        reinterpret_cast<const uint8_t *>(raw.data()) + r * rowBytes, rowBytes);
    unpackCodes(row, bits, codes);
    for (uint8_t c : codes) {
      int v = c;
      if (isSigned && v >= (1 << (bits - 1)))
        v -= 1 << bits;
      out.push_back(static_cast<int8_t>(v));
    }
  }
  return out;
}

/// The `#slim.quant` scale type for an ONNX scale type, if supported.
Type getScaleType(MLIRContext *ctx, int32_t dtype) {
  if (dtype == kFloat || dtype == kFloat16 || dtype == kBFloat16)
    return getElementType(ctx, dtype);
  return {};
}

/// DequantizeLinear of a constant int8/uint8 weight with constant parameters
/// as a `#slim.quant` tensor; std::nullopt when the pattern does not apply.
std::optional<Value> dequantizeWeight(NodeImporter &n, const Granularity &g) {
  const TensorValue &x = n.input(0), &scale = n.input(1);
  if (!x.isConstant() || !scale.isConstant() ||
      (n.hasInput(2) && !n.input(2).isConstant()))
    return std::nullopt;
  if (x.dtype != kInt8 && x.dtype != kUInt8 && !x.packed4)
    return std::nullopt;
  Type scaleType = getScaleType(n.getContext(), scale.dtype);
  RankedTensorType xt =
      x.packed4 ? RankedTensorType::get(x.logicalShape, n.b.getI8Type())
                : x.getType();
  if (!scaleType || xt.getRank() < 1)
    return std::nullopt;
  OpBuilder &b = n.b;
  Location loc = n.loc;
  MLIRContext *ctx = n.getContext();
  int64_t rank = xt.getRank();
  int64_t axis = -1, group = 0;
  SmallVector<int64_t> scaleShape(rank, 1);
  if (g.kind == Granularity::PerAxis) {
    axis = g.axis;
    scaleShape[axis] = xt.getDimSize(axis);
  } else if (g.kind == Granularity::Blocked) {
    if (xt.getDimSize(g.axis) % g.blockSize != 0)
      return std::nullopt;
    axis = g.axis;
    group = g.blockSize;
    scaleShape.assign(xt.getShape().begin(), xt.getShape().end());
    scaleShape[axis] /= group;
  }
  unsigned bits = x.packed4 ? 4 : 8;
  bool isSigned = x.dtype == kInt8 || x.dtype == kInt4;
  auto quant = QuantAttr::get(ctx, QuantFormat::Int, bits, isSigned, axis,
                              group, scaleType, n.hasInput(2));
  auto compressedType = RankedTensorType::get(
      xt.getShape(), getElementType(ctx, scale.dtype), quant);
  // 4-bit codes: ONNX packs them low nibble first, like Slim; an even
  // innermost dimension keeps rows byte-aligned, so the bytes are the codes.
  SmallVector<Value> storage{x.packed4 ? x.value
                                       : reshapeConstant(b, loc, x, xt.getShape(),
                                                         b.getI8Type()),
                             reshapeConstant(b, loc, scale, scaleShape, scaleType)};
  if (n.hasInput(2)) {
    const TensorValue &zp = n.input(2);
    if (zp.packed4) {
      // Zero points are small: unpack them to one i8 each (ONNX packs the
      // flattened tensor, so it is a single row).
      int64_t count = 1;
      for (int64_t d : zp.logicalShape)
        count *= d;
      if (count != RankedTensorType::get(scaleShape, b.getI8Type()).getNumElements())
        return std::nullopt;
      SmallVector<int8_t> values = unpackRows(constantBytes(zp), 1, count,
                                              (count + 1) / 2, 4, isSigned);
      storage.push_back(arith::ConstantOp::create(
          b, loc,
          DenseElementsAttr::get(RankedTensorType::get(scaleShape, b.getI8Type()),
                                 ArrayRef<int8_t>(values))));
    } else {
      storage.push_back(reshapeConstant(b, loc, zp, scaleShape, b.getI8Type()));
    }
  }
  return AssembleOp::create(b, loc, compressedType, storage).getResult();
}

LogicalResult importDequantizeLinear(NodeImporter &n) {
  if (failed(n.expectInputs(2, 3)))
    return failure();
  const TensorValue &x = n.input(0), &scale = n.input(1);
  if (!isIntegerDType(x.dtype) && !x.packed4)
    return n.emitError() << "expected an integer input, got "
                         << getDTypeName(x.dtype);
  if (!isFloatDType(scale.dtype))
    return n.emitError() << "expected floating-point scales";
  if (n.hasInput(2) && n.input(2).dtype != x.dtype)
    return n.emitError() << "zero point type " << getDTypeName(n.input(2).dtype)
                         << " differs from input type " << getDTypeName(x.dtype);
  RankedTensorType logicalType =
      x.packed4 ? RankedTensorType::get(x.logicalShape, n.b.getI8Type())
                : x.getType();
  FailureOr<Granularity> g = getGranularity(n, logicalType, scale.getType());
  if (failed(g))
    return failure();
  int32_t outType = scale.dtype;
  if (std::optional<Value> w = dequantizeWeight(n, *g)) {
    TensorValue v;
    v.compressed = *w;
    v.value = DequantizeOp::create(
        n.b, n.loc,
        RankedTensorType::get(logicalType.getShape(),
                              getElementType(n.getContext(), outType)),
        *w);
    v.dtype = outType;
    n.setOutput(0, std::move(v));
    return success();
  }
  if (x.packed4)
    return n.emitError() << "4-bit input needs constant scales and zero "
                            "points of a supported layout";
  SmallVector<Value> operands{x.value, expandParam(n, scale.value, x.value, *g)};
  if (n.hasInput(2))
    operands.push_back(expandParam(n, n.operand(2), x.value, *g));
  int32_t xdt = x.dtype;
  FailureOr<Value> y = buildElementwise(
      n, operands, getElementType(n.getContext(), outType),
      [&](OpBuilder &b, Location l, ValueRange v) -> Value {
        Value q = castScalar(b, l, v[0], xdt, kInt32);
        if (v.size() > 2)
          q = arith::SubIOp::create(b, l, q, castScalar(b, l, v[2], xdt, kInt32));
        Value f = castScalar(b, l, q, kInt32, outType);
        return arith::MulFOp::create(b, l, f, v[1]);
      });
  if (failed(y))
    return failure();
  n.setOutput(0, *y, outType);
  return success();
}

/// com.microsoft.MatMulNBits(A, B, scales, zero_points?, g_idx?, bias?).
LogicalResult importMatMulNBits(NodeImporter &n) {
  if (failed(n.expectInputs(3, 6)))
    return failure();
  const TensorValue &a = n.input(0), &bq = n.input(1), &scales = n.input(2);
  int64_t k = n.getInt("K", 0), nOut = n.getInt("N", 0);
  int64_t bits = n.getInt("bits", 4), block = n.getInt("block_size", 0);
  if (k <= 0 || nOut <= 0 || block <= 0)
    return n.emitError() << "expected positive K, N and block_size attributes";
  if (bits != 2 && bits != 4 && bits != 8)
    return n.emitError() << "unsupported bits=" << bits << " (2, 4 or 8)";
  if (!isFloatDType(a.dtype))
    return n.emitError() << "expected a floating-point activation";
  if (block * bits % 8 != 0)
    return n.emitError() << "block_size=" << block << " with bits=" << bits
                         << " does not fill whole bytes";
  if (!bq.isConstant() || bq.dtype != kUInt8)
    return n.emitError() << "expected a constant uint8 weight";
  if (!scales.isConstant())
    return n.emitError() << "expected constant scales";
  if (n.hasInput(4))
    return n.emitError() << "g_idx (act-order) is unsupported";
  Type scaleType = getScaleType(n.getContext(), scales.dtype);
  if (!scaleType)
    return n.emitError() << "unsupported scale type " << getDTypeName(scales.dtype);
  // When block_size does not divide K, the last block of each row is
  // padded to a whole block: B is [N, blocks, block * bits / 8].
  int64_t blocks = (k + block - 1) / block;
  int64_t paddedRow = blocks * block * bits / 8;
  int64_t rowBytes = (k * bits + 7) / 8;
  if (bq.getType().getNumElements() != nOut * paddedRow)
    return n.emitError() << "weight has " << bq.getType().getNumElements()
                         << " bytes, N=" << nOut << " K=" << k << " bits="
                         << bits << " block_size=" << block << " needs "
                         << nOut * paddedRow;
  if (scales.getType().getNumElements() != nOut * blocks)
    return n.emitError() << "scales have " << scales.getType().getNumElements()
                         << " elements, expected " << nOut * blocks;
  OpBuilder &b = n.b;
  Location loc = n.loc;
  MLIRContext *ctx = n.getContext();
  Value codes;
  if (paddedRow == rowBytes) {
    codes = reshapeConstant(b, loc, bq, {nOut, rowBytes}, b.getI8Type());
  } else {
    // Slim's rows end at the last code: each row's first rowBytes bytes
    // (blocks fill whole bytes, so the codes are contiguous), copied.
    ArrayRef<char> raw = constantBytes(bq);
    AsmResourceBlob blob =
        HeapAsmResourceBlob::allocate(nOut * rowBytes, /*align=*/64);
    MutableArrayRef<char> dst = blob.getMutableData();
    for (int64_t r = 0; r < nOut; ++r)
      std::memcpy(dst.data() + r * rowBytes, raw.data() + r * paddedRow,
                  rowBytes);
    auto type = RankedTensorType::get({nOut, rowBytes}, b.getI8Type());
    codes = arith::ConstantOp::create(
        b, loc,
        DenseResourceElementsAttr::get(type, n.getNode().input(1) + ".unpadded",
                                       std::move(blob)));
  }
  SmallVector<Value> storage{
      codes, reshapeConstant(b, loc, scales, {nOut, blocks}, scaleType)};
  bool hasZp = n.hasInput(3);
  if (hasZp) {
    const TensorValue &zp = n.input(3);
    if (!zp.isConstant() || zp.dtype != kUInt8)
      return n.emitError() << "only constant uint8 (packed) zero points are "
                              "supported";
    // Packed like the codes, each row padded to a byte: unpack to one i8 per
    // block (a small copy; the weights themselves are not copied).
    int64_t zpRow = (blocks * bits + 7) / 8;
    if (zp.getType().getNumElements() != nOut * zpRow)
      return n.emitError() << "zero points have "
                           << zp.getType().getNumElements()
                           << " bytes, expected " << nOut * zpRow;
    SmallVector<int8_t> unpacked = unpackRows(constantBytes(zp), nOut, blocks,
                                              zpRow, bits, /*isSigned=*/false);
    auto zpType = RankedTensorType::get({nOut, blocks}, b.getI8Type());
    storage.push_back(arith::ConstantOp::create(
        b, loc, DenseElementsAttr::get(zpType, ArrayRef<int8_t>(unpacked))));
  }
  auto quant = QuantAttr::get(ctx, QuantFormat::Int, bits, /*isSigned=*/false,
                              /*axis=*/1, block, scaleType, hasZp);
  Type et = a.getType().getElementType();
  auto wType = RankedTensorType::get({nOut, k}, et, quant);
  TensorValue w;
  w.compressed = AssembleOp::create(b, loc, wType, storage);
  w.dtype = a.dtype;
  FailureOr<Value> y = buildLinear(n, a.value, w, /*transposed=*/true);
  if (failed(y))
    return failure();
  Value result = *y;
  if (n.hasInput(5)) {
    FailureOr<Value> biased = buildElementwise(
        n, {result, n.operand(5)}, et,
        [](OpBuilder &nb, Location nl, ValueRange v) -> Value {
          return arith::AddFOp::create(nb, nl, v[0], v[1]);
        });
    if (failed(biased))
      return failure();
    result = *biased;
  }
  n.setOutput(0, result, a.dtype);
  return success();
}

} // namespace

void mlir::slim::onnx_import::registerQuantizedOps(OpRegistry &r) {
  r.add("", "QuantizeLinear", importQuantizeLinear);
  r.add("", "DequantizeLinear", importDequantizeLinear);
  r.add("com.microsoft", "MatMulNBits", importMatMulNBits);
}
