//===- Avx512.h - Building blocks of the AVX-512 kernels --------*- C++ -*-===//
//
// Part of the Slim project, under the Apache License v2.0 with LLVM Exceptions.
// SPDX-License-Identifier: Apache-2.0 WITH LLVM-exception
//
//===----------------------------------------------------------------------===//
//
// What several AVX-512 kernels share, inline and compiled for AVX-512F with
// function attributes (the callers check the CPU):
//
// - `tile<R, P>`: C[0..R, 0..16 P] (+)= A[0..R, 0..kc] B[0..kc, 0..16 P],
//   R <= 12 rows and P <= 2 panels of 16 columns, one zmm accumulator each
//   (24 of the 32 registers); each step over K loads one zmm of every panel
//   and broadcasts one element of each row of A: 24 FMAs for 14 loads where
//   the AVX2 tile does 12 for 8, so each weight value loaded from cache
//   meets twice the rows. Panel q's step s is at b[q * ldp + s * ldb].
// - `exp16`: slim::avx2::exp8's method on 16 lanes (same polynomial, same
//   range handling: below -87.3 gives 0, NaN passes).
// - `softmaxRow`: slim::avx2::softmaxRow's three passes on 16 lanes, the
//   row's tail in masked loads and stores.
//
//===----------------------------------------------------------------------===//

#ifndef SLIM_LIB_KERNELS_X86_64_AVX512_H
#define SLIM_LIB_KERNELS_X86_64_AVX512_H

#include <immintrin.h>

#include <cmath>
#include <cstdint>

/// DO(I) for each row I < R of a kernel templated on its row count R <= 12,
/// spelled out (if constexpr) so that each row's accumulators are named
/// registers (see SLIM_AVX2_ROWS).
#define SLIM_AVX512_ROW(R, I, DO)                                              \
  if constexpr (R > I) {                                                       \
    DO(I)                                                                      \
  }
#define SLIM_AVX512_ROWS(R, DO)                                                \
  SLIM_AVX512_ROW(R, 0, DO)                                                    \
  SLIM_AVX512_ROW(R, 1, DO)                                                    \
  SLIM_AVX512_ROW(R, 2, DO)                                                    \
  SLIM_AVX512_ROW(R, 3, DO)                                                    \
  SLIM_AVX512_ROW(R, 4, DO)                                                    \
  SLIM_AVX512_ROW(R, 5, DO)                                                    \
  SLIM_AVX512_ROW(R, 6, DO)                                                    \
  SLIM_AVX512_ROW(R, 7, DO)                                                    \
  SLIM_AVX512_ROW(R, 8, DO)                                                    \
  SLIM_AVX512_ROW(R, 9, DO)                                                    \
  SLIM_AVX512_ROW(R, 10, DO)                                                   \
  SLIM_AVX512_ROW(R, 11, DO)

/// The target attribute of every AVX-512 kernel function.
#define SLIM_AVX512_TARGET __attribute__((target("avx512f,avx2,fma")))

namespace slim::avx512 {
// Internal linkage: each kernel file gets its own copies (compiled with
// its target attributes), never one the linker picks from another file.
namespace {

constexpr int kTileRows = 12;

/// See the file comment: accumulates into C where `load`, overwrites it
/// otherwise.
template <int R, int P>
SLIM_AVX512_TARGET inline void tile(int64_t kc, const float *a, int64_t lda,
                                    const float *b, int64_t ldb, int64_t ldp,
                                    float *c, int64_t ldc, bool load) {
  static_assert(R >= 1 && R <= kTileRows, "tile of 1 to 12 rows");
  static_assert(P == 1 || P == 2, "one or two panels");
  __m512 c00, c01, c10, c11, c20, c21, c30, c31, c40, c41, c50, c51;
  __m512 c60, c61, c70, c71, c80, c81, c90, c91, c100, c101, c110, c111;
#define SLIM_LOAD(I)                                                           \
  c##I##0 = load ? _mm512_loadu_ps(c + I * ldc) : _mm512_setzero_ps();         \
  if constexpr (P == 2)                                                        \
    c##I##1 = load ? _mm512_loadu_ps(c + I * ldc + 16) : _mm512_setzero_ps();
#define SLIM_FMA(I)                                                            \
  {                                                                            \
    __m512 x = _mm512_set1_ps(a[I * lda + q]);                                 \
    c##I##0 = _mm512_fmadd_ps(x, b0, c##I##0);                                 \
    if constexpr (P == 2)                                                      \
      c##I##1 = _mm512_fmadd_ps(x, b1, c##I##1);                               \
  }
#define SLIM_STORE(I)                                                          \
  _mm512_storeu_ps(c + I * ldc, c##I##0);                                      \
  if constexpr (P == 2)                                                        \
    _mm512_storeu_ps(c + I * ldc + 16, c##I##1);
  SLIM_AVX512_ROWS(R, SLIM_LOAD)
  const float *b1p = b + ldp;
  for (int64_t q = 0; q < kc; ++q) {
    __m512 b0 = _mm512_loadu_ps(b + q * ldb), b1;
    if constexpr (P == 2)
      b1 = _mm512_loadu_ps(b1p + q * ldb);
    SLIM_AVX512_ROWS(R, SLIM_FMA)
  }
  SLIM_AVX512_ROWS(R, SLIM_STORE)
#undef SLIM_STORE
#undef SLIM_FMA
#undef SLIM_LOAD
}

/// tile<r, P> for a row count known at run time (1 to 12; 0 does nothing).
template <int P>
SLIM_AVX512_TARGET inline void tileRows(int64_t r, int64_t kc, const float *a,
                                        int64_t lda, const float *b,
                                        int64_t ldb, int64_t ldp, float *c,
                                        int64_t ldc, bool load) {
  switch (r) {
#define SLIM_CASE(N)                                                           \
  case N:                                                                      \
    return tile<N, P>(kc, a, lda, b, ldb, ldp, c, ldc, load);
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
    SLIM_CASE(12)
#undef SLIM_CASE
  default:
    return;
  }
}

SLIM_AVX512_TARGET inline __m512 exp16(__m512 x) {
  const __m512 log2e = _mm512_set1_ps(1.44269504088896341f);
  const __m512 ln2hi = _mm512_set1_ps(0.693359375f);
  const __m512 ln2lo = _mm512_set1_ps(-2.12194440e-4f);
  const __m512 lo = _mm512_set1_ps(-87.3f);
  __mmask16 tiny = _mm512_cmp_ps_mask(x, lo, _CMP_LT_OQ);
  // Operands in this order so that NaN passes through (maxps/minps return
  // the second operand when either is NaN).
  x = _mm512_max_ps(lo, x);
  x = _mm512_min_ps(_mm512_set1_ps(88.7f), x);
  __m512 n = _mm512_roundscale_ps(_mm512_mul_ps(x, log2e),
                                  _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
  __m512 r = _mm512_fnmadd_ps(n, ln2hi, x);
  r = _mm512_fnmadd_ps(n, ln2lo, r);
  __m512 p = _mm512_set1_ps(1.0f / 720);
  p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.0f / 120));
  p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.0f / 24));
  p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.0f / 6));
  p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(0.5f));
  p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.0f));
  p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.0f));
  __m512i e = _mm512_slli_epi32(
      _mm512_add_epi32(_mm512_cvtps_epi32(n), _mm512_set1_epi32(127)), 23);
  __m512 y = _mm512_mul_ps(p, _mm512_castsi512_ps(e));
  return _mm512_maskz_mov_ps(static_cast<__mmask16>(~tiny), y);
}

