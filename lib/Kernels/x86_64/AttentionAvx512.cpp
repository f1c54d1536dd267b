//===- AttentionAvx512.cpp - Fused f32 attention, AVX-512 -----------------===//
//
// Part of the Slim project, under the Apache License v2.0 with LLVM Exceptions.
// SPDX-License-Identifier: Apache-2.0 WITH LLVM-exception
//
//===----------------------------------------------------------------------===//
//
// The AVX2 kernel's method (AttentionAvx2.cpp) for up to 12 query rows per
// call, so that every key and value loaded from cache meets twice the rows:
// the scores panel by panel of 16 keys (one zmm per row), a panel masked
// for every row skipped, 12 x 16 tiles of the packed K
// (slim::avx512::tile) or, without it, dot products of every row with each
// key row; the softmax over the span of panels computed; O = P V in
// 12 x 32 tiles reading V's rows in place. Masks and tails in mask
// registers. Compiled for AVX-512F with function attributes; the caller
// checks the CPU.
//
//===----------------------------------------------------------------------===//

#include "lib/Kernels/Attention.h"
#include "lib/Kernels/x86_64/Avx512.h"

#include <cmath>

namespace {

using namespace slim::avx512;

constexpr int64_t kPanel = SLIM_ATTENTION_PANEL;
static_assert(kPanel == 16, "one zmm per panel row");
static_assert(SLIM_ATTENTION_ROWS_AVX512 == kTileRows, "rows per tile");

/// x[i * ldx] = q_i . k for the R rows of q (`ldq` apart) and one key row
/// k[0..d): the key is loaded once for all rows, each row's sum in two
/// accumulators (even and odd 16-float chunks), d's tail masked.
template <int R>
SLIM_AVX512_TARGET inline void dots(int64_t d, const float *q, int64_t ldq,
                                    const float *k, float *x, int64_t ldx) {
  __m512 e0, e1, e2, e3, e4, e5, e6, e7, e8, e9, e10, e11;
  __m512 o0, o1, o2, o3, o4, o5, o6, o7, o8, o9, o10, o11;
#define SLIM_ZERO(I) e##I = o##I = _mm512_setzero_ps();
#define SLIM_FMA2(I)                                                           \
  e##I = _mm512_fmadd_ps(_mm512_loadu_ps(q + I * ldq + c), k0, e##I);          \
  o##I = _mm512_fmadd_ps(_mm512_loadu_ps(q + I * ldq + c + 16), k1, o##I);
#define SLIM_FMA1(I)                                                           \
  e##I = _mm512_fmadd_ps(_mm512_maskz_loadu_ps(lanes, q + I * ldq + c), k0,    \
                         e##I);
#define SLIM_SUM(I) x[I * ldx] = hsum(_mm512_add_ps(e##I, o##I));
  SLIM_AVX512_ROWS(R, SLIM_ZERO)
  int64_t c = 0;
  for (; c + 32 <= d; c += 32) {
    __m512 k0 = _mm512_loadu_ps(k + c), k1 = _mm512_loadu_ps(k + c + 16);
    SLIM_AVX512_ROWS(R, SLIM_FMA2)
  }
  for (; c < d; c += 16) {
    __mmask16 lanes = d - c >= 16 ? __mmask16(0xffff) : tailMask(d - c);
    __m512 k0 = _mm512_maskz_loadu_ps(lanes, k + c);
    SLIM_AVX512_ROWS(R, SLIM_FMA1)
  }
  SLIM_AVX512_ROWS(R, SLIM_SUM)
#undef SLIM_SUM
#undef SLIM_FMA1
#undef SLIM_FMA2
#undef SLIM_ZERO
}

/// dots<rows> for a row count known at run time (1 to 12).
SLIM_AVX512_TARGET void dotRows(int64_t rows, int64_t d, const float *q,
                                int64_t ldq, const float *k, float *x,
                                int64_t ldx) {
  switch (rows) {
#define SLIM_CASE(N)                                                           \
  case N:                                                                      \
    return dots<N>(d, q, ldq, k, x, ldx);
    SLIM_CASE(1)
    SLIM_CASE(2)
    SLIM_CASE(3)
    SLIM_CASE(4)
    SLIM_CASE(5)
    SLIM_CASE(6)
    SLIM_CASE(7)
    SLIM_CASE(8)
    SLIM_CASE(9)
    SLIM_CASE(10)
    SLIM_CASE(11)
#undef SLIM_CASE
  default:
    return dots<12>(d, q, ldq, k, x, ldx);
  }
}

/// Whether keys [j0, j0 + nj) are masked (-inf) for every row; NaN counts
/// as not masked (it must reach the output).
SLIM_AVX512_TARGET bool allMasked(int64_t rows, const float *const *mask,
                                  int64_t maskStride, int64_t j0, int64_t nj) {
  if (maskStride == 1) {
    const __m512 ninf = _mm512_set1_ps(-INFINITY);
    __mmask16 lanes = nj == kPanel ? __mmask16(0xffff) : tailMask(nj);
    __mmask16 open = 0;
    for (int64_t i = 0; i < rows; ++i)
      open |= _mm512_mask_cmp_ps_mask(
          lanes, _mm512_maskz_loadu_ps(lanes, mask[i] + j0), ninf,
          _CMP_NEQ_UQ);
    return open == 0;
  }
  for (int64_t i = 0; i < rows; ++i)
    for (int64_t j = 0; j < nj; ++j)
      if (!(mask[i][(j0 + j) * maskStride] == -INFINITY))
        return false;
  return true;
}

} // namespace

