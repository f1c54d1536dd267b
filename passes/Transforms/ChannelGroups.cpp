//===- ChannelGroups.cpp - Dimensions that structured pruning shrinks -----===//
//
// Part of the Slim project, under the Apache License v2.0 with LLVM Exceptions.
// SPDX-License-Identifier: Apache-2.0 WITH LLVM-exception
//
//===----------------------------------------------------------------------===//

#include "passes/Transforms/ChannelGroups.h"
#include "passes/Transforms/Utils.h"

#include "lib/Compression/ChannelPruner.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Dialect/Linalg/IR/Linalg.h"
#include "mlir/Dialect/Tensor/IR/Tensor.h"
#include "mlir/IR/BuiltinDialect.h"
#include "mlir/IR/DialectResourceBlobManager.h"

#include "llvm/ADT/DenseMap.h"
#include "llvm/ADT/SetVector.h"

#include <cstring>

using namespace mlir;
using namespace mlir::slim;

int64_t ChannelGroup::countParams() const {
  int64_t total = 0;
  for (const auto &[layer, f] : producers)
    total += layer.inChannels * layer.outChannels;
  for (const auto &[layer, f] : consumers)
    total += layer.inChannels * layer.outChannels;
  return total;
}

namespace {

/// Follows one seed's channels through the IR (see the header).
class GroupBuilder {
public:
  explicit GroupBuilder(ArrayRef<LinearLayer> layers) {
    for (const LinearLayer &l : layers)
      linear[const_cast<LinearLayer &>(l).op.getOperation()] = &l;
  }

  /// Builds the group of `seed`'s output channels as `factor`; on failure
  /// either `coarsen` > 1 (retry with units merged `coarsen` at a time)
  /// or `why` says what stopped it.
  LogicalResult run(const LinearLayer &seed, ChannelFactor factor);

  ChannelGroup group;
  std::string why;
  int64_t coarsen = 1;

private:
  LogicalResult fail(Operation *op, const Twine &message);
  LogicalResult addValue(Value v, unsigned dim, ChannelFactor f);
  LogicalResult addOperand(OpOperand &operand, unsigned dim, ChannelFactor f);
  LogicalResult visit(Operation *op, Value v, unsigned dim, ChannelFactor f);
  LogicalResult visitLinalg(linalg::LinalgOp op, Value v, unsigned dim,
                            ChannelFactor f);
  /// A reshape between merged dimensions and their split (`splitShape`,
  /// `groups` mapping merged dimension i to split dimensions): from the
  /// merged side (`fromMerged`) or the split side at `dim`.
  LogicalResult
  visitReshape(Operation *op, bool fromMerged, unsigned dim, ChannelFactor f,
               ArrayRef<ReassociationIndices> groups,
               ArrayRef<int64_t> splitShape,
               function_ref<LogicalResult(unsigned, ChannelFactor)> addMerged,
               function_ref<LogicalResult(unsigned, ChannelFactor)> addSplit);
  /// The channels of a merged dimension `f` in its split `sizes` (outer
  /// to inner): which of them holds the units, and as what factor.
  FailureOr<std::pair<unsigned, ChannelFactor>>
  split(Operation *op, ChannelFactor f, ArrayRef<int64_t> sizes);
  /// The factor of dimension `index` of `sizes` in their merged dimension.
  FailureOr<ChannelFactor> merge(Operation *op, ChannelFactor f,
                                 ArrayRef<int64_t> sizes, unsigned index);

  llvm::DenseMap<Operation *, const LinearLayer *> linear;
  SmallVector<std::tuple<Value, unsigned, ChannelFactor>> work;
  /// The dimension of each value in `group.dims`.
  llvm::DenseMap<Value, unsigned> dimOf;
};

} // namespace

LogicalResult GroupBuilder::fail(Operation *op, const Twine &message) {
  if (why.empty()) {
    std::string loc;
    llvm::raw_string_ostream os(loc);
    op->getLoc().print(os);
    why = (message + " ('" + op->getName().getStringRef() + "' at " + loc + ")")
              .str();
  }
  return failure();
}

