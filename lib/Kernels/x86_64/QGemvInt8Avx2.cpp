//===- QGemvInt8Avx2.cpp - int8-activation quantized product, AVX2 --------===//
//
// Part of the Slim project, under the Apache License v2.0 with LLVM Exceptions.
// SPDX-License-Identifier: Apache-2.0 WITH LLVM-exception
//
//===----------------------------------------------------------------------===//
//
// The AVX-512 kernel's method (QGemvInt8Avx512.inc) on half superblocks:
// 32 code bytes (64 inputs, two blocks) a step, the byte products by
// vpmaddubsw (code <= 15 times |q| <= 127: pairs fit 16 bits) and summed
// in 32-bit lanes by vpmaddwd, as llama.cpp's Q4_0 x Q8_0 dot on AVX2.
//
//===----------------------------------------------------------------------===//

#include "lib/Kernels/QGemv.h"
#include "lib/Kernels/QGemvInternal.h"

#include "lib/Kernels/x86_64/Avx2.h"

#include <immintrin.h>

#include <cstring>

#define SLIM_Q8_AVX2_TARGET __attribute__((target("avx2,fma,f16c")))

namespace {

using namespace slim::qgemv;

template <int R>
SLIM_Q8_AVX2_TARGET void q8Rows(int64_t n0, int64_t n1, const uint8_t *act,
                                int64_t actStride, const slim_uk_qweight *w,
                                float *c, int64_t ldc, uint32_t flags) {
  bool isSigned = flags & SLIM_UK_QGEMV_SIGNED;
  int64_t k = w->k, rowBytes = (k * 4 + 7) / 8, halves = (k + 63) / 64;
  int64_t lastBlock = (k - 1) / 32;
  BlockGroups groupOf(w);
  bool pairs = groupOf.blocksPerGroup == 1;
  const __m256i spread = _mm256_setr_epi32(0, 0, 0, 0, 1, 1, 1, 1);
  int bias = isSigned ? 8 : 0;
  const __m256i low4 = _mm256_set1_epi8(0x0f);
  const __m256i flip = _mm256_set1_epi8(isSigned ? char(0x88) : 0);
  const __m256i ones = _mm256_set1_epi16(1);
  for (int64_t n = n0; n < n1; ++n) {
    const uint8_t *row = w->codes + n * w->codesStride;
    __m256 acc[R];
    __m128 zp[R];
    for (int i = 0; i < R; ++i) {
      acc[i] = _mm256_setzero_ps();
      zp[i] = _mm_setzero_ps();
    }
    for (int64_t h = 0; h < halves; ++h) {
      int64_t off = h * 32, left = rowBytes - off;
      __m256i b;
      if (left >= 32) {
        b = _mm256_loadu_si256(reinterpret_cast<const __m256i *>(row + off));
      } else {
        alignas(32) uint8_t tail[32] = {};
        std::memcpy(tail, row + off, left);
        b = _mm256_load_si256(reinterpret_cast<const __m256i *>(tail));
      }
      if (isSigned)
        b = _mm256_xor_si256(b, flip);
      __m256i lo = _mm256_and_si256(b, low4);
      __m256i hi = _mm256_and_si256(_mm256_srli_epi16(b, 4), low4);
      // Blocks 2h and 2h + 1 (past K: the last block's group): one group
      // where groups are an even number of blocks, two consecutive ones in
      // one load for groups of 32. zpTerm: -zp * scale per block.
      __m256 scale;
      __m128 zpTerm;
      if (pairs && 2 * h + 1 <= lastBlock) {
        __m128 scales = scalesAt(w, n, 2 * h, 2, flags);
        scale =
            _mm256_permutevar8x32_ps(_mm256_castps128_ps256(scales), spread);
        zpTerm = _mm_mul_ps(
            _mm_cvtepi32_ps(minusZerosAt(w, n, 2 * h, 2, flags, bias)), scales);
      } else {
        int64_t t1 = 2 * h + 1 < lastBlock ? 2 * h + 1 : lastBlock;
        int64_t g0 = groupOf(2 * h), g1 = groupOf(t1);
        float s0 = scaleAt(w, n, g0, flags), s1 = s0;
        float z0 = float(-(slim_uk_qzero(w, n, g0, flags) + bias)) * s0,
              z1 = z0;
        if (g1 != g0) {
          s1 = scaleAt(w, n, g1, flags);
          z1 = float(-(slim_uk_qzero(w, n, g1, flags) + bias)) * s1;
        }
        scale = _mm256_setr_m128(_mm_set1_ps(s0), _mm_set1_ps(s1));
        zpTerm = _mm_setr_ps(z0, z1, 0.0f, 0.0f);
      }
      int64_t at = (h / 2) * SLIM_UK_QACT_SUPERBLOCK_BYTES + (h % 2) * 32;
      // The t_j of blocks 2h and 2h + 1.
      int64_t termsAt =
          (h / 2) * SLIM_UK_QACT_SUPERBLOCK_BYTES + 192 + (h % 2) * 8;
      for (int i = 0; i < R; ++i) {
        const uint8_t *sb = act + i * actStride + at;
        __m256i even =
            _mm256_loadu_si256(reinterpret_cast<const __m256i *>(sb));
        __m256i odd =
            _mm256_loadu_si256(reinterpret_cast<const __m256i *>(sb + 64));
        __m256 d = _mm256_loadu_ps(reinterpret_cast<const float *>(sb + 128));
        __m256i dot = _mm256_add_epi32(
            _mm256_madd_epi16(_mm256_maddubs_epi16(lo, even), ones),
            _mm256_madd_epi16(_mm256_maddubs_epi16(hi, odd), ones));
        acc[i] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(dot),
                                 _mm256_mul_ps(scale, d), acc[i]);
        double terms;
        std::memcpy(&terms, act + i * actStride + termsAt, 8);
        zp[i] = _mm_fmadd_ps(zpTerm, _mm_castpd_ps(_mm_set_sd(terms)), zp[i]);
      }
    }
    for (int i = 0; i < R; ++i) {
      float *out = c + i * ldc + n;
      __m128 z = _mm_add_ps(zp[i], _mm_movehl_ps(zp[i], zp[i]));
      z = _mm_add_ss(z, _mm_movehdup_ps(z));
      float sum = slim::avx2::hsum(acc[i]) + _mm_cvtss_f32(z);
      *out = (flags & SLIM_UK_QGEMV_ACCUMULATE ? *out : 0.0f) + sum;
    }
  }
}

} // namespace

extern "C" void slim_uk_qgemv_q8_f32_avx2(int64_t m, int64_t n0, int64_t n1,
                                          const uint8_t *act, int64_t actStride,
                                          const slim_uk_qweight *w, float *c,
                                          int64_t ldc, uint32_t flags) {
  if (!slim_uk_qgemv_q8_supported(w))
    return slim_uk_qgemv_q8_f32_generic(m, n0, n1, act, actStride, w, c, ldc,
                                        flags);
  forRowChunks(
      m, act, actStride, c, ldc, [&](auto rows, const uint8_t *ai, float *ci) {
        q8Rows<decltype(rows)::value>(n0, n1, ai, actStride, w, ci, ldc, flags);
      });
}
