//===- QGemvInt8Avx2.cpp - int8-activation quantized product, AVX2 --------===//
//
// Part of the Slim project, under the Apache License v2.0 with LLVM Exceptions.
// SPDX-License-Identifier: Apache-2.0 WITH LLVM-exception
//
//===----------------------------------------------------------------------===//
//
// The AVX-512 kernel's method (QGemvInt8Avx512.inc) with 256-bit vectors:
// a whole superblock (128 inputs, 64 code bytes, four blocks) a step, the
// byte products by vpmaddubsw (code <= 15 times |q| <= 127: pairs fit 16
// bits, and so do two pairs added) and summed in 32-bit lanes by
// vpmaddwd, as llama.cpp's Q4_0 x Q8_0 dot on AVX2. The scales and zero
// points of the four blocks are read once per superblock, the loop body
// has no branches, and each (row, channel) keeps its own accumulators, so
// successive superblocks overlap; a ragged end (K % 64 != 0) takes a
// slower per-half path. One output channel at a time: two at a time
// (sharing the activation loads) needs more than the 16 vector registers
// and measured 1.5x slower at M = 1.
//
//===----------------------------------------------------------------------===//

#include "lib/Kernels/QGemv.h"
#include "lib/Kernels/QGemvInternal.h"

#include "lib/Kernels/x86_64/Avx2.h"

#include <immintrin.h>

#include <cfloat>
#include <cmath>
#include <cstring>

#define SLIM_Q8_AVX2_TARGET __attribute__((target("avx2,fma,f16c")))

