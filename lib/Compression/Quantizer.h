//===- Quantizer.h - Weight quantization: RTN and GPTQ ----------*- C++ -*-===//
//
// Part of the Slim project, under the Apache License v2.0 with LLVM Exceptions.
// SPDX-License-Identifier: Apache-2.0 WITH LLVM-exception
//
//===----------------------------------------------------------------------===//
//
// Integer weight quantization of one linear layer, independent of MLIR.
// A weight is a row-major `rows x cols` matrix with one row per output
// channel and one column per input channel (the `[N, K]` layout of
// `slim.matmul {transpose_rhs}` and of ONNX MatMulNBits); groups run along a
// row. Results hold one code per element (low `bits` bits, ready for
// packCodes) and the scales / zero points `#slim.quant` stores, with scales
// already rounded to their storage type so that the codes were chosen
// against the scales the kernels will read.
//
// Two algorithms:
//   * RTN: round to nearest with per-channel or per-group ranges, optionally
//     with a search over clipping ranges (`clipSearch`) minimizing the
//     squared error of each group.
//   * GPTQ (Frantar et al., 2023): columns are quantized one at a time and
//     the error of each is spread over the not yet quantized columns through
//     the inverse Hessian H = X^T X of the layer's calibration inputs, in
//     blocks with lazy batch updates. Act-order processes columns by
//     decreasing H diagonal; with groups it uses *static* groups (ranges of
//     the original contiguous groups, fixed before the sweep), so the result
//     keeps the contiguous-group storage of `#slim.quant` and needs no
//     g_idx permutation. Static groups are the default without act-order
//     too; `staticGroups = false` takes ranges lazily as the reference
//     implementation does. A Cholesky factorization that fails is retried with
//     ten times the damping, up to six times; the retries are reported.
//
//===----------------------------------------------------------------------===//

#ifndef SLIM_LIB_COMPRESSION_QUANTIZER_H
#define SLIM_LIB_COMPRESSION_QUANTIZER_H

#include "llvm/ADT/ArrayRef.h"
#include "llvm/Support/Error.h"

#include <algorithm>
#include <cstdint>
#include <string>
#include <vector>

namespace mlir::slim {

/// Storage type of quantization scales.
enum class ScaleType { F32, F16, BF16 };

/// Rounds `x` to the nearest value representable in `type` (to nearest
/// even; overflow saturates to the largest finite value).
float roundToScaleType(float x, ScaleType type);

/// How to quantize: code width, range, granularity, scale storage.
struct QuantScheme {
  /// Code width, 2 to 8.
  unsigned bits = 4;
  /// Symmetric: signed codes, no zero point; each group's scale maps its
  /// largest-magnitude value onto code -2^(bits-1), so every code is used.
  /// Asymmetric: unsigned codes with a zero point per group, the range
  /// [min(w, 0), max(w, 0)] mapped onto [0, 2^bits - 1].
  bool symmetric = false;
  /// Columns per group; 0 for one range per row (per output channel). When
  /// it does not divide the row the last group is shorter (ceil(cols / g)
  /// groups, as `#slim.quant` and ONNX MatMulNBits store them).
  int64_t groupSize = 0;
  ScaleType scaleType = ScaleType::F16;
  /// Shrink each range by the factor in {1, 0.97, ..., 0.52} that minimizes
  /// the group's squared rounding error (RTN; GPTQ uses it when choosing
  /// group ranges).
  bool clipSearch = false;

  /// Checks bits and group size for a row of `cols` columns; the message
  /// names the offending option.
  llvm::Error validate(int64_t cols) const;
};

/// A quantized `rows x cols` matrix.
struct QuantizedMatrix {
  int64_t rows = 0, cols = 0;
  /// Groups per row (1 for per-channel).
  int64_t groupsPerRow = 0;
  QuantScheme scheme;
  /// One code per element, row-major, in the low `bits` bits (two's
  /// complement for symmetric codes).
  std::vector<uint8_t> codes;
  /// rows x groupsPerRow, exactly representable in the scale type.
  std::vector<float> scales;
  /// rows x groupsPerRow (asymmetric only), in [0, 2^bits - 1].
  std::vector<uint8_t> zeroPoints;