LogicalResult GroupBuilder::addValue(Value v, unsigned dim, ChannelFactor f) {
  auto type = dyn_cast<RankedTensorType>(v.getType());
  if (!type || dim >= type.getRank())
    return failure();
  // Diagnostics point at the value's producer (or its function).
  auto failAt = [&](const Twine &message) {
    return fail(v.getDefiningOp() ? v.getDefiningOp()
                                  : v.getParentBlock()->getParentOp(),
                message);
  };
  if (!type.isDynamicDim(dim) &&
      type.getDimSize(dim) % (f.units * f.inner) != 0)
    return failAt("a dimension of " + Twine(type.getDimSize(dim)) +
                  " does not hold whole units of " + Twine(f.inner));
  // Two dimensions of one value in one group would need both shrunk by
  // the same units: not a pattern any model has; refuse it.
  auto [at, first] = dimOf.insert({v, dim});
  if (!first && at->second != dim)
    return failAt("the channels reach two dimensions of one value");
  auto [it, inserted] = group.dims.insert({{v, dim}, f});
  if (!inserted) {
    if (it->second == f)
      return success();
    return failAt("the channels reach one dimension in two layouts");
  }
  work.push_back({v, dim, f});
  return success();
}

LogicalResult GroupBuilder::addOperand(OpOperand &operand, unsigned dim,
                                       ChannelFactor f) {
  Operation *def = operand.get().getDefiningOp();
  if (def && isa<arith::ConstantOp, tensor::EmptyOp>(def)) {
    auto type = cast<RankedTensorType>(operand.get().getType());
    // A dynamic size of an empty tensor is read at run time from the
    // shrunk values; it needs nothing.
    if (type.isDynamicDim(dim) && isa<tensor::EmptyOp>(def))
      return success();
    if (type.isDynamicDim(dim) ||
        type.getDimSize(dim) % (f.units * f.inner) != 0)
      return fail(operand.getOwner(),
                  "a constant or empty tensor along the channels has a "
                  "dynamic or uneven size");
    for (auto &[o, d, g] : group.leaves)
      if (o == &operand) {
        if (d == dim && g == f)
          return success();
        return fail(operand.getOwner(),
                    "the channels reach one operand in two layouts");
      }
    group.leaves.push_back({&operand, dim, f});
    return success();
  }
  return addValue(operand.get(), dim, f);
}

FailureOr<std::pair<unsigned, ChannelFactor>>
GroupBuilder::split(Operation *op, ChannelFactor f, ArrayRef<int64_t> sizes) {
  int64_t inner = 1;
  for (int j = static_cast<int>(sizes.size()) - 1; j >= 0; --j) {
    int64_t s = sizes[j];
    if (ShapedType::isDynamic(s)) {
      (void)fail(op, "the channels meet a dynamic dimension in a reshape");
      return failure();
    }
    if (f.inner >= inner * s) {
      inner *= s;
      continue;
    }
    if (f.inner % inner != 0) {
      (void)fail(op, "a reshape cuts the channels' units unevenly");
      return failure();
    }
    int64_t here = f.inner / inner;
    if (here * f.units <= s) {
      if (s % (here * f.units) != 0) {
        (void)fail(op, "a reshape cuts the channels' units unevenly");
        return failure();
      }
      return std::make_pair(static_cast<unsigned>(j),
                            ChannelFactor{f.units, here});
    }
    // The units span this dimension and outer ones: merge units until one
    // covers the rest of this dimension.
    int64_t c = s / here;
    if (s % here != 0 || f.units % c != 0) {
      (void)fail(op, "a reshape cuts the channels' units unevenly");
      return failure();
    }
    coarsen = c;
    return failure();
  }
  (void)fail(op, "the channels do not fit a reshape");
  return failure();
}

FailureOr<ChannelFactor> GroupBuilder::merge(Operation *op, ChannelFactor f,
                                             ArrayRef<int64_t> sizes,
                                             unsigned index) {
  int64_t inner = f.inner;
  for (size_t j = index + 1; j < sizes.size(); ++j) {
    if (ShapedType::isDynamic(sizes[j])) {
      (void)fail(op, "the channels merge with an inner dynamic dimension");
      return failure();
    }
    inner *= sizes[j];
  }
  return ChannelFactor{f.units, inner};
}

