//===- LowerAttention.cpp - Attention chains as fused kernel calls --------===//
//
// Part of the Slim project, under the Apache License v2.0 with LLVM Exceptions.
// SPDX-License-Identifier: Apache-2.0 WITH LLVM-exception
//
//===----------------------------------------------------------------------===//
//
// Matches, on bufferized IR, the chain an attention layer becomes:
//
//   fill 0 -> S; batch_matmul(Q, K^T) -> S                [G, R, T]
//   generic(S, mask) -> X: X = S * c (or S / c) + mask     (optional)
//   softmax(X, innermost) -> P
//   fill 0 -> O; batch_matmul(P, V) -> O                  [G, R, Dv]
//
// with S, X and P buffers of their own that nothing else reads, and every
// view between them a reshape that keeps the keys as the innermost
// dimension: then S, X and P list the same rows in the same order, and the
// chain is one call of slim_rt_attention_f32, which never materializes
// them. The mask keeps its own layout: the call gets it as a strided view
// over the generic's iteration space, with zero strides for the dimensions
// it is broadcast along.
//
//===----------------------------------------------------------------------===//

#include "passes/Transforms/Passes.h"
#include "passes/Transforms/Utils.h"

#include "mlir/IR/AffineExpr.h"
#include "mlir/IR/BuiltinTypes.h"
#include "mlir/IR/IRMapping.h"
#include "mlir/IR/Matchers.h"
#include "mlir/IR/PatternMatch.h"
#include "mlir/Interfaces/SideEffectInterfaces.h"

#include "llvm/ADT/SetVector.h"
#include "llvm/ADT/SmallBitVector.h"

namespace mlir::slim {
#define GEN_PASS_DEF_SLIMLOWERATTENTIONPASS
#include "passes/Transforms/Passes.h.inc"
} // namespace mlir::slim

using namespace mlir;

