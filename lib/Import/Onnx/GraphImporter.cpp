//===- GraphImporter.cpp - ONNX graph to MLIR -----------------------------===//
//
// Part of the Slim project, under the Apache License v2.0 with LLVM Exceptions.
// SPDX-License-Identifier: Apache-2.0 WITH LLVM-exception
//
//===----------------------------------------------------------------------===//
//
// The thin core of the importer: the function signature, the value table,
// constants, node dispatch in topological order, and the builders shared by
// the op-family files.
//
//===----------------------------------------------------------------------===//

#include "lib/Import/Onnx/GraphImporter.h"
#include "lib/Import/Onnx/ModelLoader.h"

#include "dialects/Slim/IR/SlimDialect.h"
#include "dialects/Slim/IR/SlimOps.h"
#include "lib/Support/Sizes.h"

#include "onnx/onnx.pb.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Dialect/Linalg/IR/Linalg.h"
#include "mlir/Dialect/Math/IR/Math.h"
#include "mlir/Dialect/SCF/IR/SCF.h"
#include "mlir/Dialect/Tensor/IR/Tensor.h"
#include "mlir/IR/DialectResourceBlobManager.h"
#include "mlir/IR/Matchers.h"
#include "mlir/IR/Verifier.h"
#include "mlir/Interfaces/SideEffectInterfaces.h"
#include "llvm/ADT/STLExtras.h"
#include "llvm/Support/ErrorHandling.h"

#include <cmath>
#include <limits>
#include <queue>
#include <set>

using namespace mlir;
using namespace mlir::slim;
using namespace mlir::slim::onnx_import;

//===----------------------------------------------------------------------===//
// Data types
//===----------------------------------------------------------------------===//

bool onnx_import::isFloatDType(int32_t t) {
  return t == kFloat || t == kDouble || t == kFloat16 || t == kBFloat16;
}
bool onnx_import::isUnsignedDType(int32_t t) {
  return t == kUInt8 || t == kUInt16 || t == kUInt32 || t == kUInt64;
}
bool onnx_import::isIntegerDType(int32_t t) {
  return t == kInt8 || t == kInt16 || t == kInt32 || t == kInt64 ||
         isUnsignedDType(t);
}

Type onnx_import::getElementType(MLIRContext *ctx, int32_t dtype) {
  Builder b(ctx);
  switch (dtype) {
  case kFloat:
    return b.getF32Type();
  case kDouble:
    return b.getF64Type();
  case kFloat16:
    return b.getF16Type();
  case kBFloat16:
    return b.getBF16Type();
  case kBool:
    return b.getI1Type();
  case kInt8:
  case kUInt8:
    return b.getI8Type();
  case kInt16:
  case kUInt16:
    return b.getI16Type();
  case kInt32:
  case kUInt32:
    return b.getI32Type();
  case kInt64:
  case kUInt64:
    return b.getI64Type();
  default:
    return {};
  }
}

StringRef onnx_import::getDTypeName(int32_t dtype) {
  switch (dtype) {
  case kFloat:
    return "float";
  case kUInt8:
    return "uint8";
  case kInt8:
    return "int8";
  case kUInt16:
    return "uint16";
  case kInt16:
    return "int16";
  case kInt32:
    return "int32";
  case kInt64:
    return "int64";
  case kString:
    return "string";
  case kBool:
    return "bool";
  case kFloat16:
    return "float16";
  case kDouble:
    return "double";
  case kUInt32:
    return "uint32";
  case kUInt64:
    return "uint64";
  case kBFloat16:
    return "bfloat16";
  case 17:
    return "float8e4m3fn";
  case 18:
    return "float8e4m3fnuz";
  case 19:
    return "float8e5m2";
  case 20:
    return "float8e5m2fnuz";
  case 21:
    return "uint4";
  case 22:
    return "int4";
  case 23:
    return "float4e2m1";
  default:
    return "unknown";
  }
}

//===----------------------------------------------------------------------===//
// Registry
//===----------------------------------------------------------------------===//

void OpRegistry::add(StringRef domain, StringRef opType, OpBuilderFn fn,
                     int64_t minOpset) {
  builders[(domain + "|" + opType).str()] = std::move(fn);
  if (minOpset < 0)
    minOpset = domain.empty() ? 7 : 1;
  minOpsets[(domain + "|" + opType).str()] = minOpset;
}

int64_t OpRegistry::getMinOpset(StringRef domain, StringRef opType) const {
  auto it = minOpsets.find((domain + "|" + opType).str());
  return it == minOpsets.end() ? 1 : it->second;
}

const OpBuilderFn *OpRegistry::lookup(StringRef domain,
                                      StringRef opType) const {
  auto it = builders.find((domain + "|" + opType).str());
  return it == builders.end() ? nullptr : &it->second;
}

static const OpRegistry &getRegistry() {
  static const OpRegistry registry = [] {
    OpRegistry r;
    registerElementwiseOps(r);
    registerShapeOps(r);
    registerLinearOps(r);
    registerNormalizationOps(r);
    registerQuantizedOps(r);
    return r;
  }();
  return registry;
}

/// The node's name, or "<OpType>:<first output>" for unnamed nodes (the
/// text format and many exporters leave names empty).
static std::string displayName(const onnx::NodeProto &node) {
  if (!node.name().empty())
    return node.name();
  return node.op_type() + ":" + (node.output_size() ? node.output(0) : "");
}

static StringRef canonicalDomain(StringRef domain) {
  return domain == "ai.onnx" ? StringRef() : domain;
}

//===----------------------------------------------------------------------===//
// NodeImporter
//===----------------------------------------------------------------------===//

NodeImporter::NodeImporter(GraphImporter &graph, const onnx::NodeProto &node,
                           int64_t opset, OpBuilder &builder, Location loc)
    : b(builder), loc(loc), graph(graph), node(node), opset(opset) {}

StringRef NodeImporter::getOpType() const { return node.op_type(); }
StringRef NodeImporter::getName() const { return node.name(); }

unsigned NodeImporter::getNumInputs() const { return node.input_size(); }
bool NodeImporter::hasInput(unsigned i) const {
  return i < static_cast<unsigned>(node.input_size()) && !node.input(i).empty();
}
const TensorValue &NodeImporter::input(unsigned i) const {
  // Operator importers check their input count (expectInputs) and optional
  // inputs (hasInput) first: reading one that is not given is a bug here.
  if (!hasInput(i))
    llvm::report_fatal_error(llvm::Twine("ONNX importer: ") + describe() +
                             " read input #" + llvm::Twine(i) +
                             ", which is not given");
  return graph.getValue(node.input(i));
}

const onnx::AttributeProto *NodeImporter::getAttr(StringRef name) const {
  for (const onnx::AttributeProto &a : node.attribute())
    if (a.name() == name)
      return &a;
  return nullptr;
}

