//===- SlimAttrs.cpp - Slim tensor encodings ------------------------------===//
//
// Part of the Slim project, under the Apache License v2.0 with LLVM Exceptions.
// SPDX-License-Identifier: Apache-2.0 WITH LLVM-exception
//
//===----------------------------------------------------------------------===//

#include "dialects/Slim/IR/SlimAttrs.h"
#include "dialects/Slim/IR/SlimDialect.h"

#include "mlir/IR/Builders.h"
#include "mlir/IR/DialectImplementation.h"
#include "llvm/ADT/TypeSwitch.h"

using namespace mlir;
using namespace mlir::slim;

#include "dialects/Slim/IR/SlimEnums.cpp.inc"

#define GET_ATTRDEF_CLASSES
#include "dialects/Slim/IR/SlimAttrs.cpp.inc"

void SlimDialect::registerAttributes() {
  addAttributes<
#define GET_ATTRDEF_LIST
#include "dialects/Slim/IR/SlimAttrs.cpp.inc"
      >();
}

//===----------------------------------------------------------------------===//
// Helpers
//===----------------------------------------------------------------------===//

static bool isScaleType(Type t) { return t.isF32() || t.isF16() || t.isBF16(); }

static std::string shapeStr(ArrayRef<int64_t> shape) {
  std::string s;
  llvm::raw_string_ostream os(s);
  os << "[";
  llvm::interleave(
      shape, os,
      [&](int64_t d) {
        if (ShapedType::isDynamic(d))
          os << "?";
        else
          os << d;
      },
      ", ");
  os << "]";
  return s;
}

//===----------------------------------------------------------------------===//
// QuantAttr
//===----------------------------------------------------------------------===//

static unsigned fixedBits(QuantFormat f) {
  switch (f) {
  case QuantFormat::NF4:
  case QuantFormat::FP4E2M1:
    return 4;
  case QuantFormat::FP8E4M3:
  case QuantFormat::FP8E5M2:
    return 8;
  case QuantFormat::Int:
  case QuantFormat::LUT:
    return 0;
  }
  llvm_unreachable("unknown quant format");
}

LogicalResult QuantAttr::verify(function_ref<InFlightDiagnostic()> emitError,
                                QuantFormat format, unsigned bits,
                                bool isSigned, int64_t axis, int64_t groupSize,
                                Type scaleType, bool hasZeroPoint) {
  if (unsigned fixed = fixedBits(format)) {
    if (bits != fixed)
      return emitError() << "format " << stringifyQuantFormat(format)
                         << " has " << fixed << " bits, got " << bits;
  } else if (bits < 2 || bits > 8) {
    return emitError() << "expected 2 to 8 bits for "
                       << stringifyQuantFormat(format) << " codes, got "
                       << bits;
  }
  if (axis < -1)
    return emitError() << "expected a non-negative axis, got " << axis;
  if (groupSize < 0)
    return emitError() << "expected a positive group size, got " << groupSize;
  if (groupSize > 0 && axis < 0)
    return emitError() << "group size " << groupSize << " requires an axis";
  if (!scaleType || !isScaleType(scaleType))
    return emitError() << "expected scale type f32, f16 or bf16, got "
                       << scaleType;
  if (hasZeroPoint && format != QuantFormat::Int)
    return emitError() << "zero points require an integer format, got "
                       << stringifyQuantFormat(format);
  return success();
}

