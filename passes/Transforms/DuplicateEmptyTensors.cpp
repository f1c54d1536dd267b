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
//===----------------------------------------------------------------------===//

#include "passes/Transforms/Passes.h"

#include "mlir/Dialect/Tensor/IR/Tensor.h"

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
    SmallVector<tensor::EmptyOp> empties;
    getOperation().walk([&](tensor::EmptyOp op) {
      if (!op->hasOneUse() && !op->use_empty())
        empties.push_back(op);
    });
    for (tensor::EmptyOp op : empties) {
      // The first use keeps the original; each other gets a copy made
      // right before it (the sizes dominate the original, hence the use).
      // (Use lists are in no particular order: the first use is the one
      // whose user's ancestor in the op's block comes first.)
      Block *block = op->getBlock();
      SmallVector<std::pair<Operation *, OpOperand *>> uses;
      for (OpOperand &use : op->getUses())
        uses.push_back({block->findAncestorOpInBlock(*use.getOwner()), &use});
      llvm::stable_sort(uses, [](auto &a, auto &b) {
        return a.first != b.first && a.first->isBeforeInBlock(b.first);
      });
      for (OpOperand *use : llvm::make_second_range(llvm::drop_begin(uses))) {
        OpBuilder b(use->getOwner());
        use->set(b.clone(*op)->getResult(0));
      }
    }
  }
};

} // namespace
