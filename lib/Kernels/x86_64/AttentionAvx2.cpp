//===- AttentionAvx2.cpp - Fused f32 attention, AVX2 + FMA ----------------===//
//
// Part of the Slim project, under the Apache License v2.0 with LLVM Exceptions.
// SPDX-License-Identifier: Apache-2.0 WITH LLVM-exception
//
//===----------------------------------------------------------------------===//
//
// The scores of up to 6 query rows go panel by panel of 16 keys: a panel
// whose mask is -inf for every row is not computed (with a causal mask,
// the keys after the block's last position); the others are one 6 x 16
// tile of K packed by slim_uk_attention_pack_k_f32 (k = d steps), or, for
// callers that do not pack K (few rows), dot products of every row with
// each key row, the key loaded once for all rows.
// The softmax runs over the span of panels computed (outside it every
// probability is exactly 0), and O = P V over that span in 6 x 16 tiles
// reading V's rows in place. Compiled for AVX2 + FMA with function
// attributes; the caller checks the CPU.
//
//===----------------------------------------------------------------------===//

#include "lib/Kernels/Attention.h"
#include "lib/Kernels/x86_64/Avx2.h"

#include <cmath>

namespace {

using namespace slim::avx2;

constexpr int64_t kPanel = SLIM_ATTENTION_PANEL;

/// x[i * ldx] = q_i . k for the R rows of q (`ldq` apart) and one key row
/// k[0..d): the key is loaded once for all rows, each row's sum in two
/// accumulators (even and odd 8-float chunks) so that 2R chains hide the
/// FMA latency.
template <int R>
__attribute__((target("avx2,fma"))) inline void
dots(int64_t d, const float *q, int64_t ldq, const float *k, float *x,
     int64_t ldx) {
  __m256 e0, e1, e2, e3, e4, e5, o0, o1, o2, o3, o4, o5;
#define SLIM_ZERO(I) e##I = o##I = _mm256_setzero_ps();
#define SLIM_FMA2(I)                                                           \
  e##I = _mm256_fmadd_ps(_mm256_loadu_ps(q + I * ldq + c), k0, e##I);          \
  o##I = _mm256_fmadd_ps(_mm256_loadu_ps(q + I * ldq + c + 8), k1, o##I);
#define SLIM_FMA1(I)                                                           \
  e##I = _mm256_fmadd_ps(_mm256_loadu_ps(q + I * ldq + c), k0, e##I);
#define SLIM_SUM(I)                                                            \
  {                                                                            \
    float sum = hsum(_mm256_add_ps(e##I, o##I));                               \
    for (int64_t t = c; t < d; ++t)                                            \
      sum += q[I * ldq + t] * k[t];                                            \
    x[I * ldx] = sum;                                                          \
  }
  SLIM_AVX2_ROWS(R, SLIM_ZERO)
  int64_t c = 0;
  for (; c + 16 <= d; c += 16) {
    __m256 k0 = _mm256_loadu_ps(k + c), k1 = _mm256_loadu_ps(k + c + 8);
    SLIM_AVX2_ROWS(R, SLIM_FMA2)
  }
  if (c + 8 <= d) {
    __m256 k0 = _mm256_loadu_ps(k + c);
    SLIM_AVX2_ROWS(R, SLIM_FMA1)
    c += 8;
  }
  SLIM_AVX2_ROWS(R, SLIM_SUM)
#undef SLIM_SUM
#undef SLIM_FMA1
#undef SLIM_FMA2
#undef SLIM_ZERO
}

/// dots<rows> for a row count known at run time (1 to 6).
__attribute__((target("avx2,fma"))) void
dotRows(int64_t rows, int64_t d, const float *q, int64_t ldq, const float *k,
        float *x, int64_t ldx) {
  switch (rows) {
  case 1:
    return dots<1>(d, q, ldq, k, x, ldx);
  case 2:
    return dots<2>(d, q, ldq, k, x, ldx);
  case 3:
    return dots<3>(d, q, ldq, k, x, ldx);
  case 4:
    return dots<4>(d, q, ldq, k, x, ldx);
  case 5:
    return dots<5>(d, q, ldq, k, x, ldx);
  default:
    return dots<6>(d, q, ldq, k, x, ldx);
  }
}

/// Whether keys [j0, j0 + nj) are masked (-inf) for every row; NaN counts
/// as not masked (it must reach the output).
__attribute__((target("avx2,fma"))) bool
allMasked(int64_t rows, const float *const *mask, int64_t maskStride,
          int64_t j0, int64_t nj) {
  if (maskStride == 1 && nj == kPanel) {
    const __m256 ninf = _mm256_set1_ps(-INFINITY);
    __m256 open = _mm256_setzero_ps();
    for (int64_t i = 0; i < rows; ++i) {
      open = _mm256_or_ps(
          open, _mm256_cmp_ps(_mm256_loadu_ps(mask[i] + j0), ninf, _CMP_NEQ_UQ));
      open = _mm256_or_ps(open, _mm256_cmp_ps(_mm256_loadu_ps(mask[i] + j0 + 8),
                                              ninf, _CMP_NEQ_UQ));
    }
    return _mm256_movemask_ps(open) == 0;
  }
  for (int64_t i = 0; i < rows; ++i)
    for (int64_t j = 0; j < nj; ++j)
      if (!(mask[i][(j0 + j) * maskStride] == -INFINITY))
        return false;
  return true;
}

} // namespace

extern "C" __attribute__((target("avx2,fma"))) void slim_uk_attention_f32_avx2(
    int64_t rows, int64_t t, int64_t d, int64_t dv, const float *q, int64_t ldq,
    const float *k, int64_t ldk, const float *kp, const float *v, int64_t ldv,
    const float *const *mask, int64_t maskStride, float scale, float *o,
    int64_t ldo, float *scratch) {
  int64_t ldx = (t + kPanel - 1) / kPanel * kPanel;
  int64_t panels = ldx / kPanel;
  // The span of panels with a key some row attends to.
  int64_t first = panels, last = -1;
  const __m256 vscale = _mm256_set1_ps(scale);
  const __m256 ninf = _mm256_set1_ps(-INFINITY);
  for (int64_t p = 0; p < panels; ++p) {
    int64_t j0 = p * kPanel, nj = t - j0 < kPanel ? t - j0 : kPanel;
    bool any = !mask || !allMasked(rows, mask, maskStride, j0, nj);
    float *x = scratch + j0;
    if (!any) {
      for (int64_t i = 0; i < rows; ++i) {
        _mm256_storeu_ps(x + i * ldx, ninf);
        _mm256_storeu_ps(x + i * ldx + 8, ninf);
      }
      continue;
    }
    if (first == panels)
      first = p;
    last = p;
    if (kp) {
      tileRows(rows, d, q, ldq, kp + p * d * kPanel, kPanel, x, ldx,
               /*load=*/false);
    } else {
      for (int64_t j = 0; j < nj; ++j)
        dotRows(rows, d, q, ldq, k + (j0 + j) * ldk, x + j, ldx);
    }
    // x = mask == -inf ? -inf : x * scale + mask; keys past t are -inf.
    for (int64_t i = 0; i < rows; ++i) {
      float *xi = x + i * ldx;
      if (!mask && nj == kPanel) {
        _mm256_storeu_ps(xi, _mm256_mul_ps(_mm256_loadu_ps(xi), vscale));
        _mm256_storeu_ps(xi + 8,
                         _mm256_mul_ps(_mm256_loadu_ps(xi + 8), vscale));
        continue;
      }
      if (mask && maskStride == 1 && nj == kPanel) {
        const float *mi = mask[i] + j0;
        for (int64_t j = 0; j < kPanel; j += 8) {
          __m256 m = _mm256_loadu_ps(mi + j);
          __m256 y = _mm256_fmadd_ps(_mm256_loadu_ps(xi + j), vscale, m);
          __m256 masked = _mm256_cmp_ps(m, ninf, _CMP_EQ_OQ);
          _mm256_storeu_ps(xi + j, _mm256_blendv_ps(y, ninf, masked));
        }
        continue;
      }
      for (int64_t j = 0; j < nj; ++j) {
        float m = mask ? mask[i][(j0 + j) * maskStride] : 0.0f;
        xi[j] = m == -INFINITY ? -INFINITY : xi[j] * scale + m;
      }
      for (int64_t j = nj; j < kPanel; ++j)
        xi[j] = -INFINITY;
    }
  }
  if (last < 0) {
    // Every score is -inf: NaN, as the softmax of such a row is; no keys:
    // nothing to add up.
    for (int64_t i = 0; i < rows; ++i)
      for (int64_t c = 0; c < dv; ++c)
        o[i * ldo + c] = t == 0 ? 0.0f : NAN;
    return;
  }
  int64_t lo = first * kPanel,
          hi = (last + 1) * kPanel < t ? (last + 1) * kPanel : t;
  for (int64_t i = 0; i < rows; ++i)
    softmaxRow(hi - lo, scratch + i * ldx + lo, scratch + i * ldx + lo);
  // O = P[:, lo:hi] V[lo:hi, :], 16 columns at a time.
  int64_t c = 0;
  for (; c + 16 <= dv; c += 16)
    tileRows(rows, hi - lo, scratch + lo, ldx, v + lo * ldv + c, ldv, o + c,
             ldo, /*load=*/false);
  for (; c < dv; ++c)
    for (int64_t i = 0; i < rows; ++i) {
      float acc = 0.0f;
      for (int64_t j = lo; j < hi; ++j)
        acc += scratch[i * ldx + j] * v[j * ldv + c];
      o[i * ldo + c] = acc;
    }
}