Attribute QuantAttr::parse(AsmParser &parser, Type) {
  MLIRContext *ctx = parser.getContext();
  SMLoc loc = parser.getCurrentLocation();
  if (parser.parseLess())
    return {};

  // The code format: an integer type (i4, si4, ui4) or a keyword.
  QuantFormat format = QuantFormat::Int;
  unsigned bits = 0;
  bool isSigned = true;
  Type intType;
  OptionalParseResult typeResult = parser.parseOptionalType(intType);
  if (typeResult.has_value()) {
    if (failed(*typeResult))
      return {};
    auto it = dyn_cast<IntegerType>(intType);
    if (!it) {
      parser.emitError(loc, "expected an integer code type, got ") << intType;
      return {};
    }
    bits = it.getWidth();
    isSigned = !it.isUnsigned();
  } else {
    StringRef kw;
    if (failed(parser.parseOptionalKeyword(&kw))) {
      parser.emitError(loc, "expected a code format: iN, uiN, nf4, e4m3, "
                            "e5m2, e2m1 or lutN");
      return {};
    }
    if (kw.consume_front("lut")) {
      format = QuantFormat::LUT;
      if (kw.getAsInteger(10, bits)) {
        parser.emitError(loc, "expected lutN with N the code width");
        return {};
      }
      isSigned = false;
    } else if (auto f = symbolizeQuantFormat(kw);
               f && *f != QuantFormat::Int && *f != QuantFormat::LUT) {
      format = *f;
      bits = fixedBits(format);
      isSigned = false;
    } else {
      parser.emitError(loc, "unknown code format '") << kw << "'";
      return {};
    }
  }

  int64_t axis = -1, groupSize = 0;
  bool sawChannel = false, sawAxis = false;
  Type scaleType = Float32Type::get(ctx);
  bool hasZeroPoint = false;
  while (succeeded(parser.parseOptionalComma())) {
    StringRef key;
    SMLoc keyLoc = parser.getCurrentLocation();
    if (parser.parseKeyword(&key))
      return {};
    if (key == "zero_point") {
      hasZeroPoint = true;
      continue;
    }
    if (parser.parseEqual())
      return {};
    SMLoc valueLoc = parser.getCurrentLocation();
    if (key == "channel" || key == "axis") {
      (key == "channel" ? sawChannel : sawAxis) = true;
      if (parser.parseInteger(axis))
        return {};
      if (axis < 0) {
        parser.emitError(valueLoc, "expected a non-negative axis, got ")
            << axis;
        return {};
      }
    } else if (key == "group") {
      if (parser.parseInteger(groupSize))
        return {};
      if (groupSize <= 0) {
        parser.emitError(valueLoc, "expected a positive group size, got ")
            << groupSize;
        return {};
      }
    } else if (key == "scale") {
      if (parser.parseType(scaleType))
        return {};
    } else {
      parser.emitError(keyLoc, "unknown #slim.quant parameter '")
          << key << "'; expected channel, group, axis, scale or zero_point";
      return {};
    }
  }
  if (parser.parseGreater())
    return {};
  if (sawChannel && (groupSize != 0 || sawAxis)) {
    parser.emitError(loc, "'channel' excludes 'group' and 'axis'");
    return {};
  }
  if (sawAxis && groupSize == 0) {
    parser.emitError(loc, "'axis' requires 'group'");
    return {};
  }
  if (groupSize != 0 && !sawAxis)
    axis = 0;
  return QuantAttr::getChecked([&] { return parser.emitError(loc); }, ctx,
                               format, bits, isSigned, axis, groupSize,
                               scaleType, hasZeroPoint);
}

void QuantAttr::print(AsmPrinter &printer) const {
  printer << "<";
  switch (getFormat()) {
  case QuantFormat::Int:
    printer << (getIsSigned() ? "i" : "ui") << getBits();
    break;
  case QuantFormat::LUT:
    printer << "lut" << getBits();
    break;
  default:
    printer << stringifyQuantFormat(getFormat());
  }
  if (isPerChannel())
    printer << ", channel = " << getAxis();
  if (isGrouped())
    printer << ", group = " << getGroupSize() << ", axis = " << getAxis();
  if (!getScaleType().isF32())
    printer << ", scale = " << getScaleType();
  if (getHasZeroPoint())
    printer << ", zero_point";
  printer << ">";
}

SmallVector<int64_t> QuantAttr::getScaleShape(ArrayRef<int64_t> shape) const {
  SmallVector<int64_t> result(shape.size(), 1);
  if (isPerTensor())
    return result;
  for (auto [d, size] : llvm::enumerate(shape)) {
    int64_t dim = static_cast<int64_t>(d);
    if (isPerChannel()) {
      if (dim == getAxis())
        result[d] = size;
    } else if (dim != getAxis() || ShapedType::isDynamic(size)) {
      result[d] = size;
    } else {
      result[d] = (size + getGroupSize() - 1) / getGroupSize();
    }
  }
  return result;
}

