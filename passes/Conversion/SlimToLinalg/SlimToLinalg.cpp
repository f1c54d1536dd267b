//===- SlimToLinalg.cpp - Reference lowering of the Slim dialect ----------===//
//
// Part of the Slim project, under the Apache License v2.0 with LLVM Exceptions.
// SPDX-License-Identifier: Apache-2.0 WITH LLVM-exception
//
//===----------------------------------------------------------------------===//
//
// The executable definition of the Slim dialect: compressed tensors become
// their storage tensors (a 1:N type conversion) and Slim ops become upstream
// ops on dense tensors. Clarity wins over speed everywhere in this file.
//
//===----------------------------------------------------------------------===//

#include "passes/Conversion/Passes.h"

#include "dialects/Slim/IR/SlimOps.h"
#include "lib/Compression/Packing.h"

#include "mlir/Dialect/ControlFlow/IR/ControlFlowOps.h"
#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Dialect/Func/Transforms/FuncConversions.h"
#include "mlir/Dialect/LLVMIR/LLVMDialect.h"
#include "mlir/Dialect/SCF/IR/SCF.h"
#include "mlir/Dialect/Utils/ReshapeOpsUtils.h"
#include "mlir/IR/BuiltinTypes.h"

namespace mlir::slim {
#define GEN_PASS_DEF_CONVERTSLIMTOLINALGPASS
#include "passes/Conversion/Passes.h.inc"
} // namespace mlir::slim

using namespace mlir;
using namespace mlir::slim;

//===----------------------------------------------------------------------===//
// Type conversion
//===----------------------------------------------------------------------===//

SlimStorageTypeConverter::SlimStorageTypeConverter() {
  addConversion([](Type type) { return type; });
  addConversion([](RankedTensorType type, SmallVectorImpl<Type> &results)
                    -> std::optional<LogicalResult> {
    if (!isCompressedTensor(type))
      return std::nullopt;
    FailureOr<SmallVector<StorageComponent>> storage = getStorageComponents(
        type, [&] { return emitError(UnknownLoc::get(type.getContext())); });
    if (failed(storage))
      return failure();
    for (const StorageComponent &component : *storage)
      results.push_back(component.type);
    return success();
  });
}

//===----------------------------------------------------------------------===//
// IR building helpers
//===----------------------------------------------------------------------===//

namespace {

/// Small arithmetic builder so that the decoding code reads like the
/// formulas in the dialect documentation.
struct Emitter {
  OpBuilder &b;
  Location loc;

