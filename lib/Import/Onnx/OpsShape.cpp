//===- OpsShape.cpp - Shape and data-movement ONNX operators --------------===//
//
// Part of the Slim project, under the Apache License v2.0 with LLVM Exceptions.
// SPDX-License-Identifier: Apache-2.0 WITH LLVM-exception
//
//===----------------------------------------------------------------------===//
//
// Shape, Gather, Reshape, Transpose, (Un)Squeeze, Concat, Slice, Split,
// Expand, Range, ConstantOfShape, Constant, Trilu, CumSum. Shape subgraphs
// (Shape -> Gather -> Concat -> Reshape) fold through the `ints` of
// TensorValue: elements known at import time become constants, the others
// run-time scalars derived from tensor.dim, so results keep every static
// dimension that can be proven.
//
//===----------------------------------------------------------------------===//

#include "lib/Import/Onnx/GraphImporter.h"
#include "lib/Support/Sizes.h"

#include "onnx/onnx.pb.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Linalg/IR/Linalg.h"
#include "mlir/Dialect/Math/IR/Math.h"
#include "mlir/Dialect/Tensor/IR/Tensor.h"

using namespace mlir;
using namespace mlir::slim::onnx_import;

namespace {

int64_t staticOr(const IntElem &e) {
  return e.isConst() ? e.value : ShapedType::kDynamic;
}

OpFoldResult toFoldResult(OpBuilder &b, Location loc, const IntElem &e) {
  if (e.isConst())
    return b.getIndexAttr(e.value);
  return toIndex(b, loc, e);
}

Value i64Const(OpBuilder &b, Location loc, int64_t v) {
  return arith::ConstantIntOp::create(b, loc, b.getI64Type(), v);
}

/// select(c, a, b) on i64 values.
Value sel(OpBuilder &b, Location loc, Value c, Value x, Value y) {
  return arith::SelectOp::create(b, loc, c, x, y);
}

Value cmp(OpBuilder &b, Location loc, arith::CmpIPredicate p, Value x,
          Value y) {
  return arith::CmpIOp::create(b, loc, p, x, y);
}

/// Run-time axes of input `i` (i64 values), normalized against `rank`.
std::optional<SmallVector<Value>> runtimeAxes(NodeImporter &n, unsigned i,
                                              int64_t rank) {
  auto elems = n.getIntElements(i);
  if (!elems)
    return std::nullopt;
  SmallVector<Value> axes;
  for (const IntElem &e : *elems) {
    Value a = toI64(n.b, n.loc, e);
    Value neg =
        cmp(n.b, n.loc, arith::CmpIPredicate::slt, a, i64Const(n.b, n.loc, 0));
    axes.push_back(sel(
        n.b, n.loc, neg,
        arith::AddIOp::create(n.b, n.loc, a, i64Const(n.b, n.loc, rank)), a));
  }
  return axes;
}

/// Axes from an attribute (older opsets) or from input `inputIndex`.
FailureOr<std::optional<SmallVector<int64_t>>>
getAxes(NodeImporter &n, int64_t inputSinceOpset, unsigned inputIndex) {
  if (n.getOpset() < inputSinceOpset)
    return n.getInts("axes");
  if (!n.hasInput(inputIndex))
    return std::optional<SmallVector<int64_t>>();
  auto axes = n.getConstInts(inputIndex);
  if (!axes)
    return n.emitError() << "axes must be a constant";
  return std::optional<SmallVector<int64_t>>(*axes);
}

/// What is known about one dimension when matching reshapes: a constant, a
/// `tensor.dim` of some tensor (two equal sources are equal sizes), or
/// nothing.
struct DimSig {
  int64_t value = ShapedType::kDynamic;
  Value tensor;
  int64_t index = -1;
  bool wildcard = false; // the inferred (-1) dimension