int64_t QuantAttr::getPackedSize(int64_t n) const {
  if (ShapedType::isDynamic(n))
    return n;
  return (n * getBits() + 7) / 8;
}

static LogicalResult
appendQuantStorage(QuantAttr q, ArrayRef<int64_t> shape, Type elementType,
                   function_ref<InFlightDiagnostic()> emitError,
                   SmallVectorImpl<StorageComponent> &out) {
  MLIRContext *ctx = q.getContext();
  if (!isa<FloatType>(elementType))
    return emitError() << "quantized tensor must have a floating-point "
                          "element type, got "
                       << elementType;
  if (shape.empty())
    return emitError() << "quantized tensor must have rank >= 1";
  if (ShapedType::isDynamic(shape.back()))
    return emitError()
           << "quantized tensor must have a static innermost dimension";
  if (q.getAxis() >= static_cast<int64_t>(shape.size()))
    return emitError() << "quantization axis " << q.getAxis()
                       << " is out of range for rank " << shape.size();
  SmallVector<int64_t> codeShape(shape);
  codeShape.back() = q.getPackedSize(shape.back());
  auto i8 = IntegerType::get(ctx, 8);
  out.push_back({"codes", RankedTensorType::get(codeShape, i8)});
  SmallVector<int64_t> scaleShape = q.getScaleShape(shape);
  out.push_back({"scales", RankedTensorType::get(scaleShape, q.getScaleType())});
  if (q.getHasZeroPoint())
    out.push_back({"zero_points", RankedTensorType::get(scaleShape, i8)});
  if (q.getFormat() == QuantFormat::LUT)
    out.push_back({"codebook", RankedTensorType::get({int64_t(1) << q.getBits()},
                                                     Float32Type::get(ctx))});
  return success();
}

LogicalResult
QuantAttr::verifyEncoding(ArrayRef<int64_t> shape, Type elementType,
                          function_ref<InFlightDiagnostic()> emitError) const {
  SmallVector<StorageComponent> storage;
  return appendQuantStorage(*this, shape, elementType, emitError, storage);
}

//===----------------------------------------------------------------------===//
// SparseAttr
//===----------------------------------------------------------------------===//

LogicalResult SparseAttr::verify(function_ref<InFlightDiagnostic()> emitError,
                                 unsigned n, unsigned m, int64_t axis,
                                 FloatAttr density) {
  if (m != 0) {
    if (n == 0 || n >= m || m > 64)
      return emitError() << "expected 0 < n < m <= 64 for n:m sparsity, got "
                         << n << ":" << m;
    if (axis < 0)
      return emitError() << "expected a non-negative axis, got " << axis;
    if (density)
      return emitError() << "density applies to unstructured sparsity only";
    return success();
  }
  if (density) {
    double d = density.getValueAsDouble();
    if (!(d > 0.0 && d <= 1.0))
      return emitError() << "expected a density in (0, 1], got " << d;
  }
  return success();
}

Attribute SparseAttr::parse(AsmParser &parser, Type) {
  MLIRContext *ctx = parser.getContext();
  SMLoc loc = parser.getCurrentLocation();
  if (parser.parseLess())
    return {};
  unsigned n = 0, m = 0;
  int64_t axis = 0;
  FloatAttr density;
  if (succeeded(parser.parseOptionalKeyword("unstructured"))) {
    if (succeeded(parser.parseOptionalComma())) {
      double d;
      if (parser.parseKeyword("density") || parser.parseEqual() ||
          parser.parseFloat(d))
        return {};
      density = FloatAttr::get(Float64Type::get(ctx), d);
    }
  } else {
    if (parser.parseInteger(n) || parser.parseColon() || parser.parseInteger(m))
      return {};
    if (succeeded(parser.parseOptionalComma())) {
      if (parser.parseKeyword("axis") || parser.parseEqual() ||
          parser.parseInteger(axis))
        return {};
    }
  }
  if (parser.parseGreater())
    return {};
  return SparseAttr::getChecked([&] { return parser.emitError(loc); }, ctx, n,
                                m, axis, density);
}