  Value index(int64_t v) { return arith::ConstantIndexOp::create(b, loc, v); }
  Value i32(int64_t v) {
    return arith::ConstantIntOp::create(b, loc, b.getI32Type(), v);
  }
  Value f32(double v) {
    return arith::ConstantFloatOp::create(b, loc, b.getF32Type(),
                                          APFloat(static_cast<float>(v)));
  }
  Value zero(Type type) {
    return arith::ConstantOp::create(b, loc, type, b.getZeroAttr(type));
  }
  Value extract(Value tensor, ValueRange indices) {
    return tensor::ExtractOp::create(b, loc, tensor, indices);
  }
  Value dim(Value tensor, int64_t d) {
    return tensor::DimOp::create(b, loc, tensor, d);
  }
  /// Converts a float scalar between float types.
  Value castFloat(Value v, Type to) {
    Type from = v.getType();
    if (from == to)
      return v;
    if (from.getIntOrFloatBitWidth() < to.getIntOrFloatBitWidth())
      return arith::ExtFOp::create(b, loc, to, v);
    return arith::TruncFOp::create(b, loc, to, v);
  }
  Value toIndex(Value v) {
    return arith::IndexCastOp::create(b, loc, b.getIndexType(), v);
  }
};

/// `tensor.empty` of `type` whose dynamic sizes are `dims` (one per dynamic
/// dimension, in order).
static Value emptyLike(OpBuilder &b, Location loc, RankedTensorType type,
                       ValueRange dynSizes) {
  return tensor::EmptyOp::create(b, loc, type.getShape(), type.getElementType(),
                                 dynSizes);
}

/// Dynamic sizes for `type`, reading dimension `d` from `getSize(d)`.
static SmallVector<Value> dynamicSizes(RankedTensorType type,
                                       function_ref<Value(int64_t)> getSize) {
  SmallVector<Value> sizes;
  for (int64_t d = 0; d < type.getRank(); ++d)
    if (type.isDynamicDim(d))
      sizes.push_back(getSize(d));
  return sizes;
}

/// A zero-filled tensor of `type`.
static Value zeros(OpBuilder &b, Location loc, RankedTensorType type,
                   ValueRange dynSizes) {
  Emitter e{b, loc};
  Value empty = emptyLike(b, loc, type, dynSizes);
  return linalg::FillOp::create(b, loc,
                                ValueRange{e.zero(type.getElementType())},
                                ValueRange{empty})
      .getResult(0);
}

/// An elementwise linalg.generic over the dims of `init` whose body computes
/// the element at `indices` from nothing but captured values.
static Value
buildIndexedGeneric(OpBuilder &b, Location loc, Value init,
                    function_ref<Value(Emitter &, ArrayRef<Value>)> body) {
  auto type = cast<RankedTensorType>(init.getType());
  int64_t rank = type.getRank();
  SmallVector<utils::IteratorType> iterators(rank,
                                             utils::IteratorType::parallel);
  auto generic = linalg::GenericOp::create(
      b, loc, TypeRange{type}, ValueRange{}, ValueRange{init},
      ArrayRef<AffineMap>{b.getMultiDimIdentityMap(rank)}, iterators,
      [&](OpBuilder &nb, Location nloc, ValueRange) {
        Emitter e{nb, nloc};
        SmallVector<Value> indices;
        for (int64_t d = 0; d < rank; ++d)
          indices.push_back(linalg::IndexOp::create(nb, nloc, d));
        linalg::YieldOp::create(nb, nloc, body(e, indices));
      });
  return generic.getResult(0);
}

/// Converts every element of `tensor` to `elementType`.
static Value convertElements(OpBuilder &b, Location loc, Value tensor,
                             Type elementType) {
  auto type = cast<RankedTensorType>(tensor.getType());
  if (type.getElementType() == elementType)
    return tensor;
  auto resultType = RankedTensorType::get(type.getShape(), elementType);
  Emitter e{b, loc};
  Value init = emptyLike(
      b, loc, resultType,
      dynamicSizes(resultType, [&](int64_t d) { return e.dim(tensor, d); }));
  int64_t rank = type.getRank();
  AffineMap id = b.getMultiDimIdentityMap(rank);
  SmallVector<utils::IteratorType> iterators(rank,
                                             utils::IteratorType::parallel);
  return linalg::GenericOp::create(
             b, loc, TypeRange{resultType}, ValueRange{tensor},
             ValueRange{init}, ArrayRef<AffineMap>{id, id}, iterators,
             [&](OpBuilder &nb, Location nloc, ValueRange args) {
               Emitter ne{nb, nloc};
               linalg::YieldOp::create(nb, nloc,
                                       ne.castFloat(args[0], elementType));
             })
      .getResult(0);
}

/// `a * b` for rank-2 tensors, accumulating in f32 (or the element type if
/// wider) and returning `resultElementType`.
static Value matmul2d(OpBuilder &b, Location loc, Value lhs, Value rhs,
                      Type resultElementType) {
  Emitter e{b, loc};
  Type accType = resultElementType.getIntOrFloatBitWidth() < 32
                     ? Type(b.getF32Type())
                     : resultElementType;
  lhs = convertElements(b, loc, lhs, accType);
  rhs = convertElements(b, loc, rhs, accType);
  auto lhsType = cast<RankedTensorType>(lhs.getType());
  auto rhsType = cast<RankedTensorType>(rhs.getType());
  auto accTensorType = RankedTensorType::get(
      {lhsType.getDimSize(0), rhsType.getDimSize(1)}, accType);
  Value init =
      zeros(b, loc, accTensorType, dynamicSizes(accTensorType, [&](int64_t d) {
              return d == 0 ? e.dim(lhs, 0) : e.dim(rhs, 1);
            }));
  Value product =
      linalg::MatmulOp::create(b, loc, TypeRange{accTensorType},
                               ValueRange{lhs, rhs}, ValueRange{init})
          .getResult(0);
  return convertElements(b, loc, product, resultElementType);
}

//===----------------------------------------------------------------------===//
// Decoding
//===----------------------------------------------------------------------===//

/// Index of the scale for the element at `indices`.
static SmallVector<Value> scaleIndices(Emitter &e, QuantAttr q,
                                       ArrayRef<Value> indices) {
  SmallVector<Value> result;
  for (auto [d, idx] : llvm::enumerate(indices)) {
    int64_t dim = static_cast<int64_t>(d);
    if (q.isPerTensor() || (q.isPerChannel() && dim != q.getAxis()))
      result.push_back(e.index(0));
    else if (q.isGrouped() && dim == q.getAxis())
      result.push_back(
          arith::DivUIOp::create(e.b, e.loc, idx, e.index(q.getGroupSize())));
    else
      result.push_back(idx);
  }
  return result;
}

static std::optional<CodeFormat> getCodeFormat(QuantFormat format) {
  switch (format) {
  case QuantFormat::NF4:
    return CodeFormat::NF4;
  case QuantFormat::FP8E4M3:
    return CodeFormat::FP8E4M3;
  case QuantFormat::FP8E5M2:
    return CodeFormat::FP8E5M2;
  case QuantFormat::FP4E2M1:
    return CodeFormat::FP4E2M1;
  case QuantFormat::Int:
  case QuantFormat::LUT:
    return std::nullopt;
  }
  llvm_unreachable("unknown quant format");
}

} // namespace

Value mlir::slim::buildCodeTable(OpBuilder &b, Location loc, QuantAttr q,
                                 const QuantStorage &storage) {
  if (q.getFormat() == QuantFormat::LUT)
    return storage.codebook;
  std::optional<CodeFormat> format = getCodeFormat(q.getFormat());
  if (!format)
    return Value();
  SmallVector<float> values = getCodeTable(*format);
  auto tableType = RankedTensorType::get({static_cast<int64_t>(values.size())},
                                         b.getF32Type());
  return arith::ConstantOp::create(
      b, loc, DenseElementsAttr::get(tableType, ArrayRef<float>(values)));
}

