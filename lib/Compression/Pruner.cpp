//===- Pruner.cpp - Weight pruning: magnitude, Wanda, SparseGPT -----------===//
//
// Part of the Slim project, under the Apache License v2.0 with LLVM Exceptions.
// SPDX-License-Identifier: Apache-2.0 WITH LLVM-exception
//
//===----------------------------------------------------------------------===//

#include "lib/Compression/Pruner.h"
#include "lib/Compression/Hessian.h"
#include "lib/Compression/Packing.h"

#include "llvm/Support/FormatVariadic.h"

#include <cblas.h>

#include <algorithm>
#include <cmath>
#include <numeric>

using namespace mlir::slim;
using llvm::ArrayRef;

llvm::Error SparsityPattern::validate(int64_t cols) const {
  if (isStructured()) {
    if (n == 0 || n >= m)
      return llvm::createStringError(
          llvm::formatv("N:M sparsity {0}:{1}: N must be between 1 and M - 1",
                        n, m)
              .str());
    if (m > 128)
      return llvm::createStringError(
          llvm::formatv("N:M sparsity {0}:{1}: M is at most 128 (positions "
                        "are stored as i8)",
                        n, m)
              .str());
    if (cols % m != 0)
      return llvm::createStringError(
          llvm::formatv("N:M sparsity {0}:{1} needs the input channels to be "
                        "a multiple of {1}, the layer has {2}",
                        n, m, cols)
              .str());
    return llvm::Error::success();
  }
  if (!(sparsity >= 0 && sparsity < 1))
    return llvm::createStringError(
        llvm::formatv("sparsity={0} is out of range [0, 1)", sparsity).str());
  return llvm::Error::success();
}

int64_t PrunedMatrix::countKept() const {
  return std::count(mask.begin(), mask.end(), uint8_t(1));
}

void PrunedMatrix::getRuns(std::vector<float> &values,
                           std::vector<uint8_t> &positions) const {
  assert(pattern.isStructured() && "N:M storage of an unstructured matrix");
  unsigned n = pattern.n, m = pattern.m;
  int64_t valueCols = cols / m * n;
  values.assign(rows * valueCols, 0.0f);
  positions.assign(rows * valueCols, 0);
  for (int64_t r = 0; r < rows; ++r)
    for (int64_t run = 0; run < cols / m; ++run) {
      int64_t slot = r * valueCols + run * n, used = 0;
      for (unsigned p = 0; p < m && used < n; ++p) {
        int64_t c = run * m + p;
        if (!mask[r * cols + c])
          continue;
        values[slot + used] = weights[r * cols + c];
        positions[slot + used] = static_cast<uint8_t>(p);
        ++used;
      }
      // Fewer than n kept: the unused slots hold 0 at position 0.
    }
}

void PrunedMatrix::getCsr(std::vector<float> &values,
                          std::vector<int32_t> &rowPtr,
                          std::vector<int32_t> &colIdx) const {
  values.clear();
  colIdx.clear();
  rowPtr.assign(1, 0);
  for (int64_t r = 0; r < rows; ++r) {
    for (int64_t c = 0; c < cols; ++c)
      if (mask[r * cols + c]) {
        values.push_back(weights[r * cols + c]);
        colIdx.push_back(static_cast<int32_t>(c));
      }
    rowPtr.push_back(static_cast<int32_t>(values.size()));
  }
}

