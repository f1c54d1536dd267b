//===- IndirectMemrefArguments.cpp - Descriptors through caller slots -----===//
//
// Part of the Slim project, under the Apache License v2.0 with LLVM Exceptions.
// SPDX-License-Identifier: Apache-2.0 WITH LLVM-exception
//
//===----------------------------------------------------------------------===//
//
// The LLVM lowering passes a memref as its descriptor's fields, 5 + 2 * rank
// scalars, and returns memrefs in one large struct. The entry function of an
// outlined model calls a part per few hundred operations, each taking and
// returning a dozen buffers: SmolLM2-60-layers' entry became 32k lines of
// field extraction and stack-argument stores in one basic block, which
// LLVM's instruction selection, stack-slot colouring and post-RA scheduler
// handle in superlinear time (18 s of code generation for that function
// alone). This pass gives each memref value of the caller one stack slot
// holding its descriptor, written once, and passes the callees pointers to
// the slots (results: a slot the callee writes). The caller then only passes
// addresses, and a part reads the descriptors it uses once at its entry.
//
//===----------------------------------------------------------------------===//

#include "passes/Transforms/DirectCalls.h"
#include "passes/Transforms/Passes.h"

#include "mlir/Conversion/LLVMCommon/TypeConverter.h"
#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Dialect/LLVMIR/LLVMDialect.h"
#include "llvm/ADT/DenseMap.h"
#include "llvm/ADT/MapVector.h"

namespace mlir::slim {
#define GEN_PASS_DEF_SLIMINDIRECTMEMREFARGUMENTSPASS
#include "passes/Transforms/Passes.h.inc"
} // namespace mlir::slim

using namespace mlir;

