//===- Quantizer.cpp - Weight quantization: RTN and GPTQ ------------------===//
//
// Part of the Slim project, under the Apache License v2.0 with LLVM Exceptions.
// SPDX-License-Identifier: Apache-2.0 WITH LLVM-exception
//
//===----------------------------------------------------------------------===//

#include "lib/Compression/Quantizer.h"
#include "lib/Compression/Hessian.h"
#include "lib/Compression/Packing.h"

#include "llvm/ADT/APFloat.h"
#include "llvm/Support/FormatVariadic.h"

#include <cblas.h>
#include <dnnl.h>

#include <algorithm>
#include <cmath>
#include <numeric>
#include <optional>

using namespace mlir::slim;
using llvm::ArrayRef;

float mlir::slim::roundToScaleType(float x, ScaleType type) {
  if (type == ScaleType::F32)
    return x;
  const llvm::fltSemantics &sem = type == ScaleType::F16
                                      ? llvm::APFloat::IEEEhalf()
                                      : llvm::APFloat::BFloat();
  llvm::APFloat v(x);
  bool lost;
  v.convert(sem, llvm::APFloat::rmNearestTiesToEven, &lost);
  if (v.isInfinity())
    v = llvm::APFloat::getLargest(sem, v.isNegative());
  v.convert(llvm::APFloat::IEEEsingle(), llvm::APFloat::rmNearestTiesToEven,
            &lost);
  return v.convertToFloat();
}

/// The smallest positive value of `type` (a scale must not round to 0).
static float smallestScale(ScaleType type) {
  if (type == ScaleType::F32)
    return std::numeric_limits<float>::denorm_min();
  const llvm::fltSemantics &sem = type == ScaleType::F16
                                      ? llvm::APFloat::IEEEhalf()
                                      : llvm::APFloat::BFloat();
  llvm::APFloat v = llvm::APFloat::getSmallest(sem);
  bool lost;
  v.convert(llvm::APFloat::IEEEsingle(), llvm::APFloat::rmNearestTiesToEven,
            &lost);
  return v.convertToFloat();
}

llvm::Error QuantScheme::validate(int64_t cols) const {
  if (bits < 2 || bits > 8)
    return llvm::createStringError(
        llvm::formatv("bits={0} is out of range (2 to 8)", bits).str());
  if (groupSize < 0)
    return llvm::createStringError(
        llvm::formatv("group-size={0} must not be negative", groupSize).str());
  return llvm::Error::success();
}