static StringRef getAttrTypeName(int type) {
  switch (type) {
  case onnx::AttributeProto::FLOAT:
    return "a float";
  case onnx::AttributeProto::INT:
    return "an int";
  case onnx::AttributeProto::STRING:
    return "a string";
  case onnx::AttributeProto::TENSOR:
    return "a tensor";
  case onnx::AttributeProto::GRAPH:
    return "a graph";
  case onnx::AttributeProto::FLOATS:
    return "a list of floats";
  case onnx::AttributeProto::INTS:
    return "a list of ints";
  case onnx::AttributeProto::STRINGS:
    return "a list of strings";
  default:
    return "of another kind";
  }
}

const onnx::AttributeProto *NodeImporter::getTyped(StringRef name,
                                                   int type) const {
  const onnx::AttributeProto *a = getAttr(name);
  if (!a)
    return nullptr;
  int actual = a->type();
  if (actual == onnx::AttributeProto::UNDEFINED) {
    // Files from before IR version 3 may leave the type out.
    bool set = (type == onnx::AttributeProto::INT && a->has_i()) ||
               (type == onnx::AttributeProto::FLOAT && a->has_f()) ||
               (type == onnx::AttributeProto::STRING && a->has_s()) ||
               (type == onnx::AttributeProto::INTS) ||
               (type == onnx::AttributeProto::FLOATS);
    if (set)
      return a;
  }
  if (actual == type)
    return a;
  if (attrError.empty())
    attrError = ("attribute '" + name + "' is " + getAttrTypeName(actual) +
                 ", expected " + getAttrTypeName(type))
                    .str();
  return nullptr;
}

int64_t NodeImporter::getInt(StringRef name, int64_t dflt) const {
  const onnx::AttributeProto *a = getTyped(name, onnx::AttributeProto::INT);
  return a ? a->i() : dflt;
}

float NodeImporter::getFloat(StringRef name, float dflt) const {
  const onnx::AttributeProto *a = getTyped(name, onnx::AttributeProto::FLOAT);
  return a ? a->f() : dflt;
}

std::string NodeImporter::getString(StringRef name, StringRef dflt) const {
  const onnx::AttributeProto *a = getTyped(name, onnx::AttributeProto::STRING);
  return a ? a->s() : dflt.str();
}

std::optional<SmallVector<int64_t>>
NodeImporter::getInts(StringRef name) const {
  const onnx::AttributeProto *a = getTyped(name, onnx::AttributeProto::INTS);
  if (!a)
    return std::nullopt;
  return SmallVector<int64_t>(a->ints().begin(), a->ints().end());
}

unsigned NodeImporter::getNumOutputs() const { return node.output_size(); }
bool NodeImporter::wantsOutput(unsigned i) const {
  return i < static_cast<unsigned>(node.output_size()) &&
         !node.output(i).empty();
}

void NodeImporter::setOutput(unsigned i, TensorValue value) {
  if (wantsOutput(i))
    graph.defineValue(node.output(i), std::move(value));
}

void NodeImporter::setOutput(unsigned i, Value value, int32_t dtype) {
  TensorValue v;
  v.value = value;
  v.dtype = dtype;
  setOutput(i, std::move(v));
}

InFlightDiagnostic NodeImporter::emitError() {
  return mlir::emitError(loc)
         << "node '" << displayName(node) << "' (" << node.op_type()
         << ", domain '" << node.domain() << "'): ";
}

std::string NodeImporter::describe() const {
  return (Twine(node.op_type()) + " node '" + displayName(node) + "'").str();
}

LogicalResult NodeImporter::expectInputs(unsigned min, unsigned max) {
  unsigned count = getNumInputs();
  if (count < min || count > max) {
    auto diag = emitError() << "expected ";
    if (min == max)
      diag << min;
    else
      diag << min << " to " << max;
    return diag << " inputs, got " << count;
  }
  for (unsigned i = 0; i < min; ++i)
    if (!hasInput(i))
      return emitError() << "required input #" << i << " is missing";
  return success();
}

LogicalResult NodeImporter::expectNoMissingInputs() {
  for (unsigned i = 0; i < getNumInputs(); ++i)
    if (!hasInput(i))
      return emitError() << "input #" << i
                         << " is missing (this operator has no optional "
                            "inputs)";
  return success();
}

std::optional<SmallVector<IntElem>>
NodeImporter::getIntElements(unsigned i) const {
  if (!hasInput(i))
    return std::nullopt;
  const TensorValue &v = input(i);
  if (v.ints)
    return v.ints;
  // A small run-time integer tensor (a shape, axis or bound fed as a graph
  // input): read its elements at run time.
  RankedTensorType t = v.getType();
  if (!isIntegerDType(v.dtype) || t.getRank() > 1 || !t.hasStaticShape() ||
      t.getNumElements() > 64)
    return std::nullopt;
  SmallVector<IntElem> elems;
  for (int64_t k = 0; k < t.getNumElements(); ++k) {
    SmallVector<Value> idx;
    if (t.getRank() == 1)
      idx.push_back(arith::ConstantIndexOp::create(b, loc, k));
    Value e = tensor::ExtractOp::create(b, loc, v.value, idx);
    elems.push_back(IntElem{0, castScalar(b, loc, e, v.dtype, kInt64)});
  }
  return elems;
}

std::optional<SmallVector<int64_t>>
NodeImporter::getConstInts(unsigned i) const {
  auto elems = getIntElements(i);
  if (!elems)
    return std::nullopt;
  SmallVector<int64_t> result;
  for (const IntElem &e : *elems) {
    if (!e.isConst())
      return std::nullopt;
    result.push_back(e.value);
  }
  return result;
}

std::optional<double> NodeImporter::getConstFloat(unsigned i) const {
  if (!hasInput(i))
    return std::nullopt;
  const TensorValue &v = input(i);
  auto dense = dyn_cast_or_null<DenseElementsAttr>(v.constant);
  if (!dense || dense.getNumElements() != 1 ||
      !isa<FloatType>(dense.getElementType()))
    return std::nullopt;
  return (*dense.getValues<APFloat>().begin()).convertToDouble();
}

//===----------------------------------------------------------------------===//
// Shared builders
//===----------------------------------------------------------------------===//

Value onnx_import::getDimSize(OpBuilder &b, Location loc, Value tensor,
                              int64_t d) {
  auto type = cast<RankedTensorType>(tensor.getType());
  if (!type.isDynamicDim(d))
    return arith::ConstantIndexOp::create(b, loc, type.getDimSize(d));
  return tensor::DimOp::create(b, loc, tensor, d);
}

SmallVector<Value>
onnx_import::getDynamicSizes(ArrayRef<int64_t> shape,
                             function_ref<Value(int64_t)> getSize) {
  SmallVector<Value> sizes;
  for (auto [d, size] : llvm::enumerate(shape))
    if (ShapedType::isDynamic(size))
      sizes.push_back(getSize(d));
  return sizes;
}