extern "C" SLIM_AVX512_TARGET void slim_uk_attention_f32_avx512(
    int64_t rows, int64_t t, int64_t d, int64_t dv, const float *q, int64_t ldq,
    const float *k, int64_t ldk, const float *kp, const float *v, int64_t ldv,
    const float *const *mask, int64_t maskStride, float scale, float *o,
    int64_t ldo, float *scratch) {
  int64_t ldx = (t + kPanel - 1) / kPanel * kPanel;
  int64_t panels = ldx / kPanel;
  // The span of panels with a key some row attends to.
  int64_t first = panels, last = -1;
  const __m512 vscale = _mm512_set1_ps(scale);
  const __m512 ninf = _mm512_set1_ps(-INFINITY);
  for (int64_t p = 0; p < panels; ++p) {
    int64_t j0 = p * kPanel, nj = t - j0 < kPanel ? t - j0 : kPanel;
    __mmask16 lanes = nj == kPanel ? __mmask16(0xffff) : tailMask(nj);
    bool any = !mask || !allMasked(rows, mask, maskStride, j0, nj);
    float *x = scratch + j0;
    if (!any) {
      for (int64_t i = 0; i < rows; ++i)
        _mm512_storeu_ps(x + i * ldx, ninf);
      continue;
    }
    if (first == panels)
      first = p;
    last = p;
    if (kp) {
      tileRows<1>(rows, d, q, ldq, kp + p * d * kPanel, kPanel, 0, x, ldx,
                  /*load=*/false);
    } else {
      for (int64_t j = 0; j < nj; ++j)
        dotRows(rows, d, q, ldq, k + (j0 + j) * ldk, x + j, ldx);
    }
    // x = mask == -inf ? -inf : x * scale + mask; keys past t are -inf.
    for (int64_t i = 0; i < rows; ++i) {
      float *xi = x + i * ldx;
      if (!mask) {
        __m512 y = _mm512_mul_ps(_mm512_loadu_ps(xi), vscale);
        _mm512_storeu_ps(xi, _mm512_mask_mov_ps(ninf, lanes, y));
        continue;
      }
      if (maskStride == 1) {
        __m512 m = _mm512_mask_loadu_ps(ninf, lanes, mask[i] + j0);
        __m512 y = _mm512_fmadd_ps(_mm512_loadu_ps(xi), vscale, m);
        __mmask16 masked = _mm512_cmp_ps_mask(m, ninf, _CMP_EQ_OQ);
        _mm512_storeu_ps(xi, _mm512_mask_mov_ps(y, masked, ninf));
        continue;
      }
      for (int64_t j = 0; j < nj; ++j) {
        float m = mask[i][(j0 + j) * maskStride];
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
  // O = P[:, lo:hi] V[lo:hi, :], 32 and then 16 columns at a time.
  const float *p = scratch + lo, *vlo = v + lo * ldv;
  int64_t c = 0;
  for (; c + 32 <= dv; c += 32)
    tileRows<2>(rows, hi - lo, p, ldx, vlo + c, ldv, 16, o + c, ldo,
                /*load=*/false);
  for (; c + 16 <= dv; c += 16)
    tileRows<1>(rows, hi - lo, p, ldx, vlo + c, ldv, 0, o + c, ldo,
                /*load=*/false);
  for (; c < dv; ++c)
    for (int64_t i = 0; i < rows; ++i) {
      float acc = 0.0f;
      for (int64_t j = lo; j < hi; ++j)
        acc += scratch[i * ldx + j] * v[j * ldv + c];
      o[i * ldo + c] = acc;
    }
}
