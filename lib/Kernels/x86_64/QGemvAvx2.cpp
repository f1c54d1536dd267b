//===- QGemvAvx2.cpp - Few-row product with a 4-bit weight, AVX2 + FMA ----===//
//
// Part of the Slim project, under the Apache License v2.0 with LLVM Exceptions.
// SPDX-License-Identifier: Apache-2.0 WITH LLVM-exception
//
//===----------------------------------------------------------------------===//
//
// Each output channel's codes stream once and meet every activation row in
// registers. 32 codes (16 bytes) at a time: the nibbles are split, the
// zero point subtracted in bytes (code - zp fits a signed byte for 4-bit
// codes and zero points within [-112, 112]; other zero points take the
// scalar path), widened to 4 x 8 floats and multiplied into per-row
// accumulators; each group's sum is scaled once. Two (one row: four)
// accumulator chains per row hide the FMA latency. A group's inputs past
// its last multiple of 32 (SmolLM2's 576 = 4 x 128 + 64 ends on one) are
// exact in scalar code. 8-bit codes take a byte path; other widths and
// code books QGemvBitsAvx2.cpp's bit-stream path.
//
//===----------------------------------------------------------------------===//

#include "lib/Kernels/QGemv.h"
#include "lib/Kernels/QGemvInternal.h"

#include "lib/Kernels/x86_64/Avx2.h"

#include <immintrin.h>