LogicalResult GroupBuilder::visitLinalg(linalg::LinalgOp op, Value v,
                                        unsigned dim, ChannelFactor f) {
  SmallVector<AffineMap> maps = op.getIndexingMapsArray();
  SmallVector<utils::IteratorType> iterators = op.getIteratorTypesArray();
  unsigned numInputs = op.getNumDpsInputs();
  auto loopOf = [&](AffineMap map) -> std::optional<unsigned> {
    if (dim >= map.getNumResults())
      return std::nullopt;
    if (auto e = dyn_cast<AffineDimExpr>(map.getResult(dim)))
      return e.getPosition();
    return std::nullopt;
  };
  std::optional<unsigned> loop;
  for (OpOperand &o : op->getOpOperands())
    if (o.get() == v) {
      loop = loopOf(maps[o.getOperandNumber()]);
      if (!loop)
        return fail(op, "an indexing map mixes the channels with other "
                        "dimensions");
    }
  for (OpResult r : op->getResults())
    if (r == v) {
      loop = loopOf(maps[numInputs + r.getResultNumber()]);
      if (!loop)
        return fail(op, "an indexing map mixes the channels with other "
                        "dimensions");
    }
  if (!loop)
    return success();
  unsigned l = *loop;
  if (auto generic = dyn_cast<linalg::GenericOp>(op.getOperation())) {
    bool indexed = false;
    generic.getBody()->walk(
        [&](linalg::IndexOp index) { indexed |= index.getDim() == l; });
    if (indexed)
      return fail(op, "the body reads the position along the channels");
  }
  if (isa<linalg::BatchMatmulOp>(op.getOperation()))
    group.attention = true;
  auto it = linear.find(op.getOperation());
  const LinearLayer *layer = it == linear.end() ? nullptr : it->second;
  if (iterators[l] == utils::IteratorType::reduction) {
    // Only a linear layer's contraction ends the channels: its weight
    // rows go with them.
    if (!layer || op->getOperand(0) != v || dim != 1)
      return fail(op, "an operation reduces over the channels");
    group.consumers.push_back({*layer, f});
    return addOperand(op->getOpOperand(1), 0, f);
  }
  if (layer && dim == 1 && op->getResult(0) == v)
    group.producers.push_back({*layer, f});
  for (OpOperand &o : op->getOpOperands()) {
    AffineMap map = maps[o.getOperandNumber()];
    for (unsigned p = 0; p < map.getNumResults(); ++p) {
      AffineExpr e = map.getResult(p);
      if (auto d = dyn_cast<AffineDimExpr>(e)) {
        if (d.getPosition() == l && failed(addOperand(o, p, f)))
          return failure();
      } else if (e.isFunctionOfDim(l)) {
        return fail(op, "an indexing map mixes the channels with other "
                        "dimensions");
      }
    }
  }
  for (OpResult r : op->getResults()) {
    AffineMap map = maps[numInputs + r.getResultNumber()];
    for (unsigned p = 0; p < map.getNumResults(); ++p)
      if (auto d = dyn_cast<AffineDimExpr>(map.getResult(p)))
        if (d.getPosition() == l && failed(addValue(r, p, f)))
          return failure();
  }
  return success();
}

LogicalResult GroupBuilder::visitReshape(
    Operation *op, bool fromMerged, unsigned dim, ChannelFactor f,
    ArrayRef<ReassociationIndices> groups, ArrayRef<int64_t> splitShape,
    function_ref<LogicalResult(unsigned, ChannelFactor)> addMerged,
    function_ref<LogicalResult(unsigned, ChannelFactor)> addSplit) {
  auto sizesOf = [&](const ReassociationIndices &g) {
    SmallVector<int64_t> sizes;
    for (int64_t d : g)
      sizes.push_back(splitShape[d]);
    return sizes;
  };
  if (fromMerged) {
    const ReassociationIndices &g = groups[dim];
    auto placed = split(op, f, sizesOf(g));
    if (failed(placed))
      return failure();
    return addSplit(g[placed->first], placed->second);
  }
  for (auto [i, g] : llvm::enumerate(groups)) {
    auto pos = llvm::find(g, static_cast<int64_t>(dim));
    if (pos == g.end())
      continue;
    auto merged = merge(op, f, sizesOf(g), pos - g.begin());
    if (failed(merged))
      return failure();
    return addMerged(i, *merged);
  }
  return success();
}