namespace {

/// Scale and zero point of one group.
struct GroupParams {
  float scale = 1.0f;
  int zeroPoint = 0;
};

/// Range parameters for `values` shrunk by `clip`.
GroupParams paramsFor(ArrayRef<double> values, const QuantScheme &s,
                      double clip) {
  GroupParams p;
  if (s.symmetric) {
    double extreme = 0;
    for (double v : values)
      if (std::fabs(v) > std::fabs(extreme))
        extreme = v;
    extreme *= clip;
    // The extreme value lands on the most negative code.
    double scale = extreme / -static_cast<double>(1 << (s.bits - 1));
    if (scale == 0)
      scale = 1;
    p.scale = roundToScaleType(static_cast<float>(scale), s.scaleType);
    if (p.scale == 0)
      p.scale = smallestScale(s.scaleType);
    return p;
  }
  double lo = 0, hi = 0;
  for (double v : values) {
    lo = std::min(lo, v);
    hi = std::max(hi, v);
  }
  lo *= clip;
  hi *= clip;
  int qmax = (1 << s.bits) - 1;
  double scale = (hi - lo) / qmax;
  if (scale == 0)
    scale = 1;
  p.scale = roundToScaleType(static_cast<float>(scale), s.scaleType);
  if (p.scale == 0)
    p.scale = smallestScale(s.scaleType);
  p.zeroPoint = static_cast<int>(std::clamp(std::nearbyint(-lo / p.scale), 0.0,
                                            static_cast<double>(qmax)));
  return p;
}

uint8_t encode(double x, const GroupParams &p, const QuantScheme &s) {
  return quantizeInt(static_cast<float>(x), p.scale, p.zeroPoint, s.bits,
                     s.symmetric);
}

float decode(uint8_t code, const GroupParams &p, const QuantScheme &s) {
  return dequantizeInt(code, p.scale, p.zeroPoint, s.bits, s.symmetric);
}

/// Parameters for a group, with the clipping search when enabled.
GroupParams chooseParams(ArrayRef<double> values, const QuantScheme &s) {
  if (!s.clipSearch)
    return paramsFor(values, s, 1.0);
  GroupParams best;
  double bestErr = std::numeric_limits<double>::infinity();
  for (int step = 0; step < 16; ++step) {
    GroupParams p = paramsFor(values, s, 1.0 - 0.03 * step);
    double err = 0;
    for (double v : values) {
      double d = v - decode(encode(v, p, s), p, s);
      err += d * d;
    }
    if (err < bestErr) {
      bestErr = err;
      best = p;
    }
  }
  return best;
}

QuantizedMatrix makeResult(int64_t rows, int64_t cols,
                           const QuantScheme &scheme) {
  QuantizedMatrix q;
  q.rows = rows;
  q.cols = cols;
  q.scheme = scheme;
  q.groupsPerRow = scheme.groupSize > 0
                       ? (cols + scheme.groupSize - 1) / scheme.groupSize
                       : 1;
  q.codes.assign(rows * cols, 0);
  q.scales.assign(rows * q.groupsPerRow, 1.0f);
  if (!scheme.symmetric)
    q.zeroPoints.assign(rows * q.groupsPerRow, 0);
  return q;
}

void storeParams(QuantizedMatrix &q, int64_t r, int64_t g,
                 const GroupParams &p) {
  q.scales[r * q.groupsPerRow + g] = p.scale;
  if (!q.scheme.symmetric)
    q.zeroPoints[r * q.groupsPerRow + g] = static_cast<uint8_t>(p.zeroPoint);
}

GroupParams loadParams(const QuantizedMatrix &q, int64_t r, int64_t g) {
  GroupParams p;
  p.scale = q.scales[r * q.groupsPerRow + g];
  if (!q.scheme.symmetric)
    p.zeroPoint = q.zeroPoints[r * q.groupsPerRow + g];
  return p;
}

} // namespace

float QuantizedMatrix::dequantize(int64_t r, int64_t c) const {
  return decode(codes[r * cols + c], loadParams(*this, r, c / groupSize()),
                scheme);
}

std::vector<float> QuantizedMatrix::dequantizeAll() const {
  std::vector<float> out(rows * cols);
  for (int64_t r = 0; r < rows; ++r)
    for (int64_t c = 0; c < cols; ++c)
      out[r * cols + c] = dequantize(r, c);
  return out;
}

llvm::Expected<QuantizedMatrix>
mlir::slim::quantizeRtn(ArrayRef<float> w, int64_t rows, int64_t cols,
                        const QuantScheme &scheme) {
  if (llvm::Error e = scheme.validate(cols))
    return std::move(e);
  assert(static_cast<int64_t>(w.size()) == rows * cols && "size mismatch");
  QuantizedMatrix q = makeResult(rows, cols, scheme);
  int64_t gs = q.groupSize();
  std::vector<double> group;
  for (int64_t r = 0; r < rows; ++r) {
    for (int64_t g = 0; g < q.groupsPerRow; ++g) {
      const float *src = w.data() + r * cols + g * gs;
      group.assign(src, src + q.groupLength(g));
      GroupParams p = chooseParams(group, scheme);
      storeParams(q, r, g, p);
      for (size_t c = 0; c < group.size(); ++c)
        q.codes[r * cols + g * gs + c] = encode(group[c], p, scheme);
    }
  }
  return q;
}

