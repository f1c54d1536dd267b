//===- FoldTransposes.cpp - Transposes absorbed by the matmuls reading them -===//
//
// Part of the Slim project, under the Apache License v2.0 with LLVM Exceptions.
// SPDX-License-Identifier: Apache-2.0 WITH LLVM-exception
//
//===----------------------------------------------------------------------===//
//
// ONNX graphs write `x @ W^T` as a Transpose node feeding a MatMul: a tied
// LM head transposes the whole embedding table, attention transposes K. As
// separate ops they cost a strided copy of the operand on every call; as the
// matmul's indexing map they cost nothing (BLAS reads the operand
// transposed).
//
//===----------------------------------------------------------------------===//

#include "passes/Transforms/Passes.h"
#include "passes/Transforms/Utils.h"

#include "mlir/IR/Threading.h"

#include "mlir/Dialect/MemRef/Transforms/Transforms.h"
#include "mlir/Dialect/Tensor/IR/Tensor.h"
#include "mlir/IR/DialectResourceBlobManager.h"
#include "mlir/IR/PatternMatch.h"
#include "mlir/Transforms/GreedyPatternRewriteDriver.h"

#include <cstring>

namespace mlir::slim {
#define GEN_PASS_DEF_SLIMFOLDTRANSPOSESPASS
#include "passes/Transforms/Passes.h.inc"
} // namespace mlir::slim

using namespace mlir;