  /// Columns per group (the last one may be shorter).
  int64_t groupSize() const {
    return scheme.groupSize > 0 ? scheme.groupSize : cols;
  }
  /// Columns of group `g`.
  int64_t groupLength(int64_t g) const {
    return std::min(groupSize(), cols - g * groupSize());
  }
  /// The value element (r, c) stands for.
  float dequantize(int64_t r, int64_t c) const;
  /// All values, row-major.
  std::vector<float> dequantizeAll() const;
};

/// Round-to-nearest quantization of `w` (row-major `rows x cols`).
llvm::Expected<QuantizedMatrix> quantizeRtn(llvm::ArrayRef<float> w,
                                            int64_t rows, int64_t cols,
                                            const QuantScheme &scheme);

/// GPTQ settings.
struct GptqOptions {
  /// Damping added to H's diagonal, as a fraction of its mean diagonal.
  double dampFraction = 0.01;
  /// Columns per lazy-update block.
  int64_t blockSize = 128;
  /// Quantize columns in order of decreasing H diagonal (implies static
  /// groups). Off here; `--slim-quantize` turns it on by default.
  bool actOrder = false;
  /// Fix each group's range from the original weights before the sweep
  /// (static groups). Otherwise a group's range is taken from the
  /// error-compensated weights when the sweep reaches it, as in the
  /// reference implementation; on correlated inputs at 2-3 bits the
  /// compensation inflates later groups' ranges, and static groups give
  /// lower output error (QuantizerTest).
  bool staticGroups = true;
};

/// What GPTQ did besides the result.
struct GptqInfo {
  /// The damping fraction that made H positive definite.
  double dampFraction = 0;
  /// Cholesky factorizations that failed before that.
  int choleskyRetries = 0;
  /// Input channels never active in the calibration data (zero H diagonal);
  /// their weights are irrelevant to the outputs and quantized as zero.
  int64_t deadColumns = 0;
};

/// GPTQ quantization of `w` (row-major `rows x cols`) with the `cols x cols`
/// second-moment matrix `hessian` (X^T X of the inputs, any positive
/// scaling). Fails, naming the reason, when H stays indefinite.
llvm::Expected<QuantizedMatrix> quantizeGptq(llvm::ArrayRef<float> w,
                                             int64_t rows, int64_t cols,
                                             llvm::ArrayRef<float> hessian,
                                             const QuantScheme &scheme,
                                             const GptqOptions &options,
                                             GptqInfo *info = nullptr);

/// AWQ settings.
struct AwqOptions {
  /// Exponents tried for the activation-aware scales: 0, 1/n, ..., (n-1)/n.
  int gridPoints = 20;
};

/// An AWQ result: the quantized matrix holds W diag(s); the layer computes
/// (x / s) (W diag(s))^T, so `inputScales` (s, one per input channel)
/// divide the activation.
struct AwqResult {
  QuantizedMatrix q;
  std::vector<float> inputScales;
  /// The exponent chosen: s = mean|x|^alpha, normalized.
  double alpha = 0;
};

/// AWQ (Lin et al., 2024): input channels are scaled by s = mean|x|^alpha
/// (normalized so that max(s) min(s) = 1) before round-to-nearest, with alpha
/// searched on a grid to minimize the output error on the calibration
/// inputs (`hessian` = X^T X); `absMean` is the per-channel mean |x|.
llvm::Expected<AwqResult> quantizeAwq(llvm::ArrayRef<float> w, int64_t rows,
                                      int64_t cols,
                                      llvm::ArrayRef<float> absMean,
                                      llvm::ArrayRef<float> hessian,
                                      const QuantScheme &scheme,
                                      const AwqOptions &options);

/// Relative output error of replacing `w` by `what` on inputs with second
/// moment `hessian`: sqrt(tr(D H D^T) / tr(W H W^T)), D = what - w, which is
/// ||W X - What X||_F / ||W X||_F on the calibration inputs.
double relativeOutputError(llvm::ArrayRef<float> w, llvm::ArrayRef<float> what,
                           int64_t rows, int64_t cols,
                           llvm::ArrayRef<float> hessian);

/// ||what - w||_F / ||w||_F.
double relativeWeightError(llvm::ArrayRef<float> w, llvm::ArrayRef<float> what);

} // namespace mlir::slim

#endif // SLIM_LIB_COMPRESSION_QUANTIZER_H
