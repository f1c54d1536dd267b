//===- DeallocAfterLastUse.cpp - Free buffers as soon as they die ---------===//
//
// Part of the Slim project, under the Apache License v2.0 with LLVM Exceptions.
// SPDX-License-Identifier: Apache-2.0 WITH LLVM-exception
//
//===----------------------------------------------------------------------===//
//
// Ownership-based buffer deallocation frees a block's buffers at the end of
// the block. For a model that is one block, every intermediate buffer of
// every layer stays allocated until the model returns: the peak memory is
// the sum of all of them (for a 512-token prefill of SmolLM2, hundreds of
// megabytes of attention scores), no buffer's memory is reused while the
// model runs, and each allocation touches fresh pages. This pass moves each
// `memref.dealloc` of a buffer allocated in the same block to just after
// the last operation of that block that uses the buffer or anything derived
// from it, so that malloc hands the memory to the next layer.
//
//===----------------------------------------------------------------------===//

#include "passes/Transforms/Passes.h"

#include "mlir/Dialect/MemRef/IR/MemRef.h"
#include "mlir/Dialect/Vector/IR/VectorOps.h"
#include "llvm/ADT/DenseMap.h"
#include "llvm/ADT/SetVector.h"

namespace mlir::slim {
#define GEN_PASS_DEF_SLIMDEALLOCAFTERLASTUSEPASS
#include "passes/Transforms/Passes.h.inc"
} // namespace mlir::slim

using namespace mlir;

namespace {

/// Operations whose results never carry a buffer's address: they read its
/// shape or its elements. Every other user's results are taken to alias
/// the buffer (views, casts, extracted pointers, loop results, calls).
bool readsOnly(Operation *op) {
  return isa<memref::DimOp, memref::RankOp, memref::LoadOp, vector::LoadOp,
             vector::TransferReadOp, memref::DeallocOp>(op);
}

struct SlimDeallocAfterLastUsePass
    : slim::impl::SlimDeallocAfterLastUsePassBase<SlimDeallocAfterLastUsePass> {
  using Base::Base;

  void runOnOperation() override {
    int64_t moved = 0;
    getOperation().walk([&](Block *block) { moved += process(*block); });
    numMoved = moved;
  }

  int64_t process(Block &block) {
    SmallVector<memref::DeallocOp> deallocs;
    for (Operation &op : block)
      if (auto d = dyn_cast<memref::DeallocOp>(&op))
        if (Operation *def = d.getMemref().getDefiningOp();
            def && def->getBlock() == &block &&
            isa<memref::AllocOp>(def))
          deallocs.push_back(d);
    if (deallocs.empty())
      return 0;
    DenseMap<Operation *, int64_t> position;
    int64_t n = 0;
    for (Operation &op : block)
      position[&op] = n++;

    SmallVector<std::pair<memref::DeallocOp, Operation *>> moves;
    for (memref::DeallocOp d : deallocs) {
      Value root = d.getMemref();
      Operation *last = root.getDefiningOp();
      llvm::SetVector<Value> aliases;
      aliases.insert(root);
      bool keep = false;
      for (unsigned i = 0; i < aliases.size() && !keep; ++i) {
        for (OpOperand &use : aliases[i].getUses()) {
          Operation *user = use.getOwner();
          if (user == d.getOperation())
            continue;
          Operation *top = block.findAncestorOpInBlock(*user);
          if (!top || top->hasTrait<OpTrait::IsTerminator>()) {
            keep = true; // used elsewhere, or leaves the block
            break;
          }
          if (position.lookup(top) > position.lookup(last))
            last = top;
          if (!readsOnly(user))
            aliases.insert(user->result_begin(), user->result_end());
          if (top != user)
            aliases.insert(top->result_begin(), top->result_end());
        }
      }
      if (keep || position.lookup(last) >= position.lookup(d) ||
          last->getNextNode() == d.getOperation())
        continue;
      moves.push_back({d, last});
    }
    for (auto [d, last] : moves)
      d->moveAfter(last);
    return moves.size();
  }
};

} // namespace
