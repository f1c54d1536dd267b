//===- SoftmaxAvx2.cpp - Row-wise f32 softmax, AVX2 + FMA -----------------===//
//
// Part of the Slim project, under the Apache License v2.0 with LLVM Exceptions.
// SPDX-License-Identifier: Apache-2.0 WITH LLVM-exception
//
//===----------------------------------------------------------------------===//
//
// Eight lanes at a time: a max pass, an exp-and-sum pass that writes the
// exponentials, and a scaling pass, over one row while it is in L1. exp is
// 2^n * p(r) with n = round(x log2 e), r = x - n ln 2 (ln 2 in two parts)
// and p the degree-6 Taylor polynomial (|r| <= ln 2 / 2: truncation error
// below 1.2e-7 relative); inputs below -87.3 (results below the smallest
// normal float) give 0. Compiled for AVX2 + FMA with a function attribute;
// the caller checks the CPU.
//
//===----------------------------------------------------------------------===//

#include "lib/Kernels/Softmax.h"

#include <immintrin.h>

#include <cmath>

namespace {

__attribute__((target("avx2,fma"))) inline __m256 exp8(__m256 x) {
  const __m256 log2e = _mm256_set1_ps(1.44269504088896341f);
  const __m256 ln2hi = _mm256_set1_ps(0.693359375f);
  const __m256 ln2lo = _mm256_set1_ps(-2.12194440e-4f);
  const __m256 lo = _mm256_set1_ps(-87.3f);
  __m256 tiny = _mm256_cmp_ps(x, lo, _CMP_LT_OQ);
  // Operands in this order so that NaN passes through (maxps/minps return
  // the second operand when either is NaN).
  x = _mm256_max_ps(lo, x);
  x = _mm256_min_ps(_mm256_set1_ps(88.7f), x);
  __m256 n = _mm256_round_ps(_mm256_mul_ps(x, log2e),
                             _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
  __m256 r = _mm256_fnmadd_ps(n, ln2hi, x);
  r = _mm256_fnmadd_ps(n, ln2lo, r);
  __m256 p = _mm256_set1_ps(1.0f / 720);
  p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.0f / 120));
  p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.0f / 24));
  p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.0f / 6));
  p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(0.5f));
  p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.0f));
  p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.0f));
  __m256i e = _mm256_slli_epi32(
      _mm256_add_epi32(_mm256_cvtps_epi32(n), _mm256_set1_epi32(127)), 23);
  __m256 y = _mm256_mul_ps(p, _mm256_castsi256_ps(e));
  return _mm256_andnot_ps(tiny, y);
}

__attribute__((target("avx2,fma"))) inline float hmax(__m256 v) {
  __m128 m = _mm_max_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
  m = _mm_max_ps(m, _mm_movehl_ps(m, m));
  m = _mm_max_ss(m, _mm_movehdup_ps(m));
  return _mm_cvtss_f32(m);
}

__attribute__((target("avx2,fma"))) inline float hsum(__m256 v) {
  __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
  s = _mm_add_ps(s, _mm_movehl_ps(s, s));
  s = _mm_add_ss(s, _mm_movehdup_ps(s));
  return _mm_cvtss_f32(s);
}

/// exp of one float through the vector path (the row's tail).
__attribute__((target("avx2,fma"))) inline float exp1(float x) {
  return _mm_cvtss_f32(_mm256_castps256_ps128(exp8(_mm256_set1_ps(x))));
}

__attribute__((target("avx2,fma"))) void row(int64_t n, const float *x,
                                             float *y) {
  int64_t n8 = n & ~int64_t(7);
  // max: NaN lanes are skipped (maxps returns its second operand when
  // either is NaN, and the running maximum is that operand), as the
  // decomposition's maxnumf does.
  __m256 vmax = _mm256_set1_ps(-INFINITY);
  for (int64_t j = 0; j < n8; j += 8)
    vmax = _mm256_max_ps(_mm256_loadu_ps(x + j), vmax);
  float max = hmax(vmax);
  for (int64_t j = n8; j < n; ++j)
    max = std::fmax(max, x[j]);
  __m256 m = _mm256_set1_ps(max), vsum = _mm256_setzero_ps();
  for (int64_t j = 0; j < n8; j += 8) {
    __m256 e = exp8(_mm256_sub_ps(_mm256_loadu_ps(x + j), m));
    _mm256_storeu_ps(y + j, e);
    vsum = _mm256_add_ps(vsum, e);
  }
  float sum = hsum(vsum);
  for (int64_t j = n8; j < n; ++j) {
    y[j] = exp1(x[j] - max);
    sum += y[j];
  }
  __m256 s = _mm256_set1_ps(sum);
  for (int64_t j = 0; j < n8; j += 8)
    _mm256_storeu_ps(y + j, _mm256_div_ps(_mm256_loadu_ps(y + j), s));
  for (int64_t j = n8; j < n; ++j)
    y[j] = y[j] / sum;
}

} // namespace

extern "C" void slim_uk_softmax_f32_avx2(int64_t rows, int64_t n,
                                         const float *in, int64_t ldin,
                                         float *out, int64_t ldout) {
  for (int64_t i = 0; i < rows; ++i)
    row(n, in + i * ldin, out + i * ldout);
}