/// Sum and maximum of the 16 lanes (not _mm512_reduce_*: GCC 12 warns
/// about the undefined registers its expansion uses).
SLIM_AVX512_TARGET inline float hsum(__m512 v) {
  v = _mm512_add_ps(v, _mm512_shuffle_f32x4(v, v, 0x4e));
  v = _mm512_add_ps(v, _mm512_shuffle_f32x4(v, v, 0xb1));
  __m128 s = _mm512_castps512_ps128(v);
  s = _mm_add_ps(s, _mm_movehl_ps(s, s));
  s = _mm_add_ss(s, _mm_movehdup_ps(s));
  return _mm_cvtss_f32(s);
}

SLIM_AVX512_TARGET inline float hmax(__m512 v) {
  v = _mm512_max_ps(v, _mm512_shuffle_f32x4(v, v, 0x4e));
  v = _mm512_max_ps(v, _mm512_shuffle_f32x4(v, v, 0xb1));
  __m128 m = _mm512_castps512_ps128(v);
  m = _mm_max_ps(m, _mm_movehl_ps(m, m));
  m = _mm_max_ss(m, _mm_movehdup_ps(m));
  return _mm_cvtss_f32(m);
}

/// The lanes of a row's last, partial chunk of n % 16 elements.
SLIM_AVX512_TARGET inline __mmask16 tailMask(int64_t n) {
  return static_cast<__mmask16>((1u << (n & 15)) - 1);
}

/// y[0..n) = softmax(x[0..n)); x and y may be the same.
SLIM_AVX512_TARGET inline void softmaxRow(int64_t n, const float *x,
                                          float *y) {
  int64_t n16 = n & ~int64_t(15);
  __mmask16 tail = tailMask(n);
  // max: NaN lanes are skipped (maxps returns its second operand when
  // either is NaN, and the running maximum is that operand), as the
  // decomposition's maxnumf does; masked-off lanes keep -inf.
  const __m512 ninf = _mm512_set1_ps(-INFINITY);
  __m512 vmax = ninf;
  for (int64_t j = 0; j < n16; j += 16)
    vmax = _mm512_max_ps(_mm512_loadu_ps(x + j), vmax);
  if (tail)
    vmax = _mm512_max_ps(_mm512_mask_loadu_ps(ninf, tail, x + n16), vmax);
  __m512 m = _mm512_set1_ps(hmax(vmax));
  __m512 vsum = _mm512_setzero_ps();
  for (int64_t j = 0; j < n16; j += 16) {
    __m512 e = exp16(_mm512_sub_ps(_mm512_loadu_ps(x + j), m));
    _mm512_storeu_ps(y + j, e);
    vsum = _mm512_add_ps(vsum, e);
  }
  if (tail) {
    __m512 e = exp16(_mm512_sub_ps(_mm512_maskz_loadu_ps(tail, x + n16), m));
    _mm512_mask_storeu_ps(y + n16, tail, e);
    vsum = _mm512_add_ps(vsum, _mm512_maskz_mov_ps(tail, e));
  }
  __m512 s = _mm512_set1_ps(hsum(vsum));
  for (int64_t j = 0; j < n16; j += 16)
    _mm512_storeu_ps(y + j, _mm512_div_ps(_mm512_loadu_ps(y + j), s));
  if (tail)
    _mm512_mask_storeu_ps(
        y + n16, tail, _mm512_div_ps(_mm512_maskz_loadu_ps(tail, y + n16), s));
}

} // namespace
} // namespace slim::avx512

#endif // SLIM_LIB_KERNELS_X86_64_AVX512_H