  bool isConst() const { return !ShapedType::isDynamic(value); }
  bool sameAs(const DimSig &o) const {
    if (isConst() || o.isConst())
      return value == o.value;
    return tensor && tensor == o.tensor && index == o.index;
  }
};

DimSig signatureOf(const IntElem &e) {
  DimSig s;
  if (e.isConst()) {
    s.value = e.value;
    return s;
  }
  Value v = e.dyn;
  if (auto cast = v.getDefiningOp<arith::IndexCastOp>())
    v = cast.getIn();
  if (auto dim = v.getDefiningOp<tensor::DimOp>()) {
    if (std::optional<int64_t> c = dim.getConstantIndex()) {
      s.tensor = dim.getSource();
      s.index = *c;
    }
  }
  return s;
}

/// Groups `small` (fewer dims) against `large` so that every small dim
/// equals the product of a run of large dims. Constants must multiply out
/// exactly; a dynamic dim matches one dynamic dim of the same source, or
/// anything if it is the wildcard. Unit large dims join the neighbouring
/// group.
std::optional<SmallVector<ReassociationIndices>>
matchGroups(ArrayRef<DimSig> small, ArrayRef<DimSig> large) {
  SmallVector<ReassociationIndices> groups;
  size_t j = 0;
  for (size_t i = 0; i < small.size(); ++i) {
    ReassociationIndices group;
    const DimSig &s = small[i];
    if (s.isConst()) {
      int64_t prod = 1;
      while (j < large.size() && large[j].isConst() &&
             (prod < s.value || (prod == s.value && large[j].value == 1 &&
                                 i + 1 == small.size()))) {
        prod *= large[j].value;
        group.push_back(j++);
      }
      if (prod != s.value || (group.empty() && s.value != 1))
        return std::nullopt;
      if (group.empty())
        return std::nullopt;
    } else if (s.wildcard && i + 1 == small.size()) {
      // The inferred last dimension takes everything that is left.
      while (j < large.size())
        group.push_back(j++);
      if (group.empty())
        return std::nullopt;
    } else {
      while (j < large.size() && large[j].isConst() && large[j].value == 1 &&
             !(s.wildcard || large[j].wildcard))
        group.push_back(j++);
      if (j >= large.size())
        return std::nullopt;
      if (!(s.sameAs(large[j]) || s.wildcard || large[j].wildcard))
        return std::nullopt;
      group.push_back(j++);
    }
    groups.push_back(group);
  }
  // Trailing unit dims join the last group.
  while (j < large.size() && large[j].isConst() && large[j].value == 1 &&
         !groups.empty())
    groups.back().push_back(j++);
  if (j != large.size())
    return std::nullopt;
  return groups;
}

/// Reshapes `value` to `dims`: tensor.expand_shape or tensor.collapse_shape
/// when the dimensions provably regroup, tensor.reshape otherwise.
/// `wildcard` is the index of a dimension inferred from the element count
/// (-1 in ONNX), which matches whatever its group needs.
Value reshapeTo(OpBuilder &b, Location loc, Value value, ArrayRef<IntElem> dims,
                int64_t wildcard = -1) {
  auto type = cast<RankedTensorType>(value.getType());
  SmallVector<int64_t> shape;
  for (const IntElem &e : dims)
    shape.push_back(staticOr(e));
  auto resultType = RankedTensorType::get(shape, type.getElementType());
  if (resultType == type && type.hasStaticShape())
    return value;

  SmallVector<DimSig> in, out;
  for (int64_t d = 0; d < type.getRank(); ++d) {
    DimSig s;
    if (!type.isDynamicDim(d)) {
      s.value = type.getDimSize(d);
    } else {
      s.tensor = value;
      s.index = d;
    }
    in.push_back(s);
  }
  for (auto [k, e] : llvm::enumerate(dims)) {
    DimSig s = signatureOf(e);
    s.wildcard = static_cast<int64_t>(k) == wildcard && !s.isConst();
    out.push_back(s);
  }
  if (!in.empty() && !out.empty()) {
    if (out.size() >= in.size()) {
      if (auto groups = matchGroups(in, out)) {
        // A dynamic output dim alone in the group of a static input dim is
        // static (it is the inferred -1).
        SmallVector<int64_t> expanded(shape);
        SmallVector<OpFoldResult> sizes;
        for (const IntElem &e : dims)
          sizes.push_back(toFoldResult(b, loc, e));
        for (auto [i, group] : llvm::enumerate(*groups)) {
          if (!in[i].isConst())
            continue;
          int64_t known = 1;
          SmallVector<int64_t> unknown;
          for (int64_t k : group) {
            if (ShapedType::isDynamic(expanded[k]))
              unknown.push_back(k);
            else
              known *= expanded[k];
          }
          if (unknown.size() == 1 && known != 0) {
            expanded[unknown[0]] = in[i].value / known;
            sizes[unknown[0]] = b.getIndexAttr(expanded[unknown[0]]);
          }
        }
        return tensor::ExpandShapeOp::create(
            b, loc, RankedTensorType::get(expanded, type.getElementType()),
            value, *groups, sizes);
      }
    }
    if (out.size() <= in.size()) {
      if (auto groups = matchGroups(out, in)) {
        // The collapsed type follows from the groups.
        SmallVector<int64_t> collapsed;
        for (const ReassociationIndices &group : *groups) {
          int64_t prod = 1;
          for (int64_t k : group)
            prod = (ShapedType::isDynamic(prod) || type.isDynamicDim(k))
                       ? ShapedType::kDynamic
                       : prod * type.getDimSize(k);
          collapsed.push_back(prod);
        }
        return tensor::CollapseShapeOp::create(
            b, loc, RankedTensorType::get(collapsed, type.getElementType()),
            value, *groups);
      }
    }
  }
  TensorValue shapeTensor = makeIntTensor(b, loc, dims);
  return tensor::ReshapeOp::create(b, loc, resultType, value,
                                   shapeTensor.value);
}

LogicalResult importShape(NodeImporter &n) {
  if (failed(n.expectInputs(1, 1)))
    return failure();
  Value x = n.operand(0);
  int64_t rank = n.input(0).getType().getRank();
  int64_t start = n.getInt("start", 0), end = n.getInt("end", rank);
  if (start < 0)
    start += rank;
  if (end < 0)
    end += rank;
  start = std::clamp<int64_t>(start, 0, rank);
  end = std::clamp<int64_t>(end, start, rank);
  SmallVector<IntElem> dims;
  for (int64_t d = start; d < end; ++d)
    dims.push_back(getDimElem(n.b, n.loc, x, d));
  n.setOutput(0, makeIntTensor(n.b, n.loc, dims));
  return success();
}

LogicalResult importSize(NodeImporter &n) {
  if (failed(n.expectInputs(1, 1)))
    return failure();
  Value x = n.operand(0);
  IntElem numel = IntElem::of(1);
  for (int64_t d = 0; d < n.input(0).getType().getRank(); ++d) {
    IntElem dim = getDimElem(n.b, n.loc, x, d);
    if (numel.isConst() && dim.isConst())
      numel = IntElem::of(numel.value * dim.value);
    else
      numel =
          IntElem{0, arith::MulIOp::create(n.b, n.loc, toI64(n.b, n.loc, numel),
                                           toI64(n.b, n.loc, dim))};
  }
  n.setOutput(0, makeIntTensor(n.b, n.loc, {numel}, /*scalar=*/true));
  return success();
}

LogicalResult importConstant(NodeImporter &n) {
  if (n.getNumInputs() != 0)
    return n.emitError() << "expected no inputs";
  const onnx::NodeProto &node = n.getNode();
  if (node.attribute_size() != 1)
    return n.emitError() << "expected exactly one value attribute";
  const onnx::AttributeProto &a = node.attribute(0);
  auto emit = [&] { return n.emitError(); };
  // The attribute's kind must be the one its name says (a mismatched one
  // would read as an empty or zero value).
  static const std::pair<StringRef, int> kKinds[] = {
      {"value", onnx::AttributeProto::TENSOR},
      {"value_int", onnx::AttributeProto::INT},
      {"value_ints", onnx::AttributeProto::INTS},
      {"value_float", onnx::AttributeProto::FLOAT},
      {"value_floats", onnx::AttributeProto::FLOATS},
      {"value_string", onnx::AttributeProto::STRING},
      {"value_strings", onnx::AttributeProto::STRINGS},
      {"sparse_value", onnx::AttributeProto::SPARSE_TENSOR}};
  for (const auto &[name, kind] : kKinds)
    if (a.name() == name && a.type() != kind &&
        a.type() != onnx::AttributeProto::UNDEFINED)
      return n.emitError() << "attribute '" << a.name()
                           << "' has the wrong kind (AttributeProto type "
                           << a.type() << ", expected " << kind << ")";
  if (a.name() == "value") {
    FailureOr<TensorValue> v = n.graph.importConstant(a.t(), n.b, n.loc, emit);
    if (failed(v))
      return failure();
    n.setOutput(0, std::move(*v));
    return success();
  }
  OpBuilder &b = n.b;
  if (a.name() == "value_int" || a.name() == "value_ints") {
    SmallVector<IntElem> elems;
    if (a.name() == "value_int")
      elems.push_back(IntElem::of(a.i()));
    for (int64_t v : a.ints())
      elems.push_back(IntElem::of(v));
    n.setOutput(0, makeIntTensor(b, n.loc, elems, a.name() == "value_int"));
    return success();
  }
  if (a.name() == "value_float" || a.name() == "value_floats") {
    SmallVector<float> vals;
    if (a.name() == "value_float")
      vals.push_back(a.f());
    for (float v : a.floats())
      vals.push_back(v);
    SmallVector<int64_t> shape;
    if (a.name() == "value_floats")
      shape.push_back(vals.size());
    auto attr = DenseElementsAttr::get(
        RankedTensorType::get(shape, b.getF32Type()), ArrayRef<float>(vals));
    TensorValue v;
    v.value = arith::ConstantOp::create(b, n.loc, attr);
    v.dtype = kFloat;
    v.constant = attr;
    n.setOutput(0, std::move(v));
    return success();
  }
  return n.emitError() << "unsupported constant attribute '" << a.name() << "'";
}

LogicalResult importGather(NodeImporter &n) {
  if (failed(n.expectInputs(2, 2)))
    return failure();
  const TensorValue &data = n.input(0), &indices = n.input(1);
  if (indices.dtype != kInt64 && indices.dtype != kInt32)
    return n.emitError() << "expected int32 or int64 indices, got "
                         << getDTypeName(indices.dtype);
  RankedTensorType dataType = data.getType(), idxType = indices.getType();
  int64_t rank = dataType.getRank();
  if (rank == 0)
    return n.emitError() << "expected data of rank >= 1";
  FailureOr<int64_t> axis = normalizeAxis(n, n.getInt("axis", 0), rank);
  if (failed(axis))
    return failure();

  // Shape arithmetic: gathering from a known 1-D int tensor.
  if (data.ints && rank == 1) {
    if (auto idx = n.getConstInts(1)) {
      SmallVector<IntElem> out;
      int64_t len = data.ints->size();
      for (int64_t i : *idx) {
        if (i < -len || i >= len)
          return n.emitError() << "index " << i << " is out of range for "
                               << len << " elements";
        out.push_back((*data.ints)[i < 0 ? i + len : i]);
      }
      n.setOutput(0, makeIntTensor(n.b, n.loc, out, idxType.getRank() == 0));
      return success();
    }
  }

  OpBuilder &b = n.b;
  Location loc = n.loc;
  SmallVector<int64_t> shape;
  SmallVector<std::pair<Value, int64_t>> source;
  for (int64_t d = 0; d < *axis; ++d) {
    shape.push_back(dataType.getDimSize(d));
    source.push_back({data.value, d});
  }
  for (int64_t d = 0; d < idxType.getRank(); ++d) {
    shape.push_back(idxType.getDimSize(d));
    source.push_back({indices.value, d});
  }
  for (int64_t d = *axis + 1; d < rank; ++d) {
    shape.push_back(dataType.getDimSize(d));
    source.push_back({data.value, d});
  }
  int64_t outRank = shape.size();
  SmallVector<Value> dyn = getDynamicSizes(shape, [&](int64_t d) {
    return getDimSize(b, loc, source[d].first, source[d].second);
  });
  Value init = createEmpty(b, loc, shape, dataType.getElementType(), dyn);
  SmallVector<AffineExpr> idxExprs;
  for (int64_t d = 0; d < idxType.getRank(); ++d)
    idxExprs.push_back(b.getAffineDimExpr(*axis + d));
  SmallVector<AffineMap> maps{
      AffineMap::get(outRank, 0, idxExprs, b.getContext()),
      b.getMultiDimIdentityMap(outRank)};
  SmallVector<utils::IteratorType> iterators(outRank,
                                             utils::IteratorType::parallel);
  Value axisSize = getDimSize(b, loc, data.value, *axis);
  // Out-of-range indices are an error (ONNX; onnxruntime reports them): a
  // constant index is checked here, others when the model runs.
  std::optional<SmallVector<int64_t>> constIdx = n.getConstInts(1);
  if (constIdx && !dataType.isDynamicDim(*axis)) {
    int64_t len = dataType.getDimSize(*axis);
    for (int64_t i : *constIdx)
      if (i < -len || i >= len)
        return n.emitError() << "index " << i << " is out of range for an "
                             << "axis of " << len << " elements";
  } else {
    emitIndexRangeCheck(n, indices.value, axisSize, "index");
  }
  Value result =
      linalg::GenericOp::create(
          b, loc, TypeRange{init.getType()}, ValueRange{indices.value},
          ValueRange{init}, maps, iterators,
          [&](OpBuilder &nb, Location nl, ValueRange args) {
            Value i =
                arith::IndexCastOp::create(nb, nl, nb.getIndexType(), args[0]);
            // Negative indices count from the end.
            Value zero = arith::ConstantIndexOp::create(nb, nl, 0);
            Value neg = arith::CmpIOp::create(nb, nl, arith::CmpIPredicate::slt,
                                              i, zero);
            i = arith::SelectOp::create(
                nb, nl, neg, arith::AddIOp::create(nb, nl, i, axisSize), i);
            SmallVector<Value> coords;
            for (int64_t d = 0; d < *axis; ++d)
              coords.push_back(linalg::IndexOp::create(nb, nl, d));
            coords.push_back(i);
            for (int64_t d = *axis + 1; d < rank; ++d)
              coords.push_back(
                  linalg::IndexOp::create(nb, nl, d - 1 + idxType.getRank()));
            linalg::YieldOp::create(nb, nl,
                                    ValueRange{tensor::ExtractOp::create(
                                        nb, nl, data.value, coords)});
          })
          .getResult(0);
  n.setOutput(0, result, data.dtype);
  return success();
}

LogicalResult importReshape(NodeImporter &n) {
  if (failed(n.expectInputs(2, 2)))
    return failure();
  const TensorValue &in = n.input(0);
  auto target = n.getIntElements(1);
  if (!target)
    return n.emitError()
           << "the target shape must be computable at import time (from "
              "constants and input dimensions)";
  bool allowZero = n.getInt("allowzero", 0) != 0;
  OpBuilder &b = n.b;
  Location loc = n.loc;
  RankedTensorType type = in.getType();
  SmallVector<IntElem> dims;
  int64_t inferAt = -1;
  auto i64c = [&](int64_t v) {
    return arith::ConstantIntOp::create(b, loc, b.getI64Type(), v).getResult();
  };
  bool runtimeInfer = false;
  for (auto [i, e] : llvm::enumerate(*target)) {
    // A run-time element read from a tensor (not a dimension size, which is
    // never -1) may be 0 (copy the input dimension) or -1 (infer).
    if (!e.isConst() && !signatureOf(e).tensor) {
      // A run-time element may be 0 (copy the input dimension) or -1 (infer).
      Value v = e.dyn;
      if (!allowZero && static_cast<int64_t>(i) < type.getRank()) {
        Value isZero =
            arith::CmpIOp::create(b, loc, arith::CmpIPredicate::eq, v, i64c(0));
        v = arith::SelectOp::create(
            b, loc, isZero, toI64(b, loc, getDimElem(b, loc, in.value, i)), v);
      }
      dims.push_back(IntElem{0, v});
      runtimeInfer = true;
      continue;
    }
    if (e.isConst() && e.value == 0 && !allowZero) {
      if (static_cast<int64_t>(i) >= type.getRank())
        return n.emitError() << "target dimension " << i
                             << " copies an input dimension that does not "
                                "exist";
      dims.push_back(getDimElem(b, loc, in.value, i));
    } else if (e.isConst() && e.value == -1) {
      if (inferAt >= 0)
        return n.emitError() << "more than one -1 in the target shape";
      inferAt = i;
      dims.push_back(IntElem::of(-1));
    } else if (e.isConst() && e.value < 0) {
      return n.emitError() << "invalid target dimension " << e.value;
    } else if (!e.isConst()) {
      dims.push_back(e);
    } else {
      dims.push_back(e);
    }
  }
  if (runtimeInfer && inferAt < 0) {
    // Resolve a run-time -1: numel / product of the other dimensions.
    Value numel = i64c(1), others = i64c(1);
    for (int64_t d = 0; d < type.getRank(); ++d)
      numel = arith::MulIOp::create(
          b, loc, numel, toI64(b, loc, getDimElem(b, loc, in.value, d)));
    SmallVector<Value> isNeg;
    for (const IntElem &e : dims) {
      Value v = toI64(b, loc, e);
      Value neg =
          arith::CmpIOp::create(b, loc, arith::CmpIPredicate::eq, v, i64c(-1));
      isNeg.push_back(neg);
      others = arith::MulIOp::create(
          b, loc, others, arith::SelectOp::create(b, loc, neg, i64c(1), v));
    }
    // A -1 among other dimensions holding 0 elements is ambiguous; the
    // division must not trap either way (its result is then unused).
    Value anyNeg = arith::ConstantIntOp::create(b, loc, 0, 1);
    for (Value neg : isNeg)
      anyNeg = arith::OrIOp::create(b, loc, anyNeg, neg);
    Value othersZero = arith::CmpIOp::create(b, loc, arith::CmpIPredicate::eq,
                                             others, i64c(0));
    emitCheck(n,
              arith::XOrIOp::create(
                  b, loc, arith::AndIOp::create(b, loc, anyNeg, othersZero),
                  arith::ConstantIntOp::create(b, loc, 1, 1)),
              "cannot infer the -1 of the target shape: the other "
              "dimensions hold 0 elements");
    Value divisor =
        arith::SelectOp::create(b, loc, othersZero, i64c(1), others);
    Value inferred = arith::DivSIOp::create(b, loc, numel, divisor);
    for (auto [k, e] : llvm::enumerate(dims))
      if (!e.isConst())
        e = IntElem{0,
                    arith::SelectOp::create(b, loc, isNeg[k], inferred, e.dyn)};
  }
  if (inferAt >= 0) {
    IntElem numel = IntElem::of(1), others = IntElem::of(1);
    bool tooLarge = false;
    auto mul = [&](IntElem a, IntElem c) {
      if (a.isConst() && c.isConst()) {
        std::optional<uint64_t> product =
            mlir::slim::checkedMul(a.value, c.value);
        tooLarge |= !product;
        return IntElem::of(product ? static_cast<int64_t>(*product) : 0);
      }
      return IntElem{
          0, arith::MulIOp::create(b, loc, toI64(b, loc, a), toI64(b, loc, c))};
    };
    for (int64_t d = 0; d < type.getRank(); ++d)
      numel = mul(numel, getDimElem(b, loc, in.value, d));
    for (auto [i, e] : llvm::enumerate(dims))
      if (static_cast<int64_t>(i) != inferAt)
        others = mul(others, e);
    if (tooLarge)
      return n.emitError() << "the target shape has more elements than Slim "
                              "accepts (2^48)";
    if (numel.isConst() && others.isConst()) {
      if (others.value == 0 || numel.value % others.value != 0)
        return n.emitError() << "cannot reshape " << numel.value
                             << " elements into a shape with " << others.value
                             << " elements per -1";
      dims[inferAt] = IntElem::of(numel.value / others.value);
    } else {
      Value o = toI64(b, loc, others);
      emitCheck(
          n,
          arith::CmpIOp::create(b, loc, arith::CmpIPredicate::ne, o,
                                arith::ConstantIntOp::create(b, loc, 0, 64)),
          "cannot infer the -1 of the target shape: the other "
          "dimensions hold 0 elements");
      dims[inferAt] =
          IntElem{0, arith::DivSIOp::create(b, loc, toI64(b, loc, numel), o)};
    }
  } else if (type.hasStaticShape()) {
    int64_t prod = 1;
    bool known = true;
    for (const IntElem &e : dims) {
      known &= e.isConst();
      std::optional<uint64_t> next =
          mlir::slim::checkedMul(prod, e.isConst() ? e.value : 1);
      if (!next)
        return n.emitError() << "the target shape has more elements than Slim "
                                "accepts (2^48)";
      prod = static_cast<int64_t>(*next);
    }
    if (known && prod != type.getNumElements())
      return n.emitError() << "cannot reshape " << type.getNumElements()
                           << " elements into " << prod;
  }
  // The element count is kept (checked when the model runs where a size is
  // known only then).
  bool allConst = type.hasStaticShape();
  for (const IntElem &e : dims)
    allConst &= e.isConst();
  if (!allConst) {
    Value numelIn = arith::ConstantIntOp::create(b, loc, 1, 64);
    for (int64_t d = 0; d < type.getRank(); ++d)
      numelIn = arith::MulIOp::create(
          b, loc, numelIn, toI64(b, loc, getDimElem(b, loc, in.value, d)));
    Value numelOut = arith::ConstantIntOp::create(b, loc, 1, 64);
    Value zero = arith::ConstantIntOp::create(b, loc, 0, 64);
    Value ok = arith::ConstantIntOp::create(b, loc, 1, 1);
    for (const IntElem &e : dims) {
      Value v = toI64(b, loc, e);
      numelOut = arith::MulIOp::create(b, loc, numelOut, v);
      if (!e.isConst())
        ok = arith::AndIOp::create(
            b, loc, ok,
            arith::CmpIOp::create(b, loc, arith::CmpIPredicate::sge, v, zero));
    }
    ok = arith::AndIOp::create(b, loc, ok,
                               arith::CmpIOp::create(b, loc,
                                                     arith::CmpIPredicate::eq,
                                                     numelIn, numelOut));
    emitCheck(n, ok, "cannot reshape {0} elements into a shape of {1}",
              ValueRange{numelIn, numelOut});
  }
  TensorValue out;
  out.value = reshapeTo(b, loc, in.value, dims, inferAt);
  out.dtype = in.dtype;
  if (in.ints && dims.size() <= 1)
    out.ints = in.ints;
  n.setOutput(0, std::move(out));
  return success();
}

LogicalResult importFlatten(NodeImporter &n) {
  if (failed(n.expectInputs(1, 1)))
    return failure();
  const TensorValue &in = n.input(0);
  int64_t rank = in.getType().getRank();
  int64_t axis = n.getInt("axis", 1);
  if (axis < 0)
    axis += rank;
  if (axis < 0 || axis > rank)
    return n.emitError() << "axis " << n.getInt("axis", 1)
                         << " is out of range for rank " << rank;
  IntElem outer = IntElem::of(1), inner = IntElem::of(1);
  for (int64_t d = 0; d < rank; ++d) {
    IntElem dim = getDimElem(n.b, n.loc, in.value, d);
    IntElem &acc = d < axis ? outer : inner;
    if (acc.isConst() && dim.isConst())
      acc = IntElem::of(acc.value * dim.value);
    else
      acc = IntElem{0, arith::MulIOp::create(n.b, n.loc, toI64(n.b, n.loc, acc),
                                             toI64(n.b, n.loc, dim))};
  }
  n.setOutput(0, reshapeTo(n.b, n.loc, in.value, {outer, inner}), in.dtype);
  return success();
}

LogicalResult importTranspose(NodeImporter &n) {
  if (failed(n.expectInputs(1, 1)))
    return failure();
  const TensorValue &in = n.input(0);
  RankedTensorType type = in.getType();
  int64_t rank = type.getRank();
  SmallVector<int64_t> perm;
  if (auto p = n.getInts("perm")) {
    perm = *p;
  } else {
    for (int64_t d = rank - 1; d >= 0; --d)
      perm.push_back(d);
  }
  SmallVector<bool> seen(rank, false);
  if (static_cast<int64_t>(perm.size()) != rank)
    return n.emitError() << "perm has " << perm.size() << " entries for rank "
                         << rank;
  for (int64_t &p : perm) {
    if (p < 0)
      p += rank;
    if (p < 0 || p >= rank || seen[p])
      return n.emitError() << "perm is not a permutation";
    seen[p] = true;
  }
  // The identity (every permutation of a scalar) moves nothing; MLIR's
  // verifier also cannot take a rank-0 linalg.transpose.
  if (llvm::equal(perm, llvm::seq<int64_t>(0, rank))) {
    n.setOutput(0, in.value, in.dtype);
    return success();
  }
  SmallVector<int64_t> shape;
  for (int64_t p : perm)
    shape.push_back(type.getDimSize(p));
  SmallVector<Value> dyn = getDynamicSizes(shape, [&](int64_t d) {
    return getDimSize(n.b, n.loc, in.value, perm[d]);
  });
  Value init = createEmpty(n.b, n.loc, shape, type.getElementType(), dyn);
  Value result = linalg::TransposeOp::create(n.b, n.loc, in.value, init, perm)
                     .getResult()[0];
  n.setOutput(0, result, in.dtype);
  return success();
}

/// Unsqueeze with axes known only at run time: the output dims are computed
/// at run time and the data reshaped (unsqueezing never reorders elements).
LogicalResult importRuntimeUnsqueeze(NodeImporter &n) {
  const TensorValue &in = n.input(0);
  OpBuilder &b = n.b;
  Location loc = n.loc;
  int64_t rank = in.getType().getRank();
  int64_t count = n.input(1).getType().getNumElements();
  int64_t outRank = rank + count;
  std::optional<SmallVector<Value>> axes = runtimeAxes(n, 1, outRank);
  if (!axes)
    return n.emitError() << "axes must be a 1-D integer tensor";
  SmallVector<IntElem> dims;
  Value newBefore = i64Const(b, loc, 0);
  for (int64_t p = 0; p < outRank; ++p) {
    Value pos = i64Const(b, loc, p);
    Value isNew = arith::ConstantIntOp::create(b, loc, b.getI1Type(), 0);
    for (Value a : *axes)
      isNew = arith::OrIOp::create(
          b, loc, isNew, cmp(b, loc, arith::CmpIPredicate::eq, a, pos));
    // The input dimension p - newBefore, chosen among the static ranks.
    Value src = arith::SubIOp::create(b, loc, pos, newBefore);
    Value dim = i64Const(b, loc, 1);
    for (int64_t j = 0; j < rank; ++j)
      dim = sel(b, loc,
                cmp(b, loc, arith::CmpIPredicate::eq, src, i64Const(b, loc, j)),
                toI64(b, loc, getDimElem(b, loc, in.value, j)), dim);
    dims.push_back(IntElem{0, sel(b, loc, isNew, i64Const(b, loc, 1), dim)});
    newBefore = arith::AddIOp::create(
        b, loc, newBefore,
        arith::ExtUIOp::create(b, loc, b.getI64Type(), isNew));
  }
  TensorValue shape = makeIntTensor(b, loc, dims);
  SmallVector<int64_t> dyn(outRank, ShapedType::kDynamic);
  n.setOutput(0,
              tensor::ReshapeOp::create(
                  b, loc,
                  RankedTensorType::get(dyn, in.getType().getElementType()),
                  in.value, shape.value),
              in.dtype);
  return success();
}

LogicalResult importUnsqueeze(NodeImporter &n) {
  if (failed(n.expectInputs(1, 2)))
    return failure();
  if (n.getOpset() >= 13 && n.hasInput(1) && !n.getConstInts(1) &&
      n.input(1).getType().hasStaticShape())
    return importRuntimeUnsqueeze(n);
  auto axesOr = getAxes(n, 13, 1);
  if (failed(axesOr))
    return failure();
  if (!*axesOr)
    return n.emitError() << "missing axes";
  const TensorValue &in = n.input(0);
  RankedTensorType type = in.getType();
  int64_t outRank = type.getRank() + (*axesOr)->size();
  SmallVector<bool> isNew(outRank, false);
  for (int64_t a : **axesOr) {
    FailureOr<int64_t> axis = normalizeAxis(n, a, outRank);
    if (failed(axis))
      return failure();
    if (isNew[*axis])
      return n.emitError() << "axis " << a << " is repeated";
    isNew[*axis] = true;
  }
  SmallVector<IntElem> dims;
  int64_t src = 0;
  for (int64_t d = 0; d < outRank; ++d)
    dims.push_back(isNew[d] ? IntElem::of(1)
                            : getDimElem(n.b, n.loc, in.value, src++));
  TensorValue out;
  out.dtype = in.dtype;
  if (in.ints && outRank <= 1)
    out.ints = in.ints;

  // expand_shape: every new unit dimension joins the group of the next
  // original dimension (or the last group at the end).
  SmallVector<ReassociationIndices> groups;
  ReassociationIndices pending;
  for (int64_t d = 0; d < outRank; ++d) {
    pending.push_back(d);
    if (!isNew[d]) {
      groups.push_back(pending);
      pending.clear();
    }
  }
  if (!pending.empty() && !groups.empty())
    groups.back().append(pending.begin(), pending.end());
  SmallVector<int64_t> shape;
  SmallVector<OpFoldResult> sizes;
  for (const IntElem &e : dims) {
    shape.push_back(staticOr(e));
    sizes.push_back(toFoldResult(n.b, n.loc, e));
  }
  out.value = tensor::ExpandShapeOp::create(
      n.b, n.loc, RankedTensorType::get(shape, type.getElementType()), in.value,
      groups, sizes);
  n.setOutput(0, std::move(out));
  return success();
}

LogicalResult importSqueeze(NodeImporter &n) {
  if (failed(n.expectInputs(1, 2)))
    return failure();
  const TensorValue &in = n.input(0);
  RankedTensorType type = in.getType();
  int64_t rank = type.getRank();
  FailureOr<std::optional<SmallVector<int64_t>>> axesOr =
      std::optional<SmallVector<int64_t>>();
  if (n.getOpset() >= 13 && n.hasInput(1) && !n.getConstInts(1)) {
    // Run-time axes: unambiguous when exactly that many dimensions are
    // statically 1 and none is dynamic.
    int64_t count = n.input(1).getType().getNumElements();
    SmallVector<int64_t> ones;
    for (int64_t d = 0; d < rank; ++d)
      if (type.getDimSize(d) == 1)
        ones.push_back(d);
    if (!type.hasStaticShape() || static_cast<int64_t>(ones.size()) != count) {
      // Which dims go is decided at run time: compute the kept sizes.
      std::optional<SmallVector<Value>> axes = runtimeAxes(n, 1, rank);
      if (!axes)
        return n.emitError() << "axes must be a 1-D integer tensor";
      OpBuilder &b = n.b;
      Location loc = n.loc;
      int64_t outRank = rank - count;
      if (outRank < 0)
        return n.emitError() << "more axes than dimensions";
      SmallVector<Value> dropped;
      for (int64_t d = 0; d < rank; ++d) {
        Value flag = arith::ConstantIntOp::create(b, loc, b.getI1Type(), 0);
        for (Value a : *axes)
          flag = arith::OrIOp::create(
              b, loc, flag,
              cmp(b, loc, arith::CmpIPredicate::eq, a, i64Const(b, loc, d)));
        dropped.push_back(flag);
      }
      n.setOutput(0, dropDimsAtRunTime(b, loc, in.value, dropped, outRank),
                  in.dtype);
      return success();
    }
    axesOr = std::optional<SmallVector<int64_t>>(ones);
  } else {
    axesOr = getAxes(n, 13, 1);
  }
  if (failed(axesOr))
    return failure();
  SmallVector<bool> drop(rank, false);
  if (*axesOr) {
    for (int64_t a : **axesOr) {
      FailureOr<int64_t> axis = normalizeAxis(n, a, rank);
      if (failed(axis))
        return failure();
      int64_t size = type.getDimSize(*axis);
      if (!ShapedType::isDynamic(size) && size != 1)
        return n.emitError()
               << "cannot squeeze dimension " << *axis << " of size " << size;
      drop[*axis] = true;
    }
  } else {
    for (int64_t d = 0; d < rank; ++d)
      drop[d] = type.getDimSize(d) == 1;
  }
  // A dynamic dimension being squeezed must be 1: say so in the type first.
  SmallVector<int64_t> known(type.getShape());
  for (int64_t d = 0; d < rank; ++d)
    if (drop[d])
      known[d] = 1;
  Value src = in.value;
  auto knownType = RankedTensorType::get(known, type.getElementType());
  if (knownType != type)
    src = tensor::CastOp::create(n.b, n.loc, knownType, src);
  SmallVector<ReassociationIndices> groups;
  ReassociationIndices pending;
  SmallVector<int64_t> shape;
  for (int64_t d = 0; d < rank; ++d) {
    pending.push_back(d);
    if (!drop[d]) {
      groups.push_back(pending);
      pending.clear();
      shape.push_back(known[d]);
    }
  }
  if (!pending.empty() && !groups.empty())
    groups.back().append(pending.begin(), pending.end());
  TensorValue out;
  out.dtype = in.dtype;
  if (in.ints)
    out.ints = in.ints;
  out.value = tensor::CollapseShapeOp::create(
      n.b, n.loc, RankedTensorType::get(shape, type.getElementType()), src,
      groups);
  n.setOutput(0, std::move(out));
  return success();
}

LogicalResult importConcat(NodeImporter &n) {
  if (n.getNumInputs() < 1)
    return n.emitError() << "expected at least one input";
  if (failed(n.expectNoMissingInputs()))
    return failure();
  const TensorValue &first = n.input(0);
  int64_t rank = first.getType().getRank();
  if (rank == 0)
    return n.emitError() << "cannot concatenate scalars";
  FailureOr<int64_t> axis = normalizeAxis(n, n.getInt("axis", 0), rank);
  if (failed(axis))
    return failure();
  bool allInts = true;
  SmallVector<Value> operands;
  SmallVector<IntElem> elems;
  for (unsigned i = 0; i < n.getNumInputs(); ++i) {
    const TensorValue &v = n.input(i);
    if (v.dtype != first.dtype)
      return n.emitError() << "input #" << i << " is " << getDTypeName(v.dtype)
                           << ", input #0 is " << getDTypeName(first.dtype);
    if (v.getType().getRank() != rank)
      return n.emitError() << "input #" << i << " has rank "
                           << v.getType().getRank() << ", input #0 has rank "
                           << rank;
    allInts &= v.ints.has_value();
    if (v.ints)
      elems.append(v.ints->begin(), v.ints->end());
    operands.push_back(v.value);
  }
  if (allInts && rank == 1) {
    TensorValue out = makeIntTensor(n.b, n.loc, elems);
    if (first.dtype != kInt64) {
      out.value = castTensor(n.b, n.loc, out.value, kInt64, first.dtype);
      out.constant = {};
      out.dtype = first.dtype;
    }
    n.setOutput(0, std::move(out));
    return success();
  }
  if (operands.size() == 1) {
    n.setOutput(0, first);
    return success();
  }
  // Dimensions other than the axis agree: at import time when static, when
  // the model runs otherwise.
  for (unsigned i = 1; i < operands.size(); ++i) {
    auto t = cast<RankedTensorType>(operands[i].getType());
    for (int64_t d = 0; d < rank; ++d) {
      if (d == *axis)
        continue;
      int64_t s0 = first.getType().getDimSize(d), si = t.getDimSize(d);
      if (!ShapedType::isDynamic(s0) && !ShapedType::isDynamic(si) && s0 != si)
        return n.emitError()
               << "input #" << i << " has size " << si << " in dimension " << d
               << ", input #0 has " << s0;
      emitDimsEqualCheck(n, operands[0], d, operands[i], d,
                         "input #" + std::to_string(i) +
                             " differs from input #0 in dimension " +
                             std::to_string(d));
    }
  }
  Value result = tensor::ConcatOp::create(n.b, n.loc, *axis, operands);
  n.setOutput(0, result, first.dtype);
  return success();
}

/// Clamps a Slice bound: negative values count from `size`, then clamp to
/// [0, size].
IntElem clampBound(OpBuilder &b, Location loc, IntElem v, IntElem size) {
  if (v.isConst() && size.isConst()) {
    int64_t x = v.value < 0 ? v.value + size.value : v.value;
    return IntElem::of(std::clamp<int64_t>(x, 0, size.value));
  }
  Value x = toI64(b, loc, v), s = toI64(b, loc, size);
  Value zero = arith::ConstantIntOp::create(b, loc, b.getI64Type(), 0);
  Value neg = arith::CmpIOp::create(b, loc, arith::CmpIPredicate::slt, x, zero);
  x = arith::SelectOp::create(b, loc, neg, arith::AddIOp::create(b, loc, x, s),
                              x);
  x = arith::MaxSIOp::create(b, loc, x, zero);
  x = arith::MinSIOp::create(b, loc, x, s);
  return IntElem{0, x};
}

/// Slice with run-time axes or steps, or negative steps: every output element
/// reads in[start_d + i_d * step_d], with each dimension's start, step and
/// size chosen at run time among the slice specifications that name it.
LogicalResult importGeneralSlice(NodeImporter &n, ArrayRef<IntElem> starts,
                                 ArrayRef<IntElem> ends) {
  const TensorValue &in = n.input(0);
  OpBuilder &b = n.b;
  Location loc = n.loc;
  RankedTensorType type = in.getType();
  int64_t rank = type.getRank();
  size_t count = starts.size();
  if (ends.size() != count)
    return n.emitError() << "starts and ends have different lengths";
  SmallVector<Value> axes, steps;
  if (n.hasInput(3)) {
    std::optional<SmallVector<Value>> a = runtimeAxes(n, 3, rank);
    if (!a || a->size() != count)
      return n.emitError()
             << "axes must be a 1-D integer tensor as long as starts";
    axes = *a;
  } else {
    for (size_t i = 0; i < count; ++i)
      axes.push_back(i64Const(b, loc, i));
  }
  if (n.hasInput(4)) {
    auto st = n.getIntElements(4);
    if (!st || st->size() != count)
      return n.emitError()
             << "steps must be a 1-D integer tensor as long as starts";
    for (const IntElem &e : *st) {
      if (e.isConst() && e.value == 0)
        return n.emitError() << "step 0 is invalid";
      steps.push_back(toI64(b, loc, e));
    }
  } else {
    steps.assign(count, i64Const(b, loc, 1));
  }
  Value zero = i64Const(b, loc, 0), one = i64Const(b, loc, 1),
        minusOne = i64Const(b, loc, -1);
  SmallVector<Value> dStart, dStep, dSize;
  for (int64_t d = 0; d < rank; ++d) {
    Value dim = toI64(b, loc, getDimElem(b, loc, in.value, d));
    Value start = zero, step = one, size = dim;
    for (size_t i = 0; i < count; ++i) {
      Value st = steps[i];
      Value pos = cmp(b, loc, arith::CmpIPredicate::sgt, st, zero);
      auto clampTo = [&](Value v, Value lo, Value hi) {
        return arith::MinSIOp::create(b, loc,
                                      arith::MaxSIOp::create(b, loc, v, lo), hi)
            .getResult();
      };
      auto wrap = [&](Value v) {
        return sel(b, loc, cmp(b, loc, arith::CmpIPredicate::slt, v, zero),
                   arith::AddIOp::create(b, loc, v, dim), v);
      };
      Value s0 = wrap(toI64(b, loc, starts[i])),
            e0 = wrap(toI64(b, loc, ends[i]));
      Value dimMinus1 = arith::SubIOp::create(b, loc, dim, one);
      // Positive steps clamp to [0, dim]; negative ones to [0, dim-1] for
      // the start and [-1, dim-1] for the end.
      Value s = sel(b, loc, pos, clampTo(s0, zero, dim),
                    clampTo(s0, zero, dimMinus1));
      Value e = sel(b, loc, pos, clampTo(e0, zero, dim),
                    clampTo(e0, minusOne, dimMinus1));
      Value span = sel(b, loc, pos, arith::SubIOp::create(b, loc, e, s),
                       arith::SubIOp::create(b, loc, s, e));
      Value absStep =
          sel(b, loc, pos, st, arith::SubIOp::create(b, loc, zero, st));
      Value len = arith::MaxSIOp::create(
          b, loc, arith::CeilDivSIOp::create(b, loc, span, absStep), zero);
      Value match =
          cmp(b, loc, arith::CmpIPredicate::eq, axes[i], i64Const(b, loc, d));
      start = sel(b, loc, match, s, start);
      step = sel(b, loc, match, st, step);
      size = sel(b, loc, match, len, size);
    }
    dStart.push_back(
        arith::IndexCastOp::create(b, loc, b.getIndexType(), start));
    dStep.push_back(arith::IndexCastOp::create(b, loc, b.getIndexType(), step));
    dSize.push_back(arith::IndexCastOp::create(b, loc, b.getIndexType(), size));
  }
  SmallVector<int64_t> shape(rank, ShapedType::kDynamic);
  Value init = createEmpty(b, loc, shape, type.getElementType(), dSize);
  SmallVector<utils::IteratorType> iterators(rank,
                                             utils::IteratorType::parallel);
  Value result =
      linalg::GenericOp::create(
          b, loc, TypeRange{init.getType()}, ValueRange{}, ValueRange{init},
          ArrayRef<AffineMap>{b.getMultiDimIdentityMap(rank)}, iterators,
          [&](OpBuilder &nb, Location nl, ValueRange) {
            SmallVector<Value> idx;
            for (int64_t d = 0; d < rank; ++d) {
              Value i = linalg::IndexOp::create(nb, nl, d);
              idx.push_back(arith::AddIOp::create(
                  nb, nl, dStart[d],
                  arith::MulIOp::create(nb, nl, i, dStep[d])));
            }
            linalg::YieldOp::create(
                nb, nl,
                ValueRange{tensor::ExtractOp::create(nb, nl, in.value, idx)});
          })
          .getResult(0);
  n.setOutput(0, result, in.dtype);
  return success();
}

LogicalResult importSlice(NodeImporter &n) {
  // The exact count depends on the opset (checked below); the data first.
  if (failed(n.expectInputs(1, 5)))
    return failure();
  const TensorValue &in = n.input(0);
  RankedTensorType type = in.getType();
  int64_t rank = type.getRank();
  SmallVector<IntElem> starts, ends;
  SmallVector<int64_t> axes, steps;
  if (n.getOpset() < 10) {
    if (failed(n.expectInputs(1, 1)))
      return failure();
    for (int64_t v : n.getInts("starts").value_or(SmallVector<int64_t>()))
      starts.push_back(IntElem::of(v));
    for (int64_t v : n.getInts("ends").value_or(SmallVector<int64_t>()))
      ends.push_back(IntElem::of(v));
    if (auto a = n.getInts("axes"))
      axes = *a;
  } else {
    if (failed(n.expectInputs(3, 5)))
      return failure();
    auto s = n.getIntElements(1), e = n.getIntElements(2);
    if (!s || !e)
      return n.emitError() << "starts and ends must be computable at import "
                              "time (from constants and input dimensions)";
    starts = *s;
    ends = *e;
    bool runtimeAxesOrSteps = (n.hasInput(3) && !n.getConstInts(3)) ||
                              (n.hasInput(4) && !n.getConstInts(4));
    if (!runtimeAxesOrSteps && n.hasInput(4)) {
      std::optional<SmallVector<int64_t>> constSteps = n.getConstInts(4);
      for (int64_t st : *constSteps)
        runtimeAxesOrSteps |= st < 0;
    }
    if (runtimeAxesOrSteps)
      return importGeneralSlice(n, starts, ends);
    if (n.hasInput(3))
      axes = *n.getConstInts(3);
    if (n.hasInput(4))
      steps = *n.getConstInts(4);
  }
  if (starts.size() != ends.size())
    return n.emitError() << "starts and ends have different lengths";
  if (axes.empty())
    for (size_t i = 0; i < starts.size(); ++i)
      axes.push_back(i);
  if (steps.empty())
    steps.assign(starts.size(), 1);
  if (axes.size() != starts.size() || steps.size() != starts.size())
    return n.emitError() << "starts, ends, axes and steps differ in length";

  OpBuilder &b = n.b;
  Location loc = n.loc;
  SmallVector<IntElem> offsets(rank, IntElem::of(0)), sizes,
      strides(rank, IntElem::of(1));
  for (int64_t d = 0; d < rank; ++d)
    sizes.push_back(getDimElem(b, loc, in.value, d));
  SmallVector<bool> seen(rank, false);
  for (size_t i = 0; i < axes.size(); ++i) {
    FailureOr<int64_t> axis = normalizeAxis(n, axes[i], rank);
    if (failed(axis))
      return failure();
    if (seen[*axis])
      return n.emitError() << "axis " << axes[i] << " is repeated";
    seen[*axis] = true;
    if (steps[i] <= 0)
      return n.emitError() << "step " << steps[i] << " is invalid";
    IntElem dim = getDimElem(b, loc, in.value, *axis);
    // INT64_MAX-style "to the end" sentinels clamp naturally.
    IntElem s = clampBound(b, loc, starts[i], dim);
    IntElem e = clampBound(b, loc, ends[i], dim);
    IntElem size;
    int64_t step = steps[i];
    if (s.isConst() && e.isConst()) {
      size = IntElem::of(
          std::max<int64_t>(0, (e.value - s.value + step - 1) / step));
    } else {
      Value diff =
          arith::SubIOp::create(b, loc, toI64(b, loc, e), toI64(b, loc, s));
      Value num = arith::AddIOp::create(
          b, loc, diff,
          arith::ConstantIntOp::create(b, loc, b.getI64Type(), step - 1));
      Value q = arith::DivSIOp::create(
          b, loc, num,
          arith::ConstantIntOp::create(b, loc, b.getI64Type(), step));
      size = IntElem{0, arith::MaxSIOp::create(b, loc, q,
                                               arith::ConstantIntOp::create(
                                                   b, loc, b.getI64Type(), 0))};
    }
    offsets[*axis] = s;
    sizes[*axis] = size;
    strides[*axis] = IntElem::of(step);
  }

  // Shape arithmetic on a known 1-D int tensor.
  if (in.ints && rank == 1 && offsets[0].isConst() && sizes[0].isConst()) {
    SmallVector<IntElem> out;
    for (int64_t k = 0; k < sizes[0].value; ++k)
      out.push_back((*in.ints)[offsets[0].value + k * strides[0].value]);
    TensorValue v = makeIntTensor(b, loc, out);
    if (in.dtype != kInt64) {
      v.value = castTensor(b, loc, v.value, kInt64, in.dtype);
      v.constant = {};
      v.dtype = in.dtype;
    }
    n.setOutput(0, std::move(v));
    return success();
  }

  SmallVector<OpFoldResult> ofs, szs, sts;
  SmallVector<int64_t> shape;
  for (int64_t d = 0; d < rank; ++d) {
    ofs.push_back(toFoldResult(b, loc, offsets[d]));
    szs.push_back(toFoldResult(b, loc, sizes[d]));
    sts.push_back(b.getIndexAttr(strides[d].value));
    shape.push_back(staticOr(sizes[d]));
  }
  auto resultType = RankedTensorType::get(shape, type.getElementType());
  Value result;
  if (resultType.hasStaticShape() && resultType.getNumElements() == 0)
    result = createEmpty(b, loc, shape, type.getElementType(), {});
  else
    result = tensor::ExtractSliceOp::create(b, loc, resultType, in.value, ofs,
                                            szs, sts);
  n.setOutput(0, result, in.dtype);
  return success();
}

LogicalResult importSplit(NodeImporter &n) {
  if (failed(n.expectInputs(1, 2)))
    return failure();
  const TensorValue &in = n.input(0);
  RankedTensorType type = in.getType();
  int64_t rank = type.getRank();
  FailureOr<int64_t> axis = normalizeAxis(n, n.getInt("axis", 0), rank);
  if (failed(axis))
    return failure();
  OpBuilder &b = n.b;
  Location loc = n.loc;
  unsigned outputs = n.getNumOutputs();
  IntElem dim = getDimElem(b, loc, in.value, *axis);
  SmallVector<IntElem> sizes;
  std::optional<SmallVector<int64_t>> split;
  if (n.getOpset() < 13)
    split = n.getInts("split");
  else if (n.hasInput(1)) {
    split = n.getConstInts(1);
    if (!split) {
      auto elems = n.getIntElements(1);
      if (!elems || elems->size() != outputs)
        return n.emitError() << "split sizes must be known at import time";
      sizes = *elems;
    }
  }
  if (!sizes.empty()) {
    // Run-time sizes; on an empty dimension every part is empty.
    if (dim.isConst() && dim.value == 0)
      sizes.assign(outputs, IntElem::of(0));
  } else if (split) {
    if (split->size() != outputs)
      return n.emitError() << "split has " << split->size() << " sizes for "
                           << outputs << " outputs";
    int64_t total = 0;
    for (int64_t s : *split) {
      sizes.push_back(IntElem::of(s));
      total += s;
    }
    if (dim.isConst() && total != dim.value)
      return n.emitError() << "split sizes add up to " << total
                           << ", dimension " << *axis << " has " << dim.value;
  } else {
    int64_t parts =
        n.getOpset() >= 18 ? n.getInt("num_outputs", outputs) : outputs;
    if (parts <= 0)
      return n.emitError() << "expected a positive number of outputs";
    if (dim.isConst()) {
      int64_t chunk = (dim.value + parts - 1) / parts;
      for (int64_t i = 0; i < parts; ++i)
        sizes.push_back(IntElem::of(
            std::max<int64_t>(0, std::min(chunk, dim.value - i * chunk))));
    } else {
      // Equal parts of a dynamic dimension (exporters split evenly here).
      Value chunk = arith::DivSIOp::create(
          b, loc, dim.dyn,
          arith::ConstantIntOp::create(b, loc, b.getI64Type(), parts));
      for (int64_t i = 0; i < parts; ++i)
        sizes.push_back(IntElem{0, chunk});
    }
  }
  // The parts cover the dimension: checked when the model runs where a size
  // is known only then.
  bool allConst = dim.isConst();
  for (const IntElem &e : sizes)
    allConst &= e.isConst();
  if (!allConst) {
    Value zero = arith::ConstantIntOp::create(b, loc, 0, 64);
    Value total = zero;
    Value ok = arith::ConstantIntOp::create(b, loc, 1, 1);
    for (const IntElem &e : sizes) {
      Value v = toI64(b, loc, e);
      total = arith::AddIOp::create(b, loc, total, v);
      ok = arith::AndIOp::create(
          b, loc, ok,
          arith::CmpIOp::create(b, loc, arith::CmpIPredicate::sge, v, zero));
    }
    Value d = toI64(b, loc, dim);
    ok = arith::AndIOp::create(
        b, loc, ok,
        arith::CmpIOp::create(b, loc, arith::CmpIPredicate::eq, total, d));
    emitCheck(n, ok,
              "the parts hold {0} elements of an axis of {1} (sizes that "
              "are negative, or do not add up, or an axis that does not "
              "divide evenly)",
              ValueRange{total, d});
  }
  IntElem offset = IntElem::of(0);
  for (unsigned i = 0; i < outputs; ++i) {
    SmallVector<OpFoldResult> ofs, szs, sts;
    SmallVector<int64_t> shape;
    for (int64_t d = 0; d < rank; ++d) {
      sts.push_back(b.getIndexAttr(1));
      if (d == *axis) {
        ofs.push_back(toFoldResult(b, loc, offset));
        szs.push_back(toFoldResult(b, loc, sizes[i]));
        shape.push_back(staticOr(sizes[i]));
      } else {
        ofs.push_back(b.getIndexAttr(0));
        IntElem s = getDimElem(b, loc, in.value, d);
        szs.push_back(toFoldResult(b, loc, s));
        shape.push_back(staticOr(s));
      }
    }
    Value part;
    if (sizes[i].isConst() && sizes[i].value == 0) {
      // An empty part: nothing to read (and no valid offset to read at).
      SmallVector<Value> dyn;
      for (int64_t d = 0; d < rank; ++d)
        if (ShapedType::isDynamic(shape[d]))
          dyn.push_back(getDimSize(b, loc, in.value, d));
      part = createEmpty(b, loc, shape, type.getElementType(), dyn);
    } else {
      part = tensor::ExtractSliceOp::create(
          b, loc, RankedTensorType::get(shape, type.getElementType()), in.value,
          ofs, szs, sts);
    }
    n.setOutput(i, part, in.dtype);
    if (offset.isConst() && sizes[i].isConst())
      offset = IntElem::of(offset.value + sizes[i].value);
    else
      offset = IntElem{0, arith::AddIOp::create(b, loc, toI64(b, loc, offset),
                                                toI64(b, loc, sizes[i]))};
  }
  return success();
}

LogicalResult importExpand(NodeImporter &n) {
  if (failed(n.expectInputs(2, 2)))
    return failure();
  const TensorValue &in = n.input(0);
  auto target = n.getIntElements(1);
  if (!target)
    return n.emitError() << "the target shape must be computable at import "
                            "time (from constants and input dimensions)";
  OpBuilder &b = n.b;
  Location loc = n.loc;
  RankedTensorType type = in.getType();
  int64_t rank = std::max<int64_t>(type.getRank(), target->size());
  SmallVector<IntElem> dims;
  for (int64_t d = 0; d < rank; ++d) {
    int64_t td = d - (rank - target->size());
    int64_t id = d - (rank - type.getRank());
    std::optional<IntElem> t =
        td >= 0 ? std::optional<IntElem>((*target)[td]) : std::nullopt;
    std::optional<IntElem> s =
        id >= 0 ? std::optional<IntElem>(getDimElem(b, loc, in.value, id))
                : std::nullopt;
    if (!t) {
      dims.push_back(*s);
    } else if (!s) {
      dims.push_back(*t);
    } else if (t->isConst() && s->isConst()) {
      if (t->value != 1 && s->value != 1 && t->value != s->value)
        return n.emitError() << "cannot expand dimension of size " << s->value
                             << " to " << t->value;
      dims.push_back(IntElem::of(std::max(t->value, s->value)));
    } else if (t->isConst() && t->value == 1) {
      dims.push_back(*s);
    } else if (s->isConst() && s->value == 1) {
      dims.push_back(*t);
    } else if (t->isConst()) {
      dims.push_back(*t);
    } else if (s->isConst()) {
      dims.push_back(*s);
    } else {
      // Both run-time: one of them is 1 or they are equal, so the larger.
      dims.push_back(
          IntElem{0, arith::MaxSIOp::create(b, loc, toI64(b, loc, *t),
                                            toI64(b, loc, *s))});
    }
  }
  // A dimension of the input known only at run time is read as the
  // output's (not broadcast from 1): checked when the model runs, with the
  // target sizes' signs.
  Value zero = arith::ConstantIntOp::create(b, loc, 0, 64);
  for (int64_t d = 0; d < rank; ++d) {
    int64_t id = d - (rank - type.getRank());
    Value out = dims[d].isConst() ? Value() : toI64(b, loc, dims[d]);
    if (id >= 0 && type.isDynamicDim(id)) {
      Value inDim = toI64(b, loc, getDimElem(b, loc, in.value, id));
      Value outDim = out ? out : toI64(b, loc, dims[d]);
      emitCheck(n,
                arith::CmpIOp::create(b, loc, arith::CmpIPredicate::eq, inDim,
                                      outDim),
                "cannot expand dimension " + std::to_string(d) +
                    " of size {0} to {1}",
                ValueRange{inDim, outDim});
    } else if (out) {
      emitCheck(
          n,
          arith::CmpIOp::create(b, loc, arith::CmpIPredicate::sge, out, zero),
          "target dimension " + std::to_string(d) + " is {0}", ValueRange{out});
    }
  }
  SmallVector<int64_t> shape;
  SmallVector<Value> dyn;
  for (const IntElem &e : dims) {
    shape.push_back(staticOr(e));
    if (!e.isConst())
      dyn.push_back(toIndex(b, loc, e));
  }
  n.setOutput(0, broadcastTo(b, loc, in.value, shape, dyn), in.dtype);
  return success();
}

LogicalResult importRange(NodeImporter &n) {
  if (failed(n.expectInputs(3, 3)))
    return failure();
  int32_t dtype = n.input(0).dtype;
  OpBuilder &b = n.b;
  Location loc = n.loc;
  auto start = n.getConstInts(0), limit = n.getConstInts(1),
       delta = n.getConstInts(2);
  if (start && limit && delta && start->size() == 1 && limit->size() == 1 &&
      delta->size() == 1) {
    int64_t s = (*start)[0], l = (*limit)[0], d = (*delta)[0];
    if (d == 0)
      return n.emitError() << "delta is zero";
    int64_t count = std::max<int64_t>(0, (l - s + d + (d > 0 ? -1 : 1)) / d);
    SmallVector<IntElem> elems;
    for (int64_t i = 0; i < count; ++i)
      elems.push_back(IntElem::of(s + i * d));
    TensorValue v = makeIntTensor(b, loc, elems);
    if (dtype != kInt64) {
      v.value = castTensor(b, loc, v.value, kInt64, dtype);
      v.constant = {};
      v.dtype = dtype;
    }
    n.setOutput(0, std::move(v));
    return success();
  }
  // Run-time range: count = max(ceil((limit - start) / delta), 0), computed
  // in f64 for floats and i64 for integers.
  Type et = getElementType(b.getContext(), dtype);
  auto scalarOf = [&](unsigned i) -> Value {
    Value t = n.operand(i);
    auto type = n.input(i).getType();
    SmallVector<Value> zeros(type.getRank(),
                             arith::ConstantIndexOp::create(b, loc, 0));
    return tensor::ExtractOp::create(b, loc, t, zeros);
  };
  Value s = scalarOf(0), l = scalarOf(1), d = scalarOf(2);
  Value count;
  if (isFloatDType(dtype)) {
    Value sf = castScalar(b, loc, s, dtype, kDouble);
    Value lf = castScalar(b, loc, l, dtype, kDouble);
    Value df = castScalar(b, loc, d, dtype, kDouble);
    Value q = math::CeilOp::create(
        b, loc,
        arith::DivFOp::create(b, loc, arith::SubFOp::create(b, loc, lf, sf),
                              df));
    count = arith::FPToSIOp::create(b, loc, b.getI64Type(), q);
  } else {
    Value s64 = castScalar(b, loc, s, dtype, kInt64);
    Value l64 = castScalar(b, loc, l, dtype, kInt64);
    Value d64 = castScalar(b, loc, d, dtype, kInt64);
    count = arith::CeilDivSIOp::create(
        b, loc, arith::SubIOp::create(b, loc, l64, s64), d64);
  }
  count = arith::MaxSIOp::create(
      b, loc, count, arith::ConstantIntOp::create(b, loc, b.getI64Type(), 0));
  Value size = arith::IndexCastOp::create(b, loc, b.getIndexType(), count);
  Value init = createEmpty(b, loc, {ShapedType::kDynamic}, et, {size});
  AffineMap id = b.getMultiDimIdentityMap(1);
  Value result =
      linalg::GenericOp::create(
          b, loc, TypeRange{init.getType()}, ValueRange{}, ValueRange{init},
          ArrayRef<AffineMap>{id},
          ArrayRef<utils::IteratorType>{utils::IteratorType::parallel},
          [&](OpBuilder &nb, Location nl, ValueRange) {
            Value i = linalg::IndexOp::create(nb, nl, 0);
            Value i64 = arith::IndexCastOp::create(nb, nl, nb.getI64Type(), i);
            Value iv = castScalar(nb, nl, i64, kInt64, dtype);
            Value step = isFloatDType(dtype)
                             ? Value(arith::MulFOp::create(nb, nl, iv, d))
                             : Value(arith::MulIOp::create(nb, nl, iv, d));
            Value v = isFloatDType(dtype)
                          ? Value(arith::AddFOp::create(nb, nl, s, step))
                          : Value(arith::AddIOp::create(nb, nl, s, step));
            linalg::YieldOp::create(nb, nl, v);
          })
          .getResult(0);
  n.setOutput(0, result, dtype);
  return success();
}

LogicalResult importConstantOfShape(NodeImporter &n) {
  if (failed(n.expectInputs(1, 1)))
    return failure();
  auto dims = n.getIntElements(0);
  if (!dims)
    return n.emitError() << "the shape must be computable at import time";
  OpBuilder &b = n.b;
  Location loc = n.loc;
  int32_t dtype = kFloat;
  Value scalar;
  if (const onnx::AttributeProto *a = n.getAttr("value")) {
    if (a->type() != onnx::AttributeProto::TENSOR &&
        a->type() != onnx::AttributeProto::UNDEFINED)
      return n.emitError() << "attribute 'value' must be a tensor";
    FailureOr<TensorValue> v =
        n.graph.importConstant(a->t(), b, loc, [&] { return n.emitError(); });
    if (failed(v))
      return failure();
    if (v->getType().getNumElements() != 1)
      return n.emitError() << "value must have one element";
    dtype = v->dtype;
    SmallVector<Value> zeros(v->getType().getRank(),
                             arith::ConstantIndexOp::create(b, loc, 0));
    scalar = tensor::ExtractOp::create(b, loc, v->value, zeros);
  } else {
    scalar = createScalar(b, loc, b.getF32Type(), 0.0);
  }
  SmallVector<int64_t> shape;
  SmallVector<Value> dyn;
  for (const IntElem &e : *dims) {
    if (e.isConst() && e.value < 0)
      return n.emitError() << "negative dimension " << e.value;
    shape.push_back(staticOr(e));
    if (!e.isConst())
      dyn.push_back(toIndex(b, loc, e));
  }
  TensorValue out;
  out.value = createFilled(b, loc, shape, scalar, dyn);
  out.dtype = dtype;
  // A small 1-D integer fill is shape arithmetic (e.g. [1, 1, ...]).
  if (isIntegerDType(dtype) && shape.size() == 1 &&
      !ShapedType::isDynamic(shape[0]) && shape[0] <= 64) {
    if (auto c = scalar.getDefiningOp<tensor::ExtractOp>()) {
      if (auto cst = c.getTensor().getDefiningOp<arith::ConstantOp>()) {
        if (auto dense = dyn_cast<DenseElementsAttr>(cst.getValue())) {
          int64_t v = dense.getValues<APInt>()[0].getSExtValue();
          out.ints = SmallVector<IntElem>(shape[0], IntElem::of(v));
        }
      }
    }
  }
  n.setOutput(0, std::move(out));
  return success();
}

LogicalResult importTrilu(NodeImporter &n) {
  if (failed(n.expectInputs(1, 2)))
    return failure();
  const TensorValue &in = n.input(0);
  RankedTensorType type = in.getType();
  if (type.getRank() < 2)
    return n.emitError() << "expected rank >= 2";
  bool upper = n.getInt("upper", 1) != 0;
  OpBuilder &b = n.b;
  Location loc = n.loc;
  Value k = arith::ConstantIntOp::create(b, loc, b.getI64Type(), 0);
  if (n.hasInput(1)) {
    auto elems = n.getIntElements(1);
    if (!elems || elems->size() != 1)
      return n.emitError() << "k must be a scalar known at import time";
    k = toI64(b, loc, (*elems)[0]);
  }
  int64_t rank = type.getRank();
  Value init = createEmpty(b, loc, type.getShape(), type.getElementType(),
                           getDynamicSizes(type.getShape(), [&](int64_t d) {
                             return getDimSize(b, loc, in.value, d);
                           }));
  AffineMap id = b.getMultiDimIdentityMap(rank);
  SmallVector<utils::IteratorType> iterators(rank,
                                             utils::IteratorType::parallel);
  Value result =
      linalg::GenericOp::create(
          b, loc, TypeRange{init.getType()}, ValueRange{in.value},
          ValueRange{init}, ArrayRef<AffineMap>{id, id}, iterators,
          [&](OpBuilder &nb, Location nl, ValueRange args) {
            Value i = arith::IndexCastOp::create(
                nb, nl, nb.getI64Type(),
                linalg::IndexOp::create(nb, nl, rank - 2));
            Value j = arith::IndexCastOp::create(
                nb, nl, nb.getI64Type(),
                linalg::IndexOp::create(nb, nl, rank - 1));
            Value diff = arith::SubIOp::create(nb, nl, j, i);
            Value keep = arith::CmpIOp::create(
                nb, nl,
                upper ? arith::CmpIPredicate::sge : arith::CmpIPredicate::sle,
                diff, k);
            Value zero = createScalar(nb, nl, args[0].getType(), 0);
            linalg::YieldOp::create(nb, nl,
                                    ValueRange{arith::SelectOp::create(
                                        nb, nl, keep, args[0], zero)});
          })
          .getResult(0);
  n.setOutput(0, result, in.dtype);
  return success();
}

LogicalResult importCumSum(NodeImporter &n) {
  if (failed(n.expectInputs(2, 2)))
    return failure();
  const TensorValue &in = n.input(0);
  if (in.dtype == kBool)
    return n.emitError() << "expected a numeric input";
  RankedTensorType type = in.getType();
  int64_t rank = type.getRank();
  auto axisElems = n.getConstInts(1);
  if (!axisElems && rank == 1)
    axisElems = SmallVector<int64_t>{0}; // the only valid axis of a 1-D input
  if (!axisElems || axisElems->size() != 1)
    return n.emitError() << "axis must be a constant scalar";
  FailureOr<int64_t> axis = normalizeAxis(n, (*axisElems)[0], rank);
  if (failed(axis))
    return failure();
  bool exclusive = n.getInt("exclusive", 0) != 0;
  bool reverse = n.getInt("reverse", 0) != 0;
  OpBuilder &b = n.b;
  Location loc = n.loc;
  // out[.., i, ..] = sum_j x[.., j, ..] * [j <= i] (or its exclusive /
  // reverse variants): an extra reduction loop j. Quadratic in the axis
  // length, which is small where LLM graphs use CumSum (position ids).
  Value zero = createScalar(b, loc, type.getElementType(), 0);
  Value init = createFilled(b, loc, type.getShape(), zero,
                            getDynamicSizes(type.getShape(), [&](int64_t d) {
                              return getDimSize(b, loc, in.value, d);
                            }));
  SmallVector<AffineExpr> inExprs, outExprs;
  for (int64_t d = 0; d < rank; ++d) {
    inExprs.push_back(b.getAffineDimExpr(d == *axis ? rank : d));
    outExprs.push_back(b.getAffineDimExpr(d));
  }
  SmallVector<AffineMap> maps{
      AffineMap::get(rank + 1, 0, inExprs, b.getContext()),
      AffineMap::get(rank + 1, 0, outExprs, b.getContext())};
  SmallVector<utils::IteratorType> iterators(rank,
                                             utils::IteratorType::parallel);
  iterators.push_back(utils::IteratorType::reduction);
  bool isFloat = isFloatDType(in.dtype);
  Value result =
      linalg::GenericOp::create(
          b, loc, TypeRange{init.getType()}, ValueRange{in.value},
          ValueRange{init}, maps, iterators,
          [&](OpBuilder &nb, Location nl, ValueRange args) {
            Value i = linalg::IndexOp::create(nb, nl, *axis);
            Value j = linalg::IndexOp::create(nb, nl, rank);
            arith::CmpIPredicate p =
                reverse ? (exclusive ? arith::CmpIPredicate::ugt
                                     : arith::CmpIPredicate::uge)
                        : (exclusive ? arith::CmpIPredicate::ult
                                     : arith::CmpIPredicate::ule);
            Value take = arith::CmpIOp::create(nb, nl, p, j, i);
            Value z = createScalar(nb, nl, args[0].getType(), 0);
            Value x = arith::SelectOp::create(nb, nl, take, args[0], z);
            Value sum = isFloat
                            ? Value(arith::AddFOp::create(nb, nl, args[1], x))
                            : Value(arith::AddIOp::create(nb, nl, args[1], x));
            linalg::YieldOp::create(nb, nl, sum);
          })
          .getResult(0);
  n.setOutput(0, result, in.dtype);
  return success();
}

} // namespace

void mlir::slim::onnx_import::registerShapeOps(OpRegistry &r) {
  r.add("", "Shape", importShape);
  r.add("", "Size", importSize);
  r.add("", "Constant", importConstant);
  r.add("", "Gather", importGather);
  r.add("", "Reshape", importReshape);
  r.add("", "Flatten", importFlatten);
  r.add("", "Transpose", importTranspose);
  r.add("", "Unsqueeze", importUnsqueeze);
  r.add("", "Squeeze", importSqueeze);
  r.add("", "Concat", importConcat);
  r.add("", "Slice", importSlice);
  r.add("", "Split", importSplit);
  r.add("", "Expand", importExpand);
  r.add("", "Range", importRange);
  r.add("", "ConstantOfShape", importConstantOfShape);
  r.add("", "Trilu", importTrilu);
  r.add("", "CumSum", importCumSum);
}
