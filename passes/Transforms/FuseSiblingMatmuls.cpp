//===- FuseSiblingMatmuls.cpp - Products of one activation joined ---------===//
//
// Part of the Slim project, under the Apache License v2.0 with LLVM Exceptions.
// SPDX-License-Identifier: Apache-2.0 WITH LLVM-exception
//
//===----------------------------------------------------------------------===//
//
// The query/key/value projections of a decoder layer read one activation,
// and so do the gate and up projections of its MLP. Joined into one product
// by the weights concatenated along the output channels, they cost one
// kernel call, one parallel region and one rounding of the activations
// instead of three or two (docs/RationaleKernels.md).
//
//===----------------------------------------------------------------------===//

#include "passes/Transforms/Passes.h"
#include "passes/Transforms/Utils.h"

#include "dialects/Slim/IR/SlimOps.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Linalg/IR/Linalg.h"
#include "mlir/Dialect/Tensor/IR/Tensor.h"
#include "mlir/IR/Matchers.h"
#include "llvm/ADT/MapVector.h"

#include <cstring>

namespace mlir::slim {
#define GEN_PASS_DEF_SLIMFUSESIBLINGMATMULSPASS
#include "passes/Transforms/Passes.h.inc"
} // namespace mlir::slim

using namespace mlir;
using namespace mlir::slim;