namespace {

/// The element at `idx` decoded from the storage, with `table` the code
/// table (buildCodeTable) where the format has one.
static Value decodeElement(Emitter &e, QuantAttr q, const QuantStorage &storage,
                           Value table, ArrayRef<Value> idx, Type elementType) {
  OpBuilder &nb = e.b;
  Location l = e.loc;
  Value codes = storage.codes, scales = storage.scales;
  Value zeroPoints = storage.zeroPoints;
  unsigned bits = q.getBits();
  int64_t rowBytes = cast<RankedTensorType>(codes.getType()).getShape().back();
  Type i32 = nb.getI32Type();
  // Read the code: bits [j*bits, (j+1)*bits) of the row's bit stream.
  Value bitOffset = arith::MulIOp::create(nb, l, idx.back(), e.index(bits));
  Value byte = arith::DivUIOp::create(nb, l, bitOffset, e.index(8));
  Value shift = arith::RemUIOp::create(nb, l, bitOffset, e.index(8));
  SmallVector<Value> codeIdx(idx);
  codeIdx.back() = byte;
  Value word = arith::ExtUIOp::create(nb, l, i32, e.extract(codes, codeIdx));
  if (8 % bits != 0) {
    // A code may straddle two bytes; the clamp keeps the read in bounds
    // for the last code of a row, whose high byte is never needed.
    Value nextByte = arith::MinUIOp::create(
        nb, l, arith::AddIOp::create(nb, l, byte, e.index(1)),
        e.index(rowBytes - 1));
    codeIdx.back() = nextByte;
    Value high = arith::ExtUIOp::create(nb, l, i32, e.extract(codes, codeIdx));
    word = arith::OrIOp::create(nb, l, word,
                                arith::ShLIOp::create(nb, l, high, e.i32(8)));
  }
  Value shift32 = arith::IndexCastOp::create(nb, l, i32, shift);
  Value code =
      arith::AndIOp::create(nb, l, arith::ShRUIOp::create(nb, l, word, shift32),
                            e.i32((1 << bits) - 1));

  SmallVector<Value> sIdx = scaleIndices(e, q, idx);
  Value value;
  if (q.getFormat() == QuantFormat::Int) {
    Value v = code;
    if (q.getIsSigned()) {
      Value up = e.i32(32 - bits);
      v = arith::ShRSIOp::create(nb, l, arith::ShLIOp::create(nb, l, v, up),
                                 up);
    }
    Value zp;
    if (zeroPoints) {
      Value z8 = e.extract(zeroPoints, sIdx);
      zp = q.getIsSigned() ? Value(arith::ExtSIOp::create(nb, l, i32, z8))
                           : Value(arith::ExtUIOp::create(nb, l, i32, z8));
    } else {
      zp = e.i32(q.getIsSigned() ? 0 : (1 << (bits - 1)));
    }
    value = arith::SIToFPOp::create(nb, l, nb.getF32Type(),
                                    arith::SubIOp::create(nb, l, v, zp));
  } else {
    value = e.extract(table, {e.toIndex(code)});
  }
  Value scale = e.castFloat(e.extract(scales, sIdx), nb.getF32Type());
  return e.castFloat(arith::MulFOp::create(nb, l, value, scale), elementType);
}

} // namespace

Value mlir::slim::decodeQuantElement(OpBuilder &b, Location loc, QuantAttr q,
                                     const QuantStorage &storage,
                                     ArrayRef<Value> indices,
                                     Type elementType) {
  Emitter e{b, loc};
  Value table = buildCodeTable(b, loc, q, storage);
  return decodeElement(e, q, storage, table, indices, elementType);
}