namespace {

using slim::avx2::hsum;

/// The 32 4-bit codes at `bytes` minus the zero point, as signed bytes in K
/// order: codes 0-15 in `c0`, 16-31 in `c1` (`flip` 8 turns signed nibbles
/// into offsets from 8, `zv` is the zero point plus that offset).
__attribute__((target("avx2,fma"))) inline void
minusZero32(const uint8_t *bytes, __m128i flip, __m128i zv, __m128i &c0,
            __m128i &c1) {
  const __m128i low4 = _mm_set1_epi8(0x0f);
  __m128i b = _mm_loadu_si128(reinterpret_cast<const __m128i *>(bytes));
  __m128i lo = _mm_and_si128(b, low4);
  __m128i hi = _mm_and_si128(_mm_srli_epi16(b, 4), low4);
  lo = _mm_sub_epi8(_mm_xor_si128(lo, flip), zv);
  hi = _mm_sub_epi8(_mm_xor_si128(hi, flip), zv);
  c0 = _mm_unpacklo_epi8(lo, hi);
  c1 = _mm_unpackhi_epi8(lo, hi);
}

using namespace slim::qgemv;

template <int R>
__attribute__((target("avx2,fma"))) void
rows4(int64_t n0, int64_t n1, const float *a, int64_t lda,
      const slim_uk_qweight *w, float *c, int64_t ldc, uint32_t flags) {
  constexpr int kAcc = R == 1 ? 4 : 2;
  bool isSigned = flags & SLIM_UK_QGEMV_SIGNED;
  int64_t k = w->k, group = groupSize(w);
  int64_t groups = (k + group - 1) / group, rowBytes = (k * 4 + 7) / 8;
  // Signed nibbles: s = (u ^ 8) - 8, so s - zp = (u ^ 8) - (zp + 8).
  const __m128i flip = _mm_set1_epi8(isSigned ? 8 : 0);
  for (int64_t n = n0; n < n1; ++n) {
    const uint8_t *row = w->codes + n * w->codesStride;
    __m256 y[R];
    float tail[R];
    for (int i = 0; i < R; ++i) {
      y[i] = _mm256_setzero_ps();
      tail[i] = 0.0f;
    }
    for (int64_t g = 0; g < groups; ++g) {
      float scale = slim_uk_qscale(w, n, g, flags);
      int zp = slim_uk_qzero(w, n, g, flags);
      int shift = zp + (isSigned ? 8 : 0);
      int64_t q = g * group, end = q + group < k ? q + group : k;
      if (shift >= -112 && shift <= 112) {
        const __m128i zv = _mm_set1_epi8(static_cast<char>(shift));
        __m256 acc[R][kAcc];
        for (int i = 0; i < R; ++i)
          for (int j = 0; j < kAcc; ++j)
            acc[i][j] = _mm256_setzero_ps();
        for (; q + 32 <= end; q += 32) {
          __m128i c0, c1;
          minusZero32(row + q / 2, flip, zv, c0, c1);
          __m256 f[4] = {
              _mm256_cvtepi32_ps(_mm256_cvtepi8_epi32(c0)),
              _mm256_cvtepi32_ps(_mm256_cvtepi8_epi32(_mm_srli_si128(c0, 8))),
              _mm256_cvtepi32_ps(_mm256_cvtepi8_epi32(c1)),
              _mm256_cvtepi32_ps(_mm256_cvtepi8_epi32(_mm_srli_si128(c1, 8)))};
          for (int i = 0; i < R; ++i) {
            const float *x = a + i * lda + q;
            for (int j = 0; j < 4; ++j)
              acc[i][j % kAcc] = _mm256_fmadd_ps(
                  f[j], _mm256_loadu_ps(x + 8 * j), acc[i][j % kAcc]);
          }
        }
        __m256 s = _mm256_set1_ps(scale);
        for (int i = 0; i < R; ++i) {
          __m256 sum = acc[i][0];
          for (int j = 1; j < kAcc; ++j)
            sum = _mm256_add_ps(sum, acc[i][j]);
          y[i] = _mm256_fmadd_ps(sum, s, y[i]);
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
      float sum = hsum(y[i]) + tail[i];
      *out = (flags & SLIM_UK_QGEMV_ACCUMULATE ? *out : 0.0f) + sum;
    }
  }
}

/// 8-bit codes, one per byte: 8 at a time widened to floats, minus the zero
/// point, times the scale (the exact weights), into one accumulator per
/// row; a group's inputs past its last multiple of 8 in scalar code.
template <int R>
__attribute__((target("avx2,fma"))) void
rows8(int64_t n0, int64_t n1, const float *a, int64_t lda,
      const slim_uk_qweight *w, float *c, int64_t ldc, uint32_t flags) {
  bool isSigned = flags & SLIM_UK_QGEMV_SIGNED;
  int64_t k = w->k, group = groupSize(w), groups = (k + group - 1) / group;
  for (int64_t n = n0; n < n1; ++n) {
    const uint8_t *row = w->codes + n * w->codesStride;
    __m256 y[R];
    float tail[R];
    for (int i = 0; i < R; ++i) {
      y[i] = _mm256_setzero_ps();
      tail[i] = 0.0f;
    }
    for (int64_t g = 0; g < groups; ++g) {
      float scale = slim_uk_qscale(w, n, g, flags);
      int zp = slim_uk_qzero(w, n, g, flags);
      const __m256 sv = _mm256_set1_ps(scale);
      const __m256i zv = _mm256_set1_epi32(zp);
      int64_t q = g * group, end = q + group < k ? q + group : k;
      for (; q + 8 <= end; q += 8) {
        __m128i b = _mm_loadl_epi64(reinterpret_cast<const __m128i *>(row + q));
        __m256i v =
            isSigned ? _mm256_cvtepi8_epi32(b) : _mm256_cvtepu8_epi32(b);
        __m256 wv =
            _mm256_mul_ps(_mm256_cvtepi32_ps(_mm256_sub_epi32(v, zv)), sv);
        for (int i = 0; i < R; ++i)
          y[i] = _mm256_fmadd_ps(wv, _mm256_loadu_ps(a + i * lda + q), y[i]);
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

extern "C" void slim_uk_qgemv_f32_avx2(int64_t m, int64_t n0, int64_t n1,
                                       const float *a, int64_t lda,
                                       const slim_uk_qweight *w, float *c,
                                       int64_t ldc, uint32_t flags) {
  if (w->sparseM > 0) {
    if (isVectorizedSparse(w))
      return qgemvSparseAvx2(m, n0, n1, a, lda, w, c, ldc, flags);
    return slim_uk_qgemv_f32_generic(m, n0, n1, a, lda, w, c, ldc, flags);
  }
  if (w->table || (w->bits != 4 && w->bits != 8)) {
    if (isVectorizedBits(w))
      return qgemvBitsAvx2(m, n0, n1, a, lda, w, c, ldc, flags);
    return slim_uk_qgemv_f32_generic(m, n0, n1, a, lda, w, c, ldc, flags);
  }
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

extern "C" __attribute__((target("avx2,fma"))) void
slim_uk_qdequant_f32_avx2(int64_t n0, int64_t n1, const slim_uk_qweight *w,
                          float *out, int64_t ldo, uint32_t flags) {
  if (w->sparseM > 0) {
    if (isVectorizedSparse(w))
      return qdequantSparseAvx2(n0, n1, w, out, ldo, flags);
    return slim_uk_qdequant_f32_generic(n0, n1, w, out, ldo, flags);
  }
  if (w->table || (w->bits != 4 && w->bits != 8)) {
    if (isVectorizedBits(w))
      return qdequantBitsAvx2(n0, n1, w, out, ldo, flags);
    return slim_uk_qdequant_f32_generic(n0, n1, w, out, ldo, flags);
  }
  bool isSigned = flags & SLIM_UK_QGEMV_SIGNED;
  if (w->bits == 8) {
    // One code per byte, 8 at a time: (code - zp) * scale as the reference
    // rounds it.
    int64_t k = w->k, group = groupSize(w), groups = (k + group - 1) / group;
    for (int64_t n = n0; n < n1; ++n) {
      const uint8_t *row = w->codes + n * w->codesStride;
      float *o = out + (n - n0) * ldo;
      for (int64_t g = 0; g < groups; ++g) {
        float scale = slim_uk_qscale(w, n, g, flags);
        int zp = slim_uk_qzero(w, n, g, flags);
        const __m256 sv = _mm256_set1_ps(scale);
        const __m256i zv = _mm256_set1_epi32(zp);
        int64_t q = g * group, end = q + group < k ? q + group : k;
        for (; q + 8 <= end; q += 8) {
          __m128i b =
              _mm_loadl_epi64(reinterpret_cast<const __m128i *>(row + q));
          __m256i v =
              isSigned ? _mm256_cvtepi8_epi32(b) : _mm256_cvtepu8_epi32(b);
          _mm256_storeu_ps(
              o + q,
              _mm256_mul_ps(_mm256_cvtepi32_ps(_mm256_sub_epi32(v, zv)), sv));
        }
        for (; q < end; ++q)
          o[q] = float(code(row, k, q, 8, isSigned) - zp) * scale;
      }
    }
    return;
  }
  if (!isVectorized4(w))
    return slim_uk_qdequant_f32_generic(n0, n1, w, out, ldo, flags);
  int64_t k = w->k, group = groupSize(w);
  int64_t groups = (k + group - 1) / group, rowBytes = (k * 4 + 7) / 8;
  const __m128i flip = _mm_set1_epi8(isSigned ? 8 : 0);
  for (int64_t n = n0; n < n1; ++n) {
    const uint8_t *row = w->codes + n * w->codesStride;
    float *o = out + (n - n0) * ldo;
    for (int64_t g = 0; g < groups; ++g) {
      float scale = slim_uk_qscale(w, n, g, flags);
      int zp = slim_uk_qzero(w, n, g, flags);
      int shift = zp + (isSigned ? 8 : 0);
      int64_t q = g * group, end = q + group < k ? q + group : k;
      if (shift >= -112 && shift <= 112) {
        const __m128i zv = _mm_set1_epi8(static_cast<char>(shift));
        const __m256 s = _mm256_set1_ps(scale);
        for (; q + 32 <= end; q += 32) {
          __m128i c0, c1;
          minusZero32(row + q / 2, flip, zv, c0, c1);
          // (code - zp) * scale, rounded once as the reference rounds it.
          _mm256_storeu_ps(
              o + q,
              _mm256_mul_ps(_mm256_cvtepi32_ps(_mm256_cvtepi8_epi32(c0)), s));
          _mm256_storeu_ps(
              o + q + 8, _mm256_mul_ps(_mm256_cvtepi32_ps(_mm256_cvtepi8_epi32(
                                           _mm_srli_si128(c0, 8))),
                                       s));
          _mm256_storeu_ps(
              o + q + 16,
              _mm256_mul_ps(_mm256_cvtepi32_ps(_mm256_cvtepi8_epi32(c1)), s));
          _mm256_storeu_ps(
              o + q + 24, _mm256_mul_ps(_mm256_cvtepi32_ps(_mm256_cvtepi8_epi32(
                                            _mm_srli_si128(c1, 8))),
                                        s));
        }
      }
      for (; q < end; ++q)
        o[q] = float(code(row, rowBytes, q, 4, isSigned) - zp) * scale;
    }
  }
}
