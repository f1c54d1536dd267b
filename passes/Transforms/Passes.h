//===- Passes.h - Slim transformation passes --------------------*- C++ -*-===//
//
// Part of the Slim project, under the Apache License v2.0 with LLVM Exceptions.
// SPDX-License-Identifier: Apache-2.0 WITH LLVM-exception
//
//===----------------------------------------------------------------------===//

#ifndef SLIM_PASSES_TRANSFORMS_PASSES_H
#define SLIM_PASSES_TRANSFORMS_PASSES_H

#include "dialects/Slim/IR/SlimDialect.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Bufferization/IR/Bufferization.h"
#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Dialect/LLVMIR/LLVMDialect.h"
#include "mlir/Dialect/Linalg/IR/Linalg.h"
#include "mlir/Dialect/Math/IR/Math.h"
#include "mlir/Dialect/MemRef/IR/MemRef.h"
#include "mlir/Dialect/Tensor/IR/Tensor.h"
#include "mlir/IR/PatternMatch.h"
#include "mlir/Pass/Pass.h"

namespace mlir::slim {

/// How `--slim-lower-quantized-matmul`'s kernels may treat the activations
/// of products of up to 16 rows (decoding, short prompts).
enum class QuantizedActivations {
  /// f32 products with the exact weights.
  F32,
  /// Rounded to int8 per block of 32 inputs for integer dot products
  /// (error bound in lib/Kernels/QGemv.h).
  Int8,
};

/// What `--slim-quantize embeddings=` does with embedding tables and the
/// LM head tied to them.
enum class EmbeddingQuantization { Dense, Int8, Int6, Int4 };

/// The criterion of `--slim-prune`.
enum class PruneMethod { Magnitude, Wanda, SparseGPT, Flap };

/// The method of `--slim-factorize`.
enum class FactorizeMethod { SVD, SVDLLM, ASVD };

#define GEN_PASS_DECL
#include "passes/Transforms/Passes.h.inc"

/// The patterns of `--slim-fold-transposes`.
void populateFoldTransposesPatterns(RewritePatternSet &patterns);

/// The patterns of `--slim-fuse-elementwise`.
void populateFuseElementwisePatterns(RewritePatternSet &patterns);

/// A linalg.softmax `--slim-lower-softmax` turns into a kernel call: f32
/// input and output, over the innermost dimension.
bool isKernelSoftmax(Operation *op);

#define GEN_PASS_REGISTRATION
#include "passes/Transforms/Passes.h.inc"

} // namespace mlir::slim

#endif // SLIM_PASSES_TRANSFORMS_PASSES_H