namespace {

/// Decodes the quantized `valuesType` tensor from its storage.
static Value decodeQuant(OpBuilder &b, Location loc, QuantAttr q,
                         RankedTensorType valuesType,
                         const QuantStorage &storage) {
  Emitter e{b, loc};
  Value codes = storage.codes;
  Value table = buildCodeTable(b, loc, q, storage);
  auto denseType =
      RankedTensorType::get(valuesType.getShape(), valuesType.getElementType());
  Value init = emptyLike(
      b, loc, denseType,
      dynamicSizes(denseType, [&](int64_t d) { return e.dim(codes, d); }));
  Type elementType = valuesType.getElementType();
  return buildIndexedGeneric(
      b, loc, init, [&](Emitter &e, ArrayRef<Value> idx) {
        return decodeElement(e, q, storage, table, idx, elementType);
      });
}

/// Scatters N:M `values` (with in-run positions `indices`) into a dense
/// tensor of `denseType`.
static Value decodeStructuredSparse(OpBuilder &b, Location loc, SparseAttr s,
                                    RankedTensorType denseType, Value values,
                                    Value indices) {
  Emitter e{b, loc};
  int64_t axis = s.getAxis();
  unsigned n = s.getN(), m = s.getM();
  Value init = emptyLike(
      b, loc, denseType, dynamicSizes(denseType, [&](int64_t d) -> Value {
        Value size = e.dim(values, d);
        if (d != axis)
          return size;
        return arith::DivUIOp::create(
            b, loc, arith::MulIOp::create(b, loc, size, e.index(m)),
            e.index(n));
      }));
  Type elementType = denseType.getElementType();
  return buildIndexedGeneric(
      b, loc, init, [&](Emitter &e, ArrayRef<Value> idx) {
        OpBuilder &nb = e.b;
        Location l = e.loc;
        Value run = arith::DivUIOp::create(nb, l, idx[axis], e.index(m));
        Value pos = arith::IndexCastOp::create(
            nb, l, nb.getI8Type(),
            arith::RemUIOp::create(nb, l, idx[axis], e.index(m)));
        Value result = e.zero(elementType);
        for (unsigned t = 0; t < n; ++t) {
          SmallVector<Value> slot(idx);
          slot[axis] = arith::AddIOp::create(
              nb, l, arith::MulIOp::create(nb, l, run, e.index(n)), e.index(t));
          Value isHere = arith::CmpIOp::create(nb, l, arith::CmpIPredicate::eq,
                                               e.extract(indices, slot), pos);
          // Summed: an unused slot (value 0) may name a kept value's position.
          Value v = arith::SelectOp::create(
              nb, l, isHere, e.extract(values, slot), e.zero(elementType));
          result = isa<FloatType>(elementType)
                       ? Value(arith::AddFOp::create(nb, l, result, v))
                       : Value(arith::AddIOp::create(nb, l, result, v));
        }
        return result;
      });
}

/// Scatters a CSR matrix into a dense tensor of `denseType`.
static Value decodeCsr(OpBuilder &b, Location loc, RankedTensorType denseType,
                       Value values, Value rowPtr, Value colIdx) {
  Emitter e{b, loc};
  Value rows = arith::SubIOp::create(b, loc, e.dim(rowPtr, 0), e.index(1));
  Value init = zeros(b, loc, denseType,
                     dynamicSizes(denseType, [&](int64_t) { return rows; }));
  auto outer = scf::ForOp::create(
      b, loc, e.index(0), rows, e.index(1), ValueRange{init},
      [&](OpBuilder &ob, Location ol, Value row, ValueRange outerArgs) {
        Emitter oe{ob, ol};
        Value begin = oe.toIndex(oe.extract(rowPtr, {row}));
        Value rowEnd = arith::AddIOp::create(ob, ol, row, oe.index(1));
        Value end = oe.toIndex(oe.extract(rowPtr, {rowEnd}));
        auto inner = scf::ForOp::create(
            ob, ol, begin, end, oe.index(1), outerArgs,
            [&](OpBuilder &ib, Location il, Value p, ValueRange innerArgs) {
              Emitter ie{ib, il};
              Value col = ie.toIndex(ie.extract(colIdx, {p}));
              Value updated =
                  tensor::InsertOp::create(ib, il, ie.extract(values, {p}),
                                           innerArgs[0], ValueRange{row, col});
              scf::YieldOp::create(ib, il, ValueRange{updated});
            });
        scf::YieldOp::create(ob, ol, inner.getResults());
      });
  return outer.getResult(0);
}

/// Decodes a compressed tensor of `type` from its storage tensors into the
/// dense tensor it stands for.
static Value decode(OpBuilder &b, Location loc, RankedTensorType type,
                    const StorageLayout &layout, ValueRange storage) {
  EncodingStages stages = getEncodingStages(type.getEncoding());
  auto denseType =
      RankedTensorType::get(type.getShape(), type.getElementType());
  Value u = layout.lookup(storage, "u"), v = layout.lookup(storage, "v");
  if (stages.lowRank && !stages.isResidual)
    return matmul2d(b, loc, u, v, type.getElementType());

  SmallVector<int64_t> valuesShape(type.getShape());
  if (stages.sparse)
    valuesShape = getSparseValuesShape(stages.sparse, type.getShape());
  auto valuesType = RankedTensorType::get(valuesShape, type.getElementType());
  Value values;
  if (QuantAttr q = stages.quant)
    values =
        decodeQuant(b, loc, q, valuesType, layout.getQuantStorage(storage));
  else
    values = layout.lookup(storage, "values");

  Value dense = values;
  if (SparseAttr s = stages.sparse) {
    if (s.isStructured())
      dense = decodeStructuredSparse(b, loc, s, denseType, values,
                                     layout.lookup(storage, "indices"));
    else
      dense = decodeCsr(b, loc, denseType, values,
                        layout.lookup(storage, "row_ptr"),
                        layout.lookup(storage, "col_idx"));
  }
  if (stages.isResidual) {
    Value residual = matmul2d(b, loc, u, v, type.getElementType());
    dense =
        linalg::AddOp::create(b, loc, TypeRange{denseType},
                              ValueRange{dense, residual}, ValueRange{dense})
            .getResult(0);
  }
  return dense;
}

/// decode() with the layout of `type` (verified: the type converter made
/// `storage` from it).
static Value decode(OpBuilder &b, Location loc, RankedTensorType type,
                    ValueRange storage) {
  FailureOr<StorageLayout> layout =
      StorageLayout::get(type, [&] { return emitError(loc); });
  assert(succeeded(layout) && "storage of a type the converter accepted");
  return decode(b, loc, type, *layout, storage);
}

/// The dense value of an operand that may be compressed.
static Value denseOperand(OpBuilder &b, Location loc, Type originalType,
                          ValueRange converted) {
  if (isCompressedTensor(originalType))
    return decode(b, loc, cast<RankedTensorType>(originalType), converted);
  return converted.front();
}

//===----------------------------------------------------------------------===//
// Activation quantization
//===----------------------------------------------------------------------===//

/// Reduces `x` per quantization block of `q`, returning tensors of the scale
/// shape: {max|x|} for symmetric and {min(x, 0), max(x, 0)} for asymmetric
/// encodings, in f32.
static SmallVector<Value> reduceBlocks(OpBuilder &b, Location loc, QuantAttr q,
                                       Value x) {
  Emitter e{b, loc};
  auto xType = cast<RankedTensorType>(x.getType());
  int64_t rank = xType.getRank();
  Type f32 = b.getF32Type();

  // View the input so that every block is a set of whole dimensions.
  Value view = x;
  SmallVector<bool> reduced;
  if (q.isGrouped()) {
    int64_t axis = q.getAxis(), g = q.getGroupSize();
    SmallVector<int64_t> shape;
    SmallVector<OpFoldResult> sizes;
    SmallVector<ReassociationIndices> reassociation;
    for (int64_t d = 0; d < rank; ++d) {
      int64_t size = xType.getDimSize(d);
      OpFoldResult dynSize = ShapedType::isDynamic(size)
                                 ? OpFoldResult(e.dim(x, d))
                                 : OpFoldResult(b.getIndexAttr(size));
      if (d == axis) {
        reassociation.push_back(
            {int64_t(shape.size()), int64_t(shape.size()) + 1});
        shape.push_back(ShapedType::isDynamic(size) ? size : size / g);
        sizes.push_back(ShapedType::isDynamic(size)
                            ? OpFoldResult(arith::DivUIOp::create(
                                               b, loc, e.dim(x, d), e.index(g))
                                               .getResult())
                            : OpFoldResult(b.getIndexAttr(size / g)));
        shape.push_back(g);
        sizes.push_back(b.getIndexAttr(g));
        reduced.append({false, true});
      } else {
        reassociation.push_back({int64_t(shape.size())});
        shape.push_back(size);
        sizes.push_back(dynSize);
        reduced.push_back(false);
      }
    }
    view = tensor::ExpandShapeOp::create(
        b, loc, RankedTensorType::get(shape, xType.getElementType()), x,
        reassociation, sizes);
  } else {
    for (int64_t d = 0; d < rank; ++d)
      reduced.push_back(q.isPerTensor() || d != q.getAxis());
  }

  auto viewType = cast<RankedTensorType>(view.getType());
  SmallVector<int64_t> keptShape;
  SmallVector<AffineExpr> keptExprs;
  SmallVector<Value> keptDynSizes;
  SmallVector<utils::IteratorType> iterators;
  for (int64_t d = 0; d < viewType.getRank(); ++d) {
    iterators.push_back(reduced[d] ? utils::IteratorType::reduction
                                   : utils::IteratorType::parallel);
    if (reduced[d])
      continue;
    keptShape.push_back(viewType.getDimSize(d));
    keptExprs.push_back(b.getAffineDimExpr(d));
    if (viewType.isDynamicDim(d))
      keptDynSizes.push_back(e.dim(view, d));
  }
  auto keptType = RankedTensorType::get(keptShape, f32);
  AffineMap inMap = b.getMultiDimIdentityMap(viewType.getRank());
  AffineMap outMap =
      AffineMap::get(viewType.getRank(), 0, keptExprs, b.getContext());
  bool asymmetric = q.getHasZeroPoint();
  unsigned numOutputs = asymmetric ? 2 : 1;
  SmallVector<Value> inits;
  for (unsigned i = 0; i < numOutputs; ++i)
    inits.push_back(zeros(b, loc, keptType, keptDynSizes));
  SmallVector<AffineMap> maps{inMap};
  maps.append(numOutputs, outMap);
  auto reduction = linalg::GenericOp::create(
      b, loc, SmallVector<Type>(numOutputs, keptType), ValueRange{view}, inits,
      maps, iterators, [&](OpBuilder &nb, Location l, ValueRange args) {
        Emitter ne{nb, l};
        Value v = ne.castFloat(args[0], nb.getF32Type());
        if (asymmetric) {
          linalg::YieldOp::create(
              nb, l,
              ValueRange{arith::MinimumFOp::create(nb, l, args[1], v),
                         arith::MaximumFOp::create(nb, l, args[2], v)});
        } else {
          linalg::YieldOp::create(
              nb, l,
              ValueRange{arith::MaximumFOp::create(
                  nb, l, args[1], math::AbsFOp::create(nb, l, v))});
        }
      });

  // Re-insert the unit dimensions of the scale shape.
  SmallVector<int64_t> scaleShape = q.getScaleShape(xType.getShape());
  auto scaleType = RankedTensorType::get(scaleShape, f32);
  SmallVector<Value> results;
  for (Value r : reduction.getResults()) {
    if (keptType.getShape() == ArrayRef<int64_t>(scaleShape)) {
      results.push_back(r);
      continue;
    }
    // Per-tensor (rank 0) or per-channel (rank 1): one group of all dims.
    SmallVector<ReassociationIndices> reassociation;
    if (keptType.getRank() == 1) {
      ReassociationIndices all;
      for (int64_t d = 0; d < rank; ++d)
        all.push_back(d);
      reassociation.push_back(all);
    }
    SmallVector<OpFoldResult> sizes;
    for (int64_t d = 0; d < rank; ++d)
      sizes.push_back(ShapedType::isDynamic(scaleShape[d])
                          ? OpFoldResult(e.dim(x, d))
                          : OpFoldResult(b.getIndexAttr(scaleShape[d])));
    results.push_back(tensor::ExpandShapeOp::create(b, loc, scaleType, r,
                                                    reassociation, sizes));
  }
  return results;
}

/// Lowers slim.quantize_activation to its storage: codes, scales and, for
/// asymmetric encodings, zero points.
static SmallVector<Value> quantizeActivation(OpBuilder &b, Location loc,
                                             QuantAttr q, Value x) {
  Emitter e{b, loc};
  auto xType = cast<RankedTensorType>(x.getType());
  unsigned bits = q.getBits();
  bool isSigned = q.getIsSigned(), asymmetric = q.getHasZeroPoint();
  int64_t qmin = isSigned ? -(int64_t(1) << (bits - 1)) : 0;
  int64_t qmax =
      isSigned ? (int64_t(1) << (bits - 1)) - 1 : (int64_t(1) << bits) - 1;
  SmallVector<Value> stats = reduceBlocks(b, loc, q, x);
  auto statType = cast<RankedTensorType>(stats[0].getType());
  auto scaleType = RankedTensorType::get(statType.getShape(), q.getScaleType());
  auto zpType = RankedTensorType::get(statType.getShape(), b.getI8Type());
  auto statSizes = [&] {
    return dynamicSizes(statType,
                        [&](int64_t d) { return e.dim(stats[0], d); });
  };

  // Scales (rounded to the scale type) and zero points, elementwise over the
  // scale shape.
  SmallVector<Type> outTypes{scaleType};
  SmallVector<Value> outs{emptyLike(b, loc, scaleType, statSizes())};
  if (asymmetric) {
    outTypes.push_back(zpType);
    outs.push_back(emptyLike(b, loc, zpType, statSizes()));
  }
  int64_t statRank = statType.getRank();
  AffineMap id = b.getMultiDimIdentityMap(statRank);
  SmallVector<AffineMap> maps(stats.size() + outs.size(), id);
  SmallVector<utils::IteratorType> parallel(statRank,
                                            utils::IteratorType::parallel);
  auto params = linalg::GenericOp::create(
      b, loc, outTypes, stats, outs, maps, parallel,
      [&](OpBuilder &nb, Location l, ValueRange args) {
        Emitter ne{nb, l};
        Value range =
            asymmetric ? Value(arith::SubFOp::create(nb, l, args[1], args[0]))
                       : args[0];
        double levels = asymmetric ? double(qmax - qmin)
                                   : double((int64_t(1) << (bits - 1)) - 1);
        Value scale = arith::DivFOp::create(nb, l, range, ne.f32(levels));
        Value isZero = arith::CmpFOp::create(nb, l, arith::CmpFPredicate::OEQ,
                                             scale, ne.f32(0.0));
        scale = arith::SelectOp::create(nb, l, isZero, ne.f32(1.0), scale);
        Value stored = ne.castFloat(scale, q.getScaleType());
        SmallVector<Value> yields{stored};
        if (asymmetric) {
          Value rounded = ne.castFloat(stored, nb.getF32Type());
          // zero_point = qmin - round(min / scale), saturated.
          Value zp = arith::SubFOp::create(
              nb, l, ne.f32(double(qmin)),
              math::RoundEvenOp::create(
                  nb, l, arith::DivFOp::create(nb, l, args[0], rounded)));
          zp = arith::MaximumFOp::create(nb, l, zp, ne.f32(double(qmin)));
          zp = arith::MinimumFOp::create(nb, l, zp, ne.f32(double(qmax)));
          Value zp32 = arith::FPToSIOp::create(nb, l, nb.getI32Type(), zp);
          yields.push_back(
              arith::TruncIOp::create(nb, l, nb.getI8Type(), zp32));
        }
        linalg::YieldOp::create(nb, l, yields);
      });
  Value scales = params.getResult(0);
  Value zeroPoints = asymmetric ? params.getResult(1) : Value();

  // One code per element, unpacked (i8 holding the low `bits` bits).
  auto codeType = RankedTensorType::get(xType.getShape(), b.getI8Type());
  Value codeInit =
      emptyLike(b, loc, codeType,
                dynamicSizes(codeType, [&](int64_t d) { return e.dim(x, d); }));
  Value unpacked = buildIndexedGeneric(
      b, loc, codeInit, [&](Emitter &ne, ArrayRef<Value> idx) {
        OpBuilder &nb = ne.b;
        Location l = ne.loc;
        SmallVector<Value> sIdx = scaleIndices(ne, q, idx);
        Value scale = ne.castFloat(ne.extract(scales, sIdx), nb.getF32Type());
        Value zp;
        if (zeroPoints) {
          Value z8 = ne.extract(zeroPoints, sIdx);
          zp = isSigned
                   ? Value(arith::SIToFPOp::create(nb, l, nb.getF32Type(), z8))
                   : Value(arith::UIToFPOp::create(nb, l, nb.getF32Type(), z8));
        } else {
          zp = ne.f32(isSigned ? 0.0 : double(int64_t(1) << (bits - 1)));
        }
        Value v = ne.castFloat(ne.extract(x, idx), nb.getF32Type());
        Value c = arith::AddFOp::create(
            nb, l,
            math::RoundEvenOp::create(nb, l,
                                      arith::DivFOp::create(nb, l, v, scale)),
            zp);
        c = arith::MaximumFOp::create(nb, l, c, ne.f32(double(qmin)));
        c = arith::MinimumFOp::create(nb, l, c, ne.f32(double(qmax)));
        Value c32 = arith::FPToSIOp::create(nb, l, nb.getI32Type(), c);
        c32 = arith::AndIOp::create(nb, l, c32, ne.i32((1 << bits) - 1));
        return arith::TruncIOp::create(nb, l, nb.getI8Type(), c32);
      });

  Value codes = unpacked;
  if (bits < 8) {
    // Pack 8/bits codes per byte, LSB first.
    int64_t n = xType.getShape().back();
    int64_t perByte = 8 / bits;
    SmallVector<int64_t> packedShape(xType.getShape());
    packedShape.back() = q.getPackedSize(n);
    auto packedType = RankedTensorType::get(packedShape, b.getI8Type());
    Value packedInit = emptyLike(
        b, loc, packedType,
        dynamicSizes(packedType, [&](int64_t d) { return e.dim(x, d); }));
    codes = buildIndexedGeneric(
        b, loc, packedInit, [&](Emitter &ne, ArrayRef<Value> idx) {
          OpBuilder &nb = ne.b;
          Location l = ne.loc;
          Value word = ne.i32(0);
          for (int64_t t = 0; t < perByte; ++t) {
            Value elem = arith::AddIOp::create(
                nb, l,
                arith::MulIOp::create(nb, l, idx.back(), ne.index(perByte)),
                ne.index(t));
            Value inRange = arith::CmpIOp::create(
                nb, l, arith::CmpIPredicate::ult, elem, ne.index(n));
            SmallVector<Value> src(idx);
            src.back() = arith::MinUIOp::create(nb, l, elem, ne.index(n - 1));
            Value c = arith::ExtUIOp::create(nb, l, nb.getI32Type(),
                                             ne.extract(unpacked, src));
            c = arith::SelectOp::create(nb, l, inRange, c, ne.i32(0));
            word = arith::OrIOp::create(
                nb, l, word, arith::ShLIOp::create(nb, l, c, ne.i32(t * bits)));
          }
          return arith::TruncIOp::create(nb, l, nb.getI8Type(), word);
        });
  }
  SmallVector<Value> storage{codes, scales};
  if (zeroPoints)
    storage.push_back(zeroPoints);
  return storage;
}

//===----------------------------------------------------------------------===//
// Patterns
//===----------------------------------------------------------------------===//

static SmallVector<Value> flatten(ArrayRef<ValueRange> ranges) {
  SmallVector<Value> values;
  for (ValueRange r : ranges)
    values.append(r.begin(), r.end());
  return values;
}

struct AssembleOpLowering : OpConversionPattern<AssembleOp> {
  using OpConversionPattern::OpConversionPattern;
  LogicalResult
  matchAndRewrite(AssembleOp op, OneToNOpAdaptor adaptor,
                  ConversionPatternRewriter &rewriter) const override {
    // Storage operands may be more static than the storage types (a CSR
    // `tensor<943xf32>` for `tensor<?xf32>`): cast them to the latter.
    SmallVector<Type> storageTypes;
    if (failed(getTypeConverter()->convertType(op.getResult().getType(),
                                               storageTypes)))
      return rewriter.notifyMatchFailure(op, "unsupported compressed type");
    SmallVector<Value> values = flatten(adaptor.getOperands());
    for (auto [value, type] : llvm::zip(values, storageTypes))
      if (value.getType() != type)
        value = tensor::CastOp::create(rewriter, op.getLoc(), type, value);
    SmallVector<SmallVector<Value>> replacement{values};
    rewriter.replaceOpWithMultiple(op, std::move(replacement));
    return success();
  }
};

struct DisassembleOpLowering : OpConversionPattern<DisassembleOp> {
  using OpConversionPattern::OpConversionPattern;
  LogicalResult
  matchAndRewrite(DisassembleOp op, OneToNOpAdaptor adaptor,
                  ConversionPatternRewriter &rewriter) const override {
    SmallVector<Value> values = flatten(adaptor.getOperands());
    for (auto [value, type] : llvm::zip(values, op.getResultTypes()))
      if (value.getType() != type)
        value = tensor::CastOp::create(rewriter, op.getLoc(), type, value);
    rewriter.replaceOp(op, values);
    return success();
  }
};

struct DequantizeOpLowering : OpConversionPattern<DequantizeOp> {
  using OpConversionPattern::OpConversionPattern;
  LogicalResult
  matchAndRewrite(DequantizeOp op, OneToNOpAdaptor adaptor,
                  ConversionPatternRewriter &rewriter) const override {
    rewriter.replaceOp(op, decode(rewriter, op.getLoc(),
                                  op.getInput().getType(), adaptor.getInput()));
    return success();
  }
};

struct MatmulOpLowering : OpConversionPattern<MatmulOp> {
  using OpConversionPattern::OpConversionPattern;
  LogicalResult
  matchAndRewrite(MatmulOp op, OneToNOpAdaptor adaptor,
                  ConversionPatternRewriter &rewriter) const override {
    Location loc = op.getLoc();
    Emitter e{rewriter, loc};
    Value x =
        denseOperand(rewriter, loc, op.getLhs().getType(), adaptor.getLhs());
    Value w =
        denseOperand(rewriter, loc, op.getRhs().getType(), adaptor.getRhs());
    if (op.getTransposeRhs()) {
      auto wType = cast<RankedTensorType>(w.getType());
      SmallVector<int64_t> shape{wType.getDimSize(1), wType.getDimSize(0)};
      Value init = emptyLike(
          rewriter, loc, RankedTensorType::get(shape, wType.getElementType()),
          dynamicSizes(RankedTensorType::get(shape, wType.getElementType()),
                       [&](int64_t d) { return e.dim(w, 1 - d); }));
      w = linalg::TransposeOp::create(rewriter, loc, w, init,
                                      ArrayRef<int64_t>{1, 0})
              .getResult()[0];
    }
    auto xType = cast<RankedTensorType>(x.getType());
    RankedTensorType resultType = op.getResult().getType();
    int64_t rank = xType.getRank();

    // Fold the batch dimensions into M: [b..., m, k] -> [b*...*m, k].
    Value x2 = x;
    if (rank > 2) {
      ReassociationIndices batch;
      for (int64_t d = 0; d + 1 < rank; ++d)
        batch.push_back(d);
      x2 = tensor::CollapseShapeOp::create(
          rewriter, loc, x, ArrayRef<ReassociationIndices>{batch, {rank - 1}});
    }
    Value y = matmul2d(rewriter, loc, x2, w, resultType.getElementType());
    if (rank > 2) {
      SmallVector<ReassociationIndices> reassociation(1);
      SmallVector<OpFoldResult> sizes;
      for (int64_t d = 0; d + 1 < rank; ++d) {
        reassociation[0].push_back(d);
        sizes.push_back(
            xType.isDynamicDim(d)
                ? OpFoldResult(e.dim(x, d))
                : OpFoldResult(rewriter.getIndexAttr(xType.getDimSize(d))));
      }
      reassociation.push_back({rank - 1});
      int64_t n = resultType.getShape().back();
      sizes.push_back(ShapedType::isDynamic(n)
                          ? OpFoldResult(e.dim(w, 1))
                          : OpFoldResult(rewriter.getIndexAttr(n)));
      y = tensor::ExpandShapeOp::create(rewriter, loc, resultType, y,
                                        reassociation, sizes);
    }
    rewriter.replaceOp(op, y);
    return success();
  }
};

struct QuantizeActivationOpLowering
    : OpConversionPattern<QuantizeActivationOp> {
  using OpConversionPattern::OpConversionPattern;
  LogicalResult
  matchAndRewrite(QuantizeActivationOp op, OneToNOpAdaptor adaptor,
                  ConversionPatternRewriter &rewriter) const override {
    auto q = cast<QuantAttr>(op.getResult().getType().getEncoding());
    SmallVector<Value> storage = quantizeActivation(rewriter, op.getLoc(), q,
                                                    adaptor.getInput().front());
    SmallVector<SmallVector<Value>> replacement{storage};
    rewriter.replaceOpWithMultiple(op, std::move(replacement));
    return success();
  }
};

} // namespace