namespace {

/// The source of `v` if it is a transpose swapping the two innermost
/// dimensions and nothing else.
Value innerTransposeSource(Value v) {
  auto t = v.getDefiningOp<linalg::TransposeOp>();
  if (!t || !t.hasPureTensorSemantics())
    return {};
  ArrayRef<int64_t> perm = t.getPermutation();
  int64_t rank = perm.size();
  if (rank < 2)
    return {};
  for (int64_t i = 0; i + 2 < rank; ++i)
    if (perm[i] != i)
      return {};
  if (perm[rank - 2] != rank - 1 || perm[rank - 1] != rank - 2)
    return {};
  return t.getInput();
}

/// A matmul or batch matmul on tensors with the default maps: the form the
/// importer writes and the patterns here start from.
template <typename OpTy>
bool isPlainProduct(OpTy op) {
  return op.hasPureTensorSemantics() && !op.hasUserDefinedMaps() &&
         op.getNumDpsInputs() == 2;
}

/// Replaces `op` by a linalg.matmul of `a` and `b` (same accumulator) that
/// reads A as [K, M] if `ta` and B as [N, K] if `tb`.
void replaceWithMatmul(PatternRewriter &rewriter, linalg::MatmulOp op, Value a,
                       Value b, bool ta, bool tb) {
  MLIRContext *ctx = op.getContext();
  AffineExpr m, n, k;
  bindDims(ctx, m, n, k);
  auto map = [&](AffineExpr x, AffineExpr y) {
    return AffineMapAttr::get(AffineMap::get(3, 0, {x, y}, ctx));
  };
  SmallVector<Attribute> maps{ta ? map(k, m) : map(m, k),
                              tb ? map(n, k) : map(k, n), map(m, n)};
  auto mm = linalg::MatmulOp::create(rewriter, op.getLoc(), op.getResultTypes(),
                                     ValueRange{a, b}, op.getDpsInits());
  mm.setIndexingMapsAttr(ArrayAttr::get(ctx, maps));
  rewriter.replaceOp(op, mm->getResults());
}

/// linalg.matmul(A, transpose(B')) -> linalg.matmul(A, B') with the
/// transposed-B indexing maps (and the same for A).
struct FoldIntoMatmul : OpRewritePattern<linalg::MatmulOp> {
  using OpRewritePattern::OpRewritePattern;
  LogicalResult matchAndRewrite(linalg::MatmulOp op,
                                PatternRewriter &rewriter) const override {
    if (!isPlainProduct(op))
      return failure();
    Value a = op.getDpsInputOperand(0)->get();
    Value b = op.getDpsInputOperand(1)->get();
    Value bt = innerTransposeSource(b);
    Value at = innerTransposeSource(a);
    if (!bt && !at)
      return failure();
    replaceWithMatmul(rewriter, op, at ? at : a, bt ? bt : b, bool(at), bool(bt));
    return success();
  }
};

/// linalg.batch_matmul(A, collapse(transpose(B'))) where the collapse only
/// merges leading (batch) dimensions: the transpose commutes with it, and
/// the batch matmul reads collapse(B') with the transposed-B maps. This is
/// attention's `q @ k^T`.
struct FoldIntoBatchMatmul : OpRewritePattern<linalg::BatchMatmulOp> {
  using OpRewritePattern::OpRewritePattern;
  LogicalResult matchAndRewrite(linalg::BatchMatmulOp op,
                                PatternRewriter &rewriter) const override {
    if (!isPlainProduct(op))
      return failure();
    Value b = op.getDpsInputOperand(1)->get();
    Value source;
    auto collapse = b.getDefiningOp<tensor::CollapseShapeOp>();
    if (collapse) {
      // Reassociation [[0..r-3], [r-2], [r-1]] of a rank-r source.
      auto groups = collapse.getReassociationIndices();
      if (groups.size() != 3 || groups[1].size() != 1 || groups[2].size() != 1)
        return failure();
      source = innerTransposeSource(collapse.getSrc());
    } else {
      source = innerTransposeSource(b);
    }
    if (!source)
      return failure();
    Value newB = source;
    if (collapse) {
      auto srcType = cast<RankedTensorType>(source.getType());
      int64_t rank = srcType.getRank();
      SmallVector<ReassociationIndices> groups(3);
      for (int64_t i = 0; i < rank - 2; ++i)
        groups[0].push_back(i);
      groups[1].push_back(rank - 2);
      groups[2].push_back(rank - 1);
      newB = tensor::CollapseShapeOp::create(rewriter, collapse.getLoc(),
                                             source, groups);
    }
    MLIRContext *ctx = op.getContext();
    AffineExpr bt, m, n, k;
    bindDims(ctx, bt, m, n, k);
    auto map = [&](ArrayRef<AffineExpr> e) { return AffineMap::get(4, 0, e, ctx); };
    SmallVector<Attribute> maps{AffineMapAttr::get(map({bt, m, k})),
                                AffineMapAttr::get(map({bt, n, k})),
                                AffineMapAttr::get(map({bt, m, n}))};
    auto bmm = linalg::BatchMatmulOp::create(
        rewriter, op.getLoc(), op.getResultTypes(),
        ValueRange{op.getDpsInputOperand(0)->get(), newB}, op.getDpsInits());
    bmm.setIndexingMapsAttr(ArrayAttr::get(ctx, maps));
    rewriter.replaceOp(op, bmm->getResults());
    return success();
  }
};

/// Output channels per panel of a packed weight (lib/Kernels/GemmPacked.h).
constexpr int64_t kPanel = 16;

/// Rewrites the element reads of `cst` (tensor.extract, as an embedding
/// Gather lowers to) into reads of its packed copy `packed`
/// ([N / 16, K, 16, 1]): W(n, k) of an [N, K] constant (`transposedB`), or
/// W(k, n) of a [K, N] one, is packed[n / 16, k, n % 16, 0]. A tied
/// embedding table then lives in the weights once, packed for the LM head.
void readElementsFromPacked(PatternRewriter &rewriter, arith::ConstantOp cst,
                            Value packed, bool transposedB) {
  SmallVector<tensor::ExtractOp> reads;
  for (Operation *user : cst->getUsers())
    if (auto extract = dyn_cast<tensor::ExtractOp>(user))
      if (extract.getTensor() == cst.getResult())
        reads.push_back(extract);
  for (tensor::ExtractOp extract : reads) {
    OpBuilder::InsertionGuard guard(rewriter);
    rewriter.setInsertionPoint(extract);
    Location loc = extract.getLoc();
    Value n = extract.getIndices()[transposedB ? 0 : 1];
    Value k = extract.getIndices()[transposedB ? 1 : 0];
    Value panel = arith::ConstantIndexOp::create(rewriter, loc, kPanel);
    Value zero = arith::ConstantIndexOp::create(rewriter, loc, 0);
    // Row numbers past the table (an out-of-range token id, which nothing
    // checks yet) read its last row instead of memory after the packed
    // table: the unpacked table was followed by other weights, the packed
    // one may end the mapping.
    auto packedType = cast<RankedTensorType>(packed.getType());
    Value last = arith::ConstantIndexOp::create(
        rewriter, loc, packedType.getDimSize(0) * kPanel - 1);
    n = arith::MinUIOp::create(rewriter, loc, n, last);
    Value p = arith::DivUIOp::create(rewriter, loc, n, panel);
    Value j = arith::RemUIOp::create(rewriter, loc, n, panel);
    rewriter.replaceOpWithNewOp<tensor::ExtractOp>(
        extract, packed, ValueRange{p, k, j, zero});
  }
}

/// linalg.matmul(A, W) with W an f32 constant, read as [K, N] (plain maps)
/// or [N, K] (transposed-B maps, e.g. a tied LM head after FoldIntoMatmul),
/// rewritten once at compile time into the layout the product wants:
///  - with `pack` and N a multiple of 16: N / 16 panels of 16 output
///    channels, W'[p, k, j, 0] = W(k, 16 p + j), read by linalg.mmt4d
///    (M0 = K0 = 1, N0 = 16) between reshapes of A and C. Decoding streams
///    each panel once; prefill keeps a panel in cache for all rows, and no
///    GEMM repacks the weight per call (lib/Kernels/GemmPacked.h);
///  - otherwise, for the plain maps: W^T [N, K] and the transposed-B maps,
///    each output channel's weights contiguous, the layout in which a
///    one-row product streams the weight as dot products.
struct RelayoutWeightOperand : OpRewritePattern<linalg::MatmulOp> {
  RelayoutWeightOperand(MLIRContext *ctx, bool pack)
      : OpRewritePattern(ctx), pack(pack) {}

