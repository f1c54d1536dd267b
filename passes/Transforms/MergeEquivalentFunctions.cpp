//===- MergeEquivalentFunctions.cpp - One copy of repeated functions ------===//
//
// Part of the Slim project, under the Apache License v2.0 with LLVM Exceptions.
// SPDX-License-Identifier: Apache-2.0 WITH LLVM-exception
//
//===----------------------------------------------------------------------===//
//
// `slim-outline-regions` cuts a decoder into parts at the cuts the fewest
// values cross, which repeat with the layers: SmolLM2's 30 layers become 3
// parts each, and the parts of one position differ only in the byte offsets
// of their weights in the weights file. This pass keeps one function per
// such class and turns the integer constants that differ into arguments, so
// LLVM optimizes and compiles each distinct piece of code once (LLVM's own
// MergeFunctions only merges bodies that are identical, constants included).
//
//===----------------------------------------------------------------------===//

#include "passes/Transforms/DirectCalls.h"
#include "passes/Transforms/Passes.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "llvm/ADT/DenseMap.h"
#include "llvm/ADT/Hashing.h"
#include "llvm/ADT/MapVector.h"

namespace mlir::slim {
#define GEN_PASS_DEF_SLIMMERGEEQUIVALENTFUNCTIONSPASS
#include "passes/Transforms/Passes.h.inc"
} // namespace mlir::slim

using namespace mlir;