void mlir::slim::populateSlimToLinalgConversionPatterns(
    const TypeConverter &converter, RewritePatternSet &patterns) {
  patterns.add<AssembleOpLowering, DisassembleOpLowering, DequantizeOpLowering,
               MatmulOpLowering, QuantizeActivationOpLowering>(
      converter, patterns.getContext());
}

//===----------------------------------------------------------------------===//
// Pass
//===----------------------------------------------------------------------===//

/// Replaces each slim.assert by `scf.if` on the negated condition calling
/// `slim_rt_check_failed(site, value0, value1)` (site: the assert's number in
/// the module), and writes the messages, in site order and each
/// NUL-terminated, with one more NUL at the end, to the global
/// `slim_check_messages` the runtime reads.
static LogicalResult lowerAsserts(ModuleOp module, StringRef mode) {
  SmallVector<AssertOp> asserts;
  module.walk([&](AssertOp op) { asserts.push_back(op); });
  if (asserts.empty())
    return success();
  if (mode == "none") {
    for (AssertOp op : asserts)
      op.erase();
    return success();
  }
  if (mode == "abort") {
    for (AssertOp op : asserts) {
      OpBuilder b(op);
      cf::AssertOp::create(b, op.getLoc(), op.getCondition(), op.getMessage());
      op.erase();
    }
    return success();
  }
  constexpr StringLiteral kTable = "slim_check_messages";
  constexpr StringLiteral kCallee = "slim_rt_check_failed";
  if (module.lookupSymbol(kTable))
    return module.emitError("the module already has a '")
           << kTable << "' symbol: slim.assert ops were lowered before";
  MLIRContext *ctx = module.getContext();
  OpBuilder b(ctx);
  Type i64 = b.getI64Type();
  auto calleeType = b.getFunctionType({i64, i64, i64}, {});
  auto callee = module.lookupSymbol<func::FuncOp>(kCallee);
  if (!callee) {
    b.setInsertionPointToStart(module.getBody());
    callee = func::FuncOp::create(b, module.getLoc(), kCallee, calleeType);
    callee.setPrivate();
  } else if (callee.getFunctionType() != calleeType) {
    return callee.emitOpError("has the name of the run-time check function "
                              "but type ")
           << callee.getFunctionType();
  }
  std::string table;
  for (auto [site, op] : llvm::enumerate(asserts)) {
    table += op.getMessage();
    table.push_back('\0');
    b.setInsertionPoint(op);
    Location loc = op.getLoc();
    Value one = arith::ConstantIntOp::create(b, loc, 1, 1);
    Value failed = arith::XOrIOp::create(b, loc, op.getCondition(), one);
    auto ifOp = scf::IfOp::create(b, loc, failed, /*withElseRegion=*/false);
    b.setInsertionPointToStart(ifOp.thenBlock());
    SmallVector<Value> args{
        arith::ConstantIntOp::create(b, loc, static_cast<int64_t>(site), 64)};
    for (Value v : op.getValues()) {
      if (v.getType().isIndex())
        v = arith::IndexCastOp::create(b, loc, i64, v);
      else if (v.getType().getIntOrFloatBitWidth() < 64)
        v = arith::ExtSIOp::create(b, loc, i64, v);
      else if (v.getType().getIntOrFloatBitWidth() > 64)
        v = arith::TruncIOp::create(b, loc, i64, v);
      args.push_back(v);
    }
    while (args.size() < 3)
      args.push_back(arith::ConstantIntOp::create(b, loc, 0, 64));
    func::CallOp::create(b, loc, callee, args);
    op.erase();
  }
  table.push_back('\0');
  b.setInsertionPointToStart(module.getBody());
  auto arrayType = LLVM::LLVMArrayType::get(b.getI8Type(), table.size());
  LLVM::GlobalOp::create(b, module.getLoc(), arrayType, /*isConstant=*/true,
                         LLVM::Linkage::External, kTable,
                         b.getStringAttr(table));
  // Its size, so that the runtime reads no further.
  LLVM::GlobalOp::create(b, module.getLoc(), i64, /*isConstant=*/true,
                         LLVM::Linkage::External, "slim_check_messages_size",
                         b.getI64IntegerAttr(table.size()));
  return success();
}

