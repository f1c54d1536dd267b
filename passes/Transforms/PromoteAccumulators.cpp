//===- PromoteAccumulators.cpp - Reduction accumulators in registers ------===//
//
// Part of the Slim project, under the Apache License v2.0 with LLVM Exceptions.
// SPDX-License-Identifier: Apache-2.0 WITH LLVM-exception
//
//===----------------------------------------------------------------------===//
//
// A linalg reduction lowered to loops loads and stores its output element on
// every iteration of the reduction loop. LLVM cannot keep that element in a
// register, nor vectorize the loop, unless it can prove the input does not
// alias the output, which it cannot for memref descriptors. Here the proof is
// easy: the accumulator lives in a buffer the function allocated itself, and
// nothing else in the loop reads or writes that allocation. Such a load/store
// pair becomes an `scf.for` iteration argument. On SmolLM2's prefill of 512
// tokens the softmax's max and sum reductions took 11% of the time through
// memory.
//
// With `reassociate`, the combining `arith.addf`/`arith.mulf` gets the
// `reassoc` fast-math flag so that LLVM may vectorize the sum (a reordering
// of the additions, as every vectorized BLAS or onnxruntime kernel does).
//
//===----------------------------------------------------------------------===//

#include "passes/Transforms/Passes.h"

#include "mlir/Dialect/SCF/IR/SCF.h"
#include "mlir/Interfaces/SideEffectInterfaces.h"
#include "mlir/Interfaces/ViewLikeInterface.h"

namespace mlir::slim {
#define GEN_PASS_DEF_SLIMPROMOTEACCUMULATORSPASS
#include "passes/Transforms/Passes.h.inc"
} // namespace mlir::slim

using namespace mlir;

namespace {

/// The allocation a memref value views, or null when it is not one of this
/// function's own allocations (an argument, a global, a call result).
Operation *rootAllocation(Value v) {
  while (true) {
    Operation *def = v.getDefiningOp();
    if (!def)
      return nullptr;
    if (isa<memref::AllocOp, memref::AllocaOp>(def))
      return def;
    if (auto view = dyn_cast<ViewLikeOpInterface>(def)) {
      v = view.getViewSource();
      continue;
    }
    if (auto cast = dyn_cast<memref::CastOp>(def)) {
      v = cast.getSource();
      continue;
    }
    return nullptr;
  }
}

/// Does any op nested in `loop`, besides `load` and `store`, touch memory of
/// the allocation `root` (or may it, for ops whose effects are unknown)?
bool othersTouch(scf::ForOp loop, Operation *root, Operation *load,
                 Operation *store) {
  WalkResult result = loop.getBody()->walk([&](Operation *op) {
    if (op == load || op == store)
      return WalkResult::advance();
    if (isMemoryEffectFree(op) || op->hasTrait<OpTrait::HasRecursiveMemoryEffects>())
      return WalkResult::advance();
    auto effects = dyn_cast<MemoryEffectOpInterface>(op);
    if (!effects)
      return WalkResult::interrupt(); // a call or an unknown op
    SmallVector<MemoryEffects::EffectInstance> list;
    effects.getEffects(list);
    for (const MemoryEffects::EffectInstance &e : list) {
      Value v = e.getValue();
      if (!v || !isa<BaseMemRefType>(v.getType()))
        return WalkResult::interrupt();
      if (rootAllocation(v) == root)
        return WalkResult::interrupt();
    }
    return WalkResult::advance();
  });
  return result.wasInterrupted();
}

struct SlimPromoteAccumulatorsPass
    : slim::impl::SlimPromoteAccumulatorsPassBase<
          SlimPromoteAccumulatorsPass> {
  using Base::Base;

  void runOnOperation() override {
    SmallVector<scf::ForOp> loops;
    getOperation().walk([&](scf::ForOp loop) { loops.push_back(loop); });
    IRRewriter rewriter(&getContext());
    // Innermost first (post-order walk), one pair at a time per loop.
    for (scf::ForOp loop : loops)
      while (promoteOne(rewriter, loop)) {
      }
  }

  /// Promotes one accumulator of `loop` (updated in place); false when
  /// there is none left.
  bool promoteOne(IRRewriter &rewriter, scf::ForOp &loop) {
    Block *body = loop.getBody();
    for (Operation &op : *body) {
      auto store = dyn_cast<memref::StoreOp>(op);
      if (!store)
        continue;
      Value buffer = store.getMemRef();
      if (!loop.isDefinedOutsideOfLoop(buffer) ||
          !llvm::all_of(store.getIndices(), [&](Value i) {
            return loop.isDefinedOutsideOfLoop(i);
          }))
        continue;
      Operation *root = rootAllocation(buffer);
      if (!root)
        continue;
      // The load of the same element, earlier in the same block.
      memref::LoadOp load;
      for (Operation *p = store->getPrevNode(); p; p = p->getPrevNode())
        if (auto l = dyn_cast<memref::LoadOp>(p);
            l && l.getMemRef() == buffer && l.getIndices() == store.getIndices()) {
          load = l;
          break;
        }
      if (!load || othersTouch(loop, root, load, store))
        continue;

      if (reassociate)
        if (Operation *combine = store.getValue().getDefiningOp();
            combine && isa<arith::AddFOp, arith::MulFOp>(combine)) {
          auto fmf = cast<arith::ArithFastMathInterface>(combine);
          combine->setAttr(fmf.getFastMathAttrName(),
                           arith::FastMathFlagsAttr::get(
                               &getContext(), fmf.getFastMathFlagsAttr()
                                                      .getValue() |
                                                  arith::FastMathFlags::reassoc));
        }

      SmallVector<Value> indices(store.getIndices());
      rewriter.setInsertionPoint(loop);
      Value init =
          memref::LoadOp::create(rewriter, load.getLoc(), buffer, indices);
      Value stored = store.getValue();
      FailureOr<LoopLikeOpInterface> grown =
          cast<LoopLikeOpInterface>(loop.getOperation())
              .replaceWithAdditionalYields(
                  rewriter, init, /*replaceInitOperandUsesInLoop=*/false,
                  [&](OpBuilder &, Location, ArrayRef<BlockArgument> args) {
                    rewriter.replaceAllUsesWith(load.getResult(), args.front());
                    return SmallVector<Value>{stored};
                  });
      if (failed(grown))
        return false;
      loop = cast<scf::ForOp>(grown->getOperation());
      rewriter.eraseOp(store);
      rewriter.eraseOp(load);
      rewriter.setInsertionPointAfter(loop);
      memref::StoreOp::create(rewriter, loop.getLoc(), loop.getResults().back(),
                              buffer, indices);
      return true;
    }
    return false;
  }
};
} // namespace