llvm::Expected<QuantizedMatrix>
mlir::slim::quantizeGptq(ArrayRef<float> w, int64_t rows, int64_t cols,
                         ArrayRef<float> hessian, const QuantScheme &scheme,
                         const GptqOptions &options, GptqInfo *info) {
  if (llvm::Error e = scheme.validate(cols))
    return std::move(e);
  if (llvm::Error e =
          checkSweepOptions(options.blockSize, options.dampFraction))
    return std::move(e);
  assert(static_cast<int64_t>(w.size()) == rows * cols && "size mismatch");
  assert(static_cast<int64_t>(hessian.size()) == cols * cols &&
         "size mismatch");

  GptqInfo localInfo;
  GptqInfo &stats = info ? *info : localInfo;
  stats = GptqInfo();

  // Column order: identity, or decreasing H diagonal (act-order).
  std::vector<int64_t> perm(cols);
  std::iota(perm.begin(), perm.end(), 0);
  if (options.actOrder)
    std::stable_sort(perm.begin(), perm.end(), [&](int64_t a, int64_t b) {
      return hessian[a * cols + a] > hessian[b * cols + b];
    });

  // Dead inputs (zero diagonal) get a unit diagonal and zero weights, as in
  // the reference implementation.
  llvm::Expected<InverseHessian> inverse =
      getInverseHessian(hessian, cols, perm, options.dampFraction);
  if (!inverse)
    return inverse.takeError();
  const std::vector<double> &u = inverse->u;
  const std::vector<bool> &dead = inverse->dead;
  stats.deadColumns = inverse->deadColumns;
  stats.choleskyRetries = inverse->choleskyRetries;
  stats.dampFraction = inverse->dampFraction;
  std::vector<double> wp(rows * cols);
  for (int64_t r = 0; r < rows; ++r)
    for (int64_t i = 0; i < cols; ++i)
      wp[r * cols + i] = dead[perm[i]] ? 0.0 : w[r * cols + perm[i]];

  QuantizedMatrix q = makeResult(rows, cols, scheme);
  int64_t gs = q.groupSize();
  bool lazyGroups =
      scheme.groupSize > 0 && !options.actOrder && !options.staticGroups;
  std::vector<double> group;
  if (!lazyGroups) {
    // Per-channel ranges, or static groups of the original columns.
    for (int64_t r = 0; r < rows; ++r)
      for (int64_t g = 0; g < q.groupsPerRow; ++g) {
        group.resize(q.groupLength(g));
        for (size_t c = 0; c < group.size(); ++c)
          group[c] = dead[g * gs + c] ? 0.0 : w[r * cols + g * gs + c];
        storeParams(q, r, g, chooseParams(group, scheme));
      }
  }

  int64_t bs = std::min(options.blockSize, cols);
  std::vector<double> err(rows * bs);
  for (int64_t i1 = 0; i1 < cols; i1 += bs) {
    int64_t i2 = std::min(i1 + bs, cols), count = i2 - i1;
    for (int64_t i = i1; i < i2; ++i) {
      int64_t col = perm[i], g = col / gs;
      if (lazyGroups && col % gs == 0) {
        // Ranges from the current (error-compensated) weights of the group;
        // without act-order the group's columns follow from column i.
        for (int64_t r = 0; r < rows; ++r) {
          group.assign(wp.begin() + r * cols + i,
                       wp.begin() + r * cols + i + q.groupLength(g));
          storeParams(q, r, g, chooseParams(group, scheme));
        }
      }
      double d = u[i * cols + i];
      for (int64_t r = 0; r < rows; ++r) {
        double *row = wp.data() + r * cols;
        GroupParams p = loadParams(q, r, g);
        uint8_t code = encode(row[i], p, scheme);
        q.codes[r * cols + col] = code;
        double e = (row[i] - decode(code, p, scheme)) / d;
        err[r * bs + (i - i1)] = e;
        const double *ui = u.data() + i * cols;
        for (int64_t j = i + 1; j < i2; ++j)
          row[j] -= e * ui[j];
      }
    }
    if (i2 < cols)
      cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, rows, cols - i2,
                  count, -1.0, err.data(), bs, u.data() + i1 * cols + i2, cols,
                  1.0, wp.data() + i2, cols);
  }
  return q;
}

