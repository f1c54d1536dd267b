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

#include "mlir/IR/DialectResourceBlobManager.h"
#include "mlir/IR/PatternMatch.h"
#include "mlir/Transforms/GreedyPatternRewriteDriver.h"
#include "llvm/ADT/SmallString.h"
#include "llvm/Support/FileSystem.h"
#include "llvm/Support/Path.h"

#include <sys/mman.h>
#include <unistd.h>

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

/// linalg.matmul(A, transpose(B')) -> linalg.matmul(A, B') with the
/// transposed-B indexing maps (and the same for A).
struct FoldIntoMatmul : OpRewritePattern<linalg::MatmulOp> {
  using OpRewritePattern::OpRewritePattern;
  LogicalResult matchAndRewrite(linalg::MatmulOp op,
                                PatternRewriter &rewriter) const override {
    if (!op.hasPureTensorSemantics() || op.hasUserDefinedMaps() ||
        op.getNumDpsInputs() != 2)
      return failure();
    Value a = op.getDpsInputOperand(0)->get();
    Value b = op.getDpsInputOperand(1)->get();
    Value bt = innerTransposeSource(b);
    Value at = innerTransposeSource(a);
    if (!bt && !at)
      return failure();
    MLIRContext *ctx = op.getContext();
    AffineExpr m, n, k;
    bindDims(ctx, m, n, k);
    auto map = [&](ArrayRef<AffineExpr> e) { return AffineMap::get(3, 0, e, ctx); };
    SmallVector<Attribute> maps{
        AffineMapAttr::get(at ? map({k, m}) : map({m, k})),
        AffineMapAttr::get(bt ? map({n, k}) : map({k, n})),
        AffineMapAttr::get(map({m, n}))};
    auto mm = linalg::MatmulOp::create(
        rewriter, op.getLoc(), op.getResultTypes(),
        ValueRange{at ? at : a, bt ? bt : b}, op.getDpsInits());
    mm.setIndexingMapsAttr(ArrayAttr::get(ctx, maps));
    rewriter.replaceOp(op, mm->getResults());
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
    if (!op.hasPureTensorSemantics() || op.hasUserDefinedMaps() ||
        op.getNumDpsInputs() != 2)
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

/// A writable blob of `size` bytes in an unlinked temporary file, mapped
/// shared: transposed weights are as large as the model, and file-backed
/// pages can be written back and dropped instead of holding that much
/// anonymous memory. Falls back to the heap where no temporary file can be
/// made.
AsmResourceBlob allocateWeightBlob(size_t size) {
  llvm::SmallString<128> path;
  int fd = -1;
  if (size > 0 &&
      !llvm::sys::fs::createTemporaryFile("slim-weights", "bin", fd, path)) {
    ::unlink(path.c_str());
    void *data = MAP_FAILED;
    if (::ftruncate(fd, static_cast<off_t>(size)) == 0)
      data = ::mmap(nullptr, size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    ::close(fd);
    if (data != MAP_FAILED)
      return AsmResourceBlob(
          ArrayRef<char>(static_cast<char *>(data), size), 64,
          [](void *p, size_t n, size_t) { ::munmap(p, n); },
          /*dataIsMutable=*/true);
  }
  return HeapAsmResourceBlob::allocate(size, 64);
}

/// linalg.matmul(A, W) with W an f32 constant [K, N] -> linalg.matmul with
/// the transposed-B maps on a new constant W^T [N, K], transposed once at
/// compile time: each output channel's weights are then contiguous, the
/// layout in which a one-row product (decoding) streams the weight at
/// memory bandwidth as dot products.
struct TransposeWeightOperand : OpRewritePattern<linalg::MatmulOp> {
  using OpRewritePattern::OpRewritePattern;
  LogicalResult matchAndRewrite(linalg::MatmulOp op,
                                PatternRewriter &rewriter) const override {
    if (!op.hasPureTensorSemantics() || op.hasUserDefinedMaps() ||
        op.getNumDpsInputs() != 2)
      return failure();
    Value b = op.getDpsInputOperand(1)->get();
    auto cst = b.getDefiningOp<arith::ConstantOp>();
    auto type = dyn_cast<RankedTensorType>(b.getType());
    if (!cst || !type || !type.hasStaticShape() || type.getRank() != 2 ||
        !type.getElementType().isF32())
      return failure();
    ArrayRef<char> bytes;
    if (auto res = dyn_cast<DenseResourceElementsAttr>(cst.getValue())) {
      if (!res.getRawHandle().getBlob())
        return failure();
      bytes = res.getData();
    } else if (auto dense = dyn_cast<DenseElementsAttr>(cst.getValue())) {
      if (dense.isSplat())
        return failure();
      bytes = dense.getRawData();
    } else {
      return failure();
    }
    int64_t k = type.getDimSize(0), n = type.getDimSize(1);
    if (static_cast<int64_t>(bytes.size()) != k * n * 4)
      return failure();
    AsmResourceBlob blob = allocateWeightBlob(bytes.size());
    const float *src = reinterpret_cast<const float *>(bytes.data());
    float *dst = reinterpret_cast<float *>(blob.getMutableData().data());
    // Blocked so that both sides stay in cache.
    constexpr int64_t kTile = 64;
    for (int64_t i0 = 0; i0 < k; i0 += kTile)
      for (int64_t j0 = 0; j0 < n; j0 += kTile)
        for (int64_t i = i0; i < std::min(k, i0 + kTile); ++i)
          for (int64_t j = j0; j < std::min(n, j0 + kTile); ++j)
            dst[j * k + i] = src[i * n + j];
    auto tType = RankedTensorType::get({n, k}, type.getElementType());
    auto attr = DenseResourceElementsAttr::get(tType, "transposed_weight",
                                               std::move(blob));
    Value transposed = arith::ConstantOp::create(rewriter, cst.getLoc(), attr);
    MLIRContext *ctx = op.getContext();
    AffineExpr m, nn, kk;
    bindDims(ctx, m, nn, kk);
    auto map = [&](ArrayRef<AffineExpr> e) { return AffineMap::get(3, 0, e, ctx); };
    SmallVector<Attribute> maps{AffineMapAttr::get(map({m, kk})),
                                AffineMapAttr::get(map({nn, kk})),
                                AffineMapAttr::get(map({m, nn}))};
    auto mm = linalg::MatmulOp::create(
        rewriter, op.getLoc(), op.getResultTypes(),
        ValueRange{op.getDpsInputOperand(0)->get(), transposed},
        op.getDpsInits());
    mm.setIndexingMapsAttr(ArrayAttr::get(ctx, maps));
    rewriter.replaceOp(op, mm->getResults());
    return success();
  }
};

struct SlimFoldTransposesPass
    : slim::impl::SlimFoldTransposesPassBase<SlimFoldTransposesPass> {
  using Base::Base;
  void runOnOperation() override {
    RewritePatternSet patterns(&getContext());
    slim::populateFoldTransposesPatterns(patterns);
    if (transposeWeights)
      patterns.add<TransposeWeightOperand>(&getContext());
    if (failed(applyPatternsGreedily(getOperation(), std::move(patterns))))
      signalPassFailure();
  }
};

} // namespace

void mlir::slim::populateFoldTransposesPatterns(RewritePatternSet &patterns) {
  patterns.add<FoldIntoMatmul, FoldIntoBatchMatmul>(patterns.getContext());
}