Value onnx_import::createEmpty(OpBuilder &b, Location loc,
                               ArrayRef<int64_t> shape, Type elementType,
                               ValueRange dynSizes) {
  return tensor::EmptyOp::create(b, loc, shape, elementType, dynSizes);
}

Value onnx_import::createFilled(OpBuilder &b, Location loc,
                                ArrayRef<int64_t> shape, Value scalar,
                                ValueRange dynSizes) {
  Value empty = createEmpty(b, loc, shape, scalar.getType(), dynSizes);
  return linalg::FillOp::create(b, loc, ValueRange{scalar}, ValueRange{empty})
      .getResult(0);
}

/// `v` converted to int64, saturating (NaN is 0): a float attribute such as
/// Gemm's alpha applied to integer tensors may be out of range, and a plain
/// conversion of such a value is undefined behaviour.
static int64_t saturateToInt64(double v) {
  if (std::isnan(v))
    return 0;
  if (v >= 0x1p63)
    return INT64_MAX;
  if (v < -0x1p63)
    return INT64_MIN;
  return static_cast<int64_t>(v);
}

Value onnx_import::createScalar(OpBuilder &b, Location loc, Type type,
                                double v) {
  if (auto ft = dyn_cast<FloatType>(type))
    return arith::ConstantOp::create(b, loc, type, b.getFloatAttr(ft, v));
  if (type.isIndex())
    return arith::ConstantIndexOp::create(b, loc, saturateToInt64(v));
  return arith::ConstantOp::create(b, loc, type,
                                   b.getIntegerAttr(type, saturateToInt64(v)));
}

FailureOr<Value> onnx_import::buildElementwise(NodeImporter &n,
                                               ArrayRef<Value> operands,
                                               Type resultType,
                                               ElementwiseBody body) {
  OpBuilder &b = n.b;
  Location loc = n.loc;
  int64_t rank = 0;
  for (Value v : operands)
    rank = std::max(rank, cast<RankedTensorType>(v.getType()).getRank());

  SmallVector<int64_t> shape(rank, 1);
  SmallVector<std::pair<Value, int64_t>> dynSource(rank, {Value(), 0});
  for (int64_t d = 0; d < rank; ++d) {
    bool sawStatic = false;
    for (Value v : operands) {
      auto t = cast<RankedTensorType>(v.getType());
      int64_t od = d - (rank - t.getRank());
      if (od < 0)
        continue;
      int64_t s = t.getDimSize(od);
      if (ShapedType::isDynamic(s)) {
        if (!dynSource[d].first)
          dynSource[d] = {v, od};
        continue;
      }
      if (s == 1)
        continue;
      if (sawStatic && shape[d] != s)
        return n.emitError() << "operands cannot be broadcast: dimension " << d
                             << " has sizes " << shape[d] << " and " << s;
      shape[d] = s;
      sawStatic = true;
    }
    if (!sawStatic && dynSource[d].first)
      shape[d] = ShapedType::kDynamic;
  }

  // Dynamic dimensions of operands are assumed to equal the result's (not
  // to be 1): checked when the model runs.
  for (Value v : operands) {
    auto t = cast<RankedTensorType>(v.getType());
    for (int64_t od = 0; od < t.getRank(); ++od) {
      int64_t d = od + (rank - t.getRank());
      if (!t.isDynamicDim(od) ||
          (dynSource[d].first == v && dynSource[d].second == od &&
           ShapedType::isDynamic(shape[d])))
        continue;
      Value want =
          ShapedType::isDynamic(shape[d])
              ? getDimSize(b, loc, dynSource[d].first, dynSource[d].second)
              : arith::ConstantIndexOp::create(b, loc, shape[d]).getResult();
      emitEqualCheck(n, getDimSize(b, loc, v, od), want,
                     "operands cannot be broadcast: dimension " +
                         std::to_string(d) + " differs");
    }
  }

  SmallVector<AffineMap> maps;
  for (Value v : operands) {
    auto t = cast<RankedTensorType>(v.getType());
    SmallVector<AffineExpr> exprs;
    for (int64_t od = 0; od < t.getRank(); ++od) {
      int64_t d = od + (rank - t.getRank());
      if (t.getDimSize(od) == 1 && shape[d] != 1)
        exprs.push_back(b.getAffineConstantExpr(0));
      else
        exprs.push_back(b.getAffineDimExpr(d));
    }
    maps.push_back(AffineMap::get(rank, 0, exprs, b.getContext()));
  }
  maps.push_back(b.getMultiDimIdentityMap(rank));
  SmallVector<Value> dynSizes = getDynamicSizes(shape, [&](int64_t d) {
    return getDimSize(b, loc, dynSource[d].first, dynSource[d].second);
  });
  Value init = createEmpty(b, loc, shape, resultType, dynSizes);
  SmallVector<utils::IteratorType> iterators(rank,
                                             utils::IteratorType::parallel);
  auto generic = linalg::GenericOp::create(
      b, loc, TypeRange{init.getType()}, operands, ValueRange{init}, maps,
      iterators, [&](OpBuilder &nb, Location nl, ValueRange args) {
        Value r = body(nb, nl, args.drop_back());
        linalg::YieldOp::create(nb, nl, r);
      });
  return generic.getResult(0);
}

void onnx_import::emitIndexRangeCheck(NodeImporter &n, Value indices,
                                      Value size, StringRef what) {
  OpBuilder &b = n.b;
  Location loc = n.loc;
  auto type = cast<RankedTensorType>(indices.getType());
  Type i64 = b.getI64Type();
  // The smallest and largest index, in one pass over the indices (few: token
  // or position ids), before the gather reads anything.
  auto scalar = RankedTensorType::get({}, i64);
  auto filled = [&](int64_t v) {
    Value c = arith::ConstantIntOp::create(b, loc, v, 64);
    Value empty = tensor::EmptyOp::create(b, loc, scalar.getShape(), i64);
    return linalg::FillOp::create(b, loc, c, empty).getResult(0);
  };
  Value lowInit = filled(std::numeric_limits<int64_t>::max());
  Value highInit = filled(std::numeric_limits<int64_t>::min());
  int64_t rank = type.getRank();
  SmallVector<AffineMap> maps{b.getMultiDimIdentityMap(rank),
                              AffineMap::get(rank, 0, {}, b.getContext()),
                              AffineMap::get(rank, 0, {}, b.getContext())};
  SmallVector<utils::IteratorType> iterators(rank,
                                             utils::IteratorType::reduction);
  auto range = linalg::GenericOp::create(
      b, loc, TypeRange{scalar, scalar}, ValueRange{indices},
      ValueRange{lowInit, highInit}, maps, iterators,
      [&](OpBuilder &nb, Location nl, ValueRange args) {
        Value i = args[0];
        if (i.getType() != i64)
          i = arith::ExtSIOp::create(nb, nl, i64, i);
        linalg::YieldOp::create(
            nb, nl,
            ValueRange{arith::MinSIOp::create(nb, nl, args[1], i),
                       arith::MaxSIOp::create(nb, nl, args[2], i)});
      });
  Value low = tensor::ExtractOp::create(b, loc, range.getResult(0));
  Value high = tensor::ExtractOp::create(b, loc, range.getResult(1));
  Value limit = arith::IndexCastOp::create(b, loc, i64, size);
  Value negLimit = arith::SubIOp::create(
      b, loc, arith::ConstantIntOp::create(b, loc, 0, 64), limit);
  Value lowOk =
      arith::CmpIOp::create(b, loc, arith::CmpIPredicate::sge, low, negLimit);
  Value highOk =
      arith::CmpIOp::create(b, loc, arith::CmpIPredicate::slt, high, limit);
  Value ok = arith::AndIOp::create(b, loc, lowOk, highOk);
  Value bad = arith::SelectOp::create(b, loc, highOk, low, high);
  AssertOp::create(b, loc, ok,
                   b.getStringAttr(n.describe() + ": " + what +
                                   " {0} is out of range for an axis of {1} "
                                   "elements"),
                   ValueRange{bad, limit});
}

