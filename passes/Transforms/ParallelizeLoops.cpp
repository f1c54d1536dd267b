//===- ParallelizeLoops.cpp - Large parallel loops on all cores -----------===//
//
// Part of the Slim project, under the Apache License v2.0 with LLVM Exceptions.
// SPDX-License-Identifier: Apache-2.0 WITH LLVM-exception
//
//===----------------------------------------------------------------------===//
//
// Turns each outermost `scf.parallel` whose work is large enough into an
// OpenMP worksharing loop (`omp.parallel` + `omp.wsloop`); small ones stay
// sequential. The work of a loop nest is its iteration count times the
// operations of its body, inner loops counted with their trip counts; when
// it depends on dynamic sizes (the sequence length of a prefill, the KV
// cache of a decoding step) it is computed at run time, and the loop asks
// for one thread (`num_threads(1)`, which Slim's runtime runs inline, with
// no fork) when it is small.
//
// Only the outer dimensions are shared out: the innermost one stays a
// sequential loop inside each thread's range so that LLVM vectorizes it,
// unless it is the only dimension left once unit dimensions are dropped or
// the body has loops of its own (a reduction, which is then the inner
// loop).
//
// The OpenMP runtime calls that LLVM's OpenMPIRBuilder emits (`__kmpc_*`)
// are renamed by slimc to `slim_rt_kmpc_*`, which Slim's runtime implements
// on the same libgomp thread pool as oneDNN and the GEMV kernel.
//
//===----------------------------------------------------------------------===//

#include "passes/Transforms/Passes.h"

#include "mlir/Dialect/Arith/Utils/Utils.h"
#include "mlir/Dialect/OpenMP/OpenMPDialect.h"
#include "mlir/Dialect/SCF/IR/SCF.h"
#include "mlir/Interfaces/LoopLikeInterface.h"

namespace mlir::slim {
#define GEN_PASS_DEF_SLIMPARALLELIZELOOPSPASS
#include "passes/Transforms/Passes.h.inc"
} // namespace mlir::slim

using namespace mlir;

