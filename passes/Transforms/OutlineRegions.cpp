//===- OutlineRegions.cpp - Split a large function into calls -------------===//
//
// Part of the Slim project, under the Apache License v2.0 with LLVM Exceptions.
// SPDX-License-Identifier: Apache-2.0 WITH LLVM-exception
//
//===----------------------------------------------------------------------===//
//
// An imported model is one function whose size is linear in its layers;
// LLVM's optimizer is superlinear in function size, so a 30-layer model at
// -O3 took minutes. This pass cuts the body of each large function into
// consecutive segments of bounded size and moves each into its own private,
// never-inlined function. It runs on buffers, after deallocation is explicit,
// so moving ops changes no ownership: a segment takes the values it uses
// from earlier segments as arguments and returns the values later segments
// use. Cuts are placed where the fewest values are live, which in a decoder
// is between two layers or between attention and the MLP.
//
//===----------------------------------------------------------------------===//

#include "passes/Transforms/Passes.h"

#include "mlir/IR/IRMapping.h"
#include "mlir/Interfaces/ViewLikeInterface.h"
#include "llvm/ADT/DenseMap.h"
#include "llvm/ADT/SetVector.h"

namespace mlir::slim {
#define GEN_PASS_DEF_SLIMOUTLINEREGIONSPASS
#include "passes/Transforms/Passes.h.inc"
} // namespace mlir::slim

using namespace mlir;

