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
//
//===----------------------------------------------------------------------===//

#ifndef SLIM_LIB_KERNELS_X86_64_AVX512_H
#define SLIM_LIB_KERNELS_X86_64_AVX512_H

#include <immintrin.h>

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

} // namespace
} // namespace slim::avx512

#endif // SLIM_LIB_KERNELS_X86_64_AVX512_H
