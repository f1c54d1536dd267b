//===- Avx2.h - Building blocks of the AVX2 + FMA kernels -------*- C++ -*-===//
//
// Part of the Slim project, under the Apache License v2.0 with LLVM Exceptions.
// SPDX-License-Identifier: Apache-2.0 WITH LLVM-exception
//
//===----------------------------------------------------------------------===//
//
// What several AVX2 kernels share, inline and compiled for AVX2 + FMA with
// function attributes (the callers check the CPU):
//
// - `tile<R>`: C[0..R, 0..16] (+)= A[0..R, 0..kc] B[0..kc, 0..16], R <= 6
//   rows in 12 ymm accumulators; each step over K loads 16 floats of B (two
//   registers) and broadcasts one element of each row of A: 12 FMAs for 8
//   loads, so the two FMA pipes, not the loads, bound it. The packed GEMM
//   runs it on weight panels, attention on packed keys and on values.
// - `exp8`: exp of 8 floats, 2^n * p(r) with n = round(x log2 e),
//   r = x - n ln 2 (ln 2 in two parts) and p the degree-6 Taylor polynomial
//   (|r| <= ln 2 / 2: truncation error below 1.2e-7 relative); inputs below
//   -87.3 (results below the smallest normal float) give 0, NaN passes.
// - `softmaxRow`: the max, exp(x - max) with their sum, and the division by
//   the sum over one row in L1, in the order of linalg.softmax's
//   decomposition (maximum ignoring NaN), so rows of -inf give NaN as it
//   does.
//
//===----------------------------------------------------------------------===//

#ifndef SLIM_LIB_KERNELS_X86_64_AVX2_H
#define SLIM_LIB_KERNELS_X86_64_AVX2_H

#include <immintrin.h>

#include <cmath>
#include <cstdint>

/// DO(I) for each row I < R of a kernel templated on its row count R <= 6,
/// spelled out (if constexpr) so that each row's accumulators are named
/// registers: GCC 12 keeps an array of accumulators indexed in a loop in
/// memory, at half the speed.
#define SLIM_AVX2_ROW(R, I, DO)                                                \
  if constexpr (R > I) {                                                       \
    DO(I)                                                                      \
  }
#define SLIM_AVX2_ROWS(R, DO)                                                  \
  SLIM_AVX2_ROW(R, 0, DO)                                                      \
  SLIM_AVX2_ROW(R, 1, DO)                                                      \
  SLIM_AVX2_ROW(R, 2, DO)                                                      \
  SLIM_AVX2_ROW(R, 3, DO)                                                      \
  SLIM_AVX2_ROW(R, 4, DO)                                                      \
  SLIM_AVX2_ROW(R, 5, DO)

namespace slim::avx2 {
// Internal linkage: each kernel file gets its own copies (compiled with
// its target attributes), never one the linker picks from another file.
namespace {

constexpr int kTileRows = 6;

/// See the file comment: accumulates into C where `load`, overwrites it
/// otherwise; B's rows are `ldb` floats apart (rows spelled out with
/// SLIM_AVX2_ROWS).
template <int R>
__attribute__((target("avx2,fma"))) inline void
tile(int64_t kc, const float *a, int64_t lda, const float *b, int64_t ldb,
     float *c, int64_t ldc, bool load) {
  static_assert(R >= 1 && R <= kTileRows, "tile of 1 to 6 rows");
  __m256 c00, c01, c10, c11, c20, c21, c30, c31, c40, c41, c50, c51;
#define SLIM_LOAD(I)                                                           \
  c##I##0 = load ? _mm256_loadu_ps(c + I * ldc) : _mm256_setzero_ps();         \
  c##I##1 = load ? _mm256_loadu_ps(c + I * ldc + 8) : _mm256_setzero_ps();
#define SLIM_FMA(I)                                                            \
  {                                                                            \
    __m256 x = _mm256_broadcast_ss(a + I * lda + q);                           \
    c##I##0 = _mm256_fmadd_ps(x, b0, c##I##0);                                 \
    c##I##1 = _mm256_fmadd_ps(x, b1, c##I##1);                                 \
  }
#define SLIM_STORE(I)                                                          \
  _mm256_storeu_ps(c + I * ldc, c##I##0);                                      \
  _mm256_storeu_ps(c + I * ldc + 8, c##I##1);
  SLIM_AVX2_ROWS(R, SLIM_LOAD)
  for (int64_t q = 0; q < kc; ++q) {
    __m256 b0 = _mm256_loadu_ps(b + q * ldb);
    __m256 b1 = _mm256_loadu_ps(b + q * ldb + 8);
    SLIM_AVX2_ROWS(R, SLIM_FMA)
  }
  SLIM_AVX2_ROWS(R, SLIM_STORE)
#undef SLIM_STORE
#undef SLIM_FMA
#undef SLIM_LOAD
}

/// tile<r> for a row count known at run time (1 to 6; 0 does nothing).
__attribute__((target("avx2,fma"))) inline void
tileRows(int64_t r, int64_t kc, const float *a, int64_t lda, const float *b,
         int64_t ldb, float *c, int64_t ldc, bool load) {
  switch (r) {
  case 1:
    return tile<1>(kc, a, lda, b, ldb, c, ldc, load);
  case 2:
    return tile<2>(kc, a, lda, b, ldb, c, ldc, load);
  case 3:
    return tile<3>(kc, a, lda, b, ldb, c, ldc, load);
  case 4:
    return tile<4>(kc, a, lda, b, ldb, c, ldc, load);
  case 5:
    return tile<5>(kc, a, lda, b, ldb, c, ldc, load);
  case 6:
    return tile<6>(kc, a, lda, b, ldb, c, ldc, load);
  default:
    return;
  }
}

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

/// exp of one float through the vector path (a row's tail).
__attribute__((target("avx2,fma"))) inline float exp1(float x) {
  return _mm_cvtss_f32(_mm256_castps256_ps128(exp8(_mm256_set1_ps(x))));
}

/// y[0..n) = softmax(x[0..n)); x and y may be the same.
__attribute__((target("avx2,fma"))) inline void
softmaxRow(int64_t n, const float *x, float *y) {
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
} // namespace slim::avx2

#endif // SLIM_LIB_KERNELS_X86_64_AVX2_H
