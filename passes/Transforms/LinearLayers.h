//===- LinearLayers.h - Finding the linear layers of a model ----*- C++ -*-===//
//
// Part of the Slim project, under the Apache License v2.0 with LLVM Exceptions.
// SPDX-License-Identifier: Apache-2.0 WITH LLVM-exception
//
//===----------------------------------------------------------------------===//
//
// The compression passes work on linear layers: `linalg.matmul` on tensors
// of an f32 activation `[M, K]` by a constant f32 weight `[K, N]` into a
// zero-filled init, which is how the ONNX importer emits every MatMul/Gemm
// with an initializer weight. A layer's name is the weight's resource key
// (the ONNX initializer name, e.g. `model.layers.0.mlp.up_proj.weight`), or
// the op's location name for inline constants. Calibration statistics,
// layer selection patterns and reports all use these names.
//
//===----------------------------------------------------------------------===//

#ifndef SLIM_PASSES_TRANSFORMS_LINEARLAYERS_H
#define SLIM_PASSES_TRANSFORMS_LINEARLAYERS_H

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Linalg/IR/Linalg.h"
#include "mlir/Dialect/Tensor/IR/Tensor.h"
#include "mlir/IR/BuiltinAttributes.h"

#include "llvm/Support/Regex.h"

#include <string>

namespace mlir::slim {

struct LinearLayer {
  linalg::MatmulOp op;
  std::string name;
  /// The activation operand `[M, K]` when the layers were found (a pass
  /// that rewrites layers must re-read the op's operand).
  Value input;
  /// The weight `[K, N]` (DenseResourceElementsAttr or DenseElementsAttr).
  ElementsAttr weight;
  int64_t inChannels = 0, outChannels = 0;

  /// The weight's f32 values, row-major [K, N]; empty if the data is not
  /// available (elided resource).
  ArrayRef<float> getWeightData() const;
  /// A hash of the weight's bytes (XXH3, 16 hex digits; "" if the data is
  /// not available): calibration statistics record it so that a file made
  /// from another model is refused.
  std::string getWeightHash() const;
};

/// All linear layers under `root`, in program order.
SmallVector<LinearLayer> findLinearLayers(Operation *root);

/// A constant f32 table `[V, H]` read by gathers and, where the LM head is
/// tied to it, by `matmul(x, transpose(table))` (how an ONNX
/// `Gather(embedding)` and `MatMul(x, Transpose(embedding))` import).
struct EmbeddingTable {
  arith::ConstantOp constant;
  std::string name;
  int64_t rows = 0, cols = 0;
  /// `tensor.extract %table[%row, %col]` inside linalg.generic bodies.
  SmallVector<tensor::ExtractOp> gathers;
  /// Matmuls `[M, H] x transpose(table) -> [M, V]` into a zero fill, and
  /// the transposes.
  SmallVector<std::pair<linalg::MatmulOp, linalg::TransposeOp>> heads;
  /// Uses of any other kind (the table then stays dense for them).
  int64_t otherUses = 0;

  /// The table's f32 values, row-major [V, H]; empty if not available.
  ArrayRef<float> getData() const;
};

/// Constant 2-D f32 tables with at least one gather or tied-head use.
SmallVector<EmbeddingTable> findEmbeddingTables(Operation *root);

/// Compiles a layer-selection pattern (POSIX extended regex, searched in
/// the layer name; empty matches nothing). Errors name `option`.
FailureOr<llvm::Regex> compileLayerPattern(StringRef pattern, StringRef option,
                                           Operation *anchor);

} // namespace mlir::slim

#endif // SLIM_PASSES_TRANSFORMS_LINEARLAYERS_H
