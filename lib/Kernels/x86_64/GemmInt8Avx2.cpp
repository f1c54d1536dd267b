//===- GemmInt8Avx2.cpp - int8 x int8 products, AVX2 ----------------------===//
//
// Part of the Slim project, under the Apache License v2.0 with LLVM Exceptions.
// SPDX-License-Identifier: Apache-2.0 WITH LLVM-exception
//
//===----------------------------------------------------------------------===//
//
// One output channel at a time, up to 4 rows of A per pass so that each 32
// bytes of B are loaded once for all of them: |B| as unsigned bytes, each
// row's A with B's sign (vpsignb), vpmaddubsw into 16-bit pairs (at most
// 2 * 128 * 127, no saturation since |A| <= 127), vpmaddwd into 32-bit
// lanes. The last K % 32 inputs are summed in scalar code.
//
//===----------------------------------------------------------------------===//

#include "lib/Kernels/GemmInt8.h"

#include <immintrin.h>

#define SLIM_GEMM_I8_AVX2_TARGET __attribute__((target("avx2")))

namespace {

SLIM_GEMM_I8_AVX2_TARGET inline int32_t hsumEpi32(__m256i v) {
  __m128i s = _mm_add_epi32(_mm256_castsi256_si128(v),
                            _mm256_extracti128_si256(v, 1));
  s = _mm_add_epi32(s, _mm_shuffle_epi32(s, _MM_SHUFFLE(1, 0, 3, 2)));
  s = _mm_add_epi32(s, _mm_shuffle_epi32(s, _MM_SHUFFLE(2, 3, 0, 1)));
  return _mm_cvtsi128_si32(s);
}

template <int R>
SLIM_GEMM_I8_AVX2_TARGET void rows(int64_t n0, int64_t n1, int64_t k,
                                   const int8_t *a, int64_t lda,
                                   const float *aScale, const int8_t *b,
                                   int64_t ldb, const float *bScale, float *c,
                                   int64_t ldc) {
  const __m256i ones = _mm256_set1_epi16(1);
  int64_t body = k & ~int64_t(31);
  for (int64_t n = n0; n < n1; ++n) {
    const int8_t *w = b + n * ldb;
    __m256i acc[R];
    for (int i = 0; i < R; ++i)
      acc[i] = _mm256_setzero_si256();
    for (int64_t t = 0; t < body; t += 32) {
      __m256i wv = _mm256_loadu_si256(reinterpret_cast<const __m256i *>(w + t));
      __m256i magnitude = _mm256_abs_epi8(wv);
      for (int i = 0; i < R; ++i) {
        __m256i x = _mm256_loadu_si256(
            reinterpret_cast<const __m256i *>(a + i * lda + t));
        __m256i pairs =
            _mm256_maddubs_epi16(magnitude, _mm256_sign_epi8(x, wv));
        acc[i] = _mm256_add_epi32(acc[i], _mm256_madd_epi16(pairs, ones));
      }
    }
    for (int i = 0; i < R; ++i) {
      const int8_t *x = a + i * lda;
      int32_t sum = hsumEpi32(acc[i]);
      for (int64_t t = body; t < k; ++t)
        sum += int32_t(x[t]) * int32_t(w[t]);
      c[i * ldc + n] = float(sum) * (aScale[i] * bScale[n]);
    }
  }
}

} // namespace

extern "C" void slim_uk_gemm_s8s8_f32_avx2(int64_t m, int64_t n0, int64_t n1,
                                           int64_t k, const int8_t *a,
                                           int64_t lda, const float *aScale,
                                           const int8_t *b, int64_t ldb,
                                           const float *bScale, float *c,
                                           int64_t ldc) {
  for (int64_t i = 0; i < m; i += 4) {
    const int8_t *ai = a + i * lda;
    const float *si = aScale + i;
    float *ci = c + i * ldc;
    switch (m - i < 4 ? m - i : 4) {
    case 1:
      rows<1>(n0, n1, k, ai, lda, si, b, ldb, bScale, ci, ldc);
      break;
    case 2:
      rows<2>(n0, n1, k, ai, lda, si, b, ldb, bScale, ci, ldc);
      break;
    case 3:
      rows<3>(n0, n1, k, ai, lda, si, b, ldb, bScale, ci, ldc);
      break;
    default:
      rows<4>(n0, n1, k, ai, lda, si, b, ldb, bScale, ci, ldc);
      break;
    }
  }
}