void SparseAttr::print(AsmPrinter &printer) const {
  printer << "<";
  if (isStructured()) {
    printer << getN() << ":" << getM() << ", axis = " << getAxis();
  } else {
    printer << "unstructured";
    if (getDensity())
      printer << ", density = " << getDensity().getValueAsDouble();
  }
  printer << ">";
}

SmallVector<int64_t> mlir::slim::getSparseValuesShape(SparseAttr sparse,
                                                      ArrayRef<int64_t> shape) {
  if (!sparse.isStructured())
    return {ShapedType::kDynamic};
  SmallVector<int64_t> values(shape);
  int64_t &size = values[sparse.getAxis()];
  if (!ShapedType::isDynamic(size))
    size = size / sparse.getM() * sparse.getN();
  return values;
}

/// Checks a sparse stage against `shape` and appends its metadata tensors to
/// `meta`; the kept values are described by getSparseValuesShape.
static LogicalResult
appendSparseMetadata(SparseAttr s, ArrayRef<int64_t> shape,
                     function_ref<InFlightDiagnostic()> emitError,
                     SmallVectorImpl<StorageComponent> &meta) {
  MLIRContext *ctx = s.getContext();
  auto i8 = IntegerType::get(ctx, 8);
  auto i32 = IntegerType::get(ctx, 32);
  if (s.isStructured()) {
    if (s.getAxis() >= static_cast<int64_t>(shape.size()))
      return emitError() << "sparsity axis " << s.getAxis()
                         << " is out of range for rank " << shape.size();
    int64_t size = shape[s.getAxis()];
    if (!ShapedType::isDynamic(size) && size % s.getM() != 0)
      return emitError() << "sparsity block " << s.getM()
                         << " does not divide dimension " << s.getAxis()
                         << " of size " << size;
    meta.push_back(
        {"indices", RankedTensorType::get(getSparseValuesShape(s, shape), i8)});
    return success();
  }
  if (shape.size() != 2)
    return emitError() << "unstructured sparse tensor must have rank 2, got "
                       << shape.size();
  if (ShapedType::isDynamic(shape[1]))
    return emitError()
           << "unstructured sparse tensor must have a static column dimension";
  int64_t rows = ShapedType::isDynamic(shape[0]) ? ShapedType::kDynamic
                                                 : shape[0] + 1;
  meta.push_back({"row_ptr", RankedTensorType::get({rows}, i32)});
  meta.push_back({"col_idx", RankedTensorType::get({ShapedType::kDynamic}, i32)});
  return success();
}

LogicalResult
SparseAttr::verifyEncoding(ArrayRef<int64_t> shape, Type elementType,
                           function_ref<InFlightDiagnostic()> emitError) const {
  SmallVector<StorageComponent> meta;
  return appendSparseMetadata(*this, shape, emitError, meta);
}

//===----------------------------------------------------------------------===//
// LowRankAttr
//===----------------------------------------------------------------------===//

LogicalResult LowRankAttr::verify(function_ref<InFlightDiagnostic()> emitError,
                                  int64_t rank, Type factorType) {
  if (rank <= 0)
    return emitError() << "expected a positive rank, got " << rank;
  if (!factorType || !isScaleType(factorType))
    return emitError() << "expected factor type f32, f16 or bf16, got "
                       << factorType;
  return success();
}

Attribute LowRankAttr::parse(AsmParser &parser, Type) {
  MLIRContext *ctx = parser.getContext();
  SMLoc loc = parser.getCurrentLocation();
  int64_t rank = 0;
  Type factorType = Float32Type::get(ctx);
  if (parser.parseLess() || parser.parseKeyword("rank") ||
      parser.parseEqual() || parser.parseInteger(rank))
    return {};
  if (succeeded(parser.parseOptionalComma())) {
    if (parser.parseKeyword("factor") || parser.parseEqual() ||
        parser.parseType(factorType))
      return {};
  }
  if (parser.parseGreater())
    return {};
  return LowRankAttr::getChecked([&] { return parser.emitError(loc); }, ctx,
                                 rank, factorType);
}