void onnx_import::emitCheck(NodeImporter &n, Value ok, StringRef message,
                            ValueRange values) {
  if (matchPattern(ok, m_One()))
    return;
  AssertOp::create(n.b, n.loc, ok,
                   n.b.getStringAttr(n.describe() + ": " + message), values);
}

void onnx_import::emitEqualCheck(NodeImporter &n, Value x, Value y,
                                 StringRef what) {
  Value ok = arith::CmpIOp::create(n.b, n.loc, arith::CmpIPredicate::eq, x, y);
  emitCheck(n, ok, (what + " ({0} and {1})").str(), ValueRange{x, y});
}

void onnx_import::emitDimsEqualCheck(NodeImporter &n, Value a, int64_t da,
                                     Value b, int64_t db, StringRef what) {
  auto ta = cast<RankedTensorType>(a.getType());
  auto tb = cast<RankedTensorType>(b.getType());
  if (!ta.isDynamicDim(da) && !tb.isDynamicDim(db))
    return;
  if (a == b && da == db)
    return;
  emitEqualCheck(n, getDimSize(n.b, n.loc, a, da),
                 getDimSize(n.b, n.loc, b, db), what);
}

Value onnx_import::broadcastTo(OpBuilder &b, Location loc, Value value,
                               ArrayRef<int64_t> shape, ValueRange dynSizes) {
  auto t = cast<RankedTensorType>(value.getType());
  int64_t rank = shape.size();
  SmallVector<AffineExpr> exprs;
  for (int64_t od = 0; od < t.getRank(); ++od) {
    int64_t d = od + (rank - t.getRank());
    if (t.getDimSize(od) == 1 && shape[d] != 1)
      exprs.push_back(b.getAffineConstantExpr(0));
    else
      exprs.push_back(b.getAffineDimExpr(d));
  }
  SmallVector<AffineMap> maps{AffineMap::get(rank, 0, exprs, b.getContext()),
                              b.getMultiDimIdentityMap(rank)};
  Value init = createEmpty(b, loc, shape, t.getElementType(), dynSizes);
  SmallVector<utils::IteratorType> iterators(rank,
                                             utils::IteratorType::parallel);
  return linalg::GenericOp::create(
             b, loc, TypeRange{init.getType()}, ValueRange{value},
             ValueRange{init}, maps, iterators,
             [&](OpBuilder &nb, Location nl, ValueRange args) {
               linalg::YieldOp::create(nb, nl, args[0]);
             })
      .getResult(0);
}

Value onnx_import::castScalar(OpBuilder &b, Location loc, Value v, int32_t from,
                              int32_t to) {
  Type toType = getElementType(b.getContext(), to);
  Type fromType = v.getType();
  if (fromType == toType && isUnsignedDType(from) == isUnsignedDType(to))
    return v;
  if (to == kBool) {
    if (isa<FloatType>(fromType))
      return arith::CmpFOp::create(b, loc, arith::CmpFPredicate::UNE, v,
                                   createScalar(b, loc, fromType, 0.0));
    return arith::CmpIOp::create(b, loc, arith::CmpIPredicate::ne, v,
                                 createScalar(b, loc, fromType, 0));
  }
  if (auto toFloat = dyn_cast<FloatType>(toType)) {
    if (auto fromFloat = dyn_cast<FloatType>(fromType)) {
      if (fromFloat.getWidth() < toFloat.getWidth())
        return arith::ExtFOp::create(b, loc, toType, v);
      if (fromFloat.getWidth() > toFloat.getWidth())
        return arith::TruncFOp::create(b, loc, toType, v);
      // f16 <-> bf16: through f32.
      Value wide = arith::ExtFOp::create(b, loc, b.getF32Type(), v);
      return arith::TruncFOp::create(b, loc, toType, wide);
    }
    if (from == kBool || isUnsignedDType(from))
      return arith::UIToFPOp::create(b, loc, toType, v);
    return arith::SIToFPOp::create(b, loc, toType, v);
  }
  // Integer result.
  if (isa<FloatType>(fromType)) {
    if (isUnsignedDType(to))
      return arith::FPToUIOp::create(b, loc, toType, v);
    return arith::FPToSIOp::create(b, loc, toType, v);
  }
  unsigned fw = fromType.getIntOrFloatBitWidth();
  unsigned tw = toType.getIntOrFloatBitWidth();
  if (fw < tw) {
    if (from == kBool || isUnsignedDType(from))
      return arith::ExtUIOp::create(b, loc, toType, v);
    return arith::ExtSIOp::create(b, loc, toType, v);
  }
  if (fw > tw)
    return arith::TruncIOp::create(b, loc, toType, v);
  return v;
}

Value onnx_import::castTensor(OpBuilder &b, Location loc, Value tensor,
                              int32_t from, int32_t to) {
  Type toType = getElementType(b.getContext(), to);
  auto t = cast<RankedTensorType>(tensor.getType());
  if (t.getElementType() == toType)
    return tensor;
  int64_t rank = t.getRank();
  Value init = createEmpty(b, loc, t.getShape(), toType,
                           getDynamicSizes(t.getShape(), [&](int64_t d) {
                             return getDimSize(b, loc, tensor, d);
                           }));
  AffineMap id = b.getMultiDimIdentityMap(rank);
  SmallVector<utils::IteratorType> iterators(rank,
                                             utils::IteratorType::parallel);
  return linalg::GenericOp::create(
             b, loc, TypeRange{init.getType()}, ValueRange{tensor},
             ValueRange{init}, ArrayRef<AffineMap>{id, id}, iterators,
             [&](OpBuilder &nb, Location nl, ValueRange args) {
               linalg::YieldOp::create(nb, nl,
                                       castScalar(nb, nl, args[0], from, to));
             })
      .getResult(0);
}