namespace {

using namespace slim::qgemv;

/// How the 4 blocks of a superblock map to groups.
enum class Groups { Each, Pairs, Uniform, Other };

/// The scales and -(zero point + bias) of blocks 4s..4s+3 of row n.
template <Groups G>
SLIM_Q8_AVX2_TARGET inline void
superScales(const slim_uk_qweight *w, const BlockGroups &groupOf, int64_t n,
            int64_t s, uint32_t flags, int bias, __m128 &scale,
            __m128 &zpTerm) {
  __m128i z;
  if constexpr (G == Groups::Each) {
    scale = scalesAt(w, n, 4 * s, 4, flags);
    z = minusZerosAt(w, n, 4 * s, 4, flags, bias);
  } else if constexpr (G == Groups::Pairs) {
    __m128 two = scalesAt(w, n, 2 * s, 2, flags);
    scale = _mm_unpacklo_ps(two, two);
    __m128i zz = minusZerosAt(w, n, 2 * s, 2, flags, bias);
    z = _mm_unpacklo_epi32(zz, zz);
  } else if constexpr (G == Groups::Uniform) {
    int64_t g = groupOf(4 * s);
    scale = _mm_set1_ps(scaleAt(w, n, g, flags));
    z = _mm_set1_epi32(-(slim_uk_qzero(w, n, g, flags) + bias));
  } else {
    alignas(16) float sc[4];
    alignas(16) int32_t zs[4];
    for (int j = 0; j < 4; ++j) {
      int64_t g = groupOf(4 * s + j);
      sc[j] = scaleAt(w, n, g, flags);
      zs[j] = -(slim_uk_qzero(w, n, g, flags) + bias);
    }
    scale = _mm_load_ps(sc);
    z = _mm_load_si128(reinterpret_cast<const __m128i *>(zs));
  }
  zpTerm = _mm_mul_ps(_mm_cvtepi32_ps(z), scale);
}

/// Channel n times R rows over the full superblocks [0, supers) and a
/// last half superblock where K % 128 >= 64: sums[i] set.
template <int R, Groups G>
SLIM_Q8_AVX2_TARGET void q8Super(int64_t n, int64_t supers, const uint8_t *act,
                                 int64_t actStride, const slim_uk_qweight *w,
                                 uint32_t flags, float *sums) {
  bool isSigned = flags & SLIM_UK_QGEMV_SIGNED;
  int bias = isSigned ? 8 : 0;
  BlockGroups groupOf(w);
  const __m256i low4 = _mm256_set1_epi8(0x0f);
  const __m256i flip = _mm256_set1_epi8(isSigned ? char(0x88) : 0);
  const __m256i ones = _mm256_set1_epi16(1);
  const __m256i spreadA = _mm256_setr_epi32(0, 0, 0, 0, 1, 1, 1, 1);
  const __m256i spreadB = _mm256_setr_epi32(2, 2, 2, 2, 3, 3, 3, 3);
  __m256 acc[R];
  __m128 zp[R];
  for (int i = 0; i < R; ++i) {
    acc[i] = _mm256_setzero_ps();
    zp[i] = _mm_setzero_ps();
  }
  for (int64_t s = 0; s < supers; ++s) {
    __m256i lo[2], hi[2];
    __m256 scA, scB;
    __m128 zpTerm;
    const uint8_t *row = w->codes + n * w->codesStride + s * 64;
    for (int half = 0; half < 2; ++half) {
      __m256i b = _mm256_loadu_si256(
          reinterpret_cast<const __m256i *>(row + half * 32));
      if (isSigned)
        b = _mm256_xor_si256(b, flip);
      lo[half] = _mm256_and_si256(b, low4);
      hi[half] = _mm256_and_si256(_mm256_srli_epi16(b, 4), low4);
    }
    __m128 scale;
    superScales<G>(w, groupOf, n, s, flags, bias, scale, zpTerm);
    __m256 wide = _mm256_castps128_ps256(scale);
    scA = _mm256_permutevar8x32_ps(wide, spreadA);
    scB = _mm256_permutevar8x32_ps(wide, spreadB);
    for (int i = 0; i < R; ++i) {
      const uint8_t *sb =
          act + i * actStride + s * SLIM_UK_QACT_SUPERBLOCK_BYTES;
      __m256i evenA = _mm256_loadu_si256(reinterpret_cast<const __m256i *>(sb));
      __m256i evenB =
          _mm256_loadu_si256(reinterpret_cast<const __m256i *>(sb + 32));
      __m256i oddA =
          _mm256_loadu_si256(reinterpret_cast<const __m256i *>(sb + 64));
      __m256i oddB =
          _mm256_loadu_si256(reinterpret_cast<const __m256i *>(sb + 96));
      __m256 dA = _mm256_loadu_ps(reinterpret_cast<const float *>(sb + 128));
      __m256 dB = _mm256_loadu_ps(reinterpret_cast<const float *>(sb + 160));
      __m128 terms = _mm_loadu_ps(reinterpret_cast<const float *>(sb + 192));
      // Pair sums are at most 2 * 15 * 127: two of them fit 16 bits.
      __m256i pA = _mm256_add_epi16(_mm256_maddubs_epi16(lo[0], evenA),
                                    _mm256_maddubs_epi16(hi[0], oddA));
      __m256i pB = _mm256_add_epi16(_mm256_maddubs_epi16(lo[1], evenB),
                                    _mm256_maddubs_epi16(hi[1], oddB));
      __m256 fA = _mm256_cvtepi32_ps(_mm256_madd_epi16(pA, ones));
      __m256 fB = _mm256_cvtepi32_ps(_mm256_madd_epi16(pB, ones));
      acc[i] = _mm256_fmadd_ps(fA, _mm256_mul_ps(scA, dA), acc[i]);
      acc[i] = _mm256_fmadd_ps(fB, _mm256_mul_ps(scB, dB), acc[i]);
      zp[i] = _mm_fmadd_ps(zpTerm, terms, zp[i]);
    }
  }
  // One more half superblock where K % 128 >= 64 (blocks 4s, 4s + 1).
  if (w->k % 128 >= 64) {
    int64_t s = supers;
    const uint8_t *row = w->codes + n * w->codesStride + s * 64;
    __m256i b = _mm256_loadu_si256(reinterpret_cast<const __m256i *>(row));
    if (isSigned)
      b = _mm256_xor_si256(b, flip);
    __m256i lo = _mm256_and_si256(b, low4);
    __m256i hi = _mm256_and_si256(_mm256_srli_epi16(b, 4), low4);
    int64_t g0 = groupOf(4 * s), g1 = groupOf(4 * s + 1);
    float s0 = scaleAt(w, n, g0, flags), s1 = scaleAt(w, n, g1, flags);
    __m128 zpTerm =
        _mm_mul_ps(_mm_setr_ps(float(-(slim_uk_qzero(w, n, g0, flags) + bias)),
                               float(-(slim_uk_qzero(w, n, g1, flags) + bias)),
                               0.0f, 0.0f),
                   _mm_setr_ps(s0, s1, 0.0f, 0.0f));
    __m256 scale = _mm256_setr_m128(_mm_set1_ps(s0), _mm_set1_ps(s1));
    for (int i = 0; i < R; ++i) {
      const uint8_t *sb =
          act + i * actStride + s * SLIM_UK_QACT_SUPERBLOCK_BYTES;
      __m256i even = _mm256_loadu_si256(reinterpret_cast<const __m256i *>(sb));
      __m256i odd =
          _mm256_loadu_si256(reinterpret_cast<const __m256i *>(sb + 64));
      __m256 d = _mm256_loadu_ps(reinterpret_cast<const float *>(sb + 128));
      double terms;
      std::memcpy(&terms, sb + 192, sizeof(terms));
      __m256i p = _mm256_add_epi16(_mm256_maddubs_epi16(lo, even),
                                   _mm256_maddubs_epi16(hi, odd));
      acc[i] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(_mm256_madd_epi16(p, ones)),
                               _mm256_mul_ps(scale, d), acc[i]);
      zp[i] = _mm_fmadd_ps(zpTerm, _mm_castpd_ps(_mm_set_sd(terms)), zp[i]);
    }
  }
  for (int i = 0; i < R; ++i) {
    __m256 t = _mm256_add_ps(acc[i], _mm256_zextps128_ps256(zp[i]));
    sums[i] = slim::avx2::hsum(t);
  }
}

