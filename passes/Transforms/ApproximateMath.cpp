//===- ApproximateMath.cpp - Vectorizable f32 transcendental functions ----===//
//
// Part of the Slim project, under the Apache License v2.0 with LLVM Exceptions.
// SPDX-License-Identifier: Apache-2.0 WITH LLVM-exception
//
//===----------------------------------------------------------------------===//
//
// LLVM lowers `llvm.exp.f32` and its kin to calls of libm, one element at a
// time and through errno handling, and its loop vectorizer cannot vectorize
// a loop around such a call without a vector math library. On SmolLM2's
// prefill of 512 tokens the softmax's expf took 9% of the time. Upstream's
// polynomial approximations (Cephes-style range reduction and minimax
// polynomials, within a few ulp of libm) are plain arithmetic that LLVM
// vectorizes with the rest of the fused loop.
//
//===----------------------------------------------------------------------===//

#include "passes/Transforms/Passes.h"

#include "mlir/Dialect/Math/Transforms/Passes.h"
#include "mlir/Dialect/Vector/IR/VectorOps.h"
#include "mlir/Transforms/GreedyPatternRewriteDriver.h"
#include "llvm/ADT/StringSwitch.h"

namespace mlir::slim {
#define GEN_PASS_DEF_SLIMAPPROXIMATEMATHPASS
#include "passes/Transforms/Passes.h.inc"
} // namespace mlir::slim

using namespace mlir;

namespace {
struct SlimApproximateMathPass
    : slim::impl::SlimApproximateMathPassBase<SlimApproximateMathPass> {
  void runOnOperation() override {
    // The functions whose approximations upstream tests against libm over
    // their whole f32 range; rsqrt is left out (its fast form needs AVX2
    // intrinsics and is less accurate).
    auto approximated = [](StringRef name) {
      name.consume_front("math.");
      return llvm::StringSwitch<bool>(name)
          .Cases({"exp", "expm1", "log", "log1p", "log2", "tanh", "erf",
                  "sin", "cos"},
                 true)
          .Default(false);
    };
    RewritePatternSet patterns(&getContext());
    populateMathPolynomialApproximationPatterns(patterns, approximated);
    if (failed(applyPatternsGreedily(getOperation(), std::move(patterns)))) {
      signalPassFailure();
      return;
    }
    // The polynomials are written with math.fma, which LLVM lowers to a
    // call of libm's fmaf on targets without FMA. A multiply and an add that
    // may be contracted become one FMA where the target has it and stay two
    // instructions where it does not.
    IRRewriter rewriter(&getContext());
    getOperation().walk([&](math::FmaOp fma) {
      rewriter.setInsertionPoint(fma);
      auto contract = arith::FastMathFlags::contract;
      Value mul = arith::MulFOp::create(rewriter, fma.getLoc(), fma.getA(),
                                        fma.getB(), contract);
      rewriter.replaceOpWithNewOp<arith::AddFOp>(fma, mul, fma.getC(),
                                                 contract);
    });
  }
};
} // namespace
