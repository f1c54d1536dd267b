//===- QGemvInternal.h - What the quantized GEMV variants share -*- C++ -*-===//
//
// Part of the Slim project, under the Apache License v2.0 with LLVM Exceptions.
// SPDX-License-Identifier: Apache-2.0 WITH LLVM-exception
//
//===----------------------------------------------------------------------===//
//
// Internal to lib/Kernels: the scalar reading of one code (the reference's,
// and the vector kernels' tails), the split of the activation rows into
// chunks of up to 4 or 8 that the vector kernels are templated on, the
// block-to-group mapping of the int8-activation path, and (x86-64) scale
// and zero-point loads with F16C.
//
//===----------------------------------------------------------------------===//

#ifndef SLIM_LIB_KERNELS_QGEMVINTERNAL_H
#define SLIM_LIB_KERNELS_QGEMVINTERNAL_H

#include "lib/Kernels/QGemv.h"

#include <cstdint>
#include <cstring>
#include <type_traits>

#if defined(__x86_64__)
#include <immintrin.h>
#endif

namespace slim::qgemv {
namespace {

/// The group size of `w` (K for per-channel scales).
inline int64_t groupSize(const slim_uk_qweight *w) {
  return w->group > 0 ? w->group : slim_uk_qweight_values(w);
}

/// Whether the vector kernels take `w`: 4-bit codes in groups that start on
/// a byte.
inline bool isVectorized4(const slim_uk_qweight *w) {
  return w->sparseM <= 0 && w->bits == 4 && groupSize(w) % 2 == 0;
}

/// Code q of a row packed LSB first (`rowBytes` long), sign-extended where
/// `isSigned`.
inline int code(const uint8_t *row, int64_t rowBytes, int64_t q, int64_t bits,
                bool isSigned) {
  int64_t bit = q * bits, byte = bit >> 3;
  unsigned v = row[byte];
  if (byte + 1 < rowBytes)
    v |= unsigned(row[byte + 1]) << 8;
  int c = int((v >> (bit & 7)) & ((1u << bits) - 1));
  if (isSigned && (c & (1 << (bits - 1))))
    c -= 1 << bits;
  return c;
}

/// Code q of a row as its value before scaling: table[code] for code-book
/// formats, else code - zp.
inline float unscaled(const slim_uk_qweight *w, const uint8_t *row,
                      int64_t rowBytes, int64_t q, int zp, bool isSigned) {
  if (w->table)
    return w->table[code(row, rowBytes, q, w->bits, false)];
  return float(code(row, rowBytes, q, w->bits, isSigned) - zp);
}

/// fn(std::integral_constant<int, R>, a + i * lda, c + i * ldc) for the
/// chunks of R <= MaxRows (4 or 8) rows starting at i.
template <int MaxRows = 4, typename T, typename Fn>
void forRowChunks(int64_t m, const T *a, int64_t lda, float *c, int64_t ldc,
                  Fn &&fn) {
  static_assert(MaxRows == 4 || MaxRows == 8, "chunks of 4 or 8 rows");
  for (int64_t i = 0; i < m; i += MaxRows) {
    const T *ai = a + i * lda;
    float *ci = c + i * ldc;
    int64_t rows = m - i < MaxRows ? m - i : MaxRows;
    auto call = [&](auto r) {
      if constexpr (decltype(r)::value <= MaxRows)
        fn(r, ai, ci);
    };
    switch (rows) {
    case 1:
      call(std::integral_constant<int, 1>{});
      break;
    case 2:
      call(std::integral_constant<int, 2>{});
      break;
    case 3:
      call(std::integral_constant<int, 3>{});
      break;
    case 4:
      call(std::integral_constant<int, 4>{});
      break;
    case 5:
      call(std::integral_constant<int, 5>{});
      break;
    case 6:
      call(std::integral_constant<int, 6>{});
      break;
    case 7:
      call(std::integral_constant<int, 7>{});
      break;
    default:
      call(std::integral_constant<int, MaxRows>{});
      break;
    }
  }
}

/// Per block of 32 inputs (the int8-activation path): the group index of
/// block t, t * 32 / group, with a shift where group / 32 is a power of
/// two.
struct BlockGroups {
  int64_t blocksPerGroup;
  int shift = -1;