namespace {

/// Bytes per element of the constants this pass copies (0: not copyable:
/// sub-byte or bit-packed booleans).
int64_t elementBytes(Type type) {
  unsigned bits = type.getIntOrFloatBitWidth();
  return bits % 8 == 0 && bits > 1 ? bits / 8 : 0;
}

/// Whether the elements of constant `attr` of `type` can be copied: a
/// dense resource whose blob is present, or dense elements (splat or not).
bool hasCopyableData(Attribute attr, RankedTensorType type) {
  if (!type.hasStaticShape() || !type.getElementType().isIntOrFloat() ||
      elementBytes(type.getElementType()) == 0)
    return false;
  int64_t size = type.getNumElements() * elementBytes(type.getElementType());
  if (auto dense = dyn_cast<DenseElementsAttr>(attr))
    if (dense.isSplat())
      return true;
  std::optional<ArrayRef<char>> bytes = getConstantBytes(attr);
  return bytes && static_cast<int64_t>(bytes->size()) == size;
}

/// The elements of `attr` (see hasCopyableData), row-major: in place where
/// they are stored one by one, written out into `scratch` for a splat.
const char *constantData(Attribute attr, RankedTensorType type,
                         std::vector<char> &scratch) {
  if (auto dense = dyn_cast<DenseElementsAttr>(attr)) {
    if (dense.isSplat()) {
      int64_t elem = elementBytes(type.getElementType());
      ArrayRef<char> one = dense.getRawData();
      scratch.resize(type.getNumElements() * elem);
      for (int64_t i = 0; i < type.getNumElements(); ++i)
        std::memcpy(scratch.data() + i * elem, one.data(), elem);
      return scratch.data();
    }
  }
  return getConstantBytes(attr)->data();
}

/// The constant `v` is, if it has copyable data and, unless it is a splat
/// (which CSE shares between layers), no reader but this product: a weight
/// read elsewhere too would be stored twice, in its own place and joined.
arith::ConstantOp getCopyableConstant(Value v) {
  auto cst = v.getDefiningOp<arith::ConstantOp>();
  auto type = dyn_cast<RankedTensorType>(v.getType());
  if (!cst || !type || !hasCopyableData(cst.getValue(), type))
    return {};
  auto dense = dyn_cast<DenseElementsAttr>(cst.getValue());
  if (!(dense && dense.isSplat()) && !v.hasOneUse())
    return {};
  return cst;
}

/// A product that may be joined: the op, its activation, its output
/// channels, and what its siblings must share with it.
struct Product {
  Operation *op = nullptr;
  Value lhs;
  int64_t n = 0;
  /// The weight's kind, `K` and encoding (a tensor type `[K]` carrying the
  /// encoding; none for dense weights).
  Type key;
};

/// `linalg.matmul ins(%x, %w) outs(zero fill)` with %w an f32 constant
/// `[K, N]` read with the plain maps.
std::optional<Product> matchDense(linalg::MatmulOp mm) {
  if (!mm.hasPureTensorSemantics() || mm.hasUserDefinedMaps() ||
      mm.getNumDpsInputs() != 2)
    return std::nullopt;
  Value lhs = mm.getDpsInputOperand(0)->get();
  Value rhs = mm.getDpsInputOperand(1)->get();
  auto lt = dyn_cast<RankedTensorType>(lhs.getType());
  auto rt = dyn_cast<RankedTensorType>(rhs.getType());
  auto ct = dyn_cast<RankedTensorType>(mm.getResult(0).getType());
  if (!lt || !rt || !ct || lt.getRank() != 2 || rt.getRank() != 2 ||
      !lt.getElementType().isF32() || !rt.getElementType().isF32() ||
      !ct.getElementType().isF32() || !rt.hasStaticShape() ||
      lt.isDynamicDim(1) || ct.isDynamicDim(1) ||
      !isZeroFill(mm.getDpsInitOperand(0)->get()) || !getCopyableConstant(rhs))
    return std::nullopt;
  return Product{mm, lhs, rt.getDimSize(1),
                 RankedTensorType::get({rt.getDimSize(0)}, rt.getElementType())};
}

/// `slim.matmul %x, slim.assemble(constants...) transpose_rhs` by a weight
/// `[N, K]` whose encoding has only a quantization stage and whose storage
/// has one row per output channel.
std::optional<Product> matchQuantized(slim::MatmulOp mm) {
  if (!mm.getTransposeRhs())
    return std::nullopt;
  auto assemble = mm.getRhs().getDefiningOp<AssembleOp>();
  auto wt = dyn_cast<RankedTensorType>(mm.getRhs().getType());
  auto lt = dyn_cast<RankedTensorType>(mm.getLhs().getType());
  if (!assemble || !assemble->hasOneUse() || !wt || !lt ||
      !wt.hasStaticShape() || wt.getRank() != 2 ||
      lt.getRank() < 1 || lt.isDynamicDim(lt.getRank() - 1))
    return std::nullopt;
  EncodingStages stages = getEncodingStages(wt.getEncoding());
  if (!stages.quant || stages.sparse || stages.lowRank || stages.isResidual)
    return std::nullopt;
  int64_t n = wt.getDimSize(0);
  for (Value storage : assemble.getStorage()) {
    auto st = dyn_cast<RankedTensorType>(storage.getType());
    if (!st || st.getRank() < 1 || st.getDimSize(0) != n ||
        !getCopyableConstant(storage))
      return std::nullopt;
  }
  return Product{mm, mm.getLhs(), n,
                 RankedTensorType::get({wt.getDimSize(1)}, wt.getElementType(),
                                       wt.getEncoding())};
}

/// Replaces the result of each of `group` by its columns of `joined`
/// (channels along the last dimension, in the group's order) and erases the
/// products.
void replaceBySlices(OpBuilder &b, ArrayRef<Product> group, Value joined) {
  Location loc = joined.getLoc();
  auto type = cast<RankedTensorType>(joined.getType());
  int64_t rank = type.getRank();
  SmallVector<OpFoldResult> sizes = tensor::getMixedSizes(b, loc, joined);
  SmallVector<OpFoldResult> offsets(rank, b.getIndexAttr(0));
  SmallVector<OpFoldResult> strides(rank, b.getIndexAttr(1));
  int64_t offset = 0;
  for (const Product &p : group) {
    offsets[rank - 1] = b.getIndexAttr(offset);
    sizes[rank - 1] = b.getIndexAttr(p.n);
    auto resultType = cast<RankedTensorType>(p.op->getResult(0).getType());
    Value slice =
        tensor::ExtractSliceOp::create(b, loc, joined, offsets, sizes, strides);
    if (slice.getType() != resultType)
      slice = tensor::CastOp::create(b, loc, resultType, slice);
    p.op->getResult(0).replaceAllUsesWith(slice);
    offset += p.n;
  }
  for (const Product &p : group)
    p.op->erase();
}

/// One `linalg.matmul` by the dense weights of `group` side by side.
void joinDense(ArrayRef<Product> group) {
  auto first = cast<linalg::MatmulOp>(group.front().op);
  OpBuilder b(first);
  Location loc = first.getLoc();
  auto kType = cast<RankedTensorType>(group.front().key);
  int64_t k = kType.getDimSize(0), total = 0;
  for (const Product &p : group)
    total += p.n;
  AsmResourceBlob blob = allocateWeightBlob(k * total * sizeof(float));
  char *dst = blob.getMutableData().data();
  int64_t offset = 0;
  for (const Product &p : group) {
    auto cst = cast<linalg::MatmulOp>(p.op)
                   .getDpsInputOperand(1)
                   ->get()
                   .getDefiningOp<arith::ConstantOp>();
    std::vector<char> scratch;
    const char *part = constantData(
        cst.getValue(), cast<RankedTensorType>(cst.getType()), scratch);
    for (int64_t row = 0; row < k; ++row)
      std::memcpy(dst + (row * total + offset) * sizeof(float),
                  part + row * p.n * sizeof(float), p.n * sizeof(float));
    offset += p.n;
  }
  auto weightType = RankedTensorType::get({k, total}, b.getF32Type());
  Value weight = arith::ConstantOp::create(
      b, loc,
      DenseResourceElementsAttr::get(weightType, "joined_weight",
                                     std::move(blob)));
  Value init = createZeroRows(b, loc, group.front().lhs, total);
  Value joined = linalg::MatmulOp::create(b, loc, TypeRange{init.getType()},
                                          ValueRange{group.front().lhs, weight},
                                          ValueRange{init})
                     .getResult(0);
  replaceBySlices(b, group, joined);
}

/// One `slim.matmul` by the quantized weights of `group` stacked along the
/// output channels; fails (changing nothing) where the joined encoding's
/// storage is not the parts' storage stacked.
LogicalResult joinQuantized(ArrayRef<Product> group) {
  auto first = cast<slim::MatmulOp>(group.front().op);
  auto keyType = cast<RankedTensorType>(group.front().key);
  int64_t k = keyType.getDimSize(0), total = 0;
  for (const Product &p : group)
    total += p.n;
  auto weightType = RankedTensorType::get({total, k}, keyType.getElementType(),
                                          keyType.getEncoding());
  FailureOr<SmallVector<StorageComponent>> components;
  {
    // An encoding that does not fit the joined shape leaves the products
    // as they are: no diagnostic.
    ScopedDiagnosticHandler quiet(first.getContext(),
                                  [](Diagnostic &) { return success(); });
    components = getStorageComponents(weightType,
                                      [&] { return first.emitError(); });
  }
  if (failed(components))
    return failure();
  SmallVector<AssembleOp> parts;
  for (const Product &p : group)
    parts.push_back(cast<slim::MatmulOp>(p.op).getRhs().getDefiningOp<AssembleOp>());
  for (auto [i, component] : llvm::enumerate(*components)) {
    RankedTensorType joinedType = component.type;
    if (joinedType.getRank() < 1 || joinedType.getDimSize(0) != total)
      return failure();
    for (AssembleOp part : parts) {
      if (part.getStorage().size() != components->size())
        return failure();
      auto partType = cast<RankedTensorType>(part.getStorage()[i].getType());
      if (partType.getElementType() != joinedType.getElementType() ||
          partType.getShape().drop_front() != joinedType.getShape().drop_front())
        return failure();
    }
  }
  OpBuilder b(first);
  Location loc = first.getLoc();
  SmallVector<Value> storage;
  for (auto [i, component] : llvm::enumerate(*components)) {
    RankedTensorType joinedType = component.type;
    int64_t bytes = joinedType.getNumElements() *
                    elementBytes(joinedType.getElementType());
    AsmResourceBlob blob = allocateWeightBlob(bytes);
    char *dst = blob.getMutableData().data();
    for (AssembleOp part : parts) {
      Value v = part.getStorage()[i];
      auto partType = cast<RankedTensorType>(v.getType());
      int64_t size =
          partType.getNumElements() * elementBytes(partType.getElementType());
      std::vector<char> scratch;
      std::memcpy(dst,
                  constantData(v.getDefiningOp<arith::ConstantOp>().getValue(),
                               partType, scratch),
                  size);
      dst += size;
    }
    storage.push_back(arith::ConstantOp::create(
        b, loc,
        DenseResourceElementsAttr::get(
            joinedType, ("joined_" + component.name).str(), std::move(blob))));
  }
  Value weight = AssembleOp::create(b, loc, weightType, storage);
  auto resultType = cast<RankedTensorType>(first.getResult().getType());
  SmallVector<int64_t> shape(resultType.getShape());
  shape.back() = total;
  auto joinedType = RankedTensorType::get(shape, resultType.getElementType());
  Value joined = slim::MatmulOp::create(b, loc, joinedType, first.getLhs(),
                                        weight, first.getTransposeRhsAttr())
                     .getResult();
  replaceBySlices(b, group, joined);
  return success();
}

struct SlimFuseSiblingMatmulsPass
    : slim::impl::SlimFuseSiblingMatmulsPassBase<SlimFuseSiblingMatmulsPass> {
  void runOnOperation() override {
    SmallVector<Block *> blocks;
    getOperation().walk([&](Block *block) { blocks.push_back(block); });
    for (Block *block : blocks) {
      // Products by activation and weight kind, in program order.
      llvm::MapVector<std::pair<Value, Type>, SmallVector<Product>> groups;
      for (Operation &op : *block) {
        std::optional<Product> p;
        if (auto mm = dyn_cast<linalg::MatmulOp>(op))
          p = matchDense(mm);
        else if (auto mm = dyn_cast<slim::MatmulOp>(op))
          p = matchQuantized(mm);
        if (p)
          groups[{p->lhs, p->key}].push_back(*p);
      }
      for (auto &[key, group] : groups) {
        if (group.size() < 2)
          continue;
        if (isa<linalg::MatmulOp>(group.front().op))
          joinDense(group);
        else
          (void)joinQuantized(group);
      }
    }
  }
};

} // namespace
