//===- Pruner.h - Weight pruning: magnitude, Wanda, SparseGPT ---*- C++ -*-===//
//
// Part of the Slim project, under the Apache License v2.0 with LLVM Exceptions.
// SPDX-License-Identifier: Apache-2.0 WITH LLVM-exception
//
//===----------------------------------------------------------------------===//
//
// Pruning of one linear layer, independent of MLIR. The weight is the
// row-major `rows x cols` matrix of Quantizer.h (one row per output channel,
// one column per input channel); N:M runs go along a row (the input
// dimension, where sparse tensor cores and Slim's kernels want them).
//
// Three criteria:
//   * magnitude: |W|; unstructured pruning compares the whole layer (the
//     classic layer-wise baseline), N:M each run.
//   * Wanda (Sun et al., 2024): |W_ij| * ||X_j||_2, the input norms being
//     the square roots of the calibration X^T X diagonal; unstructured
//     pruning compares within each output row, as the paper does.
//   * SparseGPT (Frantar & Alistarh, 2023): columns are processed one at a
//     time as in GPTQ; the pruning error of each is spread over the not yet
//     processed columns through the inverse Hessian (upper Cholesky factor U
//     of (X^T X + damping)^-1), in blocks with lazy batch updates. The mask
//     is chosen by w^2 / U_jj^2 on the error-compensated weights: per block
//     of columns over all rows for unstructured sparsity, per run for N:M.
//     With a quantization scheme the kept weights are quantized in the same
//     sweep (the paper's joint sparsification and quantization), so the
//     rounding error is compensated too.
//
//===----------------------------------------------------------------------===//

#ifndef SLIM_LIB_COMPRESSION_PRUNER_H
#define SLIM_LIB_COMPRESSION_PRUNER_H

#include "lib/Compression/Quantizer.h"

#include "llvm/ADT/ArrayRef.h"
#include "llvm/Support/Error.h"

#include <cstdint>
#include <optional>
#include <vector>

namespace mlir::slim {

enum class PruneCriterion { Magnitude, Wanda, SparseGPT };

/// Which weights may stay: `n` of every `m` consecutive inputs (N:M), or a
/// fraction `sparsity` of all weights removed (unstructured, m = 0).
struct SparsityPattern {
  unsigned n = 0, m = 0;
  double sparsity = 0.5;

  bool isStructured() const { return m > 0; }
  /// Fraction of weights kept.
  double density() const {
    return isStructured() ? double(n) / m : 1.0 - sparsity;
  }
  /// Checks the pattern against rows of `cols` inputs; the message names
  /// the offending value.
  llvm::Error validate(int64_t cols) const;
};

struct PruneOptions {
  PruneCriterion criterion = PruneCriterion::Magnitude;
  SparsityPattern pattern;
  /// SparseGPT: damping added to H's diagonal, as a fraction of its mean.
  double dampFraction = 0.01;
  /// SparseGPT: columns per lazy-update block (rounded up to a multiple of
  /// the run, or of a quantization group's span of inputs).
  int64_t blockSize = 128;
  /// Quantize the kept values (N:M only: the values form a `rows x
  /// cols * n / m` matrix, which the scheme's groups refer to). SparseGPT
  /// quantizes them in its sweep; the other criteria round to nearest after
  /// pruning.
  std::optional<QuantScheme> quant;
};

/// A pruned `rows x cols` matrix.
struct PrunedMatrix {
  int64_t rows = 0, cols = 0;
  SparsityPattern pattern;
  /// rows x cols: what the layer computes with (zero where pruned; after
  /// SparseGPT's updates, and the quantized values where quantized).
  std::vector<float> weights;
  /// rows x cols, 1 where a weight is kept.
  std::vector<uint8_t> mask;
  /// N:M with a scheme: the kept values, `rows x cols * n / m`, quantized.
  std::optional<QuantizedMatrix> quant;

  /// Kept weights.
  int64_t countKept() const;
  /// N:M storage of `#slim.sparse<n:m>` along the rows: each run's kept
  /// values in order (`rows x cols * n / m`) and their positions in the run.
  void getRuns(std::vector<float> &values,
               std::vector<uint8_t> &positions) const;
  /// CSR storage of `#slim.sparse<unstructured>`.
  void getCsr(std::vector<float> &values, std::vector<int32_t> &rowPtr,
              std::vector<int32_t> &colIdx) const;
};

/// What pruning did besides the result.
struct PruneInfo {
  /// SparseGPT: the damping fraction that made H positive definite, and the
  /// Cholesky factorizations that failed before it.
  double dampFraction = 0;
  int choleskyRetries = 0;
  /// Inputs never active in the calibration data (zero H diagonal); their
  /// weights are pruned first.
  int64_t deadColumns = 0;
};

/// Prunes `w` (row-major `rows x cols`). `hessian` (`cols x cols`, X^T X of
/// the inputs at any positive scale) is needed by Wanda (its diagonal) and
/// SparseGPT, and ignored by magnitude pruning (may be empty).
llvm::Expected<PrunedMatrix> pruneWeights(llvm::ArrayRef<float> w, int64_t rows,
                                          int64_t cols,
                                          llvm::ArrayRef<float> hessian,
                                          const PruneOptions &options,
                                          PruneInfo *info = nullptr);

} // namespace mlir::slim

#endif // SLIM_LIB_COMPRESSION_PRUNER_H
