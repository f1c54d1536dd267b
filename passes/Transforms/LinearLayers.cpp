//===- LinearLayers.cpp - Finding the linear layers of a model ------------===//
//
// Part of the Slim project, under the Apache License v2.0 with LLVM Exceptions.
// SPDX-License-Identifier: Apache-2.0 WITH LLVM-exception
//
//===----------------------------------------------------------------------===//

#include "passes/Transforms/LinearLayers.h"

#include "passes/Transforms/Utils.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Linalg/IR/Linalg.h"
#include "mlir/IR/DialectResourceBlobManager.h"
#include "mlir/IR/Matchers.h"

#include "llvm/ADT/StringExtras.h"
#include "llvm/Support/xxhash.h"

using namespace mlir;
using namespace mlir::slim;

ArrayRef<float> LinearLayer::getWeightData() const {
  std::optional<ArrayRef<char>> bytes = getConstantBytes(weight);
  if (!bytes)
    return {};
  return ArrayRef<float>(reinterpret_cast<const float *>(bytes->data()),
                         bytes->size() / sizeof(float));
}


std::string LinearLayer::getWeightHash() const {
  std::optional<ArrayRef<char>> bytes = getConstantBytes(weight);
  if (!bytes)
    return "";
  uint64_t hash = llvm::xxh3_64bits(ArrayRef<uint8_t>(
      reinterpret_cast<const uint8_t *>(bytes->data()), bytes->size()));
  return llvm::utohexstr(hash, /*LowerCase=*/true, /*Width=*/16);
}

SmallVector<LinearLayer> mlir::slim::findLinearLayers(Operation *root) {
  SmallVector<LinearLayer> layers;
  unsigned unnamed = 0;
  root->walk([&](linalg::MatmulOp mm) {
    if (!mm.hasPureTensorSemantics() || mm.hasUserDefinedMaps())
      return;
    Value lhs = mm.getInputs()[0], rhs = mm.getInputs()[1];
    auto lt = dyn_cast<RankedTensorType>(lhs.getType());
    auto rt = dyn_cast<RankedTensorType>(rhs.getType());
    if (!lt || !rt || !lt.getElementType().isF32() ||
        !rt.getElementType().isF32() || !rt.hasStaticShape() ||
        lt.isDynamicDim(1) || !isZeroFill(mm.getOutputs()[0]))
      return;
    auto cst = rhs.getDefiningOp<arith::ConstantOp>();
    if (!cst)
      return;
    LinearLayer layer;
    layer.op = mm;
    layer.input = lhs;
    layer.inChannels = rt.getDimSize(0);
    layer.outChannels = rt.getDimSize(1);
    if (auto res = dyn_cast<DenseResourceElementsAttr>(cst.getValue())) {
      layer.weight = res;
      layer.name = res.getRawHandle().getKey().str();
    } else if (auto dense = dyn_cast<DenseElementsAttr>(cst.getValue())) {
      if (dense.isSplat())
        return;
      layer.weight = dense;
      if (auto loc = dyn_cast<NameLoc>(mm.getLoc()))
        layer.name = loc.getName().str();
      else
        layer.name = "linear_" + std::to_string(unnamed++);
    } else {
      return;
    }
    layers.push_back(std::move(layer));
  });
  return layers;
}

ArrayRef<float> EmbeddingTable::getData() const {
  std::optional<ArrayRef<char>> bytes = getConstantBytes(
      cast<ElementsAttr>(const_cast<arith::ConstantOp &>(constant).getValue()));
  if (!bytes)
    return {};
  return ArrayRef<float>(reinterpret_cast<const float *>(bytes->data()),
                         bytes->size() / sizeof(float));
}

SmallVector<EmbeddingTable> mlir::slim::findEmbeddingTables(Operation *root) {
  SmallVector<EmbeddingTable> tables;
  root->walk([&](arith::ConstantOp cst) {
    auto type = dyn_cast<RankedTensorType>(cst.getType());
    auto res = dyn_cast<DenseResourceElementsAttr>(cst.getValue());
    if (!type || !res || type.getRank() != 2 || !type.getElementType().isF32())
      return;
    EmbeddingTable table;
    table.constant = cst;
    table.name = res.getRawHandle().getKey().str();
    table.rows = type.getDimSize(0);
    table.cols = type.getDimSize(1);
    for (Operation *user : cst->getUsers()) {
      if (auto extract = dyn_cast<tensor::ExtractOp>(user)) {
        if (extract->getParentOfType<linalg::GenericOp>()) {
          table.gathers.push_back(extract);
          continue;
        }
      }
      if (auto transpose = dyn_cast<linalg::TransposeOp>(user)) {
        ArrayRef<int64_t> perm = transpose.getPermutation();
        bool allHeads = perm.size() == 2 && perm[0] == 1 && perm[1] == 0 &&
                        !transpose->getResult(0).use_empty();
        SmallVector<linalg::MatmulOp> heads;
        for (Operation *t : transpose->getResult(0).getUsers()) {
          auto mm = dyn_cast<linalg::MatmulOp>(t);
          if (!mm || mm.hasUserDefinedMaps() || !mm.hasPureTensorSemantics() ||
              mm.getInputs()[1] != transpose->getResult(0) ||
              mm.getInputs()[0] == transpose->getResult(0) ||
              !isZeroFill(mm.getOutputs()[0]) ||
              !cast<RankedTensorType>(mm.getInputs()[0].getType())
                   .getElementType()
                   .isF32()) {
            allHeads = false;
            break;
          }
          heads.push_back(mm);
        }
        if (allHeads) {
          for (linalg::MatmulOp mm : heads)
            table.heads.push_back({mm, transpose});
          continue;
        }
      }
      ++table.otherUses;
    }
    if (!table.gathers.empty() || !table.heads.empty())
      tables.push_back(std::move(table));
  });
  return tables;
}

FailureOr<llvm::Regex> mlir::slim::compileLayerPattern(StringRef pattern,
                                                       StringRef option,
                                                       Operation *anchor) {
  llvm::Regex regex(pattern.empty() ? "$^" : pattern);
  std::string error;
  if (!regex.isValid(error))
    return anchor->emitError()
           << "invalid " << option << " pattern '" << pattern << "': " << error;
  return regex;
}