/// Row n times R rows from half superblock h0 on (the ragged end): the
/// sums added to sums[i].
template <int R>
SLIM_Q8_AVX2_TARGET void q8Tail(int64_t n, int64_t h0, const uint8_t *act,
                                int64_t actStride, const slim_uk_qweight *w,
                                uint32_t flags, float *sums) {
  bool isSigned = flags & SLIM_UK_QGEMV_SIGNED;
  int64_t k = w->k, rowBytes = (k * 4 + 7) / 8, halves = (k + 63) / 64;
  int64_t lastBlock = (k - 1) / 32;
  BlockGroups groupOf(w);
  int bias = isSigned ? 8 : 0;
  const __m256i low4 = _mm256_set1_epi8(0x0f);
  const __m256i flip = _mm256_set1_epi8(isSigned ? char(0x88) : 0);
  const __m256i ones = _mm256_set1_epi16(1);
  const uint8_t *row = w->codes + n * w->codesStride;
  for (int64_t h = h0; h < halves; ++h) {
    int64_t off = h * 32, left = rowBytes - off;
    alignas(32) uint8_t tail[32] = {};
    std::memcpy(tail, row + off, left < 32 ? left : 32);
    __m256i b = _mm256_load_si256(reinterpret_cast<const __m256i *>(tail));
    if (isSigned)
      b = _mm256_xor_si256(b, flip);
    __m256i lo = _mm256_and_si256(b, low4);
    __m256i hi = _mm256_and_si256(_mm256_srli_epi16(b, 4), low4);
    // Blocks 2h and 2h + 1 (past K: the last block's group).
    int64_t t1 = 2 * h + 1 < lastBlock ? 2 * h + 1 : lastBlock;
    int64_t g0 = groupOf(2 * h), g1 = groupOf(t1);
    float s0 = scaleAt(w, n, g0, flags), s1 = scaleAt(w, n, g1, flags);
    float z0 = float(-(slim_uk_qzero(w, n, g0, flags) + bias)) * s0;
    float z1 = float(-(slim_uk_qzero(w, n, g1, flags) + bias)) * s1;
    __m256 scale = _mm256_setr_m128(_mm_set1_ps(s0), _mm_set1_ps(s1));
    int64_t at = (h / 2) * SLIM_UK_QACT_SUPERBLOCK_BYTES + (h % 2) * 32;
    int64_t termsAt =
        (h / 2) * SLIM_UK_QACT_SUPERBLOCK_BYTES + 192 + (h % 2) * 8;
    for (int i = 0; i < R; ++i) {
      const uint8_t *sb = act + i * actStride + at;
      __m256i even = _mm256_loadu_si256(reinterpret_cast<const __m256i *>(sb));
      __m256i odd =
          _mm256_loadu_si256(reinterpret_cast<const __m256i *>(sb + 64));
      __m256 d = _mm256_loadu_ps(reinterpret_cast<const float *>(sb + 128));
      __m256i dot =
          _mm256_madd_epi16(_mm256_add_epi16(_mm256_maddubs_epi16(lo, even),
                                             _mm256_maddubs_epi16(hi, odd)),
                            ones);
      float terms[2];
      std::memcpy(terms, act + i * actStride + termsAt, sizeof(terms));
      sums[i] += slim::avx2::hsum(_mm256_mul_ps(_mm256_cvtepi32_ps(dot),
                                                _mm256_mul_ps(scale, d))) +
                 z0 * terms[0] + z1 * terms[1];
    }
  }
}

