//===- QGemvAvx512.cpp - Few-row product with a 4-bit weight, AVX-512 ----===//
//
// Part of the Slim project, under the Apache License v2.0 with LLVM Exceptions.
// SPDX-License-Identifier: Apache-2.0 WITH LLVM-exception
//
//===----------------------------------------------------------------------===//
//
// Each output channel's codes stream once and meet every activation row in
// registers, as in the AVX2 kernel, but a group's 16 possible weights are
// computed once ((value - zp) * scale, a zmm) and each code picks its own
// with vpermps: 32 codes cost a load, the nibble split, two widenings and
// two permutes, for any zero point; the products use the exact weights as
// the reference does. A group's inputs past its last multiple of 32 are
// exact in scalar code.
//
//===----------------------------------------------------------------------===//

#include "lib/Kernels/QGemv.h"
#include "lib/Kernels/QGemvInternal.h"

#include "lib/Kernels/x86_64/Avx512.h"

#include <immintrin.h>

namespace {

using slim::avx512::hsum;

using namespace slim::qgemv;

template <int R>
SLIM_AVX512_TARGET void rows4(int64_t n0, int64_t n1, const float *a,
                              int64_t lda, const slim_uk_qweight *w, float *c,
                              int64_t ldc, uint32_t flags) {
  bool isSigned = flags & SLIM_UK_QGEMV_SIGNED;
  int64_t k = w->k, group = groupSize(w);
  int64_t groups = (k + group - 1) / group, rowBytes = (k * 4 + 7) / 8;
  const __m128i low4 = _mm_set1_epi8(0x0f);
  // The value of each raw nibble u: signed codes are (u ^ 8) - 8.
  const __m512i nibbles =
      _mm512_set_epi32(15, 14, 13, 12, 11, 10, 9, 8, 7, 6, 5, 4, 3, 2, 1, 0);
  const __m512i values = _mm512_sub_epi32(
      _mm512_xor_si512(nibbles, _mm512_set1_epi32(isSigned ? 8 : 0)),
      _mm512_set1_epi32(isSigned ? 8 : 0));
  for (int64_t n = n0; n < n1; ++n) {
    const uint8_t *row = w->codes + n * w->codesStride;
    // Two chains per row (even and odd 16-code halves).
    __m512 y[R][2];
    float tail[R];
    for (int i = 0; i < R; ++i) {
      y[i][0] = y[i][1] = _mm512_setzero_ps();
      tail[i] = 0.0f;
    }
    for (int64_t g = 0; g < groups; ++g) {
      float scale = slim_uk_qscale(w, n, g, flags);
      int zp = slim_uk_qzero(w, n, g, flags);
      int64_t q = g * group, end = q + group < k ? q + group : k;
      // The group's 16 weights, (value - zp) * scale rounded as the
      // reference rounds them; each code picks its own (vpermps).
      const __m512 table = _mm512_mul_ps(
          _mm512_cvtepi32_ps(_mm512_sub_epi32(values, _mm512_set1_epi32(zp))),
          _mm512_set1_ps(scale));
      for (; q + 32 <= end; q += 32) {
        __m128i b =
            _mm_loadu_si128(reinterpret_cast<const __m128i *>(row + q / 2));
        __m128i lo = _mm_and_si128(b, low4);
        __m128i hi = _mm_and_si128(_mm_srli_epi16(b, 4), low4);
        __m512 w0 = _mm512_permutexvar_ps(
            _mm512_cvtepu8_epi32(_mm_unpacklo_epi8(lo, hi)), table);
        __m512 w1 = _mm512_permutexvar_ps(
            _mm512_cvtepu8_epi32(_mm_unpackhi_epi8(lo, hi)), table);
        for (int i = 0; i < R; ++i) {
          const float *x = a + i * lda + q;
          y[i][0] = _mm512_fmadd_ps(w0, _mm512_loadu_ps(x), y[i][0]);
          y[i][1] = _mm512_fmadd_ps(w1, _mm512_loadu_ps(x + 16), y[i][1]);
        }
      }
      for (; q < end; ++q) {
        float v = float(code(row, rowBytes, q, 4, isSigned) - zp) * scale;
        for (int i = 0; i < R; ++i)
          tail[i] += a[i * lda + q] * v;
      }
    }
    for (int i = 0; i < R; ++i) {
      float *out = c + i * ldc + n;
      float sum = hsum(_mm512_add_ps(y[i][0], y[i][1])) + tail[i];
      *out = (flags & SLIM_UK_QGEMV_ACCUMULATE ? *out : 0.0f) + sum;
    }
  }
}

/// 8-bit codes, one per byte: 16 at a time widened to floats, minus the
/// zero point, times the scale (the exact weights), into one accumulator
/// per row; a group's inputs past its last multiple of 16 in scalar code.
template <int R>
SLIM_AVX512_TARGET void rows8(int64_t n0, int64_t n1, const float *a,
                              int64_t lda, const slim_uk_qweight *w, float *c,
                              int64_t ldc, uint32_t flags) {
  bool isSigned = flags & SLIM_UK_QGEMV_SIGNED;
  int64_t k = w->k, group = groupSize(w), groups = (k + group - 1) / group;
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
      const __m512 sv = _mm512_set1_ps(scale);
      const __m512i zv = _mm512_set1_epi32(zp);
      int64_t q = g * group, end = q + group < k ? q + group : k;
      for (; q + 16 <= end; q += 16) {
        __m128i b = _mm_loadu_si128(reinterpret_cast<const __m128i *>(row + q));
        __m512i v =
            isSigned ? _mm512_cvtepi8_epi32(b) : _mm512_cvtepu8_epi32(b);
        __m512 wv =
            _mm512_mul_ps(_mm512_cvtepi32_ps(_mm512_sub_epi32(v, zv)), sv);
        for (int i = 0; i < R; ++i)
          y[i] = _mm512_fmadd_ps(wv, _mm512_loadu_ps(a + i * lda + q), y[i]);
      }
      for (; q < end; ++q) {
        float v = float(code(row, k, q, 8, isSigned) - zp) * scale;
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
  // Other widths, code books and sparse weights: the AVX2 paths (an
  // AVX-512 CPU has AVX2).
  if (w->table || w->sparseM > 0 || (w->bits != 4 && w->bits != 8))
    return slim_uk_qgemv_f32_avx2(m, n0, n1, a, lda, w, c, ldc, flags);
  if (w->bits == 8)
    return forRowChunks(
        m, a, lda, c, ldc, [&](auto rows, const float *ai, float *ci) {
          rows8<decltype(rows)::value>(n0, n1, ai, lda, w, ci, ldc, flags);
        });
  if (!isVectorized4(w))
    return slim_uk_qgemv_f32_generic(m, n0, n1, a, lda, w, c, ldc, flags);
  forRowChunks(m, a, lda, c, ldc, [&](auto rows, const float *ai, float *ci) {
    rows4<decltype(rows)::value>(n0, n1, ai, lda, w, ci, ldc, flags);
  });
}