  explicit BlockGroups(const slim_uk_qweight *w)
      : blocksPerGroup(groupSize(w) >= w->k ? INT64_MAX : groupSize(w) / 32) {
    if (blocksPerGroup > 0 && blocksPerGroup != INT64_MAX &&
        (blocksPerGroup & (blocksPerGroup - 1)) == 0)
      shift = __builtin_ctzll(static_cast<uint64_t>(blocksPerGroup));
  }
  int64_t operator()(int64_t t) const {
    if (blocksPerGroup == INT64_MAX)
      return 0;
    return shift >= 0 ? t >> shift : t / blocksPerGroup;
  }
  /// Whether the 4 blocks of a superblock always share one group.
  bool uniform() const {
    return blocksPerGroup == INT64_MAX || blocksPerGroup % 4 == 0;
  }
};

#if defined(__x86_64__)
/// slim_uk_qscale with F16C's one-instruction widening of f16.
__attribute__((target("f16c"))) inline float
scaleAt(const slim_uk_qweight *w, int64_t n, int64_t g, uint32_t flags) {
  if ((flags & SLIM_UK_QGEMV_SCALE_MASK) == SLIM_UK_QGEMV_SCALE_F16)
    return _cvtsh_ss(
        static_cast<const uint16_t *>(w->scales)[n * w->scalesStride + g]);
  return slim_uk_qscale(w, n, g, flags);
}

/// The scales of row n, groups [g, g + count) for count 2 or 4, widened to
/// f32 in the low lanes (one load, no scalar round trip).
__attribute__((target("f16c,sse4.1"))) inline __m128
scalesAt(const slim_uk_qweight *w, int64_t n, int64_t g, int count,
         uint32_t flags) {
  int64_t at = n * w->scalesStride + g;
  uint32_t type = flags & SLIM_UK_QGEMV_SCALE_MASK;
  if (type == SLIM_UK_QGEMV_SCALE_F32) {
    const float *p = static_cast<const float *>(w->scales) + at;
    if (count == 4)
      return _mm_loadu_ps(p);
    double two;
    std::memcpy(&two, p, 8);
    return _mm_castpd_ps(_mm_set_sd(two));
  }
  const uint16_t *p = static_cast<const uint16_t *>(w->scales) + at;
  __m128i h;
  if (count == 4) {
    int64_t four;
    std::memcpy(&four, p, 8);
    h = _mm_cvtsi64_si128(four);
  } else {
    int32_t two;
    std::memcpy(&two, p, 4);
    h = _mm_cvtsi32_si128(two);
  }
  if (type == SLIM_UK_QGEMV_SCALE_F16)
    return _mm_cvtph_ps(h);
  return _mm_castsi128_ps(_mm_unpacklo_epi16(_mm_setzero_si128(), h));
}

/// -(zero point + bias) of row n, groups [g, g + count) for count 2 or 4,
/// in 32-bit lanes.
__attribute__((target("f16c,sse4.1"))) inline __m128i
minusZerosAt(const slim_uk_qweight *w, int64_t n, int64_t g, int count,
             uint32_t flags, int bias) {
  if (!w->zeroPoints)
    return _mm_set1_epi32(-(slim_uk_qzero(w, n, g, flags) + bias));
  const uint8_t *p = w->zeroPoints + n * w->zpStride + g;
  // Fixed-size loads: a variable-length copy went through the stack (a
  // store-forwarding stall per superblock).
  int32_t bytes;
  if (count == 4) {
    std::memcpy(&bytes, p, 4);
  } else {
    uint16_t two;
    std::memcpy(&two, p, 2);
    bytes = two;
  }
  __m128i z = _mm_cvtsi32_si128(bytes);
  z = flags & SLIM_UK_QGEMV_SIGNED ? _mm_cvtepi8_epi32(z)
                                   : _mm_cvtepu8_epi32(z);
  return _mm_sub_epi32(_mm_setzero_si128(),
                       _mm_add_epi32(z, _mm_set1_epi32(bias)));
}
#endif

} // namespace

#if defined(__x86_64__)
/// Whether qgemvBitsAvx2 / qdequantBitsAvx2 take `w`: integer codes of 2, 3,
/// 5, 6 or 7 bits, or a code book of 2-8 bits, in groups of a multiple of 8
/// inputs (or one group per output channel).
bool isVectorizedBits(const slim_uk_qweight *w);
/// slim_uk_qgemv_f32 and slim_uk_qdequant_f32 for those weights, AVX2 + FMA
/// + F16C (x86_64/QGemvBitsAvx2.cpp).
void qgemvBitsAvx2(int64_t m, int64_t n0, int64_t n1, const float *a,
                   int64_t lda, const slim_uk_qweight *w, float *c,
                   int64_t ldc, uint32_t flags);
void qdequantBitsAvx2(int64_t n0, int64_t n1, const slim_uk_qweight *w,
                      float *out, int64_t ldo, uint32_t flags);
/// Whether qgemvSparseAvx2 / qdequantSparseAvx2 take `w`: N:M sparse with
/// n dividing 8, codes of 2-8 bits (integer or a code book), groups of a
/// multiple of 8 kept values (or one per output channel).
bool isVectorizedSparse(const slim_uk_qweight *w);
void qgemvSparseAvx2(int64_t m, int64_t n0, int64_t n1, const float *a,
                     int64_t lda, const slim_uk_qweight *w, float *c,
                     int64_t ldc, uint32_t flags);
void qdequantSparseAvx2(int64_t n0, int64_t n1, const slim_uk_qweight *w,
                        float *out, int64_t ldo, uint32_t flags);
#endif
} // namespace slim::qgemv

#endif // SLIM_LIB_KERNELS_QGEMVINTERNAL_H
