//===- DuplicateEmptyTensors.cpp - One tensor.empty per use ---------------===//
//
// Part of the Slim project, under the Apache License v2.0 with LLVM Exceptions.
// SPDX-License-Identifier: Apache-2.0 WITH LLVM-exception
//
//===----------------------------------------------------------------------===//
//
// CSE merges identical `tensor.empty` ops, so one empty tensor ends up as
// the destination of every op of its shape: in a 30-layer decoder, one is
// the init of 122 ops. One-shot bufferization then puts all of them into
// one alias set, and its conflict analysis, quadratic in such sets, took
// most of its time (4.4 s for 60 layers). Each use gets its own empty
// tensor again, which is what bufferization allocates anyway.
//
// The same holds for a `linalg.fill` of an empty tensor (the zero
// accumulator of every matmul of a shape): shared, it bufferizes to one
// filled buffer that is copied for each user; duplicated, each user fills
// its own buffer in place, which `--slim-lower-matmul-to-blas` then folds
// into a product that overwrites its output.
//
//===----------------------------------------------------------------------===//

#include "passes/Transforms/Passes.h"

#include "mlir/Dialect/Linalg/IR/Linalg.h"
#include "mlir/Dialect/Tensor/IR/Tensor.h"
#include "mlir/IR/IRMapping.h"

namespace mlir::slim {
#define GEN_PASS_DEF_SLIMDUPLICATEEMPTYTENSORSPASS
#include "passes/Transforms/Passes.h.inc"
} // namespace mlir::slim

using namespace mlir;

namespace {

struct SlimDuplicateEmptyTensorsPass
    : slim::impl::SlimDuplicateEmptyTensorsPassBase<
          SlimDuplicateEmptyTensorsPass> {
  using Base::Base;

  void runOnOperation() override {
    // Fills first: their copies share the empty tensor, which the second
    // step then splits.
    SmallVector<Operation *> fills, empties;
    getOperation().walk([&](linalg::FillOp op) {
      if (op.hasPureTensorSemantics() && op->getNumResults() == 1 &&
          !op->getResult(0).hasOneUse() && !op->use_empty() &&
          emptyChain(op.getDpsInitOperand(0)->get()))
        fills.push_back(op);
    });
    for (Operation *op : fills)
      duplicatePerUse(op, /*withInit=*/true);
    getOperation().walk([&](tensor::EmptyOp op) {
      if (!op->hasOneUse() && !op->use_empty())
        empties.push_back(op);
    });
    for (Operation *op : empties)
      duplicatePerUse(op);
  }

  /// Whether `v` is a tensor.empty, possibly reshaped.
  static bool emptyChain(Value v) {
    while (Operation *def = v.getDefiningOp()) {
      if (isa<tensor::EmptyOp>(def))
        return true;
      if (!isa<tensor::ExpandShapeOp, tensor::CollapseShapeOp>(def))
        return false;
      v = def->getOperand(0);
    }
    return false;
  }

  /// A clone of the chain of emptyChain(v) at `b`'s insertion point.
  static Value cloneChain(OpBuilder &b, Value v) {
    Operation *def = v.getDefiningOp();
    if (isa<tensor::EmptyOp>(def))
      return b.clone(*def)->getResult(0);
    IRMapping map;
    map.map(def->getOperand(0), cloneChain(b, def->getOperand(0)));
    return b.clone(*def, map)->getResult(0);
  }

  /// Gives each use of `op`'s only result but the first a clone of `op`
  /// made right before the user (the operands dominate the original, hence
  /// the use), for a fill with a clone of its empty init (`withInit`). Use
  /// lists are in no particular order: the first use is the one whose
  /// user's ancestor in the op's block comes first.
  static void duplicatePerUse(Operation *op, bool withInit = false) {
    Block *block = op->getBlock();
    SmallVector<std::pair<Operation *, OpOperand *>> uses;
    for (OpOperand &use : op->getResult(0).getUses())
      uses.push_back({block->findAncestorOpInBlock(*use.getOwner()), &use});
    llvm::stable_sort(uses, [](auto &a, auto &b) {
      return a.first != b.first && a.first->isBeforeInBlock(b.first);
    });
    for (OpOperand *use : llvm::make_second_range(llvm::drop_begin(uses))) {
      OpBuilder b(use->getOwner());
      IRMapping map;
      if (withInit) {
        Value init = cast<linalg::FillOp>(op).getDpsInitOperand(0)->get();
        map.map(init, cloneChain(b, init));
      }
      use->set(b.clone(*op, map)->getResult(0));
    }
  }
};

} // namespace
