//===- Hessian.cpp - The inverse Hessian of a layer's inputs --------------===//
//
// Part of the Slim project, under the Apache License v2.0 with LLVM Exceptions.
// SPDX-License-Identifier: Apache-2.0 WITH LLVM-exception
//
//===----------------------------------------------------------------------===//

#include "lib/Compression/Hessian.h"

#include "llvm/Support/FormatVariadic.h"

#include <lapacke.h>

#include <algorithm>
#include <cmath>

using namespace mlir::slim;

namespace {

/// The upper Cholesky factor U of H^-1 (H^-1 = U^T U) in place in `h`
/// (row-major n x n). Returns false if H is not positive definite.
bool invertedCholesky(std::vector<double> &h, int64_t n) {
  if (LAPACKE_dpotrf(LAPACK_ROW_MAJOR, 'L', n, h.data(), n) != 0)
    return false;
  if (LAPACKE_dpotri(LAPACK_ROW_MAJOR, 'L', n, h.data(), n) != 0)
    return false;
  for (int64_t i = 0; i < n; ++i)
    for (int64_t j = i + 1; j < n; ++j)
      h[i * n + j] = h[j * n + i];
  return LAPACKE_dpotrf(LAPACK_ROW_MAJOR, 'U', n, h.data(), n) == 0;
}

} // namespace

llvm::Error mlir::slim::checkSweepOptions(int64_t blockSize,
                                          double dampFraction) {
  if (blockSize <= 0)
    return llvm::createStringError(
        llvm::formatv("block-size={0} must be positive", blockSize).str());
  if (!(dampFraction >= 0))
    return llvm::createStringError(
        llvm::formatv("damp={0} must not be negative", dampFraction).str());
  return llvm::Error::success();
}

llvm::Expected<InverseHessian>
mlir::slim::getInverseHessian(llvm::ArrayRef<float> hessian, int64_t cols,
                              llvm::ArrayRef<int64_t> perm,
                              double dampFraction) {
  auto at = [&](int64_t i) { return perm.empty() ? i : perm[i]; };
  InverseHessian result;
  result.dead.assign(cols, false);
  for (int64_t c = 0; c < cols; ++c)
    if (hessian[c * cols + c] == 0.0f) {
      result.dead[c] = true;
      ++result.deadColumns;
    }
  std::vector<double> h(cols * cols);
  for (int64_t i = 0; i < cols; ++i)
    for (int64_t j = 0; j < cols; ++j)
      h[i * cols + j] = hessian[at(i) * cols + at(j)];
  for (int64_t i = 0; i < cols; ++i)
    if (result.dead[at(i)])
      h[i * cols + i] = 1.0;
  if (!std::all_of(hessian.begin(), hessian.end(),
                   [](float v) { return std::isfinite(v); }))
    return llvm::createStringError("the Hessian has non-finite entries");
  double meanDiag = 0;
  for (int64_t i = 0; i < cols; ++i)
    meanDiag += h[i * cols + i];
  meanDiag /= cols;

  double damp = dampFraction;
  constexpr int kMaxRetries = 6;
  for (int attempt = 0;; ++attempt) {
    result.u = h;
    double add = std::max(damp, 1e-12) * meanDiag;
    for (int64_t i = 0; i < cols; ++i)
      result.u[i * cols + i] += add;
    if (invertedCholesky(result.u, cols))
      break;
    if (attempt == kMaxRetries)
      return llvm::createStringError(
          llvm::formatv("Cholesky factorization failed with damping up to "
                        "{0} of the mean diagonal",
                        damp)
              .str());
    ++result.choleskyRetries;
    damp = damp > 0 ? damp * 10 : 0.01;
  }
  result.dampFraction = damp;
  return result;
}