namespace {

/// Ops cheaper to repeat in each segment than to pass between them:
/// constants, and views of function arguments at constant offsets (the
/// weights, views of the mapped weights file).
bool isRematerializable(Operation *op) {
  if (op->getNumRegions() != 0 || op->getNumResults() != 1)
    return false;
  if (isa<arith::ConstantOp, memref::GetGlobalOp>(op))
    return op->getNumOperands() == 0;
  if (!isa<memref::ViewOp, memref::ReinterpretCastOp, memref::CastOp>(op))
    return false;
  Block *block = op->getBlock();
  return llvm::all_of(op->getOperands(), [&](Value v) {
    if (auto arg = dyn_cast<BlockArgument>(v))
      return arg.getOwner() == block;
    Operation *def = v.getDefiningOp();
    return def->getBlock() == block && isRematerializable(def);
  });
}

/// Adds `op` and the rematerializable ops it depends on to `remat`, and the
/// function arguments they read to `inputs`.
void collectRemat(Operation *op, llvm::SetVector<Operation *> &remat,
                  llvm::SetVector<Value> &inputs) {
  if (remat.contains(op))
    return;
  for (Value v : op->getOperands()) {
    if (isa<BlockArgument>(v))
      inputs.insert(v);
    else
      collectRemat(v.getDefiningOp(), remat, inputs);
  }
  remat.insert(op);
}

/// A value whose buffer lives in the frame of the function that made it.
bool isStackValue(Value v) {
  while (Operation *def = v.getDefiningOp()) {
    if (isa<memref::AllocaOp>(def))
      return true;
    auto view = dyn_cast<ViewLikeOpInterface>(def);
    if (!view)
      return false;
    v = view.getViewSource();
  }
  return false;
}

struct SlimOutlineRegionsPass
    : slim::impl::SlimOutlineRegionsPassBase<SlimOutlineRegionsPass> {
  using Base::Base;

  void runOnOperation() override {
    ModuleOp module = getOperation();
    SmallVector<func::FuncOp> funcs;
    for (auto f : module.getOps<func::FuncOp>())
      if (!f.isExternal() && f.getBody().hasOneBlock() &&
          !f->hasAttr("slim.outlined"))
        funcs.push_back(f);
    for (func::FuncOp f : funcs)
      outline(f);
  }

  void outline(func::FuncOp f) {
    Block &body = f.getBody().front();
    SmallVector<Operation *> ops;
    SmallVector<int64_t> weight;
    int64_t total = 0;
    for (Operation &op : body.without_terminator()) {
      // Constants stay in the function and are copied where used.
      if (isRematerializable(&op))
        continue;
      ops.push_back(&op);
      int64_t w = 0;
      op.walk([&](Operation *) { ++w; });
      weight.push_back(w);
      total += w;
    }
    if (total <= maxOps)
      return;
    int64_t n = ops.size();
    llvm::DenseMap<Operation *, int64_t> index;
    for (int64_t i = 0; i < n; ++i)
      index[ops[i]] = i;
    // Position of the last top-level op using each result (n: the return).
    llvm::DenseMap<Value, int64_t> lastUse;
    for (int64_t i = 0; i < n; ++i)
      ops[i]->walk([&](Operation *nested) {
        for (Value v : nested->getOperands()) {
          Operation *def = v.getDefiningOp();
          if (def && def->getBlock() == &body) {
            auto &u = lastUse[v];
            u = std::max(u, i);
          }
        }
      });
    for (Value v : body.getTerminator()->getOperands())
      lastUse[v] = n;

    // Greedy segmentation: a segment ends between maxOps/2 and maxOps
    // weight, at the cut that the fewest values cross.
    SmallVector<int64_t> cuts; // segment ends (exclusive)
    int64_t start = 0;
    while (start < n) {
      int64_t acc = 0, best = -1, bestCost = INT64_MAX, i = start;
      for (; i < n; ++i) {
        acc += weight[i];
        if (acc >= maxOps / 2 || i + 1 == n) {
          int64_t end = i + 1;
          int64_t cost = 0;
          bool unsafe = false;
          for (int64_t j = start; j < end && !unsafe; ++j)
            for (Value r : ops[j]->getResults()) {
              auto it = lastUse.find(r);
              if (it == lastUse.end() || it->second < end)
                continue;
              if (isStackValue(r))
                unsafe = true;
              ++cost;
            }
          if (!unsafe && cost <= bestCost) {
            bestCost = cost;
            best = end;
          }
        }
        if (acc >= maxOps && best > 0)
          break;
      }
      if (best < 0)
        best = n;
      cuts.push_back(best);
      start = best;
    }
    if (cuts.size() < 2)
      return;

    OpBuilder b(f);
    b.setInsertionPointAfter(f);
    int64_t begin = 0;
    for (auto [k, end] : llvm::enumerate(cuts)) {
      // Inputs: values used inside the segment, defined before it (or block
      // arguments); outputs: results used after it.
      llvm::SetVector<Value> inputs, outputs;
      llvm::SetVector<Operation *> remat;
      for (int64_t i = begin; i < end; ++i) {
        ops[i]->walk([&](Operation *nested) {
          for (Value v : nested->getOperands()) {
            if (auto arg = dyn_cast<BlockArgument>(v)) {
              if (arg.getOwner() == &body)
                inputs.insert(v);
              continue;
            }
            Operation *def = v.getDefiningOp();
            if (def->getBlock() != &body)
              continue;
            if (isRematerializable(def)) {
              collectRemat(def, remat, inputs);
              continue;
            }
            // Ops of this segment, or results of an earlier segment's call.
            auto it = index.find(def);
            if (it == index.end() || it->second < begin)
              inputs.insert(v);
          }
        });
        for (Value r : ops[i]->getResults()) {
          auto it = lastUse.find(r);
          if (it != lastUse.end() && it->second >= end)
            outputs.insert(r);
        }
      }
      auto type = b.getFunctionType(
          llvm::to_vector(llvm::map_range(inputs, [](Value v) { return v.getType(); })),
          llvm::to_vector(llvm::map_range(outputs, [](Value v) { return v.getType(); })));
      std::string name = (f.getSymName() + "_part" + std::to_string(k)).str();
      auto part = func::FuncOp::create(b, f.getLoc(), name, type);
      part.setPrivate();
      part->setAttr("slim.outlined", b.getUnitAttr());
      // The point is separate optimization units: LLVM must not merge them
      // back, and internal linkage lets it specialize their signatures.
      // (LLVM's `noinline`, as func-to-llvm carries `passthrough` over.)
      part->setAttr("passthrough", b.getStrArrayAttr({"noinline"}));
      part->setAttr("llvm.linkage",
                    LLVM::LinkageAttr::get(b.getContext(), LLVM::Linkage::Internal));
      Block *entry = part.addEntryBlock();
      OpBuilder pb = OpBuilder::atBlockEnd(entry);
      IRMapping map;
      for (auto [v, arg] : llvm::zip(inputs, entry->getArguments()))
        map.map(v, arg);
      for (Operation *op : remat)
        pb.clone(*op, map);
      SmallVector<Operation *> moved(ops.begin() + begin, ops.begin() + end);
      OpBuilder cb(moved.front());
      auto call = func::CallOp::create(cb, f.getLoc(), part, inputs.getArrayRef());
      for (Operation *op : moved)
        op->moveBefore(entry, entry->end());
      // Uses inside the segment now refer to the arguments and the copies
      // of the constants (walking the segment, not the use lists: a
      // constant is used all over the function).
      for (Operation *op : moved)
        op->walk([&](Operation *nested) {
          for (OpOperand &operand : nested->getOpOperands())
            if (Value to = map.lookupOrNull(operand.get()))
              operand.set(to);
        });
      pb.setInsertionPointToEnd(entry);
      func::ReturnOp::create(pb, f.getLoc(), outputs.getArrayRef());
      for (auto [v, r] : llvm::zip(outputs, call.getResults()))
        Value(v).replaceUsesWithIf(r, [&](OpOperand &use) {
          return !part->isProperAncestor(use.getOwner());
        });
      b.setInsertionPointAfter(part);
      begin = end;
    }
    // Constants and views now unused in the original function.
    SmallVector<Operation *> dead;
    for (Operation &op : body.without_terminator())
      if (isRematerializable(&op))
        dead.push_back(&op);
    for (Operation *op : llvm::reverse(dead))
      if (op->use_empty())
        op->erase();
    // What is left is glue: constants and one call per part. LLVM compiles
    // it without optimization (`optnone`, which needs `noinline`): for 60
    // layers its post-RA scheduler took 9 s on this one basic block of calls
    // and stack arguments, for code that runs once per model call.
    SmallVector<Attribute> passthrough;
    if (auto existing = f->getAttrOfType<ArrayAttr>("passthrough"))
      passthrough.append(existing.begin(), existing.end());
    for (StringRef flag : {"noinline", "optnone"})
      if (!llvm::is_contained(passthrough, b.getStringAttr(flag)))
        passthrough.push_back(b.getStringAttr(flag));
    f->setAttr("passthrough", b.getArrayAttr(passthrough));
  }
};

} // namespace