Value onnx_import::toIndex(OpBuilder &b, Location loc, const IntElem &e) {
  if (e.isConst())
    return arith::ConstantIndexOp::create(b, loc, e.value);
  return arith::IndexCastOp::create(b, loc, b.getIndexType(), e.dyn);
}

Value onnx_import::toI64(OpBuilder &b, Location loc, const IntElem &e) {
  if (e.isConst())
    return arith::ConstantIntOp::create(b, loc, b.getI64Type(), e.value);
  return e.dyn;
}

IntElem onnx_import::getDimElem(OpBuilder &b, Location loc, Value tensor,
                                int64_t d) {
  auto t = cast<RankedTensorType>(tensor.getType());
  if (!t.isDynamicDim(d))
    return IntElem::of(t.getDimSize(d));
  Value idx = tensor::DimOp::create(b, loc, tensor, d);
  return IntElem{0, arith::IndexCastOp::create(b, loc, b.getI64Type(), idx)};
}

TensorValue onnx_import::makeIntTensor(OpBuilder &b, Location loc,
                                       ArrayRef<IntElem> elems, bool scalar) {
  TensorValue result;
  result.dtype = kInt64;
  result.ints = SmallVector<IntElem>(elems.begin(), elems.end());
  SmallVector<int64_t> shape;
  if (!scalar)
    shape.push_back(static_cast<int64_t>(elems.size()));
  auto type = RankedTensorType::get(shape, b.getI64Type());
  if (llvm::all_of(elems, [](const IntElem &e) { return e.isConst(); })) {
    SmallVector<int64_t> values;
    for (const IntElem &e : elems)
      values.push_back(e.value);
    auto attr = DenseElementsAttr::get(type, ArrayRef<int64_t>(values));
    result.value = arith::ConstantOp::create(b, loc, attr);
    result.constant = attr;
    return result;
  }
  SmallVector<Value> scalars;
  for (const IntElem &e : elems)
    scalars.push_back(toI64(b, loc, e));
  result.value = tensor::FromElementsOp::create(b, loc, type, scalars);
  return result;
}

Value onnx_import::dropDimsAtRunTime(OpBuilder &b, Location loc, Value tensor,
                                     ArrayRef<Value> dropped, int64_t outRank) {
  auto type = cast<RankedTensorType>(tensor.getType());
  auto i64 = [&](int64_t v) {
    return arith::ConstantIntOp::create(b, loc, b.getI64Type(), v).getResult();
  };
  Value one = arith::ConstantIntOp::create(b, loc, b.getI1Type(), 1);
  // Kept dimension d lands at output position keptBefore[d].
  SmallVector<Value> keep, keptBefore;
  Value kept = i64(0);
  for (Value flag : dropped) {
    Value k = arith::XOrIOp::create(b, loc, flag, one);
    keep.push_back(k);
    keptBefore.push_back(kept);
    kept = arith::AddIOp::create(
        b, loc, kept, arith::ExtUIOp::create(b, loc, b.getI64Type(), k));
  }
  SmallVector<Value> dims;
  for (int64_t j = 0; j < outRank; ++j) {
    Value dim = i64(1);
    for (auto [d, k] : llvm::enumerate(keep)) {
      Value here = arith::AndIOp::create(
          b, loc, k,
          arith::CmpIOp::create(b, loc, arith::CmpIPredicate::eq, keptBefore[d],
                                i64(j)));
      Value size = arith::IndexCastOp::create(b, loc, b.getI64Type(),
                                              getDimSize(b, loc, tensor, d));
      dim = arith::SelectOp::create(b, loc, here, size, dim);
    }
    dims.push_back(dim);
  }
  Value shape = tensor::FromElementsOp::create(
      b, loc, RankedTensorType::get({outRank}, b.getI64Type()), dims);
  return tensor::ReshapeOp::create(
      b, loc,
      RankedTensorType::get(SmallVector<int64_t>(outRank, ShapedType::kDynamic),
                            type.getElementType()),
      tensor, shape);
}

FailureOr<int64_t> onnx_import::normalizeAxis(NodeImporter &n, int64_t axis,
                                              int64_t rank) {
  // [-rank, rank - 1]: no axis of a scalar (callers index dimensions with
  // the result).
  if (axis < -rank || axis >= rank)
    return n.emitError() << "axis " << axis << " is out of range for rank "
                         << rank;
  return axis < 0 ? axis + rank : axis;
}

//===----------------------------------------------------------------------===//
// GraphImporter
//===----------------------------------------------------------------------===//

GraphImporter::GraphImporter(MLIRContext *ctx, std::shared_ptr<ModelFile> file,
                             const OnnxImportOptions &options)
    : ctx(ctx), file(std::move(file)), options(options) {}

GraphImporter::~GraphImporter() = default;

const TensorValue &GraphImporter::getValue(StringRef name) const {
  auto it = values.find(name);
  // The graph's order is checked before any node is imported, and operator
  // importers test optional inputs with hasInput: a miss is a bug here.
  if (it == values.end())
    llvm::report_fatal_error(llvm::Twine("ONNX importer: value '") + name +
                             "' looked up before its definition");
  return it->second;
}

void GraphImporter::defineValue(StringRef name, TensorValue value) {
  values[name] = std::move(value);
}

FailureOr<RankedTensorType>
GraphImporter::convertType(const onnx::TypeProto &type, const Twine &what) {
  if (!type.has_tensor_type())
    return file->emitError() << what
                             << " is not a tensor (sequence, map and "
                                "optional types are unsupported)";
  const auto &tt = type.tensor_type();
  Type element = getElementType(ctx, tt.elem_type());
  if (!element)
    return file->emitError() << what << " has unsupported element type "
                             << getDTypeName(tt.elem_type());
  if (!tt.has_shape())
    return file->emitError() << what << " has no shape (rank unknown)";
  SmallVector<int64_t> shape;
  for (const auto &dim : tt.shape().dim()) {
    if (dim.has_dim_value() && dim.dim_value() >= 0) {
      shape.push_back(dim.dim_value());
    } else if (dim.has_dim_param()) {
      auto it = options.boundDims.find(dim.dim_param());
      shape.push_back(it != options.boundDims.end() ? it->second
                                                    : ShapedType::kDynamic);
      if (it != options.boundDims.end())
        usedBindings.insert(dim.dim_param());
    } else {
      shape.push_back(ShapedType::kDynamic);
    }
  }
  SmallVector<int64_t> known;
  for (int64_t d : shape)
    if (!ShapedType::isDynamic(d))
      known.push_back(d);
  if (!mlir::slim::elementCount(known.data(), known.size()))
    return file->emitError() << what << " has more than 2^48 elements";
  return RankedTensorType::get(shape, element);
}