namespace {

/// Clears mask[at[i]] for the `count` entries of `at` with the smallest
/// metric (ties: the lower index first, so results do not depend on the
/// sort's implementation).
void pruneSmallest(std::vector<int64_t> &at, int64_t count,
                   const std::vector<double> &metric,
                   std::vector<uint8_t> &mask) {
  if (count <= 0)
    return;
  auto less = [&](int64_t a, int64_t b) {
    return metric[a] < metric[b] || (metric[a] == metric[b] && a < b);
  };
  if (count < static_cast<int64_t>(at.size()))
    std::nth_element(at.begin(), at.begin() + count, at.end(), less);
  for (int64_t i = 0; i < count && i < static_cast<int64_t>(at.size()); ++i)
    mask[at[i]] = 0;
}

/// Keeps the n of the m entries [c0, c0 + m) of row r with the largest
/// metric (metric indexed like the matrix).
void keepInRun(int64_t r, int64_t c0, int64_t cols, unsigned n, unsigned m,
               const std::vector<double> &metric, std::vector<uint8_t> &mask) {
  std::vector<int64_t> at(m);
  for (unsigned p = 0; p < m; ++p) {
    at[p] = r * cols + c0 + p;
    mask[at[p]] = 1;
  }
  pruneSmallest(at, m - n, metric, mask);
}

/// Mask of the whole matrix from a fixed metric: N:M per run, else the
/// smallest fraction of each row (`perRow`) or of the layer.
void selectMask(const std::vector<double> &metric, int64_t rows, int64_t cols,
                const SparsityPattern &pattern, bool perRow,
                std::vector<uint8_t> &mask) {
  mask.assign(rows * cols, 1);
  if (pattern.isStructured()) {
    for (int64_t r = 0; r < rows; ++r)
      for (int64_t c = 0; c < cols; c += pattern.m)
        keepInRun(r, c, cols, pattern.n, pattern.m, metric, mask);
    return;
  }
  if (perRow) {
    int64_t count = static_cast<int64_t>(pattern.sparsity * cols);
    std::vector<int64_t> at(cols);
    for (int64_t r = 0; r < rows; ++r) {
      std::iota(at.begin(), at.end(), r * cols);
      pruneSmallest(at, count, metric, mask);
    }
    return;
  }
  std::vector<int64_t> at(rows * cols);
  std::iota(at.begin(), at.end(), 0);
  pruneSmallest(at, static_cast<int64_t>(pattern.sparsity * rows * cols),
                metric, mask);
}

/// The rounding-to-nearest of the kept values, written back into the
/// weights (magnitude and Wanda with a scheme).
llvm::Error quantizeKept(PrunedMatrix &p, const QuantScheme &scheme) {
  std::vector<float> values;
  std::vector<uint8_t> positions;
  p.getRuns(values, positions);
  int64_t valueCols = p.cols / p.pattern.m * p.pattern.n;
  llvm::Expected<QuantizedMatrix> q =
      quantizeRtn(values, p.rows, valueCols, scheme);
  if (!q)
    return q.takeError();
  for (int64_t r = 0; r < p.rows; ++r)
    for (int64_t v = 0; v < valueCols; ++v) {
      int64_t run = v / p.pattern.n;
      int64_t c = run * p.pattern.m + positions[r * valueCols + v];
      // Padding slots (position 0, value 0) of a run with fewer than n
      // kept weights never occur: every run keeps exactly n.
      p.weights[r * p.cols + c] = q->dequantize(r, v);
    }
  p.quant = std::move(*q);
  return llvm::Error::success();
}

/// SparseGPT, optionally with joint quantization of the kept values.
llvm::Error sparseGpt(ArrayRef<float> w, ArrayRef<float> hessian,
                      const PruneOptions &options, PrunedMatrix &p,
                      PruneInfo &info) {
  int64_t rows = p.rows, cols = p.cols;
  const SparsityPattern &pattern = options.pattern;
  llvm::Expected<InverseHessian> inverse =
      getInverseHessian(hessian, cols, {}, options.dampFraction);
  if (!inverse)
    return inverse.takeError();
  const std::vector<double> &u = inverse->u;
  info.deadColumns = inverse->deadColumns;
  info.choleskyRetries = inverse->choleskyRetries;
  info.dampFraction = inverse->dampFraction;

  // Joint quantization: the kept values of a group of the value matrix
  // come from a span of whole runs; that span's masks are chosen when the
  // sweep reaches it, then the group's range from its kept weights.
  const QuantScheme *scheme = options.quant ? &*options.quant : nullptr;
  int64_t valueCols = pattern.isStructured() ? cols / pattern.m * pattern.n : 0;
  int64_t span = pattern.isStructured() ? pattern.m : 1;
  if (scheme) {
    int64_t group = scheme->groupSize > 0 ? scheme->groupSize : valueCols;
    if (group % pattern.n != 0 && group < valueCols)
      return llvm::createStringError(
          llvm::formatv("group-size={0} must be a multiple of N={1} to "
                        "quantize jointly with {1}:{2} sparsity",
                        group, pattern.n, pattern.m)
              .str());
    span = std::min<int64_t>(cols, group / pattern.n * pattern.m);
    QuantizedMatrix q;
    q.rows = rows;
    q.cols = valueCols;
    q.scheme = *scheme;
    q.groupsPerRow = (valueCols + group - 1) / group;
    q.codes.assign(rows * valueCols, 0);
    q.scales.assign(rows * q.groupsPerRow, 1.0f);
    if (!scheme->symmetric)
      q.zeroPoints.assign(rows * q.groupsPerRow, 0);
    p.quant = std::move(q);
  }
  int64_t bs = std::max<int64_t>(options.blockSize, 1);
  bs = std::min(cols, (bs + span - 1) / span * span);

  std::vector<double> wp(rows * cols);
  for (int64_t r = 0; r < rows; ++r)
    for (int64_t c = 0; c < cols; ++c)
      wp[r * cols + c] = inverse->dead[c] ? 0.0 : w[r * cols + c];
  std::vector<uint8_t> &mask = p.mask;
  mask.assign(rows * cols, 1);
  // w^2 / U_jj^2 of the current weights, indexed like the matrix (filled
  // where a mask is being chosen).
  std::vector<double> metric(rows * cols, 0.0);
  auto fillMetric = [&](int64_t c0, int64_t c1) {
    for (int64_t r = 0; r < rows; ++r)
      for (int64_t c = c0; c < c1; ++c) {
        double d = u[c * cols + c], v = wp[r * cols + c];
        metric[r * cols + c] = v * v / (d * d);
      }
  };
  std::vector<double> err(rows * bs);
  std::vector<double> kept;
  for (int64_t i1 = 0; i1 < cols; i1 += bs) {
    int64_t i2 = std::min(i1 + bs, cols), count = i2 - i1;
    if (!pattern.isStructured()) {
      fillMetric(i1, i2);
      std::vector<int64_t> at;
      at.reserve(rows * count);
      for (int64_t r = 0; r < rows; ++r)
        for (int64_t c = i1; c < i2; ++c)
          at.push_back(r * cols + c);
      pruneSmallest(at, static_cast<int64_t>(pattern.sparsity * rows * count),
                    metric, mask);
    }
    for (int64_t i = i1; i < i2; ++i) {
      if (pattern.isStructured() && i % span == 0) {
        int64_t end = std::min(cols, i + span);
        fillMetric(i, end);
        for (int64_t r = 0; r < rows; ++r)
          for (int64_t c = i; c < end; c += pattern.m)
            keepInRun(r, c, cols, pattern.n, pattern.m, metric, mask);
        if (scheme) {
          // The range of each row's group from its kept weights.
          QuantScheme one = *scheme;
          one.groupSize = 0;
          int64_t g = i / pattern.m * pattern.n /
                      (scheme->groupSize > 0 ? scheme->groupSize : valueCols);
          for (int64_t r = 0; r < rows; ++r) {
            std::vector<float> groupValues;
            for (int64_t c = i; c < end; ++c)
              if (mask[r * cols + c])
                groupValues.push_back(static_cast<float>(wp[r * cols + c]));
            llvm::Expected<QuantizedMatrix> range = quantizeRtn(
                groupValues, 1, static_cast<int64_t>(groupValues.size()), one);
            if (!range)
              return range.takeError();
            p.quant->scales[r * p.quant->groupsPerRow + g] = range->scales[0];
            if (!scheme->symmetric)
              p.quant->zeroPoints[r * p.quant->groupsPerRow + g] =
                  range->zeroPoints[0];
          }
        }
      }
      double d = u[i * cols + i];
      const double *ui = u.data() + i * cols;
      for (int64_t r = 0; r < rows; ++r) {
        double *row = wp.data() + r * cols;
        double q = 0.0;
        if (mask[r * cols + i]) {
          q = row[i];
          if (scheme) {
            // The kept weight's slot in the value matrix.
            int64_t run0 = i - i % pattern.m,
                    slot = run0 / pattern.m * pattern.n;
            for (int64_t c = run0; c < i; ++c)
              slot += mask[r * cols + c];
            int64_t g =
                slot / (scheme->groupSize > 0 ? scheme->groupSize : valueCols);
            float scale = p.quant->scales[r * p.quant->groupsPerRow + g];
            int zp = scheme->symmetric
                         ? 0
                         : p.quant->zeroPoints[r * p.quant->groupsPerRow + g];
            uint8_t code = quantizeInt(static_cast<float>(q), scale, zp,
                                       scheme->bits, scheme->symmetric);
            p.quant->codes[r * valueCols + slot] = code;
            q = dequantizeInt(code, scale, zp, scheme->bits, scheme->symmetric);
          }
        }
        double e = (row[i] - q) / d;
        err[r * bs + (i - i1)] = e;
        for (int64_t j = i + 1; j < i2; ++j)
          row[j] -= e * ui[j];
        row[i] = q;
      }
    }
    if (i2 < cols)
      cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, rows, cols - i2,
                  count, -1.0, err.data(), bs, u.data() + i1 * cols + i2, cols,
                  1.0, wp.data() + i2, cols);
  }
  p.weights.resize(rows * cols);
  for (int64_t k = 0; k < rows * cols; ++k)
    p.weights[k] = mask[k] ? static_cast<float>(wp[k]) : 0.0f;
  return llvm::Error::success();
}

} // namespace