LogicalResult GroupBuilder::visit(Operation *op, Value v, unsigned dim,
                                  ChannelFactor f) {
  if (isa<func::ReturnOp, tensor::DimOp>(op))
    return success();
  if (auto linalgOp = dyn_cast<linalg::LinalgOp>(op))
    return visitLinalg(linalgOp, v, dim, f);
  if (auto softmax = dyn_cast<linalg::SoftmaxOp>(op)) {
    if (softmax.getDimension() == dim)
      return fail(op, "softmax over the channels");
    if (failed(addOperand(softmax.getInputMutable(), dim, f)) ||
        failed(addOperand(softmax.getOutputMutable(), dim, f)))
      return failure();
    return addValue(softmax.getResult()[0], dim, f);
  }
  if (auto concat = dyn_cast<tensor::ConcatOp>(op)) {
    if (concat.getDim() == dim)
      return fail(op, "a concatenation along the channels");
    for (OpOperand &o : concat->getOpOperands())
      if (failed(addOperand(o, dim, f)))
        return failure();
    return addValue(concat.getResult(), dim, f);
  }
  if (auto slice = dyn_cast<tensor::ExtractSliceOp>(op)) {
    RankedTensorType src = slice.getSourceType();
    if (slice.getResultType().getRank() != src.getRank())
      return fail(op, "a rank-reducing slice of the channels");
    if (slice.getSource() != v && slice.getResult() != v)
      return fail(op, "the channels index a slice");
    std::optional<int64_t> offset =
        getConstantIntValue(slice.getMixedOffsets()[dim]);
    std::optional<int64_t> stride =
        getConstantIntValue(slice.getMixedStrides()[dim]);
    OpFoldResult size = slice.getMixedSizes()[dim];
    bool whole = false;
    if (std::optional<int64_t> s = getConstantIntValue(size))
      whole = !src.isDynamicDim(dim) && *s == src.getDimSize(dim);
    else if (auto d = dyn_cast<Value>(size).getDefiningOp<tensor::DimOp>())
      whole = d.getSource() == slice.getSource() &&
              getConstantIntValue(d.getIndex()) == int64_t(dim);
    if (offset != 0 || stride != 1 || !whole)
      return fail(op, "a slice of part of the channels");
    if (failed(addOperand(slice.getSourceMutable(), dim, f)))
      return failure();
    return addValue(slice.getResult(), dim, f);
  }
  // Reshapes: one side holds merged dimensions, the other their split.
  if (auto expand = dyn_cast<tensor::ExpandShapeOp>(op))
    return visitReshape(
        op, expand.getSrc() == v, dim, f, expand.getReassociationIndices(),
        expand.getResultType().getShape(),
        [&](unsigned d, ChannelFactor g) {
          return addOperand(expand.getSrcMutable(), d, g);
        },
        [&](unsigned d, ChannelFactor g) {
          return addValue(expand.getResult(), d, g);
        });
  if (auto collapse = dyn_cast<tensor::CollapseShapeOp>(op))
    return visitReshape(
        op, collapse.getResult() == v, dim, f,
        collapse.getReassociationIndices(), collapse.getSrcType().getShape(),
        [&](unsigned d, ChannelFactor g) {
          return addValue(collapse.getResult(), d, g);
        },
        [&](unsigned d, ChannelFactor g) {
          return addOperand(collapse.getSrcMutable(), d, g);
        });
  return fail(op, "cannot follow the channels through this operation");
}

LogicalResult GroupBuilder::run(const LinearLayer &seed, ChannelFactor factor) {
  group = ChannelGroup();
  why.clear();
  coarsen = 1;
  work.clear();
  dimOf.clear();
  group.units = factor.units;
  if (failed(addValue(seed.op->getResult(0), 1, factor)))
    return failure();
  while (!work.empty()) {
    auto [v, dim, f] = work.pop_back_val();
    if (auto r = dyn_cast<OpResult>(v)) {
      if (failed(visit(r.getOwner(), v, dim, f)))
        return failure();
    } else {
      Operation *parent = v.getParentBlock()->getParentOp();
      if (!isa<func::FuncOp>(parent) ||
          v.getParentBlock() != &cast<func::FuncOp>(parent).front())
        return fail(parent, "the channels reach a block argument");
    }
    // Each user once (an op may read the value twice); taken first, as
    // visiting may add uses.
    llvm::SetVector<Operation *> users(v.getUsers().begin(),
                                       v.getUsers().end());
    for (Operation *user : users)
      if (failed(visit(user, v, dim, f)))
        return failure();
  }
  if (group.producers.empty())
    return fail(seed.op, "no linear layer produces the channels");
  if (group.consumers.empty())
    return fail(seed.op, "no linear layer contracts the channels");
  return success();
}