/// A resource blob key for an initializer: its name with characters the
/// MLIR resource syntax does not take replaced by '_'.
static std::string blobName(StringRef tensorName) {
  std::string name = tensorName.empty() ? "constant" : tensorName.str();
  for (char &c : name)
    if (!llvm::isAlnum(c) && c != '_' && c != '.')
      c = '_';
  return name;
}

FailureOr<TensorValue>
GraphImporter::importConstant(const onnx::TensorProto &tensor, OpBuilder &b,
                              Location loc,
                              function_ref<InFlightDiagnostic()> emitError) {
  int32_t dtype = tensor.data_type();
  if (dtype == kInt4 || dtype == kUInt4) {
    // Kept packed: these become the codes of a #slim.quant tensor as is.
    SmallVector<int64_t> shape(tensor.dims().begin(), tensor.dims().end());
    if (shape.empty() || shape.back() % 2 != 0)
      return emitError() << "tensor '" << tensor.name()
                         << "': 4-bit tensors need an even innermost dimension";
    std::shared_ptr<const void> keepAlive;
    FailureOr<ArrayRef<char>> bytes =
        file->getTensorBytes(tensor, keepAlive, emitError);
    if (failed(bytes))
      return failure();
    SmallVector<int64_t> packed(shape);
    packed.back() /= 2;
    auto type = RankedTensorType::get(packed, b.getI8Type());
    TensorValue result;
    result.dtype = dtype;
    result.packed4 = true;
    result.logicalShape = shape;
    if (type.getNumElements() <= options.inlineConstantLimit) {
      result.constant = DenseElementsAttr::getFromRawBuffer(type, *bytes);
    } else {
      result.constant = DenseResourceElementsAttr::get(
          type, blobName(tensor.name()),
          UnmanagedAsmResourceBlob::allocateWithAlign(
              *bytes, 1, [keepAlive](void *, size_t, size_t) mutable {
                keepAlive.reset();
              }));
    }
    result.value = arith::ConstantOp::create(b, loc, result.constant);
    return result;
  }
  Type element = getElementType(ctx, dtype);
  if (!element)
    return emitError() << "tensor '" << tensor.name()
                       << "' has unsupported element type "
                       << getDTypeName(dtype);
  SmallVector<int64_t> shape(tensor.dims().begin(), tensor.dims().end());
  std::shared_ptr<const void> keepAlive;
  FailureOr<ArrayRef<char>> bytes =
      file->getTensorBytes(tensor, keepAlive, emitError);
  if (failed(bytes))
    return failure();
  auto type = RankedTensorType::get(shape, element);
  int64_t numel = type.getNumElements();

  TensorValue result;
  result.dtype = dtype;
  if (numel <= options.inlineConstantLimit) {
    DenseElementsAttr attr;
    if (dtype == kBool) {
      SmallVector<bool> bits;
      for (char c : *bytes)
        bits.push_back(c != 0);
      attr = DenseElementsAttr::get(type, ArrayRef<bool>(bits));
    } else {
      attr = DenseElementsAttr::getFromRawBuffer(type, *bytes);
    }
    result.constant = attr;
    if (isIntegerDType(dtype) && type.getRank() <= 1) {
      SmallVector<IntElem> elems;
      for (const APInt &v : attr.getValues<APInt>())
        elems.push_back(IntElem::of(isUnsignedDType(dtype)
                                        ? static_cast<int64_t>(v.getZExtValue())
                                        : v.getSExtValue()));
      result.ints = std::move(elems);
    }
  } else {
    // Zero copy: the blob points into the mapped file (or the parsed model)
    // and keeps it alive.
    size_t align = ModelFile::getElementSize(dtype);
    AsmResourceBlob blob;
    if (reinterpret_cast<uintptr_t>(bytes->data()) % align == 0) {
      blob = UnmanagedAsmResourceBlob::allocateWithAlign(
          *bytes, align,
          [keepAlive](void *, size_t, size_t) mutable { keepAlive.reset(); });
    } else {
      blob =
          HeapAsmResourceBlob::allocateAndCopyWithAlign(*bytes, align, false);
    }
    result.constant = DenseResourceElementsAttr::get(
        type, blobName(tensor.name()), std::move(blob));
  }
  result.value = arith::ConstantOp::create(b, loc, result.constant);
  return result;
}

LogicalResult GraphImporter::resolveOpsets() {
  for (const auto &op : file->getModel().opset_import()) {
    StringRef domain = canonicalDomain(op.domain());
    auto [it, inserted] = opsets.try_emplace(domain, op.version());
    if (!inserted)
      return file->emitError()
             << "domain '" << op.domain() << "' is imported twice (opsets "
             << it->second << " and " << op.version() << ")";
  }
  auto it = opsets.find("");
  if (it != opsets.end() &&
      (it->second < kMinDefaultOpset || it->second > kMaxDefaultOpset))
    return file->emitError() << "unsupported opset " << it->second
                             << " for the default ONNX domain; Slim supports "
                             << kMinDefaultOpset << " to " << kMaxDefaultOpset;
  auto ms = opsets.find("com.microsoft");
  if (ms != opsets.end() && ms->second > kMaxMicrosoftOpset)
    return file->emitError() << "unsupported opset " << ms->second
                             << " for domain 'com.microsoft'; Slim supports 1";
  return success();
}

/// Orders the nodes so that every input is defined before use (ONNX asks for
/// topological order, but not every producer honors it), reporting cycles and
/// undefined inputs.
FailureOr<SmallVector<const onnx::NodeProto *>>
GraphImporter::sortNodes(const llvm::StringSet<> &available) {
  const auto &graph = file->getModel().graph();
  int n = graph.node_size();
  llvm::StringMap<int> producer;
  for (int i = 0; i < n; ++i) {
    for (const std::string &out : graph.node(i).output()) {
      if (out.empty())
        continue;
      if (available.contains(out))
        return file->emitError()
               << "node '" << displayName(graph.node(i)) << "' ("
               << graph.node(i).op_type() << ", domain '"
               << graph.node(i).domain() << "'): output '" << out
               << "' redefines a graph input or initializer";
      auto [it, inserted] = producer.try_emplace(out, i);
      if (!inserted)
        return file->emitError()
               << "node '" << displayName(graph.node(i)) << "' ("
               << graph.node(i).op_type() << ", domain '"
               << graph.node(i).domain() << "'): output '" << out
               << "' is also produced by node '"
               << displayName(graph.node(it->second)) << "'";
    }
  }
  std::vector<int> pending(n, 0);
  std::vector<SmallVector<int>> users(n);
  for (int i = 0; i < n; ++i) {
    for (const std::string &in : graph.node(i).input()) {
      if (in.empty() || available.contains(in))
        continue;
      auto it = producer.find(in);
      if (it == producer.end())
        return file->emitError()
               << "node '" << displayName(graph.node(i)) << "' ("
               << graph.node(i).op_type() << ", domain '"
               << graph.node(i).domain() << "'): input '" << in
               << "' is not a graph input, initializer or node output";
      ++pending[i];
      users[it->second].push_back(i);
    }
  }
  // Kahn's algorithm, always taking the earliest ready node, so a graph that
  // is already sorted keeps its order.
  SmallVector<const onnx::NodeProto *> order;
  std::priority_queue<int, std::vector<int>, std::greater<int>> ready;
  for (int i = 0; i < n; ++i)
    if (pending[i] == 0)
      ready.push(i);
  while (!ready.empty()) {
    int i = ready.top();
    ready.pop();
    order.push_back(&graph.node(i));
    for (int u : users[i])
      if (--pending[u] == 0)
        ready.push(u);
  }
  if (static_cast<int>(order.size()) != n) {
    for (int i = 0; i < n; ++i)
      if (pending[i] > 0)
        return file->emitError()
               << "node '" << displayName(graph.node(i)) << "' ("
               << graph.node(i).op_type() << ", domain '"
               << graph.node(i).domain() << "'): the graph has a cycle "
               << "through this node";
  }
  return order;
}

