//===- Factorizer.h - Low-rank factorization of weights ---------*- C++ -*-===//
//
// Part of the Slim project, under the Apache License v2.0 with LLVM Exceptions.
// SPDX-License-Identifier: Apache-2.0 WITH LLVM-exception
//
//===----------------------------------------------------------------------===//
//
// Low-rank factorization of one linear layer, independent of MLIR: a target
// matrix T (the weight, or the error of its quantization) is approximated by
// U V with U `rows x r` and V `r x cols` (rows: output channels, as in
// Quantizer.h). Three ways to choose U V:
//
//   * svd: the truncated SVD of T, best in ||T - U V||_F (Eckart-Young);
//   * svd-llm (Wang et al., 2024): best in the output error on the
//     calibration inputs, ||(T - U V) X^T||_F. With H = X^T X = L L^T
//     (Cholesky, damped), that error is ||(T - U V) L||_F, so the truncated
//     SVD of T L, mapped back through L^-1, is optimal ("truncation-aware
//     whitening");
//   * asvd (Yuan et al., 2023): the same with L = diag(mean|x|^alpha), which
//     scales input channels by their activation size instead of whitening.
//
// As a replacement (W ~ U V) a factorization only pays where r (rows + cols)
// < rows cols; as a residual (W ~ Q(W) + U V, ZeroQuant-FP's low-rank
// compensation) T is W - dequantize(RTN(W)).
//
//===----------------------------------------------------------------------===//

#ifndef SLIM_LIB_COMPRESSION_FACTORIZER_H
#define SLIM_LIB_COMPRESSION_FACTORIZER_H

#include "lib/Compression/Quantizer.h"

#include "llvm/ADT/ArrayRef.h"
#include "llvm/Support/Error.h"

#include <cstdint>
#include <optional>
#include <vector>

namespace mlir::slim {

enum class FactorizeCriterion { SVD, SVDLLM, ASVD };

/// The rank: fixed (`rank`), or the smallest keeping `paramRatio` of the
/// dense parameters at most (replacement only), or the smallest retaining
/// `energy` of the target's (whitened) squared singular values. Exactly one
/// is set (positive).
struct RankChoice {
  int64_t rank = 0;
  double paramRatio = 0;
  double energy = 0;
  llvm::Error validate() const;
};

struct FactorizeOptions {
  FactorizeCriterion criterion = FactorizeCriterion::SVD;
  RankChoice rank;
  /// SVD-LLM: damping of H's diagonal, as a fraction of its mean.
  double dampFraction = 0.01;
  /// ASVD: the exponent of mean|x|.
  double alpha = 0.5;
  /// Residual mode: the weight is quantized by RTN with this scheme and U V
  /// approximates the quantization error.
  std::optional<QuantScheme> residualOf;
  /// Residual mode: U V approximates w - base, base (`rows x cols`) being
  /// another compression's result (a pruned weight).
  llvm::ArrayRef<float> base;
};

struct FactorizedMatrix {
  int64_t rows = 0, cols = 0, rank = 0;
  /// rows x rank and rank x cols, row-major.
  std::vector<float> u, v;
  /// Residual mode: the quantized weight U V is added to.
  std::optional<QuantizedMatrix> quant;
  /// rows x cols: what the layer computes with.
  std::vector<float> weights;
  /// Fraction of the target's (whitened) squared singular values kept.
  double retainedEnergy = 0;
  /// Replacement mode: the factors would not be smaller than the weight, so
  /// the layer should stay dense (u, v empty, weights = the input).
  bool keepDense = false;
};

/// Factorizes `w` (row-major `rows x cols`). `hessian` (X^T X, `cols x
/// cols`) is read by SVD-LLM, `absMean` (mean |x| per input) by ASVD; both
/// may be empty otherwise.
llvm::Expected<FactorizedMatrix>
factorizeWeights(llvm::ArrayRef<float> w, int64_t rows, int64_t cols,
                 llvm::ArrayRef<float> hessian, llvm::ArrayRef<float> absMean,
                 const FactorizeOptions &options);

} // namespace mlir::slim

#endif // SLIM_LIB_COMPRESSION_FACTORIZER_H
