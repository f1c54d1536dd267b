//===- Factorizer.cpp - Low-rank factorization of weights -----------------===//
//
// Part of the Slim project, under the Apache License v2.0 with LLVM Exceptions.
// SPDX-License-Identifier: Apache-2.0 WITH LLVM-exception
//
//===----------------------------------------------------------------------===//

#include "lib/Compression/Factorizer.h"

#include "llvm/Support/FormatVariadic.h"

#include <cblas.h>
#include <lapacke.h>

#include <algorithm>
#include <cmath>

using namespace mlir::slim;
using llvm::ArrayRef;

llvm::Error RankChoice::validate() const {
  if (rank < 0)
    return llvm::createStringError(
        llvm::formatv("rank={0} must be positive", rank).str());
  if (!(paramRatio >= 0) || paramRatio > 1)
    return llvm::createStringError(
        llvm::formatv("ratio={0} is out of range (0, 1]", paramRatio).str());
  if (!(energy >= 0) || energy > 1)
    return llvm::createStringError(
        llvm::formatv("energy={0} is out of range (0, 1]", energy).str());
  if ((rank > 0) + (paramRatio > 0) + (energy > 0) != 1)
    return llvm::createStringError(
        "give exactly one of rank, ratio and energy");
  return llvm::Error::success();
}

namespace {

/// The lower Cholesky factor of H + damping (row-major, zeros above the
/// diagonal), the damping raised tenfold up to six times while H is not
/// positive definite.
llvm::Expected<std::vector<double>> choleskyOf(ArrayRef<float> hessian,
                                               int64_t n, double damp) {
  if (!std::all_of(hessian.begin(), hessian.end(),
                   [](float v) { return std::isfinite(v); }))
    return llvm::createStringError("the Hessian has non-finite entries");
  double meanDiag = 0;
  for (int64_t i = 0; i < n; ++i)
    meanDiag += hessian[i * n + i];
  meanDiag /= n;
  if (meanDiag <= 0)
    meanDiag = 1;
  std::vector<double> l(n * n);
  for (int attempt = 0; attempt <= 6; ++attempt) {
    for (int64_t k = 0; k < n * n; ++k)
      l[k] = hessian[k];
    for (int64_t i = 0; i < n; ++i)
      l[i * n + i] += std::max(damp, 1e-12) * meanDiag;
    if (LAPACKE_dpotrf(LAPACK_ROW_MAJOR, 'L', n, l.data(), n) == 0) {
      for (int64_t i = 0; i < n; ++i)
        for (int64_t j = i + 1; j < n; ++j)
          l[i * n + j] = 0.0;
      return l;
    }
    damp = damp > 0 ? damp * 10 : 0.01;
  }
  return llvm::createStringError(
      llvm::formatv("Cholesky factorization failed with damping up to {0} of "
                    "the mean diagonal",
                    damp / 10)
          .str());
}

} // namespace