Location GraphImporter::getNodeLoc(const onnx::NodeProto &node) {
  return NameLoc::get(StringAttr::get(ctx, displayName(node)), file->getLoc());
}

FailureOr<OwningOpRef<ModuleOp>> GraphImporter::run() {
  if (failed(resolveOpsets()))
    return failure();
  const onnx::GraphProto &graph = file->getModel().graph();
  OpBuilder b(ctx);
  Location fileLoc = file->getLoc();
  OwningOpRef<ModuleOp> module = ModuleOp::create(fileLoc);
  b.setInsertionPointToEnd(module->getBody());

  // Initializers are constants; graph inputs that share their name (old IR
  // versions list them as inputs too) are constants as well.
  llvm::StringMap<const onnx::TensorProto *> initializers;
  for (const onnx::TensorProto &t : graph.initializer()) {
    if (!initializers.try_emplace(t.name(), &t).second)
      return file->emitError()
             << "initializer '" << t.name() << "' is defined twice";
  }
  SmallVector<const onnx::ValueInfoProto *> inputs;
  SmallVector<Type> inputTypes;
  llvm::StringSet<> available;
  for (const auto &in : graph.input()) {
    if (initializers.count(in.name()))
      continue;
    if (!available.insert(in.name()).second)
      return file->emitError()
             << "graph input '" << in.name() << "' is declared twice";
    FailureOr<RankedTensorType> type =
        convertType(in.type(), "graph input '" + in.name() + "'");
    if (failed(type))
      return failure();
    inputs.push_back(&in);
    inputTypes.push_back(*type);
  }
  for (const auto &entry : initializers)
    available.insert(entry.getKey());
  for (const auto &bound : options.boundDims)
    if (!usedBindings.contains(bound.getKey())) {
      // The names the inputs have, to choose from.
      std::set<std::string> names;
      for (const auto &in : graph.input())
        if (in.type().has_tensor_type())
          for (const auto &dim : in.type().tensor_type().shape().dim())
            if (dim.has_dim_param())
              names.insert(dim.dim_param());
      std::string list;
      for (const std::string &n : names)
        list += (list.empty() ? "" : ", ") + n;
      return file->emitError()
             << "--bind-dims names '" << bound.getKey()
             << "', which no graph input has as a symbolic dimension ("
             << (list.empty() ? "the inputs have none" : "they have: " + list)
             << ")";
    }

  FailureOr<SmallVector<const onnx::NodeProto *>> order = sortNodes(available);
  if (failed(order))
    return failure();

  auto func =
      func::FuncOp::create(b, fileLoc, options.functionName,
                           b.getFunctionType(inputTypes, /*results=*/{}));
  Block *entry = func.addEntryBlock();
  b.setInsertionPointToStart(entry);
  // Names, ONNX element types and symbolic dimension names of the graph's
  // inputs and outputs, for runtimes and drivers (signless MLIR integers do
  // not say whether an input is uint8 or int8).
  auto describe = [&](const onnx::ValueInfoProto &info, int32_t dtype,
                      auto setAttr) {
    setAttr("onnx.name", b.getStringAttr(info.name()));
    setAttr("onnx.elem_type", b.getI32IntegerAttr(dtype));
    SmallVector<Attribute> names;
    bool any = false;
    if (info.type().has_tensor_type() &&
        info.type().tensor_type().has_shape()) {
      for (const auto &dim : info.type().tensor_type().shape().dim()) {
        bool bound =
            dim.has_dim_param() && options.boundDims.count(dim.dim_param());
        std::string name = dim.has_dim_param() && !bound ? dim.dim_param() : "";
        any |= !name.empty();
        names.push_back(b.getStringAttr(name));
      }
    }
    if (any)
      setAttr("onnx.dim_names", b.getArrayAttr(names));
  };
  for (auto [i, in] : llvm::enumerate(inputs)) {
    describe(*in, in->type().tensor_type().elem_type(),
             [&](StringRef n, Attribute a) { func.setArgAttr(i, n, a); });
    BlockArgument arg = entry->getArgument(i);
    arg.setLoc(NameLoc::get(b.getStringAttr(in->name()), fileLoc));
    TensorValue v;
    v.value = arg;
    v.dtype = in->type().tensor_type().elem_type();
    defineValue(in->name(), std::move(v));
  }
  for (const onnx::TensorProto &t : graph.initializer()) {
    FailureOr<TensorValue> c =
        importConstant(t, b, NameLoc::get(b.getStringAttr(t.name()), fileLoc),
                       [&] { return file->emitError(); });
    if (failed(c))
      return failure();
    defineValue(t.name(), std::move(*c));
  }

  const OpRegistry &registry = getRegistry();
  for (const onnx::NodeProto *node : *order) {
    StringRef domain = canonicalDomain(node->domain());
    Location loc = getNodeLoc(*node);
    auto opset = opsets.find(domain);
    NodeImporter n(*this, *node, opset == opsets.end() ? 0 : opset->second, b,
                   loc);
    if (opset == opsets.end())
      return n.emitError() << "domain '" << node->domain()
                           << "' is not in the model's opset_import";
    const OpBuilderFn *fn = registry.lookup(domain, node->op_type());
    if (!fn)
      return n.emitError() << "unsupported operator";
    int64_t minOpset = registry.getMinOpset(domain, node->op_type());
    if (n.getOpset() < minOpset)
      return n.emitError() << "the semantics of this operator before opset "
                           << minOpset << " are unsupported (model opset "
                           << n.getOpset() << ")";
    if (node->op_type() != "DequantizeLinear") {
      for (unsigned i = 0; i < n.getNumInputs(); ++i)
        if (n.hasInput(i) && n.input(i).packed4)
          return n.emitError() << "input #" << i
                               << " is a 4-bit tensor; "
                                  "those are supported only as constant "
                                  "DequantizeLinear inputs";
    }
    // Each attribute once: a second one would silently lose to the first.
    for (int i = 0; i < node->attribute_size(); ++i)
      for (int j = 0; j < i; ++j)
        if (node->attribute(i).name() == node->attribute(j).name())
          return n.emitError() << "attribute '" << node->attribute(i).name()
                               << "' is given twice";
    if (failed((*fn)(n)))
      return failure();
    if (!n.getAttrError().empty())
      return n.emitError() << n.getAttrError();
    // Sizes from constants (Expand, ConstantOfShape, Reshape targets) are
    // input too: a result beyond what any memory holds is an error here,
    // not an overflow later.
    for (int i = 0; i < node->output_size(); ++i) {
      auto it = values.find(node->output(i));
      if (node->output(i).empty() || it == values.end())
        continue;
      auto type = dyn_cast<RankedTensorType>(it->second.value.getType());
      if (!type)
        continue;
      SmallVector<int64_t> dims;
      for (int64_t d : type.getShape())
        if (!ShapedType::isDynamic(d))
          dims.push_back(d);
      if (!mlir::slim::elementCount(dims.data(), dims.size()))
        return n.emitError() << "output #" << i << " would have more than "
                             << "2^48 elements (shape " << type << ")";
    }
    for (int i = 0; i < node->output_size(); ++i)
      if (!node->output(i).empty() && !values.count(node->output(i)))
        return n.emitError() << "output #" << i << " ('" << node->output(i)
                             << "') is not supported";
  }

  SmallVector<Value> results;
  SmallVector<Type> resultTypes;
  for (const auto &out : graph.output()) {
    auto it = values.find(out.name());
    if (it == values.end())
      return file->emitError() << "graph output '" << out.name()
                               << "' is not produced by any node";
    Value v = it->second.value;
    auto type = cast<RankedTensorType>(v.getType());
    if (out.has_type() && out.type().has_tensor_type()) {
      const auto &tt = out.type().tensor_type();
      if (tt.elem_type() != 0 && tt.elem_type() != it->second.dtype)
        return file->emitError()
               << "graph output '" << out.name() << "' is declared "
               << getDTypeName(tt.elem_type()) << " but computed as "
               << getDTypeName(it->second.dtype);
      if (tt.has_shape()) {
        FailureOr<RankedTensorType> declared =
            convertType(out.type(), "graph output '" + out.name() + "'");
        if (failed(declared))
          return failure();
        if (declared->getRank() != type.getRank())
          return file->emitError()
                 << "graph output '" << out.name() << "' is declared with rank "
                 << declared->getRank() << " but computed with rank "
                 << type.getRank();
        SmallVector<int64_t> shape(type.getShape());
        for (int64_t d = 0; d < type.getRank(); ++d) {
          int64_t want = declared->getDimSize(d), have = type.getDimSize(d);
          if (!ShapedType::isDynamic(want) && !ShapedType::isDynamic(have) &&
              want != have)
            return file->emitError()
                   << "graph output '" << out.name() << "' is declared with "
                   << "dimension " << d << " of size " << want
                   << " but computed as " << have;
          if (ShapedType::isDynamic(have))
            shape[d] = want;
        }
        auto refined = RankedTensorType::get(shape, type.getElementType());
        if (refined != type)
          v = tensor::CastOp::create(b, fileLoc, refined, v);
      }
    }
    results.push_back(v);
    resultTypes.push_back(v.getType());
  }
  func::ReturnOp::create(b, fileLoc, results);
  func.setType(b.getFunctionType(inputTypes, resultTypes));
  for (auto [i, out] : llvm::enumerate(graph.output()))
    describe(out, values.find(out.name())->second.dtype,
             [&](StringRef n, Attribute a) { func.setResultAttr(i, n, a); });

  // Unused initializers and the leftovers of shape folding: erase dead
  // side-effect-free ops, last first so that chains disappear entirely.
  for (Operation &op :
       llvm::make_early_inc_range(llvm::reverse(entry->getOperations())))
    if (isOpTriviallyDead(&op))
      op.erase();

  if (failed(mlir::verify(*module)))
    return file->emitError() << "imported IR does not verify (importer bug)";
  return module;
}