llvm::Expected<PrunedMatrix>
mlir::slim::pruneWeights(ArrayRef<float> w, int64_t rows, int64_t cols,
                         ArrayRef<float> hessian, const PruneOptions &options,
                         PruneInfo *info) {
  const SparsityPattern &pattern = options.pattern;
  if (llvm::Error e = pattern.validate(cols))
    return std::move(e);
  if (options.quant) {
    if (!pattern.isStructured())
      return llvm::createStringError(
          "quantizing the kept weights needs N:M sparsity (unstructured "
          "sparse values have no group layout)");
    if (llvm::Error e = options.quant->validate(cols / pattern.m * pattern.n))
      return std::move(e);
  }
  bool needsHessian = options.criterion != PruneCriterion::Magnitude;
  if (needsHessian && static_cast<int64_t>(hessian.size()) != cols * cols)
    return llvm::createStringError(
        "this criterion needs the calibration X^T X of the layer's inputs");
  if (options.criterion == PruneCriterion::SparseGPT) {
    if (llvm::Error e =
            checkSweepOptions(options.blockSize, options.dampFraction))
      return std::move(e);
  }
  assert(static_cast<int64_t>(w.size()) == rows * cols && "size mismatch");

  PruneInfo localInfo;
  PruneInfo &stats = info ? *info : localInfo;
  stats = PruneInfo();
  PrunedMatrix p;
  p.rows = rows;
  p.cols = cols;
  p.pattern = pattern;
  if (options.criterion == PruneCriterion::SparseGPT) {
    if (llvm::Error e = sparseGpt(w, hessian, options, p, stats))
      return std::move(e);
    return p;
  }

  std::vector<double> metric(rows * cols);
  std::vector<double> norm(cols, 1.0);
  if (options.criterion == PruneCriterion::Wanda)
    for (int64_t c = 0; c < cols; ++c) {
      double h = hessian[c * cols + c];
      if (!std::isfinite(h))
        return llvm::createStringError(
            "the calibration statistics have non-finite entries");
      norm[c] = std::sqrt(std::max(h, 0.0));
      stats.deadColumns += h == 0.0;
    }
  for (int64_t r = 0; r < rows; ++r)
    for (int64_t c = 0; c < cols; ++c)
      metric[r * cols + c] = std::fabs(double(w[r * cols + c])) * norm[c];
  selectMask(metric, rows, cols, pattern,
             /*perRow=*/options.criterion == PruneCriterion::Wanda, p.mask);
  p.weights.resize(rows * cols);
  for (int64_t k = 0; k < rows * cols; ++k)
    p.weights[k] = p.mask[k] ? w[k] : 0.0f;
  if (options.quant)
    if (llvm::Error e = quantizeKept(p, *options.quant))
      return std::move(e);
  return p;
}