namespace {

/// A memref.alloc with the identity layout (a contiguous row-major buffer).
bool isPlainAlloc(Value v) {
  auto alloc = v.getDefiningOp<memref::AllocOp>();
  return alloc && alloc.getType().getLayout().isIdentity() &&
         alloc.getType().getElementType().isF32();
}

/// `v` seen through casts and reshapes that keep its innermost dimension
/// whole (the last reassociation group is that dimension alone); null if a
/// reshape merges or splits it.
Value innermostRoot(Value v) {
  while (Operation *def = v.getDefiningOp()) {
    if (isa<memref::CastOp>(def)) {
      v = def->getOperand(0);
      continue;
    }
    SmallVector<ReassociationIndices> groups;
    if (auto e = dyn_cast<memref::ExpandShapeOp>(def))
      groups = e.getReassociationIndices();
    else if (auto c = dyn_cast<memref::CollapseShapeOp>(def))
      groups = c.getReassociationIndices();
    else
      break;
    if (groups.empty() || groups.back().size() != 1)
      return nullptr;
    v = def->getOperand(0);
  }
  return v;
}

/// Every op using `root` directly or through views, the views included.
void collectUsers(Value root, SmallVectorImpl<Operation *> &users) {
  for (Operation *user : root.getUsers()) {
    users.push_back(user);
    if (isa<ViewLikeOpInterface>(user))
      collectUsers(user->getResult(0), users);
  }
}

/// Whether the users of `root` (through views) are the views, deallocs and
/// the ops in `allowed`.
bool onlyUsedBy(Value root, ArrayRef<Operation *> allowed) {
  SmallVector<Operation *> users;
  collectUsers(root, users);
  return llvm::all_of(users, [&](Operation *user) {
    return isa<ViewLikeOpInterface, memref::DeallocOp>(user) ||
           llvm::is_contained(allowed, user);
  });
}

/// Erases `root`'s allocation with its views and deallocs.
void eraseBuffer(IRRewriter &rewriter, Value root) {
  SmallVector<Operation *> users;
  collectUsers(root, users);
  for (Operation *user : llvm::reverse(users))
    rewriter.eraseOp(user);
  rewriter.eraseOp(root.getDefiningOp());
}

/// The maps of Q K^T: (b, m, n, k) -> (b, m, k), (b, n, k), (b, m, n).
bool isScoresProduct(linalg::BatchMatmulOp op) {
  if (!op.hasUserDefinedMaps())
    return false;
  MLIRContext *ctx = op.getContext();
  AffineExpr b, m, n, k;
  bindDims(ctx, b, m, n, k);
  SmallVector<AffineMap> maps = op.getIndexingMapsArray();
  return maps.size() == 3 && maps[0] == AffineMap::get(4, 0, {b, m, k}, ctx) &&
         maps[1] == AffineMap::get(4, 0, {b, n, k}, ctx) &&
         maps[2] == AffineMap::get(4, 0, {b, m, n}, ctx);
}

/// The elementwise step between the scores and the softmax:
/// x = s * scale + mask, each part optional. The mask is an operand of the
/// epilogue (`mask`, read through `maskMap`), or computed in its body from
/// its other operands (`maskValue`): then the call gets it materialized over
/// the dimensions it depends on only (a causal mask from position ids:
/// [queries, keys]).
struct ScoreEpilogue {
  double scale = 1.0;
  Value mask;
  AffineMap maskMap;
  linalg::GenericOp generic;
  unsigned scoresOperand = 0;
  Value maskValue;
};

/// The scale of `v` = `s` * c, `s` / c or c * `s` with a constant c, 1 for
/// `s` itself; nothing otherwise.
std::optional<double> scaleOf(Value v, Value s) {
  if (v == s)
    return 1.0;
  Operation *op = v.getDefiningOp();
  if (!op || !isa<arith::MulFOp, arith::DivFOp>(op))
    return std::nullopt;
  Value lhs = op->getOperand(0), rhs = op->getOperand(1);
  FloatAttr c;
  if (isa<arith::MulFOp>(op) && rhs == s)
    std::swap(lhs, rhs);
  if (lhs != s || !matchPattern(rhs, m_Constant(&c)))
    return std::nullopt;
  double value = c.getValueAsDouble();
  if (isa<arith::DivFOp>(op))
    return value == 0.0 ? std::nullopt : std::optional<double>(1.0 / value);
  return value;
}

/// The ops of `body` that `v` is computed from, in block order, or nothing
/// if that depends on `s` or on an op with memory effects.
std::optional<SmallVector<Operation *>> sliceOf(Block &body, Value v, Value s) {
  llvm::SetVector<Operation *> ops;
  SmallVector<Value> work = {v};
  while (!work.empty()) {
    Value x = work.pop_back_val();
    if (x == s)
      return std::nullopt;
    Operation *def = x.getDefiningOp();
    if (!def || def->getBlock() != &body || ops.contains(def))
      continue;
    if (!isMemoryEffectFree(def) || def->getNumRegions() != 0)
      return std::nullopt;
    ops.insert(def);
    llvm::append_range(work, def->getOperands());
  }
  SmallVector<Operation *> sorted(ops.begin(), ops.end());
  llvm::sort(sorted,
             [](Operation *a, Operation *b) { return a->isBeforeInBlock(b); });
  return sorted;
}

/// The epilogue `generic` computes from the scores `scores`, or nothing if
/// it is not of that form.
std::optional<ScoreEpilogue> matchEpilogue(linalg::GenericOp generic,
                                           Value scores) {
  if (generic.getNumDpsInits() != 1 || generic.getNumDpsInputs() < 1 ||
      generic.getNumParallelLoops() != generic.getNumLoops() ||
      !generic.getIndexingMapsArray().back().isIdentity())
    return std::nullopt;
  OpOperand *sOperand = nullptr;
  for (OpOperand *in : generic.getDpsInputOperands())
    if (in->get() == scores && !sOperand)
      sOperand = in;
  if (!sOperand || !generic.getMatchingIndexingMap(sOperand).isIdentity())
    return std::nullopt;
  Block &body = generic.getRegion().front();
  Value s = body.getArgument(sOperand->getOperandNumber());
  Value y = cast<linalg::YieldOp>(body.getTerminator()).getOperand(0);
  ScoreEpilogue result;
  result.generic = generic;
  result.scoresOperand = sOperand->getOperandNumber();
  Value scaled = y;
  SmallVector<Operation *> maskOps;
  if (auto add = y.getDefiningOp<arith::AddFOp>()) {
    for (auto [x, m] : {std::pair(add.getLhs(), add.getRhs()),
                        std::pair(add.getRhs(), add.getLhs())}) {
      std::optional<SmallVector<Operation *>> slice = sliceOf(body, m, s);
      if (!slice || !scaleOf(x, s))
        continue;
      scaled = x;
      maskOps = *slice;
      result.maskValue = m;
      break;
    }
  }
  std::optional<double> scale = scaleOf(scaled, s);
  if (!scale || !scaled.getType().isF32())
    return std::nullopt;
  result.scale = *scale;
  // Nothing else in the body: the mask's ops, the scaling, the add, yield.
  size_t ops =
      maskOps.size() + (scaled == s ? 0 : 1) + (result.maskValue ? 1 : 0) + 1;
  if (body.getOperations().size() != ops)
    return std::nullopt;
  // Only the scores and what the mask reads.
  for (OpOperand *in : generic.getDpsInputOperands())
    if (in != sOperand &&
        (!result.maskValue ||
         body.getArgument(in->getOperandNumber()).use_empty()))
      return std::nullopt;
  // A mask that is an operand read through a map of dimensions (or 0s) is
  // passed as it is.
  if (auto arg = dyn_cast_or_null<BlockArgument>(result.maskValue)) {
    OpOperand *in = generic.getDpsInputOperand(arg.getArgNumber());
    auto type = dyn_cast<MemRefType>(in->get().getType());
    AffineMap map = generic.getMatchingIndexingMap(in);
    if (type && type.getElementType().isF32() &&
        llvm::all_of(map.getResults(), [](AffineExpr e) {
          auto c = dyn_cast<AffineConstantExpr>(e);
          return isa<AffineDimExpr>(e) || (c && c.getValue() == 0);
        })) {
      result.mask = in->get();
      result.maskMap = map;
    }
  }
  return result;
}

/// Materializes the mask of `step` computed in its epilogue's body: a
/// generic over the dimensions it depends on (those its operands' maps and
/// linalg.index ops use) writes it into a new buffer, the mask and map of
/// `step` afterwards; the buffer is freed after `after`.
void materializeMask(IRRewriter &rewriter, Location loc, ScoreEpilogue &step,
                     Value x, Operation *after) {
  linalg::GenericOp generic = step.generic;
  Block &body = generic.getRegion().front();
  unsigned rank = generic.getNumLoops();
  SmallVector<Operation *> ops = *sliceOf(body, step.maskValue, Value());
  // The dimensions the mask depends on, in order.
  llvm::SmallBitVector used(rank);
  SmallVector<OpOperand *> inputs;
  for (OpOperand *in : generic.getDpsInputOperands()) {
    if (in->getOperandNumber() == step.scoresOperand)
      continue;
    inputs.push_back(in);
    generic.getMatchingIndexingMap(in).walkExprs([&](AffineExpr e) {
      if (auto d = dyn_cast<AffineDimExpr>(e))
        used.set(d.getPosition());
    });
  }
  for (Operation *op : ops)
    if (auto index = dyn_cast<linalg::IndexOp>(op))
      used.set(index.getDim());
  SmallVector<unsigned> dims;
  SmallVector<AffineExpr> replacement(rank, rewriter.getAffineConstantExpr(0));
  for (unsigned d = 0; d < rank; ++d)
    if (used.test(d)) {
      replacement[d] = rewriter.getAffineDimExpr(dims.size());
      dims.push_back(d);
    }
  // The buffer: X's sizes along those dimensions.
  auto alloc = x.getDefiningOp<memref::AllocOp>();
  MemRefType xType = alloc.getType();
  SmallVector<int64_t> shape;
  SmallVector<Value> dynamic;
  for (unsigned d : dims) {
    shape.push_back(xType.getDimSize(d));
    if (xType.isDynamicDim(d))
      dynamic.push_back(alloc.getDynamicSizes()[xType.getDynamicDimIndex(d)]);
  }
  auto maskType = MemRefType::get(shape, rewriter.getF32Type());
  Value buffer = memref::AllocOp::create(rewriter, loc, maskType, dynamic);
  SmallVector<Value> operands;
  SmallVector<AffineMap> maps;
  for (OpOperand *in : inputs) {
    operands.push_back(in->get());
    maps.push_back(generic.getMatchingIndexingMap(in).replaceDimsAndSymbols(
        replacement, {}, dims.size(), 0));
  }
  maps.push_back(rewriter.getMultiDimIdentityMap(dims.size()));
  SmallVector<utils::IteratorType> iterators(dims.size(),
                                             utils::IteratorType::parallel);
  linalg::GenericOp::create(
      rewriter, loc, ValueRange(operands), ValueRange{buffer}, maps, iterators,
      [&](OpBuilder &b, Location, ValueRange args) {
        IRMapping map;
        for (auto [in, arg] : llvm::zip(inputs, args))
          map.map(body.getArgument(in->getOperandNumber()), arg);
        for (Operation *op : ops) {
          if (auto index = dyn_cast<linalg::IndexOp>(op)) {
            unsigned d = llvm::find(dims, index.getDim()) - dims.begin();
            map.map(index.getResult(),
                    linalg::IndexOp::create(b, op->getLoc(), d).getResult());
            continue;
          }
          b.clone(*op, map);
        }
        linalg::YieldOp::create(b, loc, map.lookupOrDefault(step.maskValue));
      });
  OpBuilder::InsertionGuard guard(rewriter);
  rewriter.setInsertionPointAfter(after);
  memref::DeallocOp::create(rewriter, loc, buffer);
  step.mask = buffer;
  SmallVector<AffineExpr> results;
  for (unsigned d : dims)
    results.push_back(rewriter.getAffineDimExpr(d));
  step.maskMap = AffineMap::get(rank, 0, results, rewriter.getContext());
}

/// One attention chain, matched.
struct Chain {
  linalg::FillOp scoresFill, outFill;
  linalg::BatchMatmulOp scores, values;
  linalg::GenericOp epilogue; // may be null
  linalg::SoftmaxOp softmax;
  ScoreEpilogue step;
  /// The buffers the call makes unnecessary.
  SmallVector<Value> buffers;
};

/// The chain ending in `softmax`, or nothing.
std::optional<Chain> matchChain(linalg::SoftmaxOp softmax) {
  Chain chain;
  chain.softmax = softmax;
  auto xType = dyn_cast<MemRefType>(softmax.getInput().getType());
  if (!xType || !softmax.hasPureBufferSemantics() ||
      softmax.getDimension() != uint64_t(xType.getRank() - 1) ||
      xType.getRank() < 2)
    return std::nullopt;
  Value x = softmax.getInput(), p = softmax.getOutput();
  if (!isPlainAlloc(p) || x == p)
    return std::nullopt;
  // The scores buffer S: the softmax's input itself, or what the epilogue
  // writes X from.
  Value sRoot;
  if (isPlainAlloc(x)) {
    for (Operation *user : x.getUsers())
      if (auto g = dyn_cast<linalg::GenericOp>(user))
        if (g.getNumDpsInits() == 1 && g.getDpsInitOperand(0)->get() == x)
          chain.epilogue = g;
  }
  if (chain.epilogue) {
    for (OpOperand *in : chain.epilogue.getDpsInputOperands()) {
      Value root = innermostRoot(in->get());
      if (root && isPlainAlloc(root) && root != x && root != p) {
        std::optional<ScoreEpilogue> step =
            matchEpilogue(chain.epilogue, in->get());
        if (step) {
          chain.step = *step;
          sRoot = root;
          break;
        }
      }
    }
    if (!sRoot || !onlyUsedBy(x, {chain.epilogue, softmax}))
      return std::nullopt;
    chain.buffers.push_back(x);
  } else {
    sRoot = innermostRoot(x);
    if (!sRoot || !isPlainAlloc(sRoot) || sRoot == p)
      return std::nullopt;
  }
  // Q K^T into S, right after a zero fill.
  SmallVector<Operation *> sUsers;
  collectUsers(sRoot, sUsers);
  for (Operation *user : sUsers) {
    auto bmm = dyn_cast<linalg::BatchMatmulOp>(user);
    if (bmm && bmm.hasPureBufferSemantics() && isScoresProduct(bmm) &&
        innermostRoot(bmm.getDpsInitOperand(0)->get()) == sRoot)
      chain.scores = bmm;
  }
  if (!chain.scores)
    return std::nullopt;
  chain.scoresFill = slim::getZeroFillBefore(
      chain.scores, chain.scores.getDpsInitOperand(0)->get());
  if (!chain.scoresFill)
    return std::nullopt;
  Operation *sReader =
      chain.epilogue ? chain.epilogue.getOperation() : softmax.getOperation();
  if (!onlyUsedBy(sRoot, {chain.scoresFill, chain.scores, sReader}))
    return std::nullopt;
  chain.buffers.push_back(sRoot);
  // P V, right after a zero fill of O.
  SmallVector<Operation *> pUsers;
  collectUsers(p, pUsers);
  for (Operation *user : pUsers) {
    auto bmm = dyn_cast<linalg::BatchMatmulOp>(user);
    if (bmm && bmm.hasPureBufferSemantics() && !bmm.hasUserDefinedMaps() &&
        innermostRoot(bmm.getDpsInputOperand(0)->get()) == p)
      chain.values = bmm;
  }
  if (!chain.values || !onlyUsedBy(p, {softmax, chain.values}))
    return std::nullopt;
  chain.outFill = slim::getZeroFillBefore(
      chain.values, chain.values.getDpsInitOperand(0)->get());
  if (!chain.outFill)
    return std::nullopt;
  chain.buffers.push_back(p);
  Value q = chain.scores.getDpsInputOperand(0)->get(),
        k = chain.scores.getDpsInputOperand(1)->get(),
        v = chain.values.getDpsInputOperand(1)->get(),
        o = chain.values.getDpsInitOperand(0)->get();
  if (!llvm::all_of(ValueRange{q, k, v, o},
                    [](Value x) { return slim::hasContiguousF32Rows(x, 3); }))
    return std::nullopt;
  // One block, in order, and nothing in between that could write Q, K, V
  // or the mask: only the chain, allocations and ops without effects.
  Block *block = softmax->getBlock();
  SmallVector<Operation *> steps = {chain.scoresFill, chain.scores};
  if (chain.epilogue)
    steps.push_back(chain.epilogue);
  steps.append({softmax, chain.outFill, chain.values});
  for (Operation *op : steps)
    if (op->getBlock() != block)
      return std::nullopt;
  for (size_t i = 0; i + 1 < steps.size(); ++i)
    if (!steps[i]->isBeforeInBlock(steps[i + 1]))
      return std::nullopt;
  for (Operation *op = chain.scoresFill; op != chain.values;
       op = op->getNextNode())
    if (!llvm::is_contained(steps, op) && !isa<memref::AllocOp>(op) &&
        !isMemoryEffectFree(op) && !slim::isRuntimeCheck(op))
      return std::nullopt;
  return chain;
}

/// The mask as a view over the epilogue's iteration space (the sizes of
/// the allocation X, which is about to go): each dimension the map reads
/// takes the mask's stride, the others 0.
Value maskView(IRRewriter &rewriter, Location loc, const ScoreEpilogue &step,
               Value x) {
  auto meta =
      memref::ExtractStridedMetadataOp::create(rewriter, loc, step.mask);
  auto alloc = x.getDefiningOp<memref::AllocOp>();
  MemRefType xType = alloc.getType();
  int64_t rank = xType.getRank();
  Value zero = arith::ConstantIndexOp::create(rewriter, loc, 0);
  SmallVector<OpFoldResult> sizes, strides(rank, zero);
  unsigned dynamic = 0;
  for (int64_t d = 0; d < rank; ++d)
    sizes.push_back(
        xType.isDynamicDim(d)
            ? OpFoldResult(alloc.getDynamicSizes()[dynamic++])
            : OpFoldResult(rewriter.getIndexAttr(xType.getDimSize(d))));
  for (auto [j, e] : llvm::enumerate(step.maskMap.getResults()))
    if (auto dim = dyn_cast<AffineDimExpr>(e))
      strides[dim.getPosition()] = meta.getStrides()[j];
  MemRefType type =
      slim::getFullyDynamicStridedType(rewriter.getF32Type(), rank);
  Value view = memref::ReinterpretCastOp::create(
      rewriter, loc, type, meta.getBaseBuffer(), meta.getOffset(), sizes,
      strides);
  return memref::CastOp::create(
      rewriter, loc, UnrankedMemRefType::get(rewriter.getF32Type(), 0), view);
}

struct SlimLowerAttentionPass
    : slim::impl::SlimLowerAttentionPassBase<SlimLowerAttentionPass> {
  void runOnOperation() override {
    ModuleOp module = getOperation();
    SmallVector<Chain> chains;
    module.walk([&](linalg::SoftmaxOp op) {
      if (std::optional<Chain> chain = matchChain(op))
        chains.push_back(*chain);
    });
    MLIRContext *ctx = &getContext();
    IRRewriter rewriter(ctx);
    MemRefType t3 = slim::getFullyDynamicStridedType(Float32Type::get(ctx), 3);
    for (Chain &chain : chains) {
      Location loc = chain.values.getLoc();
      rewriter.setInsertionPoint(chain.values);
      SmallVector<Value> args;
      for (Value v : {chain.scores.getDpsInputOperand(0)->get(),
                      chain.scores.getDpsInputOperand(1)->get(),
                      chain.values.getDpsInputOperand(1)->get()})
        args.push_back(memref::CastOp::create(rewriter, loc, t3, v));
      bool masked = bool(chain.step.maskValue);
      if (masked && !chain.step.mask)
        materializeMask(rewriter, loc, chain.step, chain.softmax.getInput(),
                        chain.values);
      if (masked)
        args.push_back(
            maskView(rewriter, loc, chain.step, chain.softmax.getInput()));
      args.push_back(memref::CastOp::create(
          rewriter, loc, t3, chain.values.getDpsInitOperand(0)->get()));
      args.push_back(arith::ConstantOp::create(
          rewriter, loc, rewriter.getF32FloatAttr(chain.step.scale)));
      SmallVector<Type> types;
      for (Value a : args)
        types.push_back(a.getType());
      func::FuncOp callee = slim::getOrDeclareRuntimeFunction(
          module,
          masked ? "slim_rt_attention_f32" : "slim_rt_attention_nomask_f32",
          FunctionType::get(ctx, types, {}));
      func::CallOp::create(rewriter, loc, callee, args);
      rewriter.eraseOp(chain.values);
      rewriter.eraseOp(chain.outFill);
      rewriter.eraseOp(chain.softmax);
      if (chain.epilogue)
        rewriter.eraseOp(chain.epilogue);
      rewriter.eraseOp(chain.scores);
      rewriter.eraseOp(chain.scoresFill);
      for (Value buffer : chain.buffers)
        eraseBuffer(rewriter, buffer);
    }
  }
};

} // namespace