FailureOr<ChannelGroup>
mlir::slim::findChannelGroup(const LinearLayer &seed,
                             ArrayRef<LinearLayer> layers, std::string &why) {
  GroupBuilder builder(layers);
  ChannelFactor factor{seed.outChannels, 1};
  // Each retry merges units (a split into heads x head_dim, then grouped
  // query heads under one key/value head); units only shrink in number.
  while (true) {
    if (succeeded(builder.run(seed, factor)))
      return std::move(builder.group);
    if (builder.coarsen <= 1 || factor.units % builder.coarsen != 0) {
      why = builder.why;
      return failure();
    }
    factor = {factor.units / builder.coarsen, factor.inner * builder.coarsen};
  }
}

//===----------------------------------------------------------------------===//
// Shrinking
//===----------------------------------------------------------------------===//

namespace {

RankedTensorType shrinkType(RankedTensorType type, unsigned dim,
                            ChannelFactor f, int64_t kept) {
  if (type.isDynamicDim(dim))
    return type;
  SmallVector<int64_t> shape(type.getShape());
  shape[dim] = shape[dim] / f.units * kept;
  return RankedTensorType::get(shape, type.getElementType(),
                               type.getEncoding());
}

/// The bytes of `data` (a row-major tensor of `shape`, `elementBytes`
/// each) keeping `indices` along `dim`.
std::vector<char> sliceBytes(ArrayRef<char> data, ArrayRef<int64_t> shape,
                             size_t elementBytes, unsigned dim,
                             ArrayRef<int64_t> indices) {
  int64_t outer = 1, inner = elementBytes;
  for (unsigned d = 0; d < dim; ++d)
    outer *= shape[d];
  for (unsigned d = dim + 1; d < shape.size(); ++d)
    inner *= shape[d];
  std::vector<char> out(outer * indices.size() * inner);
  char *to = out.data();
  for (int64_t o = 0; o < outer; ++o)
    for (int64_t i : indices) {
      std::memcpy(to, data.data() + (o * shape[dim] + i) * inner, inner);
      to += inner;
    }
  return out;
}

/// `attr` with only `indices` along `dim`, as `type`.
FailureOr<ElementsAttr> sliceConstant(ElementsAttr attr, RankedTensorType type,
                                      unsigned dim, ArrayRef<int64_t> indices,
                                      bool inPlace) {
  auto oldType = cast<RankedTensorType>(attr.getType());
  if (auto dense = dyn_cast<DenseElementsAttr>(attr)) {
    if (dense.isSplat())
      return ElementsAttr(dense.resizeSplat(type));
    SmallVector<Attribute> values(dense.getValues<Attribute>());
    int64_t outer = 1, inner = 1;
    for (unsigned d = 0; d < dim; ++d)
      outer *= oldType.getDimSize(d);
    for (unsigned d = dim + 1; d < oldType.getRank(); ++d)
      inner *= oldType.getDimSize(d);
    SmallVector<Attribute> kept;
    for (int64_t o = 0; o < outer; ++o)
      for (int64_t i : indices)
        for (int64_t j = 0; j < inner; ++j)
          kept.push_back(values[(o * oldType.getDimSize(dim) + i) * inner + j]);
    return ElementsAttr(DenseElementsAttr::get(type, kept));
  }
  auto resource = dyn_cast<DenseResourceElementsAttr>(attr);
  std::optional<ArrayRef<char>> bytes = getConstantBytes(attr);
  unsigned bits = oldType.getElementTypeBitWidth();
  if (!resource || !bytes || bits % 8 != 0)
    return failure();
  std::vector<char> sliced =
      sliceBytes(*bytes, oldType.getShape(), bits / 8, dim, indices);
  AsmResourceBlob blob = allocateWeightBlob(sliced.size());
  std::memcpy(blob.getMutableData().data(), sliced.data(), sliced.size());
  DenseResourceElementsHandle handle = resource.getRawHandle();
  if (inPlace) {
    // Same key: layer names (and calibration statistics) stay valid.
    DenseResourceElementsHandle::getManagerInterface(type.getContext())
        .update(handle.getKey(), std::move(blob));
    return ElementsAttr(DenseResourceElementsAttr::get(type, handle));
  }
  return ElementsAttr(
      DenseResourceElementsAttr::get(type, handle.getKey(), std::move(blob)));
}

} // namespace