//===----------------------------------------------------------------------===//
// Entry points
//===----------------------------------------------------------------------===//

FailureOr<OwningOpRef<ModuleOp>>
mlir::slim::importOnnxModel(MLIRContext *context, StringRef path,
                            const OnnxImportOptions &options) {
  context->loadDialect<arith::ArithDialect, func::FuncDialect,
                       linalg::LinalgDialect, math::MathDialect,
                       scf::SCFDialect, tensor::TensorDialect, SlimDialect>();
  FailureOr<std::shared_ptr<ModelFile>> file = ModelFile::load(context, path);
  if (failed(file))
    return failure();
  GraphImporter importer(context, *file, options);
  return importer.run();
}

FailureOr<OwningOpRef<ModuleOp>>
mlir::slim::importOnnxModel(MLIRContext *context, StringRef path,
                            StringRef contents,
                            const OnnxImportOptions &options) {
  context->loadDialect<arith::ArithDialect, func::FuncDialect,
                       linalg::LinalgDialect, math::MathDialect,
                       scf::SCFDialect, tensor::TensorDialect, SlimDialect>();
  FailureOr<std::shared_ptr<ModelFile>> file = ModelFile::load(
      context, path,
      llvm::MemoryBuffer::getMemBuffer(contents, path,
                                       /*RequiresNullTerminator=*/false));
  if (failed(file))
    return failure();
  GraphImporter importer(context, *file, options);
  return importer.run();
}

std::string mlir::slim::parseDimBindings(StringRef spec,
                                         llvm::StringMap<int64_t> &dims) {
  SmallVector<StringRef> items;
  spec.split(items, ',', -1, /*KeepEmpty=*/false);
  for (StringRef item : items) {
    auto [name, value] = item.split('=');
    name = name.trim();
    int64_t v;
    if (name.empty() || value.trim().getAsInteger(10, v) || v < 0)
      return ("expected name=size with a non-negative size, got '" + item + "'")
          .str();
    if (!dims.try_emplace(name, v).second)
      return ("'" + name + "' is bound twice").str();
  }
  return {};
}

std::vector<std::string> mlir::slim::getSupportedOnnxOperators() {
  std::vector<std::string> ops;
  for (const auto &entry : getRegistry().builders) {
    auto [domain, op] = entry.getKey().split('|');
    ops.push_back((domain + ":" + op).str());
  }
  llvm::sort(ops);
  return ops;
}

void mlir::slim::registerOnnxImportDialects(DialectRegistry &registry) {
  registry.insert<arith::ArithDialect, func::FuncDialect, linalg::LinalgDialect,
                  math::MathDialect, scf::SCFDialect, tensor::TensorDialect,
                  SlimDialect>();
}
