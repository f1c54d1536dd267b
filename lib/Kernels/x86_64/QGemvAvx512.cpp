//===- QGemvAvx512.cpp - Few-row product with a 4-bit weight, AVX-512 ----===//
//
// Part of the Slim project, under the Apache License v2.0 with LLVM Exceptions.
// SPDX-License-Identifier: Apache-2.0 WITH LLVM-exception
//
//===----------------------------------------------------------------------===//
//
// The AVX2 kernel's method (QGemvAvx2.cpp) with 16-lane vectors: 32 codes
// become two zmm of floats (half the instructions per code of the AVX2
// kernel, which is bound by that work rather than by the weight stream).
//
//===----------------------------------------------------------------------===//

#include "lib/Kernels/QGemv.h"

#include "lib/Kernels/x86_64/Avx512.h"

#include <immintrin.h>

namespace {

using slim::avx512::hsum;

/// Code q of a 4-bit row (two's complement where `isSigned`).
inline int code4(const uint8_t *row, int64_t q, bool isSigned) {
  int c = (row[q >> 1] >> ((q & 1) * 4)) & 15;
  return isSigned && c >= 8 ? c - 16 : c;
}

template <int R>
SLIM_AVX512_TARGET void rows4(int64_t n0, int64_t n1, const float *a,
                              int64_t lda, const slim_uk_qweight *w, float *c,
                              int64_t ldc, uint32_t flags) {
  constexpr int kAcc = R == 1 ? 2 : 1;
  bool isSigned = flags & SLIM_UK_QGEMV_SIGNED;
  int64_t k = w->k, group = w->group > 0 ? w->group : k;
  int64_t groups = (k + group - 1) / group;
  const __m128i low4 = _mm_set1_epi8(0x0f);
  // Signed nibbles: s = (u ^ 8) - 8, so s - zp = (u ^ 8) - (zp + 8).
  const __m128i flip = _mm_set1_epi8(isSigned ? 8 : 0);
  for (int64_t n = n0; n < n1; ++n) {
    const uint8_t *row = w->codes + n * w->codesStride;
    __m512 y[R];
    float tail[R];
    for (int i = 0; i < R; ++i) {
      y[i] = _mm512_setzero_ps();
      tail[i] = 0.0f;
    }
    for (int64_t g = 0; g < groups; ++g) {
      float scale = slim_uk_qscale(w, n, g, flags);
      int zp = slim_uk_qzero(w, n, g, flags);
      int shift = zp + (isSigned ? 8 : 0);
      int64_t q = g * group, end = q + group < k ? q + group : k;
      if (shift >= -112 && shift <= 112) {
        const __m128i zv = _mm_set1_epi8(static_cast<char>(shift));
        __m512 acc[R][kAcc];
        for (int i = 0; i < R; ++i)
          for (int j = 0; j < kAcc; ++j)
            acc[i][j] = _mm512_setzero_ps();
        for (; q + 32 <= end; q += 32) {
          __m128i b =
              _mm_loadu_si128(reinterpret_cast<const __m128i *>(row + q / 2));
          __m128i lo = _mm_and_si128(b, low4);
          __m128i hi = _mm_and_si128(_mm_srli_epi16(b, 4), low4);
          lo = _mm_sub_epi8(_mm_xor_si128(lo, flip), zv);
          hi = _mm_sub_epi8(_mm_xor_si128(hi, flip), zv);
          __m128i c0 = _mm_unpacklo_epi8(lo, hi),
                  c1 = _mm_unpackhi_epi8(lo, hi);
          __m512 f[2] = {_mm512_cvtepi32_ps(_mm512_cvtepi8_epi32(c0)),
                         _mm512_cvtepi32_ps(_mm512_cvtepi8_epi32(c1))};
          for (int i = 0; i < R; ++i) {
            const float *x = a + i * lda + q;
            for (int j = 0; j < 2; ++j)
              acc[i][j % kAcc] = _mm512_fmadd_ps(
                  f[j], _mm512_loadu_ps(x + 16 * j), acc[i][j % kAcc]);
          }
        }
        __m512 s = _mm512_set1_ps(scale);
        for (int i = 0; i < R; ++i) {
          __m512 sum = acc[i][0];
          for (int j = 1; j < kAcc; ++j)
            sum = _mm512_add_ps(sum, acc[i][j]);
          y[i] = _mm512_fmadd_ps(sum, s, y[i]);
        }
      }
      for (; q < end; ++q) {
        float v = float(code4(row, q, isSigned) - zp) * scale;
        for (int i = 0; i < R; ++i)
          tail[i] += a[i * lda + q] * v;
      }
    }
    for (int i = 0; i < R; ++i) {
      float *out = c + i * ldc + n;
      float sum = hsum(y[i]) + tail[i];
      *out = (flags & SLIM_UK_QGEMV_ACCUMULATE ? *out : 0.0f) + sum;
    }
  }
}

} // namespace

extern "C" void slim_uk_qgemv_f32_avx512(int64_t m, int64_t n0, int64_t n1,
                                         const float *a, int64_t lda,
                                         const slim_uk_qweight *w, float *c,
                                         int64_t ldc, uint32_t flags) {
  int64_t group = w->group > 0 ? w->group : w->k;
  if (w->bits != 4 || group % 2 != 0)
    return slim_uk_qgemv_f32_generic(m, n0, n1, a, lda, w, c, ldc, flags);
  for (int64_t i = 0; i < m; i += 4) {
    int64_t r = m - i < 4 ? m - i : 4;
    const float *ai = a + i * lda;
    float *ci = c + i * ldc;
    switch (r) {
    case 1:
      rows4<1>(n0, n1, ai, lda, w, ci, ldc, flags);
      break;
    case 2:
      rows4<2>(n0, n1, ai, lda, w, ci, ldc, flags);
      break;
    case 3:
      rows4<3>(n0, n1, ai, lda, w, ci, ldc, flags);
      break;
    default:
      rows4<4>(n0, n1, ai, lda, w, ci, ldc, flags);
      break;
    }
  }
}
