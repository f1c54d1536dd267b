//===- ExternalizeWeights.cpp - Constants into a weights file -------------===//
//
// Part of the Slim project, under the Apache License v2.0 with LLVM Exceptions.
// SPDX-License-Identifier: Apache-2.0 WITH LLVM-exception
//
//===----------------------------------------------------------------------===//

#include "passes/Transforms/Passes.h"
#include "passes/Transforms/Utils.h"

#include "mlir/IR/BuiltinAttributes.h"
#include "mlir/IR/DialectResourceBlobManager.h"

#include <deque>
#include <vector>
#include "llvm/ADT/DenseMap.h"
#include "llvm/Support/FileSystem.h"
#include "llvm/Support/raw_ostream.h"

namespace mlir::slim {
#define GEN_PASS_DEF_SLIMEXTERNALIZEWEIGHTSPASS
#include "passes/Transforms/Passes.h.inc"
} // namespace mlir::slim

using namespace mlir;

namespace {

constexpr uint64_t kAlignment = 64;

/// The raw little-endian bytes of a constant, or empty if it cannot be
/// moved (splats are tiny). Booleans, bit-packed in DenseElementsAttr, are
/// written one byte per element (the memory layout of i1 that LLVM loads),
/// into `boolBytes`.
ArrayRef<char> rawBytes(ElementsAttr attr, std::deque<std::vector<char>> &boolBytes) {
  auto type = cast<ShapedType>(attr.getType());
  if (type.getElementType().isInteger(1)) {
    // Blobs from the importer hold ONNX's one byte per boolean already.
    if (auto res = dyn_cast<DenseResourceElementsAttr>(attr)) {
      if (res.getRawHandle().getBlob() &&
          static_cast<int64_t>(res.getData().size()) == type.getNumElements())
        return res.getData();
      return {};
    }
    auto dense = dyn_cast<DenseElementsAttr>(attr);
    if (!dense || dense.isSplat())
      return {};
    std::vector<char> &bytes = boolBytes.emplace_back();
    for (bool v : dense.getValues<bool>())
      bytes.push_back(v ? 1 : 0);
    return bytes;
  }
  return slim::getConstantBytes(attr).value_or(ArrayRef<char>());
}

struct SlimExternalizeWeightsPass
    : slim::impl::SlimExternalizeWeightsPassBase<SlimExternalizeWeightsPass> {
  using Base::Base;

  void runOnOperation() override {
    if (weightsFile.empty()) {
      getOperation().emitError("slim-externalize-weights needs weights-file");
      return signalPassFailure();
    }
    std::error_code ec;
    llvm::raw_fd_ostream os(weightsFile, ec, llvm::sys::fs::OF_None);
    if (ec) {
      getOperation().emitError("cannot write weights file '")
          << weightsFile << "': " << ec.message();
      return signalPassFailure();
    }
    uint64_t offset = 0;
    // Constants sharing bytes (one blob viewed with two shapes) share space.
    llvm::DenseMap<std::pair<const char *, size_t>, uint64_t> placed;
    std::deque<std::vector<char>> boolBytes;

    for (auto func : getOperation().getOps<func::FuncOp>()) {
      if (func.isExternal())
        continue;
      // Each constant with its bytes, read once (booleans are converted).
      SmallVector<std::pair<arith::ConstantOp, ArrayRef<char>>> constants;
      SmallVector<arith::ConstantOp> dead;
      func.walk([&](arith::ConstantOp c) {
        // Dead constants (a weight a compression pass replaced) are dropped,
        // not written.
        if (c->use_empty()) {
          dead.push_back(c);
          return;
        }
        auto attr = dyn_cast<ElementsAttr>(c.getValue());
        auto type = dyn_cast<RankedTensorType>(c.getType());
        if (!attr || !type || !type.hasStaticShape())
          return;
        // Boolean tensors always move: LLVM cannot translate inline i1
        // arrays.
        bool isBool = type.getElementType().isInteger(1);
        ArrayRef<char> bytes = rawBytes(attr, boolBytes);
        if (bytes.empty() ||
            (!isBool && static_cast<int64_t>(bytes.size()) < minBytes))
          return;
        constants.push_back({c, bytes});
      });
      for (arith::ConstantOp c : dead)
        c.erase();
      if (constants.empty())
        continue;
      MLIRContext *ctx = func.getContext();
      OpBuilder b(ctx);
      auto bytesType =
          MemRefType::get({ShapedType::kDynamic}, IntegerType::get(ctx, 8));
      unsigned argIndex = func.getNumArguments();
      if (failed(func.insertArgument(argIndex, bytesType, {},
                                     UnknownLoc::get(ctx))))
        return signalPassFailure();
      func->setAttr("slim.weights_argument", b.getUnitAttr());
      Value weights = func.getArgument(argIndex);
      for (auto [c, bytes] : constants) {
        auto key = std::make_pair(bytes.data(), bytes.size());
        auto it = placed.find(key);
        uint64_t at;
        if (it != placed.end()) {
          at = it->second;
        } else {
          uint64_t pad = (kAlignment - offset % kAlignment) % kAlignment;
          os.write_zeros(pad);
          offset += pad;
          at = offset;
          os.write(bytes.data(), bytes.size());
          offset += bytes.size();
          placed[key] = at;
        }
        b.setInsertionPoint(c);
        auto type = cast<RankedTensorType>(c.getType());
        auto memrefType =
            MemRefType::get(type.getShape(), type.getElementType());
        Value off = arith::ConstantIndexOp::create(b, c.getLoc(), at);
        Value view = memref::ViewOp::create(b, c.getLoc(), memrefType, weights,
                                            off, ValueRange{});
        Value tensor = bufferization::ToTensorOp::create(
            b, c.getLoc(), type, view, /*restrict=*/true, /*writable=*/false);
        c.replaceAllUsesWith(tensor);
        c.erase();
      }
    }
    os.close();
    if (os.has_error()) {
      getOperation().emitError("cannot write weights file '")
          << weightsFile << "': " << os.error().message();
      os.clear_error();
      return signalPassFailure();
    }
  }
};

} // namespace