/// The 32 6-bit codes of a block (24 bytes at p, all readable) as bytes
/// in input order: each 32-bit lane gets 3 bytes (4 codes) by vpshufb,
/// and shifts and masks move code j of the lane to its byte j.
SLIM_Q8_AVX2_TARGET inline __m256i unpack6(const uint8_t *p) {
  // Low half: bytes 0-15 (codes 0-15 are in 0-11); high half: bytes 8-23
  // (codes 16-31 are bytes 12-23, at 4-15 of that half).
  __m256i v = _mm256_setr_m128i(
      _mm_loadu_si128(reinterpret_cast<const __m128i *>(p)),
      _mm_loadu_si128(reinterpret_cast<const __m128i *>(p + 8)));
  v = _mm256_shuffle_epi8(
      v, _mm256_setr_epi8(0, 1, 2, -1, 3, 4, 5, -1, 6, 7, 8, -1, 9, 10, 11, -1,
                          4, 5, 6, -1, 7, 8, 9, -1, 10, 11, 12, -1, 13, 14, 15,
                          -1));
  __m256i c = _mm256_and_si256(v, _mm256_set1_epi32(0x3f));
  c = _mm256_or_si256(c, _mm256_and_si256(_mm256_slli_epi32(v, 2),
                                          _mm256_set1_epi32(0x3f00)));
  c = _mm256_or_si256(c, _mm256_and_si256(_mm256_slli_epi32(v, 4),
                                          _mm256_set1_epi32(0x3f0000)));
  return _mm256_or_si256(c, _mm256_and_si256(_mm256_slli_epi32(v, 6),
                                             _mm256_set1_epi32(0x3f000000)));
}