namespace {

/// Builds the operations computing the trip count of one loop dimension at
/// `b`'s insertion point (folded to a constant when the bounds are).
Value tripCount(OpBuilder &b, Location loc, Value lb, Value ub, Value step) {
  Value diff = b.createOrFold<arith::SubIOp>(loc, ub, lb);
  return b.createOrFold<arith::CeilDivSIOp>(loc, diff, step);
}

/// The work of one execution of `block`: one unit per operation, the body
/// of an inner loop counted trip-count times. Inner loop dimensions whose
/// bounds are defined inside `scope` count as one iteration.
Value blockWork(OpBuilder &b, Location loc, Block &block,
                LoopLikeOpInterface scope) {
  Value total = arith::ConstantIndexOp::create(b, loc, 0);
  int64_t plain = 0;
  for (Operation &op : block.without_terminator()) {
    auto loop = dyn_cast<LoopLikeOpInterface>(op);
    std::optional<SmallVector<OpFoldResult>> lbs, ubs, steps;
    if (loop) {
      lbs = loop.getLoopLowerBounds();
      ubs = loop.getLoopUpperBounds();
      steps = loop.getLoopSteps();
    }
    if (!lbs || !ubs || !steps) {
      // Other ops with regions (scf.if) count their first region once.
      ++plain;
      for (Region &region : op.getRegions())
        if (!region.empty()) {
          Value inner = blockWork(b, loc, region.front(), scope);
          total = b.createOrFold<arith::AddIOp>(loc, total, inner);
          break;
        }
      continue;
    }
    Value inner = blockWork(b, loc, loop.getLoopRegions().front()->front(),
                            scope);
    for (auto [lb, ub, step] : llvm::zip(*lbs, *ubs, *steps)) {
      auto known = [&](OpFoldResult ofr) {
        auto v = dyn_cast<Value>(ofr);
        return !v || scope.isDefinedOutsideOfLoop(v);
      };
      if (!known(lb) || !known(ub) || !known(step))
        continue;
      inner = b.createOrFold<arith::MulIOp>(
          loc, inner,
          tripCount(b, loc, getValueOrCreateConstantIndexOp(b, loc, lb),
                    getValueOrCreateConstantIndexOp(b, loc, ub),
                    getValueOrCreateConstantIndexOp(b, loc, step)));
    }
    total = b.createOrFold<arith::AddIOp>(loc, total, inner);
  }
  Value plainWork = arith::ConstantIndexOp::create(b, loc, plain);
  return b.createOrFold<arith::AddIOp>(loc, total, plainWork);
}

struct SlimParallelizeLoopsPass
    : slim::impl::SlimParallelizeLoopsPassBase<SlimParallelizeLoopsPass> {
  using Base::Base;

  void runOnOperation() override {
    SmallVector<scf::ParallelOp> outermost;
    getOperation().walk<WalkOrder::PreOrder>([&](scf::ParallelOp op) {
      outermost.push_back(op);
      return WalkResult::skip();
    });
    for (scf::ParallelOp op : outermost)
      parallelize(op);
  }

  void parallelize(scf::ParallelOp op) {
    // Reductions across iterations (scf.reduce with operands) are not
    // produced by --convert-linalg-to-parallel-loops; keep them sequential.
    if (!op.getInitVals().empty())
      return;
    OpBuilder b(op);
    Location loc = op.getLoc();

    // Drop dimensions of one iteration; share out the outer ones.
    SmallVector<unsigned> dims;
    for (unsigned i = 0, e = op.getNumLoops(); i < e; ++i) {
      std::optional<int64_t> lb = getConstantIntValue(op.getLowerBound()[i]);
      std::optional<int64_t> ub = getConstantIntValue(op.getUpperBound()[i]);
      std::optional<int64_t> step = getConstantIntValue(op.getStep()[i]);
      if (lb && ub && step && *step > 0 && *ub - *lb <= *step)
        continue;
      dims.push_back(i);
    }
    if (dims.empty())
      return;
    // The innermost dimension is the one LLVM vectorizes, unless the body
    // has loops of its own (a reduction): then all are shared out.
    bool innerLoops = false;
    op.getBody()->walk([&](LoopLikeOpInterface) { innerLoops = true; });
    unsigned numOuter =
        dims.size() == 1 || innerLoops ? dims.size() : dims.size() - 1;
    ArrayRef<unsigned> outer = ArrayRef(dims).take_front(numOuter);
    ArrayRef<unsigned> inner = ArrayRef(dims).drop_front(numOuter);

    // The work of the whole nest.
    Value work = blockWork(b, loc, *op.getBody(),
                           cast<LoopLikeOpInterface>(op.getOperation()));
    for (unsigned i = 0, e = op.getNumLoops(); i < e; ++i)
      work = b.createOrFold<arith::MulIOp>(
          loc, work,
          tripCount(b, loc, op.getLowerBound()[i], op.getUpperBound()[i],
                    op.getStep()[i]));
    Value numThreads;
    if (std::optional<int64_t> w = getConstantIntValue(work)) {
      if (*w < minWork)
        return; // stays sequential; the ops computing the work fold away
    } else {
      Value threshold = arith::ConstantIndexOp::create(b, loc, minWork);
      Value big = arith::CmpIOp::create(b, loc, arith::CmpIPredicate::sge,
                                        work, threshold);
      // Ask for every thread of the pool or for none besides the caller;
      // the runtime clamps the request to its thread count.
      numThreads = arith::SelectOp::create(
          b, loc, big, arith::ConstantIntOp::create(b, loc, 1 << 16, 32),
          arith::ConstantIntOp::create(b, loc, 1, 32));
    }

    omp::ParallelOperands parallelOperands;
    parallelOperands.numThreads = numThreads;
    auto parallel = omp::ParallelOp::create(b, loc, parallelOperands);
    Block *parallelBody = b.createBlock(&parallel.getRegion());
    omp::TerminatorOp::create(b, loc);
    b.setInsertionPointToStart(parallelBody);
    auto wsloop = omp::WsloopOp::create(b, loc, omp::WsloopOperands{});
    b.createBlock(&wsloop.getRegion());
    omp::LoopNestOperands nestOperands;
    for (unsigned i : outer) {
      nestOperands.loopLowerBounds.push_back(op.getLowerBound()[i]);
      nestOperands.loopUpperBounds.push_back(op.getUpperBound()[i]);
      nestOperands.loopSteps.push_back(op.getStep()[i]);
    }
    if (outer.size() > 1)
      nestOperands.collapseNumLoops = b.getI64IntegerAttr(outer.size());
    auto nest = omp::LoopNestOp::create(b, loc, nestOperands);
    Block *nestBody = b.createBlock(
        &nest.getRegion(), {},
        SmallVector<Type>(outer.size(), b.getIndexType()),
        SmallVector<Location>(outer.size(), loc));
    auto yield = omp::YieldOp::create(b, loc, ValueRange{});

    // The original ivs: unit dimensions at their lower bound, outer ones
    // the nest's, inner ones those of a sequential scf.parallel inside.
    SmallVector<Value> ivs(op.getLowerBound().begin(),
                           op.getLowerBound().end());
    for (auto [k, i] : llvm::enumerate(outer))
      ivs[i] = nestBody->getArgument(k);
    Block *dest = nestBody;
    Operation *before = yield;
    if (!inner.empty()) {
      b.setInsertionPoint(yield);
      SmallVector<Value> lbs, ubs, steps;
      for (unsigned i : inner) {
        lbs.push_back(op.getLowerBound()[i]);
        ubs.push_back(op.getUpperBound()[i]);
        steps.push_back(op.getStep()[i]);
      }
      auto seq = scf::ParallelOp::create(b, loc, lbs, ubs, steps);
      for (auto [k, i] : llvm::enumerate(inner))
        ivs[i] = seq.getInductionVars()[k];
      dest = seq.getBody();
      before = dest->getTerminator();
    }
    IRRewriter rewriter(b);
    Operation *oldTerminator = op.getBody()->getTerminator();
    rewriter.inlineBlockBefore(op.getBody(), dest, before->getIterator(), ivs);
    rewriter.eraseOp(oldTerminator);
    rewriter.eraseOp(op);
    (void)wsloop;
  }
};
} // namespace