namespace {
struct ConvertSlimToLinalgPass
    : mlir::slim::impl::ConvertSlimToLinalgPassBase<ConvertSlimToLinalgPass> {
  using ConvertSlimToLinalgPassBase::ConvertSlimToLinalgPassBase;
  void runOnOperation() override {
    MLIRContext *ctx = &getContext();
    if (checks != "runtime" && checks != "abort" && checks != "none") {
      getOperation().emitError("convert-slim-to-linalg: checks must be "
                               "'runtime', 'abort' or 'none', got '")
          << checks << "'";
      return signalPassFailure();
    }
    if (failed(lowerAsserts(getOperation(), checks)))
      return signalPassFailure();
    SlimStorageTypeConverter converter;
    ConversionTarget target(*ctx);
    target.addIllegalDialect<SlimDialect>();
    // Kernel calls on dense storage (--slim-lower-quantized-matmul) stay.
    target.addLegalOp<UKernelOp>();
    target.addDynamicallyLegalOp<func::FuncOp>([&](func::FuncOp op) {
      return converter.isSignatureLegal(op.getFunctionType()) &&
             converter.isLegal(&op.getBody());
    });
    target.markUnknownOpDynamicallyLegal(
        [&](Operation *op) { return converter.isLegal(op); });

    RewritePatternSet patterns(ctx);
    populateSlimToLinalgConversionPatterns(converter, patterns);
    populateFunctionOpInterfaceTypeConversionPattern<func::FuncOp>(patterns,
                                                                   converter);
    populateCallOpTypeConversionPattern(patterns, converter);
    populateReturnOpTypeConversionPattern(patterns, converter);
    if (failed(applyPartialConversion(getOperation(), target,
                                      std::move(patterns))))
      signalPassFailure();
  }
};
} // namespace