/// 8-bit codes (natural order, a block of 32 per 32 bytes) or 6-bit codes
/// (a block per 24 bytes, unpacked to bytes first), channel n times R rows:
/// sums[i] set. The even and odd bytes of the codes become 16-bit lanes
/// (sign- or zero-extended) that meet the widened q of the even and odd
/// inputs in vpmaddwd, exact in 32 bits whatever the codes' sign, so the
/// zero point is the code's own (no bias); two accumulators per row for
/// alternate blocks.
template <int R, int Bits>
SLIM_Q8_AVX2_TARGET void q8RowsBytes(int64_t n, const uint8_t *act,
                                     int64_t actStride,
                                     const slim_uk_qweight *w, uint32_t flags,
                                     float *sums) {
  static_assert(Bits == 8 || Bits == 6, "byte-sized or 6-bit codes");
  constexpr int kBlockBytes = 32 * Bits / 8;
  bool isSigned = flags & SLIM_UK_QGEMV_SIGNED;
  int64_t k = w->k, blocks = (k + 31) / 32, rowBytes = (k * Bits + 7) / 8;
  BlockGroups groupOf(w);
  const __m256i lowByte = _mm256_set1_epi16(0x00ff);
  const uint8_t *row = w->codes + n * w->codesStride;
  // Zero points matter unless the codes are signed and symmetric.
  bool zeros = w->zeroPoints || !isSigned;
  __m256 acc[R][2];
  float zp[R];
  for (int i = 0; i < R; ++i) {
    acc[i][0] = acc[i][1] = _mm256_setzero_ps();
    zp[i] = 0.0f;
  }
  int64_t lastGroup = -1;
  float scale = 0.0f, zpScale = 0.0f;
  auto block = [&](int64_t b, int slot)
      __attribute__((always_inline, target("avx2,fma,f16c"))) {
    int64_t g = groupOf(b);
    if (g != lastGroup) {
      lastGroup = g;
      scale = scaleAt(w, n, g, flags);
      zpScale = -float(slim_uk_qzero(w, n, g, flags)) * scale;
    }
    __m256i codes;
    const uint8_t *src = row + b * kBlockBytes;
    if (b * kBlockBytes + kBlockBytes <= rowBytes) {
      codes = Bits == 8 ? _mm256_loadu_si256(
                              reinterpret_cast<const __m256i *>(src))
                        : unpack6(src);
    } else {
      // The ragged last block: the codes past K meet zero activations.
      alignas(32) uint8_t tail[32] = {};
      std::memcpy(tail, src, rowBytes - b * kBlockBytes);
      codes = Bits == 8 ? _mm256_load_si256(
                              reinterpret_cast<const __m256i *>(tail))
                        : unpack6(tail);
    }
    // Each code in the low or high byte of a 16-bit lane, widened: signed
    // codes shifted up to put bit Bits - 1 at bit 15, then arithmetically
    // down; unsigned ones masked or shifted down (a 6-bit code's byte has
    // its top two bits clear).
    constexpr int kUp = 16 - Bits;
    __m256i even = isSigned
                       ? _mm256_srai_epi16(_mm256_slli_epi16(codes, kUp), kUp)
                       : _mm256_and_si256(codes, lowByte);
    __m256i odd =
        isSigned
            ? _mm256_srai_epi16(_mm256_slli_epi16(codes, 8 - Bits), kUp)
            : _mm256_srli_epi16(codes, 8);
    int64_t at = (b / 4) * SLIM_UK_QACT_SUPERBLOCK_BYTES, j = b % 4;
    for (int i = 0; i < R; ++i) {
      const uint8_t *sb = act + i * actStride + at;
      __m256i qe = _mm256_cvtepi8_epi16(
          _mm_loadu_si128(reinterpret_cast<const __m128i *>(sb + 16 * j)));
      __m256i qo = _mm256_cvtepi8_epi16(
          _mm_loadu_si128(reinterpret_cast<const __m128i *>(sb + 64 + 16 * j)));
      __m256i dot = _mm256_add_epi32(_mm256_madd_epi16(even, qe),
                                     _mm256_madd_epi16(odd, qo));
      float d, t;
      std::memcpy(&d, sb + 128 + 16 * j, sizeof(d));
      acc[i][slot] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(dot),
                                     _mm256_set1_ps(scale * d), acc[i][slot]);
      if (zeros) {
        std::memcpy(&t, sb + 192 + 4 * j, sizeof(t));
        zp[i] += zpScale * t;
      }
    }
  };
  int64_t b = 0;
  for (; b + 2 <= blocks; b += 2) {
    block(b, 0);
    block(b + 1, 1);
  }
  if (b < blocks)
    block(b, 0);
  for (int i = 0; i < R; ++i)
    sums[i] = slim::avx2::hsum(_mm256_add_ps(acc[i][0], acc[i][1])) + zp[i];
}

template <int R, Groups G>
SLIM_Q8_AVX2_TARGET void q8Rows(int64_t n0, int64_t n1, const uint8_t *act,
                                int64_t actStride, const slim_uk_qweight *w,
                                float *c, int64_t ldc, uint32_t flags) {
  int64_t supers = w->k / 128, halves = (w->k + 63) / 64;
  int64_t done = 2 * supers + (w->k % 128 >= 64);
  auto finish = [&](int64_t n, float *sums) {
    if (done < halves)
      q8Tail<R>(n, done, act, actStride, w, flags, sums);
    for (int i = 0; i < R; ++i) {
      float *out = c + i * ldc + n;
      *out = (flags & SLIM_UK_QGEMV_ACCUMULATE ? *out : 0.0f) + sums[i];
    }
  };
  float sums[4];
  for (int64_t n = n0; n < n1; ++n) {
    q8Super<R, G>(n, supers, act, actStride, w, flags, sums);
    finish(n, sums);
  }
}