namespace {

/// An integer or index constant: its value may differ between functions of
/// one class (it becomes an argument), its type may not.
std::optional<IntegerAttr> integerConstant(Operation *op) {
  auto constant = dyn_cast<arith::ConstantOp>(op);
  if (!constant)
    return std::nullopt;
  auto value = dyn_cast<IntegerAttr>(constant.getValue());
  if (!value || !isa<IntegerType, IndexType>(value.getType()))
    return std::nullopt;
  return value;
}

/// The operations of a function body in pre-order.
SmallVector<Operation *> bodyOps(func::FuncOp f) {
  SmallVector<Operation *> ops;
  f.getBody().walk<WalkOrder::PreOrder>([&](Operation *op) {
    ops.push_back(op);
  });
  return ops;
}

/// Hash of the structure, integer constant values left out.
llvm::hash_code structuralHash(func::FuncOp f, ArrayRef<Operation *> ops) {
  llvm::hash_code h = llvm::hash_value(f.getFunctionType().getAsOpaquePointer());
  for (Operation *op : ops) {
    h = llvm::hash_combine(h, op->getName().getAsOpaquePointer(),
                           op->getNumOperands(), op->getNumRegions());
    for (Type t : op->getResultTypes())
      h = llvm::hash_combine(h, t.getAsOpaquePointer());
    if (!integerConstant(op))
      h = llvm::hash_combine(h, op->getAttrDictionary().getAsOpaquePointer());
  }
  return h;
}

/// Compares two bodies op by op. On success, `varying` holds the positions
/// (in `a`'s pre-order) of the integer constants whose values differ.
bool equivalent(func::FuncOp fa, ArrayRef<Operation *> a, func::FuncOp fb,
                ArrayRef<Operation *> b, SmallVectorImpl<unsigned> &varying) {
  if (fa.getFunctionType() != fb.getFunctionType() || a.size() != b.size())
    return false;
  varying.clear();
  DenseMap<Value, Value> values;
  DenseMap<Block *, Block *> blocks;
  auto mapRegion = [&](Region &ra, Region &rb) {
    if (ra.getBlocks().size() != rb.getBlocks().size())
      return false;
    for (auto [ba, bb] : llvm::zip(ra, rb)) {
      if (ba.getNumArguments() != bb.getNumArguments())
        return false;
      blocks[&ba] = &bb;
      for (auto [x, y] : llvm::zip(ba.getArguments(), bb.getArguments())) {
        if (x.getType() != y.getType())
          return false;
        values[x] = y;
      }
    }
    return true;
  };
  if (!mapRegion(fa.getBody(), fb.getBody()))
    return false;
  for (auto [i, pair] : llvm::enumerate(llvm::zip(a, b))) {
    auto [x, y] = pair;
    if (x->getName() != y->getName() ||
        x->getNumOperands() != y->getNumOperands() ||
        x->getNumResults() != y->getNumResults() ||
        x->getNumRegions() != y->getNumRegions() ||
        x->getNumSuccessors() != y->getNumSuccessors() ||
        x->getResultTypes() != y->getResultTypes())
      return false;
    std::optional<IntegerAttr> cx = integerConstant(x);
    if (cx) {
      if (*cx != *integerConstant(y))
        varying.push_back(i);
    } else if (x->getAttrDictionary() != y->getAttrDictionary()) {
      return false;
    }
    for (auto [u, v] : llvm::zip(x->getOperands(), y->getOperands()))
      if (values.lookup(u) != v)
        return false;
    for (auto [s, t] : llvm::zip(x->getSuccessors(), y->getSuccessors()))
      if (blocks.lookup(s) != t)
        return false;
    for (auto [u, v] : llvm::zip(x->getResults(), y->getResults()))
      values[u] = v;
    for (auto [ra, rb] : llvm::zip(x->getRegions(), y->getRegions()))
      if (!mapRegion(ra, rb))
        return false;
  }
  return true;
}

struct Candidate {
  func::FuncOp func;
  SmallVector<Operation *> ops;
  SmallVector<func::CallOp> calls;
};

struct SlimMergeEquivalentFunctionsPass
    : slim::impl::SlimMergeEquivalentFunctionsPassBase<
          SlimMergeEquivalentFunctionsPass> {
  using Base::Base;

  void runOnOperation() override {
    ModuleOp module = getOperation();
    // Private functions reached only through direct calls.
    llvm::MapVector<Operation *, Candidate> candidates;
    for (auto &[f, calls] : slim::collectDirectlyCalledFunctions(module))
      candidates[f] = Candidate{f, {}, calls};

    // A function that calls another candidate stays as it is: merging
    // erases functions, and with them calls recorded for their callees.
    SmallVector<Operation *> callers;
    for (auto &[op, c] : candidates)
      for (func::CallOp call : c.calls)
        if (Operation *caller = call->getParentOfType<func::FuncOp>();
            candidates.contains(caller))
          callers.push_back(caller);
    for (Operation *caller : callers)
      candidates.erase(caller);

    // Classes: same structural hash, then checked op by op against the
    // first function of each class.
    llvm::MapVector<llvm::hash_code, SmallVector<Candidate *>> buckets;
    for (auto &[op, c] : candidates) {
      c.ops = bodyOps(c.func);
      buckets[structuralHash(c.func, c.ops)].push_back(&c);
    }
    int64_t merged = 0;
    for (auto &[hash, bucket] : buckets) {
      SmallVector<bool> done(bucket.size(), false);
      for (unsigned r = 0; r < bucket.size(); ++r) {
        if (done[r])
          continue;
        Candidate *rep = bucket[r];
        SmallVector<Candidate *> members;
        SmallVector<unsigned> v;
        llvm::SmallSetVector<unsigned, 8> allVarying;
        for (unsigned m = r + 1; m < bucket.size(); ++m) {
          if (done[m] || !equivalent(rep->func, rep->ops, bucket[m]->func,
                                     bucket[m]->ops, v))
            continue;
          llvm::SmallSetVector<unsigned, 8> next = allVarying;
          next.insert_range(v);
          if (static_cast<int64_t>(next.size()) > maxArguments)
            continue;
          allVarying = std::move(next);
          members.push_back(bucket[m]);
          done[m] = true;
        }
        if (members.empty())
          continue;
        SmallVector<unsigned> positions = llvm::to_vector(allVarying);
        llvm::sort(positions);
        merge(*rep, members, positions);
        merged += members.size();
      }
    }
    numMerged = merged;
  }

  /// Turns the constants at `positions` of `rep` into trailing arguments,
  /// and calls every member through `rep` with its own values.
  void merge(Candidate &rep, ArrayRef<Candidate *> members,
             ArrayRef<unsigned> positions) {
    func::FuncOp f = rep.func;
    Block &entry = f.getBody().front();
    // Each call site first gets its constants, then the callee changes.
    auto addConstants = [&](Candidate &c) {
      for (func::CallOp call : c.calls) {
        OpBuilder b(call);
        SmallVector<Value> operands(call.getOperands());
        for (unsigned p : positions) {
          auto constant = cast<arith::ConstantOp>(c.ops[p]);
          operands.push_back(arith::ConstantOp::create(
              b, call.getLoc(), constant.getType(), constant.getValue()));
        }
        call.getOperandsMutable().assign(operands);
        call.setCallee(f.getSymName());
      }
    };
    addConstants(rep);
    for (Candidate *m : members) {
      addConstants(*m);
      m->func.erase();
    }
    for (unsigned p : positions) {
      Operation *constant = rep.ops[p];
      BlockArgument arg =
          entry.addArgument(constant->getResult(0).getType(), f.getLoc());
      constant->getResult(0).replaceAllUsesWith(arg);
      constant->erase();
    }
    f.setFunctionType(FunctionType::get(
        f.getContext(), entry.getArgumentTypes(),
        f.getFunctionType().getResults()));
    f->setAttr("slim.merged",
               IntegerAttr::get(IntegerType::get(f.getContext(), 64),
                                members.size() + 1));
  }
};

} // namespace