namespace {

bool isRankedMemref(Type t) { return isa<MemRefType>(t); }


struct SlimIndirectMemrefArgumentsPass
    : slim::impl::SlimIndirectMemrefArgumentsPassBase<
          SlimIndirectMemrefArgumentsPass> {
  using Base::Base;

  void runOnOperation() override {
    ModuleOp module = getOperation();
    LLVMTypeConverter converter(&getContext());
    auto ptrType = LLVM::LLVMPointerType::get(&getContext());

    // Callees: private functions with memref arguments or results, reached
    // only by calls at the top level of a function body.
    llvm::MapVector<Operation *, SmallVector<func::CallOp>> callees;
    for (auto &[f, calls] : slim::collectDirectlyCalledFunctions(module)) {
      FunctionType type = f.getFunctionType();
      if (llvm::none_of(type.getInputs(), isRankedMemref) &&
          llvm::none_of(type.getResults(), isRankedMemref))
        continue;
      if (llvm::all_of(calls, [](func::CallOp call) {
            auto caller = dyn_cast<func::FuncOp>(call->getParentOp());
            return caller && call->getBlock() == &caller.getBody().front();
          }))
        callees[f] = calls;
    }
    if (callees.empty())
      return;

    for (auto &[op, calls] : callees)
      rewriteCallee(cast<func::FuncOp>(op), converter, ptrType);

    // Callers, in the order their calls appear.
    llvm::MapVector<Operation *, SmallVector<func::CallOp>> callers;
    for (auto &[op, calls] : callees)
      for (func::CallOp call : calls)
        callers[call->getParentOp()].push_back(call);
    for (auto &[op, calls] : callers) {
      llvm::sort(calls, [](func::CallOp a, func::CallOp b) {
        return a->isBeforeInBlock(b);
      });
      rewriteCaller(cast<func::FuncOp>(op), calls, converter, ptrType);
    }
  }

  /// Memref arguments become pointers read at the entry; memref results
  /// become trailing pointer arguments written before each return.
  void rewriteCallee(func::FuncOp f, LLVMTypeConverter &converter,
                     Type ptrType) {
    Block &entry = f.getBody().front();
    OpBuilder b = OpBuilder::atBlockBegin(&entry);
    Location loc = f.getLoc();
    for (BlockArgument arg : entry.getArguments()) {
      auto type = dyn_cast<MemRefType>(arg.getType());
      if (!type)
        continue;
      Type desc = converter.convertType(type);
      arg.setType(ptrType);
      auto load = LLVM::LoadOp::create(b, loc, desc, arg);
      auto cast = UnrealizedConversionCastOp::create(b, loc, type,
                                                     load.getResult());
      arg.replaceAllUsesExcept(cast.getResult(0), load);
    }
    FunctionType type = f.getFunctionType();
    SmallVector<Type> results;
    SmallVector<BlockArgument> outs;
    for (Type t : type.getResults()) {
      if (isRankedMemref(t))
        outs.push_back(entry.addArgument(ptrType, loc));
      else
        results.push_back(t);
    }
    f.walk([&](func::ReturnOp ret) {
      OpBuilder rb(ret);
      SmallVector<Value> kept;
      unsigned out = 0;
      for (Value v : ret.getOperands()) {
        if (!isRankedMemref(v.getType())) {
          kept.push_back(v);
          continue;
        }
        Type desc = converter.convertType(v.getType());
        auto cast = UnrealizedConversionCastOp::create(rb, ret.getLoc(), desc, v);
        LLVM::StoreOp::create(rb, ret.getLoc(), cast.getResult(0),
                              outs[out++]);
      }
      ret.getOperandsMutable().assign(kept);
    });
    f.setFunctionType(FunctionType::get(f.getContext(),
                                        entry.getArgumentTypes(), results));
  }

  /// Each memref the calls take gets a slot of `caller`'s frame, written
  /// once where the value is made (or by the callee that returns it).
  void rewriteCaller(func::FuncOp caller, ArrayRef<func::CallOp> calls,
                     LLVMTypeConverter &converter, Type ptrType) {
    Block &entry = caller.getBody().front();
    OpBuilder entryBuilder = OpBuilder::atBlockBegin(&entry);
    Location loc = caller.getLoc();
    Value one = LLVM::ConstantOp::create(entryBuilder, loc,
                                         entryBuilder.getI64Type(),
                                         entryBuilder.getI64IntegerAttr(1));
    // (Right after `one`: the entry's first operation may be a call this
    // function replaces.)
    SmallVector<LLVM::AllocaOp> slotAllocas;
    auto newSlot = [&](Type desc) {
      OpBuilder b = OpBuilder::atBlockBegin(&entry);
      b.setInsertionPointAfter(one.getDefiningOp());
      auto alloca = LLVM::AllocaOp::create(b, loc, ptrType, desc, one,
                                           /*alignment=*/8);
      slotAllocas.push_back(alloca);
      return alloca.getResult();
    };
    DenseMap<Value, Value> slots;
    SmallVector<UnrealizedConversionCastOp> reloads;
    auto slotOf = [&](Value v) -> Value {
      if (Value s = slots.lookup(v))
        return s;
      Type desc = converter.convertType(v.getType());
      Value s = newSlot(desc);
      OpBuilder b(caller.getContext());
      if (Operation *def = v.getDefiningOp())
        b.setInsertionPointAfter(def);
      else
        b.setInsertionPointAfter(s.getDefiningOp());
      auto cast = UnrealizedConversionCastOp::create(b, v.getLoc(), desc, v);
      LLVM::StoreOp::create(b, v.getLoc(), cast.getResult(0), s);
      slots[v] = s;
      return s;
    };
    for (func::CallOp call : calls) {
      OpBuilder b(call);
      SmallVector<Value> operands;
      for (Value v : call.getOperands())
        operands.push_back(isRankedMemref(v.getType()) ? slotOf(v) : v);
      SmallVector<Type> resultTypes;
      SmallVector<Value> outSlots;
      for (Value r : call.getResults()) {
        if (!isRankedMemref(r.getType())) {
          resultTypes.push_back(r.getType());
          continue;
        }
        Value s = newSlot(converter.convertType(r.getType()));
        outSlots.push_back(s);
        operands.push_back(s);
      }
      auto newCall = func::CallOp::create(b, call.getLoc(), call.getCallee(),
                                          resultTypes, operands);
      newCall->setDiscardableAttrs(call->getDiscardableAttrDictionary());
      b.setInsertionPointAfter(newCall);
      unsigned kept = 0, out = 0;
      for (Value r : call.getResults()) {
        if (!isRankedMemref(r.getType())) {
          r.replaceAllUsesWith(newCall.getResult(kept++));
          continue;
        }
        Value s = outSlots[out++];
        Type desc = converter.convertType(r.getType());
        auto load = LLVM::LoadOp::create(b, call.getLoc(), desc, s);
        auto cast = UnrealizedConversionCastOp::create(b, call.getLoc(),
                                                       r.getType(),
                                                       load.getResult());
        r.replaceAllUsesWith(cast.getResult(0));
        slots[cast.getResult(0)] = s;
        reloads.push_back(cast);
      }
      call.erase();
    }
    // Results only ever passed on to other calls need no reload.
    for (UnrealizedConversionCastOp cast : reloads) {
      if (!cast.getResult(0).use_empty())
        continue;
      Operation *load = cast.getOperand(0).getDefiningOp();
      cast.erase();
      load->erase();
    }
    shareSlots(entry, slotAllocas);
  }

  /// Slots whose uses do not overlap share one alloca (the entry's stack
  /// frame would otherwise hold a descriptor for every buffer of the model,
  /// and LLVM's post-RA scheduler slows down with the number of frame
  /// objects). All uses of the slots are operations of the entry block.
  void shareSlots(Block &entry, ArrayRef<LLVM::AllocaOp> slotAllocas) {
    DenseMap<Operation *, int64_t> position;
    int64_t n = 0;
    for (Operation &op : entry)
      position[&op] = n++;
    struct Range {
      LLVM::AllocaOp alloca;
      int64_t begin, end;
    };
    SmallVector<Range> ranges;
    for (LLVM::AllocaOp alloca : slotAllocas) {
      int64_t begin = n, end = -1;
      for (Operation *user : alloca->getUsers()) {
        int64_t p = position.lookup(user);
        begin = std::min(begin, p);
        end = std::max(end, p);
      }
      if (end >= 0)
        ranges.push_back({alloca, begin, end});
    }
    llvm::sort(ranges, [](const Range &a, const Range &b) {
      return a.begin < b.begin;
    });
    // Greedy interval colouring per descriptor type: a slot is free again
    // after the last operation that reads it (strictly before the next
    // value's first write).
    struct Free {
      LLVM::AllocaOp alloca;
      int64_t end;
    };
    DenseMap<Type, SmallVector<Free>> pools;
    for (Range &r : ranges) {
      SmallVector<Free> &pool = pools[r.alloca.getElemType()];
      auto it = llvm::find_if(pool, [&](const Free &f) { return f.end < r.begin; });
      if (it == pool.end()) {
        pool.push_back({r.alloca, r.end});
        continue;
      }
      r.alloca.getResult().replaceAllUsesWith(it->alloca.getResult());
      r.alloca.erase();
      it->end = r.end;
    }
  }
};

} // namespace