/// 8-bit codes, channel n times R rows, two blocks (64 inputs) a step:
/// sums[i] set. The codes are split into the even and odd inputs of the
/// two blocks (one vpshufb and two permutes per block, shared by the rows)
/// to meet the activations' layout, made signed (unsigned ones minus 128,
/// the zero point's part corrected by the same bias), and multiplied as
/// llama.cpp's Q8_0 dot does: vpmaddubsw of |code| with q carrying the
/// code's sign (vpsignb), each 16-bit pair at most 2 * 128 * 127, then
/// vpmaddwd into 32-bit lanes (lanes 0-3 the first block, 4-7 the second)
/// scaled by scale * d. A ragged last pair reads a zero-padded copy (its
/// codes past K meet zero activations).
template <int R>
SLIM_Q8_AVX2_TARGET void q8Rows8Pairs(int64_t n, const uint8_t *act,
                                      int64_t actStride,
                                      const slim_uk_qweight *w, uint32_t flags,
                                      float *sums) {
  bool isSigned = flags & SLIM_UK_QGEMV_SIGNED;
  int bias = isSigned ? 0 : -128;
  int64_t k = w->k, pairs = (k + 63) / 64, lastBlock = (k - 1) / 32;
  BlockGroups groupOf(w);
  const __m256i flip = _mm256_set1_epi8(isSigned ? 0 : char(0x80));
  const __m256i ones = _mm256_set1_epi16(1);
  // Evens then odds within each 128-bit lane.
  const __m256i split = _mm256_setr_epi8(
      0, 2, 4, 6, 8, 10, 12, 14, 1, 3, 5, 7, 9, 11, 13, 15, 0, 2, 4, 6, 8, 10,
      12, 14, 1, 3, 5, 7, 9, 11, 13, 15);
  const uint8_t *row = w->codes + n * w->codesStride;
  __m256 acc[R];
  float zp[R];
  for (int i = 0; i < R; ++i) {
    acc[i] = _mm256_setzero_ps();
    zp[i] = 0.0f;
  }
  int64_t lastG0 = -1, lastG1 = -1;
  float z0 = 0.0f, z1 = 0.0f;
  __m256 scale = _mm256_setzero_ps();
  for (int64_t p = 0; p < pairs; ++p) {
    __m256i c0, c1;
    if (p * 64 + 64 <= k) {
      c0 = _mm256_loadu_si256(reinterpret_cast<const __m256i *>(row + p * 64));
      c1 = _mm256_loadu_si256(
          reinterpret_cast<const __m256i *>(row + p * 64 + 32));
    } else {
      alignas(32) uint8_t tail[64] = {};
      std::memcpy(tail, row + p * 64, k - p * 64);
      if (!isSigned) // padding that reads as code 128 - 128 = 0
        for (int64_t t = k - p * 64; t < 64; ++t)
          tail[t] = 0x80;
      c0 = _mm256_load_si256(reinterpret_cast<const __m256i *>(tail));
      c1 = _mm256_load_si256(reinterpret_cast<const __m256i *>(tail + 32));
    }
    // Block b's evens in the low half, odds in the high half.
    __m256i x0 = _mm256_permute4x64_epi64(
        _mm256_shuffle_epi8(_mm256_xor_si256(c0, flip), split), 0xd8);
    __m256i x1 = _mm256_permute4x64_epi64(
        _mm256_shuffle_epi8(_mm256_xor_si256(c1, flip), split), 0xd8);
    __m256i even = _mm256_permute2x128_si256(x0, x1, 0x20);
    __m256i odd = _mm256_permute2x128_si256(x0, x1, 0x31);
    __m256i absEven = _mm256_abs_epi8(even), absOdd = _mm256_abs_epi8(odd);
    // Blocks 2p and 2p + 1 (past K: the last block's group); their scales
    // and zero-point factors read again only when the groups change.
    int64_t b1 = 2 * p + 1 < lastBlock ? 2 * p + 1 : lastBlock;
    int64_t g0 = groupOf(2 * p), g1 = groupOf(b1);
    if (g0 != lastG0 || g1 != lastG1) {
      lastG0 = g0;
      lastG1 = g1;
      float s0 = scaleAt(w, n, g0, flags), s1 = scaleAt(w, n, g1, flags);
      z0 = float(-(slim_uk_qzero(w, n, g0, flags) + bias)) * s0;
      z1 = float(-(slim_uk_qzero(w, n, g1, flags) + bias)) * s1;
      scale = _mm256_setr_m128(_mm_set1_ps(s0), _mm_set1_ps(s1));
    }
    int64_t at = (p / 2) * SLIM_UK_QACT_SUPERBLOCK_BYTES + (p % 2) * 32;
    int64_t termsAt =
        (p / 2) * SLIM_UK_QACT_SUPERBLOCK_BYTES + 192 + (p % 2) * 8;
    for (int i = 0; i < R; ++i) {
      const uint8_t *sb = act + i * actStride + at;
      __m256i qe = _mm256_loadu_si256(reinterpret_cast<const __m256i *>(sb));
      __m256i qo =
          _mm256_loadu_si256(reinterpret_cast<const __m256i *>(sb + 64));
      __m256 d = _mm256_loadu_ps(reinterpret_cast<const float *>(sb + 128));
      __m256i dot = _mm256_add_epi32(
          _mm256_madd_epi16(
              _mm256_maddubs_epi16(absEven, _mm256_sign_epi8(qe, even)), ones),
          _mm256_madd_epi16(
              _mm256_maddubs_epi16(absOdd, _mm256_sign_epi8(qo, odd)), ones));
      acc[i] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(dot), _mm256_mul_ps(scale, d),
                               acc[i]);
      if (z0 != 0.0f || z1 != 0.0f) {
        float terms[2];
        std::memcpy(terms, act + i * actStride + termsAt, sizeof(terms));
        zp[i] += z0 * terms[0] + z1 * terms[1];
      }
    }
  }
  for (int i = 0; i < R; ++i)
    sums[i] = slim::avx2::hsum(acc[i]) + zp[i];
}