double mlir::slim::relativeOutputError(ArrayRef<float> w, ArrayRef<float> what,
                                       int64_t rows, int64_t cols,
                                       ArrayRef<float> hessian) {
  std::vector<double> h(hessian.begin(), hessian.end());
  std::vector<double> d(rows * cols), wd(w.begin(), w.end());
  for (int64_t i = 0; i < rows * cols; ++i)
    d[i] = static_cast<double>(what[i]) - w[i];
  // tr(A H A^T) = sum(A .* (A H)).
  auto quadratic = [&](const std::vector<double> &a) {
    std::vector<double> ah(rows * cols);
    cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, rows, cols, cols,
                1.0, a.data(), cols, h.data(), cols, 0.0, ah.data(), cols);
    double sum = 0;
    for (int64_t i = 0; i < rows * cols; ++i)
      sum += a[i] * ah[i];
    return sum;
  };
  double num = quadratic(d), den = quadratic(wd);
  if (den <= 0)
    return num <= 0 ? 0.0 : std::numeric_limits<double>::infinity();
  return std::sqrt(std::max(num, 0.0) / den);
}

double mlir::slim::relativeWeightError(ArrayRef<float> w,
                                       ArrayRef<float> what) {
  double num = 0, den = 0;
  for (size_t i = 0; i < w.size(); ++i) {
    double d = static_cast<double>(what[i]) - w[i];
    num += d * d;
    den += static_cast<double>(w[i]) * w[i];
  }
  return den > 0 ? std::sqrt(num / den) : (num > 0 ? INFINITY : 0.0);
}

llvm::Expected<AwqResult>
mlir::slim::quantizeAwq(ArrayRef<float> w, int64_t rows, int64_t cols,
                        ArrayRef<float> absMean, ArrayRef<float> hessian,
                        const QuantScheme &scheme, const AwqOptions &options) {
  if (llvm::Error e = scheme.validate(cols))
    return std::move(e);
  if (options.gridPoints <= 0)
    return llvm::createStringError("the AWQ grid needs at least one point");
  // tr(D H D^T) in single precision (oneDNN): the search evaluates it once
  // per grid point, and only compares the values.
  std::vector<float> d(rows * cols), dh(rows * cols);
  auto outputError = [&](const std::vector<float> &what) {
    for (int64_t i = 0; i < rows * cols; ++i)
      d[i] = what[i] - w[i];
    dnnl_sgemm('N', 'N', rows, cols, cols, 1.0f, d.data(), cols, hessian.data(),
               cols, 0.0f, dh.data(), cols);
    double sum = 0;
    for (int64_t i = 0; i < rows * cols; ++i)
      sum += static_cast<double>(d[i]) * dh[i];
    return sum;
  };
  double floor = 1e-4;
  std::vector<float> scaled(rows * cols), what(rows * cols), s(cols);
  std::optional<AwqResult> best;
  double bestErr = std::numeric_limits<double>::infinity();
  for (int step = 0; step < options.gridPoints; ++step) {
    double alpha = static_cast<double>(step) / options.gridPoints;
    double lo = std::numeric_limits<double>::infinity(), hi = 0;
    for (int64_t c = 0; c < cols; ++c) {
      double v = std::pow(std::max<double>(absMean[c], floor), alpha);
      s[c] = static_cast<float>(v);
      lo = std::min(lo, v);
      hi = std::max(hi, v);
    }
    double norm = std::sqrt(lo * hi);
    for (float &v : s)
      v = static_cast<float>(v / norm);
    for (int64_t r = 0; r < rows; ++r)
      for (int64_t c = 0; c < cols; ++c)
        scaled[r * cols + c] = w[r * cols + c] * s[c];
    llvm::Expected<QuantizedMatrix> q = quantizeRtn(scaled, rows, cols, scheme);
    if (!q)
      return q.takeError();
    for (int64_t r = 0; r < rows; ++r)
      for (int64_t c = 0; c < cols; ++c)
        what[r * cols + c] = q->dequantize(r, c) / s[c];
    double err = outputError(what);
    if (err < bestErr) {
      bestErr = err;
      best = AwqResult{std::move(*q), s, alpha};
    }
  }
  return std::move(*best);
}