void LowRankAttr::print(AsmPrinter &printer) const {
  printer << "<rank = " << getRank();
  if (!getFactorType().isF32())
    printer << ", factor = " << getFactorType();
  printer << ">";
}

static LogicalResult
appendLowRankStorage(LowRankAttr lr, ArrayRef<int64_t> shape, Type elementType,
                     function_ref<InFlightDiagnostic()> emitError,
                     SmallVectorImpl<StorageComponent> &out) {
  if (shape.size() != 2)
    return emitError() << "low-rank tensor must have rank 2, got "
                       << shape.size();
  if (!isa<FloatType>(elementType))
    return emitError() << "low-rank tensor must have a floating-point element "
                          "type, got "
                       << elementType;
  int64_t r = lr.getRank();
  for (int64_t size : shape)
    if (!ShapedType::isDynamic(size) && r > size)
      return emitError() << "rank " << r << " exceeds dimension size " << size
                         << " of shape " << shapeStr(shape);
  out.push_back({"u", RankedTensorType::get({shape[0], r}, lr.getFactorType())});
  out.push_back({"v", RankedTensorType::get({r, shape[1]}, lr.getFactorType())});
  return success();
}

LogicalResult
LowRankAttr::verifyEncoding(ArrayRef<int64_t> shape, Type elementType,
                            function_ref<InFlightDiagnostic()> emitError) const {
  SmallVector<StorageComponent> storage;
  return appendLowRankStorage(*this, shape, elementType, emitError, storage);
}

//===----------------------------------------------------------------------===//
// CompressedAttr
//===----------------------------------------------------------------------===//

LogicalResult
CompressedAttr::verify(function_ref<InFlightDiagnostic()> emitError,
                       ArrayRef<Attribute> stages, LowRankAttr residual) {
  if (stages.empty())
    return emitError() << "expected at least one stage";
  bool sawSparse = false, sawQuant = false;
  for (Attribute stage : stages) {
    if (isa<SparseAttr>(stage)) {
      if (sawSparse)
        return emitError() << "expected at most one #slim.sparse stage";
      if (sawQuant)
        return emitError() << "expected the #slim.sparse stage before the "
                              "#slim.quant stage";
      sawSparse = true;
    } else if (isa<QuantAttr>(stage)) {
      if (sawQuant)
        return emitError() << "expected at most one #slim.quant stage";
      sawQuant = true;
    } else {
      return emitError() << "expected a #slim.sparse or #slim.quant stage, got "
                         << stage;
    }
  }
  return success();
}

Attribute CompressedAttr::parse(AsmParser &parser, Type) {
  MLIRContext *ctx = parser.getContext();
  SMLoc loc = parser.getCurrentLocation();
  SmallVector<Attribute> stages;
  LowRankAttr residual;
  if (parser.parseLess() ||
      parser.parseCommaSeparatedList(AsmParser::Delimiter::Square, [&] {
        Attribute stage;
        if (parser.parseAttribute(stage))
          return failure();
        stages.push_back(stage);
        return success();
      }))
    return {};
  if (succeeded(parser.parseOptionalComma())) {
    Attribute attr;
    SMLoc attrLoc;
    if (parser.parseKeyword("residual") || parser.parseEqual() ||
        (attrLoc = parser.getCurrentLocation(), parser.parseAttribute(attr)))
      return {};
    residual = dyn_cast<LowRankAttr>(attr);
    if (!residual) {
      parser.emitError(attrLoc, "expected a #slim.lowrank residual, got ")
          << attr;
      return {};
    }
  }
  if (parser.parseGreater())
    return {};
  return CompressedAttr::getChecked([&] { return parser.emitError(loc); }, ctx,
                                    stages, residual);
}

void CompressedAttr::print(AsmPrinter &printer) const {
  printer << "<[";
  llvm::interleaveComma(getStages(), printer,
                        [&](Attribute a) { printer.printAttribute(a); });
  printer << "]";
  if (getResidual()) {
    printer << ", residual = ";
    printer.printAttribute(getResidual());
  }
  printer << ">";
}

SparseAttr CompressedAttr::getSparse() const {
  for (Attribute a : getStages())
    if (auto s = dyn_cast<SparseAttr>(a))
      return s;
  return {};
}