template <int R>
void q8Dispatch(int64_t n0, int64_t n1, const uint8_t *act, int64_t actStride,
                const slim_uk_qweight *w, float *c, int64_t ldc,
                uint32_t flags) {
  if (w->bits == 8 || w->bits == 6) {
    float sums[4];
    for (int64_t n = n0; n < n1; ++n) {
      if (w->bits == 8)
        q8Rows8Pairs<R>(n, act, actStride, w, flags, sums);
      else
        q8RowsBytes<R, 6>(n, act, actStride, w, flags, sums);
      for (int i = 0; i < R; ++i) {
        float *out = c + i * ldc + n;
        *out = (flags & SLIM_UK_QGEMV_ACCUMULATE ? *out : 0.0f) + sums[i];
      }
    }
    return;
  }
  BlockGroups groupOf(w);
  if (groupOf.blocksPerGroup == 1)
    q8Rows<R, Groups::Each>(n0, n1, act, actStride, w, c, ldc, flags);
  else if (groupOf.blocksPerGroup == 2)
    q8Rows<R, Groups::Pairs>(n0, n1, act, actStride, w, c, ldc, flags);
  else if (groupOf.uniform())
    q8Rows<R, Groups::Uniform>(n0, n1, act, actStride, w, c, ldc, flags);
  else
    q8Rows<R, Groups::Other>(n0, n1, act, actStride, w, c, ldc, flags);
}

} // namespace

extern "C" void slim_uk_qgemv_q8_f32_avx2(int64_t m, int64_t n0, int64_t n1,
                                          const uint8_t *act, int64_t actStride,
                                          const slim_uk_qweight *w, float *c,
                                          int64_t ldc, uint32_t flags) {
  if (!slim_uk_qgemv_q8_supported(w))
    return slim_uk_qgemv_q8_f32_generic(m, n0, n1, act, actStride, w, c, ldc,
                                        flags);
  forRowChunks(m, act, actStride, c, ldc,
               [&](auto rows, const uint8_t *ai, float *ci) {
                 q8Dispatch<decltype(rows)::value>(n0, n1, ai, actStride, w, ci,
                                                   ldc, flags);
               });
}