LogicalResult mlir::slim::shrinkChannelGroup(ChannelGroup &group,
                                             ArrayRef<int64_t> keptUnits) {
  int64_t kept = keptUnits.size();
  // Leaves first (their operands' types are still the old ones).
  for (auto &[operand, dim, f] : group.leaves) {
    Operation *def = operand->get().getDefiningOp();
    auto oldType = cast<RankedTensorType>(operand->get().getType());
    RankedTensorType type = shrinkType(oldType, dim, f, kept);
    if (auto empty = dyn_cast<tensor::EmptyOp>(def)) {
      OpBuilder b(empty);
      operand->set(tensor::EmptyOp::create(b, empty.getLoc(), type,
                                           empty.getDynamicSizes()));
      continue;
    }
    auto cst = cast<arith::ConstantOp>(def);
    std::vector<int64_t> indices = UnitLayout{f.units, f.inner}.keptChannels(
        oldType.getDimSize(dim), keptUnits);
    bool inPlace = cst->hasOneUse();
    FailureOr<ElementsAttr> attr = sliceConstant(
        cast<ElementsAttr>(cst.getValue()), type, dim, indices, inPlace);
    if (failed(attr))
      return operand->getOwner()->emitError()
             << "slim-prune: cannot slice a constant of " << oldType;
    if (inPlace) {
      cst.setValueAttr(cast<TypedAttr>(*attr));
      cst.getResult().setType(type);
    } else {
      OpBuilder b(cst);
      operand->set(
          arith::ConstantOp::create(b, cst.getLoc(), cast<TypedAttr>(*attr)));
    }
  }
  llvm::SetVector<func::FuncOp> functions;
  for (auto &[key, f] : group.dims) {
    auto [value, dim] = key;
    value.setType(
        shrinkType(cast<RankedTensorType>(value.getType()), dim, f, kept));
    if (isa<BlockArgument>(value))
      functions.insert(
          cast<func::FuncOp>(value.getParentBlock()->getParentOp()));
    for (Operation *user : value.getUsers())
      if (isa<func::ReturnOp>(user))
        functions.insert(user->getParentOfType<func::FuncOp>());
  }
  // Ops that spell sizes out as attributes.
  for (auto &[key, f] : group.dims) {
    Operation *def = key.first.getDefiningOp();
    if (auto expand = dyn_cast_or_null<tensor::ExpandShapeOp>(def)) {
      SmallVector<int64_t> shape(expand.getStaticOutputShape());
      ArrayRef<int64_t> type = expand.getResultType().getShape();
      for (size_t d = 0; d < shape.size(); ++d)
        if (!ShapedType::isDynamic(shape[d]))
          shape[d] = type[d];
      expand.setStaticOutputShape(shape);
    } else if (auto slice = dyn_cast_or_null<tensor::ExtractSliceOp>(def)) {
      SmallVector<int64_t> sizes(slice.getStaticSizes());
      ArrayRef<int64_t> type = slice.getResultType().getShape();
      for (size_t d = 0; d < sizes.size(); ++d)
        if (!ShapedType::isDynamic(sizes[d]))
          sizes[d] = type[d];
      slice.setStaticSizes(sizes);
    }
  }
  for (func::FuncOp fn : functions) {
    auto ret = cast<func::ReturnOp>(fn.front().getTerminator());
    fn.setFunctionType(FunctionType::get(
        fn.getContext(), fn.front().getArgumentTypes(), ret.getOperandTypes()));
  }
  return success();
}