llvm::Expected<FactorizedMatrix>
mlir::slim::factorizeWeights(ArrayRef<float> w, int64_t rows, int64_t cols,
                             ArrayRef<float> hessian, ArrayRef<float> absMean,
                             const FactorizeOptions &options) {
  const RankChoice &choice = options.rank;
  if (llvm::Error e = choice.validate())
    return std::move(e);
  int64_t kmin = std::min(rows, cols);
  if (choice.rank > kmin)
    return llvm::createStringError(
        llvm::formatv("rank={0} is larger than the layer allows, min({1}, {2}) "
                      "= {3}",
                      choice.rank, rows, cols, kmin)
            .str());
  bool residual = options.residualOf || !options.base.empty();
  if (options.residualOf && !options.base.empty())
    return llvm::createStringError(
        "a residual corrects either a quantization or a given base, not both");
  if (!options.base.empty() &&
      static_cast<int64_t>(options.base.size()) != rows * cols)
    return llvm::createStringError("the base has the wrong size");
  if (residual && choice.paramRatio > 0)
    return llvm::createStringError(
        "ratio chooses the rank of a replacement; give rank or energy for a "
        "residual");
  if (options.criterion == FactorizeCriterion::SVDLLM &&
      static_cast<int64_t>(hessian.size()) != cols * cols)
    return llvm::createStringError(
        "svd-llm needs the calibration X^T X of the layer's inputs");
  if (options.criterion == FactorizeCriterion::ASVD &&
      static_cast<int64_t>(absMean.size()) != cols)
    return llvm::createStringError(
        "asvd needs the calibration mean |x| of the layer's inputs");
  if (!(options.dampFraction >= 0))
    return llvm::createStringError(
        llvm::formatv("damp={0} must not be negative", options.dampFraction)
            .str());
  assert(static_cast<int64_t>(w.size()) == rows * cols && "size mismatch");

  FactorizedMatrix result;
  result.rows = rows;
  result.cols = cols;
  // The target: the weight, or its quantization error.
  std::vector<double> target(w.begin(), w.end());
  std::vector<float> base;
  if (options.residualOf) {
    llvm::Expected<QuantizedMatrix> q =
        quantizeRtn(w, rows, cols, *options.residualOf);
    if (!q)
      return q.takeError();
    base = q->dequantizeAll();
    for (int64_t k = 0; k < rows * cols; ++k)
      target[k] -= base[k];
    result.quant = std::move(*q);
  } else if (!options.base.empty()) {
    base.assign(options.base.begin(), options.base.end());
    for (int64_t k = 0; k < rows * cols; ++k)
      target[k] -= base[k];
  }

  // M = T L with L the whitening (SVD-LLM: Cholesky factor of H; ASVD: a
  // diagonal scaling; plain SVD: the identity).
  std::vector<double> l, scale;
  std::vector<double> m = target;
  if (options.criterion == FactorizeCriterion::SVDLLM) {
    llvm::Expected<std::vector<double>> chol =
        choleskyOf(hessian, cols, options.dampFraction);
    if (!chol)
      return chol.takeError();
    l = std::move(*chol);
    cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, rows, cols, cols,
                1.0, target.data(), cols, l.data(), cols, 0.0, m.data(), cols);
  } else if (options.criterion == FactorizeCriterion::ASVD) {
    scale.resize(cols);
    for (int64_t c = 0; c < cols; ++c) {
      if (!std::isfinite(absMean[c]))
        return llvm::createStringError(
            "the calibration statistics have non-finite entries");
      scale[c] = std::pow(std::max<double>(absMean[c], 1e-6), options.alpha);
    }
    for (int64_t r = 0; r < rows; ++r)
      for (int64_t c = 0; c < cols; ++c)
        m[r * cols + c] *= scale[c];
  }

  std::vector<double> s(kmin), u(rows * kmin), vt(kmin * cols);
  if (LAPACKE_dgesdd(LAPACK_ROW_MAJOR, 'S', rows, cols, m.data(), cols,
                     s.data(), u.data(), kmin, vt.data(), cols) != 0)
    return llvm::createStringError("the SVD did not converge");
  double total = 0;
  for (double v : s)
    total += v * v;
  int64_t r = choice.rank;
  if (choice.paramRatio > 0)
    r = static_cast<int64_t>(choice.paramRatio * double(rows) * double(cols) /
                             double(rows + cols));
  if (choice.energy > 0) {
    double kept = 0;
    r = 0;
    while (r < kmin && kept < choice.energy * total)
      kept += s[r] * s[r], ++r;
  }
  r = std::clamp<int64_t>(r, 1, kmin);
  if (!residual && r * (rows + cols) >= rows * cols) {
    result.keepDense = true;
    result.weights.assign(w.begin(), w.end());
    result.retainedEnergy = 1.0;
    return result;
  }
  result.rank = r;
  double kept = 0;
  for (int64_t i = 0; i < r; ++i)
    kept += s[i] * s[i];
  result.retainedEnergy = total > 0 ? kept / total : 1.0;

  // U = U_r diag(s_r); V = V_r^T L^-1.
  std::vector<double> vr(vt.begin(), vt.begin() + r * cols);
  if (options.criterion == FactorizeCriterion::SVDLLM)
    cblas_dtrsm(CblasRowMajor, CblasRight, CblasLower, CblasNoTrans,
                CblasNonUnit, r, cols, 1.0, l.data(), cols, vr.data(), cols);
  else if (options.criterion == FactorizeCriterion::ASVD)
    for (int64_t i = 0; i < r; ++i)
      for (int64_t c = 0; c < cols; ++c)
        vr[i * cols + c] /= scale[c];
  result.u.resize(rows * r);
  for (int64_t i = 0; i < rows; ++i)
    for (int64_t j = 0; j < r; ++j)
      result.u[i * r + j] = static_cast<float>(u[i * kmin + j] * s[j]);
  result.v.assign(vr.begin(), vr.end());
  // What the layer computes with, from the f32 factors it will hold.
  result.weights.assign(rows * cols, 0.0f);
  for (int64_t i = 0; i < rows; ++i)
    for (int64_t c = 0; c < cols; ++c) {
      double sum = base.empty() ? 0.0 : base[i * cols + c];
      for (int64_t j = 0; j < r; ++j)
        sum += double(result.u[i * r + j]) * double(result.v[j * cols + c]);
      result.weights[i * cols + c] = static_cast<float>(sum);
    }
  return result;
}