namespace {

/// Block j (32 inputs from x, `len` of them real) of a superblock: q, d
/// and t as slim_uk_qact_quantize_generic computes them (the same f32
/// operations, rounding to nearest even), written in the layout.
SLIM_Q8_AVX2_TARGET void quantizeBlock(const float *x, int64_t len,
                                       uint8_t *sb, int j) {
  __m256 v[4];
  if (len >= 32) {
    for (int r = 0; r < 4; ++r)
      v[r] = _mm256_loadu_ps(x + 8 * r);
  } else {
    alignas(32) float tail[32] = {};
    if (len > 0)
      std::memcpy(tail, x, len * sizeof(float));
    for (int r = 0; r < 4; ++r)
      v[r] = _mm256_load_ps(tail + 8 * r);
  }
  const __m256 absMask = _mm256_castsi256_ps(_mm256_set1_epi32(0x7fffffff));
  const __m256 fltMax = _mm256_set1_ps(FLT_MAX);
  __m256 amax = _mm256_setzero_ps();
  __m256 finite = _mm256_castsi256_ps(_mm256_set1_epi32(-1));
  for (int r = 0; r < 4; ++r) {
    __m256 a = _mm256_and_ps(v[r], absMask);
    finite = _mm256_and_ps(finite, _mm256_cmp_ps(a, fltMax, _CMP_LE_OQ));
    amax = _mm256_max_ps(amax, a);
  }
  float *scales = reinterpret_cast<float *>(sb + 128);
  float *terms = reinterpret_cast<float *>(sb + 192);
  int8_t *even = reinterpret_cast<int8_t *>(sb) + 16 * j;
  int8_t *odd = even + 64;
  if (_mm256_movemask_ps(finite) != 0xff) {
    // A NaN or an infinity: codes 0 and a NaN scale carry it.
    std::memset(even, 0, 16);
    std::memset(odd, 0, 16);
    for (int l = 0; l < 4; ++l)
      scales[4 * j + l] = NAN;
    terms[j] = NAN * 0.0f;
    return;
  }
  float m = slim::avx2::hmax(amax);
  float d = m / 127.0f, inv = m > 0.0f ? 127.0f / m : 0.0f;
  __m256 vinv = _mm256_set1_ps(inv);
  const __m256i hi = _mm256_set1_epi32(127), lo = _mm256_set1_epi32(-127);
  __m256i q[4], sum = _mm256_setzero_si256();
  for (int r = 0; r < 4; ++r) {
    // vcvtps2dq rounds to nearest even, as the reference's 1.5 * 2^23 sum.
    q[r] = _mm256_cvtps_epi32(_mm256_mul_ps(v[r], vinv));
    q[r] = _mm256_max_epi32(_mm256_min_epi32(q[r], hi), lo);
    sum = _mm256_add_epi32(sum, q[r]);
  }
  // int32 -> int8: byte order q0-3 q8-11 q16-19 q24-27 | q4-7 q12-15 ...
  __m256i bytes = _mm256_packs_epi16(_mm256_packs_epi32(q[0], q[1]),
                                     _mm256_packs_epi32(q[2], q[3]));
  bytes = _mm256_permutevar8x32_epi32(bytes,
                                      _mm256_setr_epi32(0, 4, 1, 5, 2, 6, 3, 7));
  // Natural order; evens then odds in each 128-bit lane, then the lanes'
  // evens together and odds together.
  bytes = _mm256_shuffle_epi8(
      bytes, _mm256_setr_epi8(0, 2, 4, 6, 8, 10, 12, 14, 1, 3, 5, 7, 9, 11, 13,
                              15, 0, 2, 4, 6, 8, 10, 12, 14, 1, 3, 5, 7, 9, 11,
                              13, 15));
  bytes = _mm256_permute4x64_epi64(bytes, 0xd8);
  _mm_storeu_si128(reinterpret_cast<__m128i *>(even),
                   _mm256_castsi256_si128(bytes));
  _mm_storeu_si128(reinterpret_cast<__m128i *>(odd),
                   _mm256_extracti128_si256(bytes, 1));
  __m128i s4 = _mm_add_epi32(_mm256_castsi256_si128(sum),
                             _mm256_extracti128_si256(sum, 1));
  s4 = _mm_add_epi32(s4, _mm_shuffle_epi32(s4, 0x4e));
  s4 = _mm_add_epi32(s4, _mm_shuffle_epi32(s4, 0xb1));
  for (int l = 0; l < 4; ++l)
    scales[4 * j + l] = d;
  terms[j] = d * static_cast<float>(_mm_cvtsi128_si32(s4));
}

} // namespace

extern "C" void slim_uk_qact_quantize_avx2(int64_t m, int64_t k,
                                           const float *a, int64_t lda,
                                           uint8_t *out, int64_t outStride) {
  int64_t superblocks = (k + 127) / 128;
  for (int64_t i = 0; i < m; ++i) {
    const float *x = a + i * lda;
    for (int64_t s = 0; s < superblocks; ++s) {
      uint8_t *sb = out + i * outStride + s * SLIM_UK_QACT_SUPERBLOCK_BYTES;
      for (int j = 0; j < 4; ++j) {
        int64_t base = s * 128 + j * 32;
        quantizeBlock(base < k ? x + base : x, k - base, sb, j);
      }
      std::memset(sb + 208, 0, SLIM_UK_QACT_SUPERBLOCK_BYTES - 208);
    }
  }
}