  LogicalResult matchAndRewrite(linalg::MatmulOp op,
                                PatternRewriter &rewriter) const override {
    if (!op.hasPureTensorSemantics() || op.getNumDpsInputs() != 2)
      return failure();
    bool transposedB = false;
    if (op.hasUserDefinedMaps()) {
      MLIRContext *ctx = op.getContext();
      AffineExpr m, n, k;
      bindDims(ctx, m, n, k);
      SmallVector<AffineMap> nt = AffineMap::inferFromExprList(
          ArrayRef<ArrayRef<AffineExpr>>{{m, k}, {n, k}, {m, n}}, ctx);
      if (op.getIndexingMapsArray() != nt)
        return failure();
      transposedB = true;
    }
    Value a = op.getDpsInputOperand(0)->get();
    Value b = op.getDpsInputOperand(1)->get();
    Value init = op.getDpsInitOperand(0)->get();
    auto cst = b.getDefiningOp<arith::ConstantOp>();
    auto type = dyn_cast<RankedTensorType>(b.getType());
    auto aType = dyn_cast<RankedTensorType>(a.getType());
    auto cType = dyn_cast<RankedTensorType>(init.getType());
    if (!cst || !type || !aType || !cType || !type.hasStaticShape() ||
        type.getRank() != 2 || !type.getElementType().isF32() ||
        aType.getRank() != 2 || cType.getRank() != 2 ||
        !aType.getElementType().isF32() || !cType.getElementType().isF32())
      return failure();
    int64_t k = type.getDimSize(transposedB ? 1 : 0);
    int64_t n = type.getDimSize(transposedB ? 0 : 1);
    bool packIt = pack && n % kPanel == 0 && k > 0 && cType.getDimSize(1) == n;
    if (!packIt && transposedB)
      return failure();
    std::optional<ArrayRef<char>> bytes = slim::getConstantBytes(cst.getValue());
    if (!bytes || static_cast<int64_t>(bytes->size()) != k * n * 4)
      return failure();
    AsmResourceBlob blob = slim::allocateWeightBlob(bytes->size());
    const float *src = reinterpret_cast<const float *>(bytes->data());
    float *dst = reinterpret_cast<float *>(blob.getMutableData().data());
    MLIRContext *ctx = rewriter.getContext();
    Location loc = cst.getLoc();
    if (!packIt) {
      // Blocked so that both sides stay in cache; bands of source rows
      // write disjoint columns of the result, so they run on the context's
      // threads (the page faults of both mappings dominate: 424 MB for
      // SmolLM2).
      constexpr int64_t kTile = 64;
      mlir::parallelFor(ctx, 0, (k + kTile - 1) / kTile, [&](size_t band) {
        int64_t i0 = static_cast<int64_t>(band) * kTile;
        for (int64_t j0 = 0; j0 < n; j0 += kTile)
          for (int64_t i = i0; i < std::min(k, i0 + kTile); ++i)
            for (int64_t j = j0; j < std::min(n, j0 + kTile); ++j)
              dst[j * k + i] = src[i * n + j];
      });
      auto tType = RankedTensorType::get({n, k}, type.getElementType());
      auto attr = DenseResourceElementsAttr::get(tType, "transposed_weight",
                                                 std::move(blob));
      Value transposed = arith::ConstantOp::create(rewriter, loc, attr);
      replaceWithMatmul(rewriter, op, a, transposed, /*ta=*/false,
                        /*tb=*/true);
      return success();
    }
    // One panel per task: each writes its own K x 16 block.
    int64_t panels = n / kPanel;
    mlir::parallelFor(ctx, 0, panels, [&](size_t task) {
      int64_t p = static_cast<int64_t>(task);
      float *out = dst + p * k * kPanel;
      if (transposedB) {
        for (int64_t j = 0; j < kPanel; ++j) {
          const float *row = src + (p * kPanel + j) * k;
          for (int64_t q = 0; q < k; ++q)
            out[q * kPanel + j] = row[q];
        }
      } else {
        for (int64_t q = 0; q < k; ++q)
          std::memcpy(out + q * kPanel, src + q * n + p * kPanel,
                      kPanel * sizeof(float));
      }
    });
    auto pType =
        RankedTensorType::get({panels, k, kPanel, 1}, type.getElementType());
    auto attr = DenseResourceElementsAttr::get(pType, "packed_weight",
                                               std::move(blob));
    Value packed;
    {
      // Where the constant is, so that it dominates every reader.
      OpBuilder::InsertionGuard guard(rewriter);
      rewriter.setInsertionPoint(cst);
      packed = arith::ConstantOp::create(rewriter, loc, attr);
    }
    readElementsFromPacked(rewriter, cst, packed, transposedB);
    // A [M, K] -> [M, K, 1, 1] and C [M, N] -> [M, N / 16, 1, 16]: views.
    SmallVector<ReassociationIndices> groups{{0}, {1, 2, 3}};
    auto a4Type = RankedTensorType::get(
        {aType.getDimSize(0), aType.getDimSize(1), 1, 1},
        aType.getElementType());
    auto c4Type = RankedTensorType::get(
        {cType.getDimSize(0), panels, 1, kPanel}, cType.getElementType());
    Value a4 = tensor::ExpandShapeOp::create(rewriter, op.getLoc(), a4Type, a,
                                             groups);
    Value c4 = tensor::ExpandShapeOp::create(rewriter, op.getLoc(), c4Type,
                                             init, groups);
    auto mmt4d = linalg::Mmt4DOp::create(rewriter, op.getLoc(), c4Type,
                                         ValueRange{a4, packed}, c4);
    rewriter.replaceOpWithNewOp<tensor::CollapseShapeOp>(
        op, op.getResultTypes()[0], mmt4d.getResult(0), groups);
    return success();
  }

private:
  bool pack;
};

/// `v` = collapse_shape(src) with reassociation `groups`, or nothing.
Value collapsedFrom(Value v, ArrayRef<ReassociationIndices> groups) {
  auto c = v.getDefiningOp<tensor::CollapseShapeOp>();
  if (!c || c.getReassociationIndices() != SmallVector<ReassociationIndices>(groups))
    return {};
  return c.getSrc();
}

/// Grouped-query attention: ONNX exporters repeat each KV head R times
/// (Unsqueeze, Expand, Reshape) before the two batch matmuls, a copy of the
/// whole KV cache, R times over, on every call. The R query heads that
/// share a KV head can instead be R times more rows of one product:
///   bmm(collapse(Q[B, G*R, M, D]), collapse(collapse(bcast(K[B, G, 1, T, D]))))
///   -> bmm(Q viewed [B*G, R*M, D], K viewed [B*G, T, D]) viewed back,
/// with only reshapes (no copies) around it. Applies to either operand
/// order of attention (scores with K read transposed, and probs @ V).
struct FoldRepeatedHeads : OpRewritePattern<linalg::BatchMatmulOp> {
  using OpRewritePattern::OpRewritePattern;
  LogicalResult matchAndRewrite(linalg::BatchMatmulOp op,
                                PatternRewriter &rewriter) const override {
    if (!op.hasPureTensorSemantics() || op.getNumDpsInputs() != 2 ||
        op.getNumDpsInits() != 1)
      return failure();
    SmallVector<ReassociationIndices> merge01{{0, 1}, {2}, {3}};
    Value q = collapsedFrom(op.getDpsInputOperand(0)->get(), merge01);
    Value x = collapsedFrom(op.getDpsInputOperand(1)->get(), merge01);
    if (!q || !x)
      return failure();
    Value e = collapsedFrom(x, {{0}, {1, 2}, {3}, {4}});
    auto bcast = e ? e.getDefiningOp<linalg::GenericOp>() : nullptr;
    if (!bcast || bcast.getNumDpsInputs() != 1 || bcast.getNumDpsInits() != 1 ||
        bcast.getNumParallelLoops() != 5 || bcast.getNumLoops() != 5)
      return failure();
    // The body yields its input, read with the repeat dimension pinned to 0.
    Block &body = bcast.getRegion().front();
    auto yield = cast<linalg::YieldOp>(body.getTerminator());
    if (body.getOperations().size() != 1 ||
        yield.getOperand(0) != body.getArgument(0))
      return failure();
    MLIRContext *ctx = op.getContext();
    SmallVector<AffineExpr> d;
    for (unsigned i = 0; i < 5; ++i)
      d.push_back(getAffineDimExpr(i, ctx));
    SmallVector<AffineMap> maps = bcast.getIndexingMapsArray();
    AffineMap pinned = AffineMap::get(
        5, 0, {d[0], d[1], getAffineConstantExpr(0, ctx), d[3], d[4]}, ctx);
    if (maps[0] != pinned || !maps[1].isIdentity())
      return failure();
    Value kv = bcast.getDpsInputOperand(0)->get();
    auto kvType = cast<RankedTensorType>(kv.getType());
    auto qType = cast<RankedTensorType>(q.getType());
    auto eType = cast<RankedTensorType>(e.getType());
    if (kvType.getRank() != 5 || kvType.getDimSize(2) != 1 ||
        qType.getRank() != 4 || eType.isDynamicDim(1) || eType.isDynamicDim(2))
      return failure();
    int64_t groups = eType.getDimSize(1), repeat = eType.getDimSize(2);
    if (qType.isDynamicDim(1) || qType.getDimSize(1) != groups * repeat)
      return failure();

    Location loc = op.getLoc();
    auto dim = [&](Value v, int64_t i) -> OpFoldResult {
      auto t = cast<RankedTensorType>(v.getType());
      if (!t.isDynamicDim(i))
        return rewriter.getIndexAttr(t.getDimSize(i));
      return tensor::DimOp::create(rewriter, loc, v, i).getResult();
    };
    // Q [B, G*R, M, D] -> [B, G, R, M, D] -> [B*G, R*M, D].
    OpFoldResult b = dim(q, 0);
    SmallVector<OpFoldResult> qShape{b, rewriter.getIndexAttr(groups),
                                     rewriter.getIndexAttr(repeat), dim(q, 2),
                                     dim(q, 3)};
    Value q5 = tensor::ExpandShapeOp::create(
        rewriter, loc,
        RankedTensorType::get({qType.getDimSize(0), groups, repeat,
                               qType.getDimSize(2), qType.getDimSize(3)},
                              qType.getElementType()),
        q, SmallVector<ReassociationIndices>{{0}, {1, 2}, {3}, {4}}, qShape);
    SmallVector<ReassociationIndices> rows{{0, 1}, {2, 3}, {4}};
    Value a = tensor::CollapseShapeOp::create(rewriter, loc, q5, rows);
    // K/V [B, G, 1, T, D] -> [B*G, T, D].
    Value kvFlat = tensor::CollapseShapeOp::create(
        rewriter, loc, kv, SmallVector<ReassociationIndices>{{0, 1, 2}, {3}, {4}});
    // The accumulator [B*G*R, M, N] -> [B, G, R, M, N] -> [B*G, R*M, N].
    Value init = op.getDpsInitOperand(0)->get();
    auto initType = cast<RankedTensorType>(init.getType());
    SmallVector<OpFoldResult> initShape{b, rewriter.getIndexAttr(groups),
                                        rewriter.getIndexAttr(repeat),
                                        dim(init, 1), dim(init, 2)};
    auto init5Type = RankedTensorType::get(
        {qType.getDimSize(0), groups, repeat, initType.getDimSize(1),
         initType.getDimSize(2)},
        initType.getElementType());
    SmallVector<ReassociationIndices> split0{{0, 1, 2}, {3}, {4}};
    Value init5 = tensor::ExpandShapeOp::create(rewriter, loc, init5Type, init,
                                                split0, initShape);
    Value acc = tensor::CollapseShapeOp::create(rewriter, loc, init5, rows);
    auto bmm = linalg::BatchMatmulOp::create(
        rewriter, loc, TypeRange{acc.getType()}, ValueRange{a, kvFlat},
        ValueRange{acc});
    if (op.hasUserDefinedMaps())
      bmm.setIndexingMapsAttr(op.getIndexingMaps());
    // Back to [B*G*R, M, N].
    SmallVector<OpFoldResult> outShape{b, rewriter.getIndexAttr(groups),
                                       rewriter.getIndexAttr(repeat),
                                       dim(init, 1), dim(init, 2)};
    Value y5 = tensor::ExpandShapeOp::create(rewriter, loc, init5Type,
                                             bmm->getResult(0), rows, outShape);
    Value y = tensor::CollapseShapeOp::create(rewriter, loc, y5, split0);
    if (y.getType() != op.getResult(0).getType())
      y = tensor::CastOp::create(rewriter, loc, op.getResult(0).getType(), y);
    rewriter.replaceOp(op, y);
    return success();
  }
};

/// tensor.dim(op.result(i), d) -> tensor.dim(op.init(i), d) for a
/// destination-style op on tensors.
struct DimOfDestinationStyleResult : OpRewritePattern<tensor::DimOp> {
  using OpRewritePattern::OpRewritePattern;
  LogicalResult matchAndRewrite(tensor::DimOp op,
                                PatternRewriter &rewriter) const override {
    auto result = dyn_cast<OpResult>(op.getSource());
    if (!result)
      return failure();
    auto dps = dyn_cast<DestinationStyleOpInterface>(result.getOwner());
    if (!dps || !dps.hasPureTensorSemantics())
      return failure();
    rewriter.modifyOpInPlace(op, [&] {
      op.getSourceMutable().assign(
          dps.getDpsInitOperand(result.getResultNumber())->get());
    });
    return success();
  }
};

struct SlimFoldTransposesPass
    : slim::impl::SlimFoldTransposesPassBase<SlimFoldTransposesPass> {
  using Base::Base;
  void runOnOperation() override {
    RewritePatternSet patterns(&getContext());
    slim::populateFoldTransposesPatterns(patterns);
    // Shapes read off a folded transpose or broadcast come from their
    // sources, so that the copies die. A dim of a destination-style op's
    // result is the dim of its init (cheap, and first); upstream's
    // ResolveRankedShapedTypeResultDims patterns do the rest (reshapes,
    // tensor.empty). Reifying a linalg op's whole result shape for each dim
    // read took most of this pass's 4.6 s on SmolLM2.
    patterns.add<DimOfDestinationStyleResult>(&getContext(), /*benefit=*/2);
    memref::populateResolveRankedShapedTypeResultDimsPatterns(patterns);
    if (transposeWeights || packWeights)
      patterns.add<RelayoutWeightOperand>(&getContext(), packWeights);
    if (failed(applyPatternsGreedily(getOperation(), std::move(patterns))))
      signalPassFailure();
  }
};

} // namespace

void mlir::slim::populateFoldTransposesPatterns(RewritePatternSet &patterns) {
  patterns.add<FoldIntoMatmul, FoldIntoBatchMatmul, FoldRepeatedHeads>(
      patterns.getContext());
}