QuantAttr CompressedAttr::getQuant() const {
  for (Attribute a : getStages())
    if (auto q = dyn_cast<QuantAttr>(a))
      return q;
  return {};
}

LogicalResult CompressedAttr::verifyEncoding(
    ArrayRef<int64_t> shape, Type elementType,
    function_ref<InFlightDiagnostic()> emitError) const {
  return getStorageComponents(RankedTensorType::get(shape, elementType, *this),
                              emitError);
}

//===----------------------------------------------------------------------===//
// Storage
//===----------------------------------------------------------------------===//

bool mlir::slim::isCompressedTensor(Type type) {
  auto t = dyn_cast<RankedTensorType>(type);
  return t && isa_and_nonnull<QuantAttr, SparseAttr, LowRankAttr,
                              CompressedAttr>(t.getEncoding());
}

EncodingStages mlir::slim::getEncodingStages(Attribute encoding) {
  EncodingStages stages;
  if (auto q = dyn_cast_or_null<QuantAttr>(encoding)) {
    stages.quant = q;
  } else if (auto s = dyn_cast_or_null<SparseAttr>(encoding)) {
    stages.sparse = s;
  } else if (auto lr = dyn_cast_or_null<LowRankAttr>(encoding)) {
    stages.lowRank = lr;
  } else if (auto c = dyn_cast_or_null<CompressedAttr>(encoding)) {
    stages.sparse = c.getSparse();
    stages.quant = c.getQuant();
    stages.lowRank = c.getResidual();
    stages.isResidual = static_cast<bool>(c.getResidual());
  }
  return stages;
}

FailureOr<SmallVector<StorageComponent>>
mlir::slim::getStorageComponents(RankedTensorType type,
                                 function_ref<InFlightDiagnostic()> emitError) {
  EncodingStages stages = getEncodingStages(type.getEncoding());
  ArrayRef<int64_t> shape = type.getShape();
  Type elementType = type.getElementType();
  SmallVector<StorageComponent> out;
  if (!stages.sparse && !stages.quant && !stages.lowRank)
    return emitError() << "expected a Slim encoding, got " << type;

  if (stages.lowRank && !stages.isResidual) {
    if (failed(appendLowRankStorage(stages.lowRank, shape, elementType,
                                    emitError, out)))
      return failure();
    return out;
  }

  SmallVector<int64_t> valuesShape(shape);
  SmallVector<StorageComponent> meta;
  if (stages.sparse) {
    if (failed(appendSparseMetadata(stages.sparse, shape, emitError, meta)))
      return failure();
    valuesShape = getSparseValuesShape(stages.sparse, shape);
  }
  if (stages.quant) {
    if (failed(appendQuantStorage(stages.quant, valuesShape, elementType,
                                  emitError, out)))
      return failure();
  } else {
    out.push_back({"values", RankedTensorType::get(valuesShape, elementType)});
  }
  out.append(meta.begin(), meta.end());
  if (stages.isResidual &&
      failed(appendLowRankStorage(stages.lowRank, shape, elementType,
                                  emitError, out)))
    return failure();
  return out;
}

FailureOr<StorageLayout>
StorageLayout::get(RankedTensorType type,
                   function_ref<InFlightDiagnostic()> emitError) {
  FailureOr<SmallVector<StorageComponent>> components =
      getStorageComponents(type, emitError);
  if (failed(components))
    return failure();
  StorageLayout layout;
  layout.components = std::move(*components);
  return layout;
}

std::optional<unsigned> StorageLayout::find(StringRef role) const {
  for (auto [i, c] : llvm::enumerate(components))
    if (c.name == role)
      return static_cast<unsigned>(i);
  return std::nullopt;
}

Value StorageLayout::lookup(ValueRange storage, StringRef role) const {
  std::optional<unsigned> at = find(role);
  return at && *at < storage.size() ? storage[*at] : Value();
}

QuantStorage StorageLayout::getQuantStorage(ValueRange storage) const {
  return {lookup(storage, "codes"), lookup(storage, "scales"),
          lookup(storage, "zero_points"), lookup(storage, "codebook")};
}
