//===- QGemvBitsAvx2.cpp - Any code width and code books, AVX2 + FMA ------===//
//
// Part of the Slim project, under the Apache License v2.0 with LLVM Exceptions.
// SPDX-License-Identifier: Apache-2.0 WITH LLVM-exception
//
//===----------------------------------------------------------------------===//
//
// The quantized GEMV and dequantization for the widths without a byte path
// of their own (2, 3, 5, 6, 7-bit integer codes) and for the code-book
// formats (nf4, fp8, fp4, lutN: table[code] * scale) of any width.
//
// 8 codes of B bits are B bytes of the LSB-first bit stream (8 codes start
// on a byte where the group does: groups of a multiple of 8 inputs). One
// 8-byte load broadcast to every quadword, one vpshufb that gives each
// 32-bit lane the two bytes holding its code (bits 16-31), one vpsllv that
// puts the code's top bit at bit 31 and one shift right by 32 - B (signed
// or not) leave the 8 codes in 32-bit lanes; the width is a run-time
// value (the shuffle and shifts are built per call), so one instance per
// kind of value and row count serves every width. Integer codes then become
// floats minus the zero point; code-book codes pick their value with one
// vpermps (B <= 3), two and a blend (B = 4), or a gather (B >= 5). Each
// group's products are summed unscaled and scaled once, as in the 4-bit
// path. The last codes of a row, whose 8-byte load would pass the row's
// end, are read with a B-byte copy instead; inputs outside the 8-code
// steps (a ragged group's end, groups not a multiple of 8) are exact in
// scalar code.
//
//===----------------------------------------------------------------------===//

#include "lib/Kernels/QGemv.h"
#include "lib/Kernels/QGemvInternal.h"

#include "lib/Kernels/x86_64/Avx2.h"

#include <immintrin.h>

#include <cmath>
#include <cstring>

using namespace slim::qgemv;

namespace {

using slim::avx2::hsum;

/// The `bytes` bytes at `p` as the low bytes of a 64-bit window (a row's
/// last codes, where 8 bytes would read past its end). Out of line, as
/// are the scalar tails: kept out of the unrolled loops' code.
__attribute__((noinline)) int64_t partialWindow(const uint8_t *p,
                                                int64_t bytes) {
  int64_t window = 0;
  for (int64_t i = 0; i < bytes; ++i)
    window |= int64_t(p[i]) << (8 * i);
  return window;
}

/// tail[i] += sum over q in [q0, end) of a[i * lda + q] * W[n, q] for
/// i < rows: a group's inputs outside the 8-code steps, in scalar code.
__attribute__((noinline)) void scalarTail(const slim_uk_qweight *w,
                                          const uint8_t *row, int64_t rowBytes,
                                          int64_t q0, int64_t end, int zp,
                                          bool isSigned, float scale,
                                          const float *a, int64_t lda,
                                          int rows, float *tail) {
  for (int64_t q = q0; q < end; ++q) {
    float v = unscaled(w, row, rowBytes, q, zp, isSigned) * scale;
    for (int i = 0; i < rows; ++i)
      tail[i] += a[i * lda + q] * v;
  }
}

/// o[q] = W[n, q] for q in [q0, end), in scalar code.
__attribute__((noinline)) void scalarDequant(const slim_uk_qweight *w,
                                             const uint8_t *row,
                                             int64_t rowBytes, int64_t q0,
                                             int64_t end, int zp, bool isSigned,
                                             float scale, float *o) {
  for (int64_t q = q0; q < end; ++q)
    o[q] = unscaled(w, row, rowBytes, q, zp, isSigned) * scale;
}

/// 8 codes of `bits` bits from the bit stream, as 32-bit lanes.
struct Unpack8 {
  __m256i shuffle, shiftLeft;
  __m128i shiftRight;
  int64_t bits;

  __attribute__((target("avx2,f16c"))) explicit Unpack8(int64_t bits)
      : bits(bits) {
    alignas(32) int8_t bytes[32];
    alignas(32) int32_t shifts[8];
    for (int i = 0; i < 8; ++i) {
      int bit = int(bits) * i, byte = bit >> 3, s = bit & 7;
      // Bytes `byte`, `byte + 1` of the broadcast window at bits 16-31 of
      // lane i (the window repeats in every quadword, so indices 0-7 are
      // the same bytes in both 128-bit halves); a second byte past the
      // window (8 bits only, never needed) reads as zero.
      bytes[4 * i] = bytes[4 * i + 1] = int8_t(0x80);
      bytes[4 * i + 2] = int8_t(byte);
      bytes[4 * i + 3] = byte + 1 < 8 ? int8_t(byte + 1) : int8_t(0x80);
      shifts[i] = 16 - s - int(bits);
    }
    shuffle = _mm256_load_si256(reinterpret_cast<const __m256i *>(bytes));
    shiftLeft = _mm256_load_si256(reinterpret_cast<const __m256i *>(shifts));
    shiftRight = _mm_cvtsi32_si128(32 - int(bits));
  }

  /// The 8 codes at byte `p` (8 bytes readable when `whole`, else `bits`).
  __attribute__((target("avx2,f16c"))) __m256i load(const uint8_t *p,
                                                    bool whole,
                                                    bool isSigned) const {
    int64_t window;
    if (whole)
      std::memcpy(&window, p, 8);
    else
      window = partialWindow(p, bits);
    __m256i v = _mm256_shuffle_epi8(_mm256_set1_epi64x(window), shuffle);
    v = _mm256_sllv_epi32(v, shiftLeft);
    return isSigned ? _mm256_sra_epi32(v, shiftRight)
                    : _mm256_srl_epi32(v, shiftRight);
  }
};

/// How 8 codes become unscaled weights: code - zp, or a code book's value
/// by one vpermps (up to 8 entries), two and a blend (16), a gather, or,
/// for FP8 code books, from the bits through f16 (vcvtph2ps).
enum class Kind { Int, Table8, Table16, Gather, E4M3, E5M2 };

/// 8 f16 bit patterns in the low halves of 32-bit lanes, widened to f32.
__attribute__((target("avx2,f16c"))) inline __m256 halvesToFloats(__m256i h) {
  __m256i packed = _mm256_permute4x64_epi64(_mm256_packus_epi32(h, h), 0x08);
  return _mm256_cvtph_ps(_mm256_castsi256_si128(packed));
}

template <Kind K> struct Values {
  __m256 t0, t1;
  const float *table;

  __attribute__((target("avx2,f16c"))) explicit Values(const slim_uk_qweight *w)
      : table(w->table) {
    if constexpr (K == Kind::Table8 || K == Kind::Table16) {
      alignas(32) float padded[16] = {};
      for (int i = 0; i < (1 << w->bits); ++i)
        padded[i] = w->table[i];
      t0 = _mm256_load_ps(padded);
      t1 = _mm256_load_ps(padded + 8);
    }
  }

  __attribute__((target("avx2,f16c"))) __m256 operator()(__m256i codes,
                                                         __m256i zv) const {
    if constexpr (K == Kind::Int) {
      return _mm256_cvtepi32_ps(_mm256_sub_epi32(codes, zv));
    } else if constexpr (K == Kind::Table8) {
      return _mm256_permutevar8x32_ps(t0, codes);
    } else if constexpr (K == Kind::Table16) {
      // Bit 3 of the code picks the half: moved to the sign for blendv.
      __m256 high = _mm256_castsi256_ps(_mm256_slli_epi32(codes, 28));
      return _mm256_blendv_ps(_mm256_permutevar8x32_ps(t0, codes),
                              _mm256_permutevar8x32_ps(t1, codes), high);
    } else if constexpr (K == Kind::E5M2) {
      // An E5M2 code is the top byte of the f16 of its value.
      return halvesToFloats(_mm256_slli_epi32(codes, 8));
    } else if constexpr (K == Kind::E4M3) {
      // Sign to bit 15, exponent and mantissa to bits 7-13: the f16 of the
      // value times 2^-8 (normal and subnormal alike); magnitude 0x7f is
      // NaN (E4M3fn has no infinities).
      __m256i mag = _mm256_and_si256(codes, _mm256_set1_epi32(0x7f));
      __m256i h = _mm256_or_si256(
          _mm256_slli_epi32(_mm256_and_si256(codes, _mm256_set1_epi32(0x80)),
                            8),
          _mm256_slli_epi32(mag, 7));
      __m256 v = _mm256_mul_ps(halvesToFloats(h), _mm256_set1_ps(256.0f));
      __m256 nan = _mm256_castsi256_ps(
          _mm256_cmpeq_epi32(mag, _mm256_set1_epi32(0x7f)));
      return _mm256_blendv_ps(v, _mm256_set1_ps(NAN), nan);
    } else {
      return _mm256_i32gather_ps(table, codes, 4);
    }
  }
};

template <Kind K, int R>
__attribute__((target("avx2,fma,f16c"))) void
rowsBits(int64_t n0, int64_t n1, const float *a, int64_t lda,
         const slim_uk_qweight *w, float *c, int64_t ldc, uint32_t flags) {
  constexpr bool Table = K != Kind::Int;
  bool isSigned = !Table && (flags & SLIM_UK_QGEMV_SIGNED);
  int64_t k = w->k, group = groupSize(w), B = w->bits;
  int64_t groups = (k + group - 1) / group, rowBytes = (k * B + 7) / 8;
  const Unpack8 unpack(B);
  const Values<K> values(w);
  for (int64_t n = n0; n < n1; ++n) {
    const uint8_t *row = w->codes + n * w->codesStride;
    __m256 y[R];
    float tail[R];
#pragma GCC unroll 4
    for (int i = 0; i < R; ++i) {
      y[i] = _mm256_setzero_ps();
      tail[i] = 0.0f;
    }
    for (int64_t g = 0; g < groups; ++g) {
      float scale = scaleAt(w, n, g, flags);
      int zp = Table ? 0 : slim_uk_qzero(w, n, g, flags);
      const __m256i zv = _mm256_set1_epi32(zp);
      int64_t q = g * group, end = q + group < k ? q + group : k;
      // Two accumulator chains per row (16 codes a step); every index
      // constant once unrolled, so that they stay in registers.
      __m256 acc0[R], acc1[R];
#pragma GCC unroll 4
      for (int i = 0; i < R; ++i)
        acc0[i] = acc1[i] = _mm256_setzero_ps();
      for (; q + 16 <= end; q += 16) {
        int64_t at = q / 8 * B;
        __m256 f0 =
            values(unpack.load(row + at, at + 8 <= rowBytes, isSigned), zv);
        __m256 f1 = values(
            unpack.load(row + at + B, at + B + 8 <= rowBytes, isSigned), zv);
#pragma GCC unroll 4
        for (int i = 0; i < R; ++i) {
          acc0[i] = _mm256_fmadd_ps(f0, _mm256_loadu_ps(a + i * lda + q),
                                    acc0[i]);
          acc1[i] = _mm256_fmadd_ps(f1, _mm256_loadu_ps(a + i * lda + q + 8),
                                    acc1[i]);
        }
      }
      if (q + 8 <= end) {
        int64_t at = q / 8 * B;
        __m256 f0 =
            values(unpack.load(row + at, at + 8 <= rowBytes, isSigned), zv);
#pragma GCC unroll 4
        for (int i = 0; i < R; ++i)
          acc0[i] = _mm256_fmadd_ps(f0, _mm256_loadu_ps(a + i * lda + q),
                                    acc0[i]);
        q += 8;
      }
      __m256 s = _mm256_set1_ps(scale);
#pragma GCC unroll 4
      for (int i = 0; i < R; ++i)
        y[i] = _mm256_fmadd_ps(_mm256_add_ps(acc0[i], acc1[i]), s, y[i]);
      if (q < end)
        scalarTail(w, row, rowBytes, q, end, zp, isSigned, scale, a, lda, R,
                   tail);
    }
    for (int i = 0; i < R; ++i) {
      float *out = c + i * ldc + n;
      float sum = hsum(y[i]) + tail[i];
      *out = (flags & SLIM_UK_QGEMV_ACCUMULATE ? *out : 0.0f) + sum;
    }
  }
}

template <Kind K>
__attribute__((target("avx2,fma,f16c"))) void
dequantBits(int64_t n0, int64_t n1, const slim_uk_qweight *w, float *out,
            int64_t ldo, uint32_t flags) {
  constexpr bool Table = K != Kind::Int;
  bool isSigned = !Table && (flags & SLIM_UK_QGEMV_SIGNED);
  int64_t k = w->k, group = groupSize(w), B = w->bits;
  int64_t groups = (k + group - 1) / group, rowBytes = (k * B + 7) / 8;
  const Unpack8 unpack(B);
  const Values<K> values(w);
  for (int64_t n = n0; n < n1; ++n) {
    const uint8_t *row = w->codes + n * w->codesStride;
    float *o = out + (n - n0) * ldo;
    for (int64_t g = 0; g < groups; ++g) {
      float scale = scaleAt(w, n, g, flags);
      int zp = Table ? 0 : slim_uk_qzero(w, n, g, flags);
      const __m256i zv = _mm256_set1_epi32(zp);
      const __m256 s = _mm256_set1_ps(scale);
      int64_t q = g * group, end = q + group < k ? q + group : k;
      // value * scale, rounded once as the reference rounds it.
      for (; q + 8 <= end; q += 8) {
        int64_t at = q / 8 * B;
        _mm256_storeu_ps(
            o + q,
            _mm256_mul_ps(values(unpack.load(row + at, at + 8 <= rowBytes,
                                             isSigned),
                                 zv),
                          s));
      }
      if (q < end)
        scalarDequant(w, row, rowBytes, q, end, zp, isSigned, scale, o);
    }
  }
}

/// Lane l's offset from its step's first input: kept value l of 8 sits in
/// run l / n (n divides 8), so at (l / n) * m plus its index.
__attribute__((target("avx2"))) inline __m256i sparseLaneBase(int64_t n,
                                                             int64_t m) {
  alignas(32) int32_t base[8];
  for (int l = 0; l < 8; ++l)
    base[l] = int32_t(l / n * m);
  return _mm256_load_si256(reinterpret_cast<const __m256i *>(base));
}

/// N:M sparse rows (slim_uk_qweight's indices): 8 kept values a step,
/// decoded as in rowsBits, each meeting the input it sits at through one
/// gather per activation row; a group's values past its last multiple of
/// 8 in scalar code.
template <Kind K, int R>
__attribute__((target("avx2,fma,f16c"))) void
rowsSparse(int64_t n0, int64_t n1, const float *a, int64_t lda,
           const slim_uk_qweight *w, float *c, int64_t ldc, uint32_t flags) {
  constexpr bool Table = K != Kind::Int;
  bool isSigned = !Table && (flags & SLIM_UK_QGEMV_SIGNED);
  int64_t kv = slim_uk_qweight_values(w), group = groupSize(w), B = w->bits;
  int64_t groups = (kv + group - 1) / group, rowBytes = (kv * B + 7) / 8;
  int64_t sn = w->sparseN, sm = w->sparseM;
  const Unpack8 unpack(B);
  const Values<K> values(w);
  const __m256i laneBase = sparseLaneBase(sn, sm);
  for (int64_t n = n0; n < n1; ++n) {
    const uint8_t *row = w->codes + n * w->codesStride;
    const uint8_t *idx = w->indices + n * w->indicesStride;
    __m256 y[R];
    float tail[R];
#pragma GCC unroll 4
    for (int i = 0; i < R; ++i) {
      y[i] = _mm256_setzero_ps();
      tail[i] = 0.0f;
    }
    for (int64_t g = 0; g < groups; ++g) {
      float scale = scaleAt(w, n, g, flags);
      int zp = Table ? 0 : slim_uk_qzero(w, n, g, flags);
      const __m256i zv = _mm256_set1_epi32(zp);
      int64_t j = g * group, end = j + group < kv ? j + group : kv;
      __m256 acc[R];
#pragma GCC unroll 4
      for (int i = 0; i < R; ++i)
        acc[i] = _mm256_setzero_ps();
      for (; j + 8 <= end; j += 8) {
        int64_t at = j / 8 * B;
        __m256 f =
            values(unpack.load(row + at, at + 8 <= rowBytes, isSigned), zv);
        int64_t offsets;
        std::memcpy(&offsets, idx + j, 8);
        __m256i pos = _mm256_add_epi32(
            _mm256_cvtepu8_epi32(_mm_cvtsi64_si128(offsets)), laneBase);
        const float *x = a + j / sn * sm;
#pragma GCC unroll 4
        for (int i = 0; i < R; ++i)
          acc[i] = _mm256_fmadd_ps(
              f, _mm256_i32gather_ps(x + i * lda, pos, 4), acc[i]);
      }
      __m256 s = _mm256_set1_ps(scale);
#pragma GCC unroll 4
      for (int i = 0; i < R; ++i)
        y[i] = _mm256_fmadd_ps(acc[i], s, y[i]);
      for (; j < end; ++j) {
        float v = unscaled(w, row, rowBytes, j, zp, isSigned) * scale;
        int64_t q = slim_uk_qweight_input(w, n, j);
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

/// Dense rows of an N:M sparse weight: zeros, then each kept value (decoded
/// 8 at a time) added at its input.
template <Kind K>
__attribute__((target("avx2,fma,f16c"))) void
dequantSparse(int64_t n0, int64_t n1, const slim_uk_qweight *w, float *out,
              int64_t ldo, uint32_t flags) {
  constexpr bool Table = K != Kind::Int;
  bool isSigned = !Table && (flags & SLIM_UK_QGEMV_SIGNED);
  int64_t kv = slim_uk_qweight_values(w), group = groupSize(w), B = w->bits;
  int64_t groups = (kv + group - 1) / group, rowBytes = (kv * B + 7) / 8;
  int64_t sn = w->sparseN, sm = w->sparseM;
  const Unpack8 unpack(B);
  const Values<K> values(w);
  const __m256i laneBase = sparseLaneBase(sn, sm);
  for (int64_t n = n0; n < n1; ++n) {
    const uint8_t *row = w->codes + n * w->codesStride;
    const uint8_t *idx = w->indices + n * w->indicesStride;
    float *o = out + (n - n0) * ldo;
    int64_t q = 0;
    for (; q + 8 <= w->k; q += 8)
      _mm256_storeu_ps(o + q, _mm256_setzero_ps());
    for (; q < w->k; ++q)
      o[q] = 0.0f;
    for (int64_t g = 0; g < groups; ++g) {
      float scale = scaleAt(w, n, g, flags);
      int zp = Table ? 0 : slim_uk_qzero(w, n, g, flags);
      const __m256i zv = _mm256_set1_epi32(zp);
      const __m256 s = _mm256_set1_ps(scale);
      int64_t j = g * group, end = j + group < kv ? j + group : kv;
      for (; j + 8 <= end; j += 8) {
        int64_t at = j / 8 * B;
        alignas(32) float v[8];
        alignas(32) int32_t pos[8];
        _mm256_store_ps(
            v, _mm256_mul_ps(values(unpack.load(row + at, at + 8 <= rowBytes,
                                                isSigned),
                                    zv),
                             s));
        // Positions as in rowsSparse (no division per value).
        int64_t offsets;
        std::memcpy(&offsets, idx + j, 8);
        _mm256_store_si256(
            reinterpret_cast<__m256i *>(pos),
            _mm256_add_epi32(_mm256_cvtepu8_epi32(_mm_cvtsi64_si128(offsets)),
                             laneBase));
        float *base = o + j / sn * sm;
        for (int l = 0; l < 8; ++l)
          base[pos[l]] += v[l];
      }
      for (; j < end; ++j)
        o[slim_uk_qweight_input(w, n, j)] +=
            unscaled(w, row, rowBytes, j, zp, isSigned) * scale;
    }
  }
}

/// fn(std::integral_constant<Kind, K>) for the kind of `w`
/// (isVectorizedBits).
template <typename Fn>
void dispatchKind(const slim_uk_qweight *w, uint32_t flags, Fn &&fn) {
  if (w->table && w->bits == 8 && (flags & SLIM_UK_QGEMV_TABLE_E5M2))
    fn(std::integral_constant<Kind, Kind::E5M2>{});
  else if (w->table && w->bits == 8 && (flags & SLIM_UK_QGEMV_TABLE_E4M3))
    fn(std::integral_constant<Kind, Kind::E4M3>{});
  else if (!w->table)
    fn(std::integral_constant<Kind, Kind::Int>{});
  else if (w->bits <= 3)
    fn(std::integral_constant<Kind, Kind::Table8>{});
  else if (w->bits == 4)
    fn(std::integral_constant<Kind, Kind::Table16>{});
  else
    fn(std::integral_constant<Kind, Kind::Gather>{});
}

} // namespace

bool slim::qgemv::isVectorizedBits(const slim_uk_qweight *w) {
  if (w->sparseM > 0)
    return false;
  bool width = w->table ? w->bits >= 2 && w->bits <= 8
                        : w->bits >= 2 && w->bits <= 7 && w->bits != 4;
  return width && (groupSize(w) % 8 == 0 || groupSize(w) >= w->k);
}

bool slim::qgemv::isVectorizedSparse(const slim_uk_qweight *w) {
  int64_t kv = slim_uk_qweight_values(w);
  return w->sparseM > 0 && w->sparseN > 0 && 8 % w->sparseN == 0 &&
         w->bits >= 2 && w->bits <= 8 &&
         (groupSize(w) % 8 == 0 || groupSize(w) >= kv);
}

void slim::qgemv::qgemvSparseAvx2(int64_t m, int64_t n0, int64_t n1,
                                  const float *a, int64_t lda,
                                  const slim_uk_qweight *w, float *c,
                                  int64_t ldc, uint32_t flags) {
  dispatchKind(w, flags, [&](auto kind) {
    forRowChunks(m, a, lda, c, ldc,
                 [&](auto rows, const float *ai, float *ci) {
                   rowsSparse<decltype(kind)::value, decltype(rows)::value>(
                       n0, n1, ai, lda, w, ci, ldc, flags);
                 });
  });
}

void slim::qgemv::qdequantSparseAvx2(int64_t n0, int64_t n1,
                                     const slim_uk_qweight *w, float *out,
                                     int64_t ldo, uint32_t flags) {
  dispatchKind(w, flags, [&](auto kind) {
    dequantSparse<decltype(kind)::value>(n0, n1, w, out, ldo, flags);
  });
}

void slim::qgemv::qgemvBitsAvx2(int64_t m, int64_t n0, int64_t n1,
                                const float *a, int64_t lda,
                                const slim_uk_qweight *w, float *c,
                                int64_t ldc, uint32_t flags) {
  dispatchKind(w, flags, [&](auto kind) {
    forRowChunks(m, a, lda, c, ldc,
                 [&](auto rows, const float *ai, float *ci) {
                   rowsBits<decltype(kind)::value, decltype(rows)::value>(
                       n0, n1, ai, lda, w, ci, ldc, flags);
                 });
  });
}

void slim::qgemv::qdequantBitsAvx2(int64_t n0, int64_t n1,
                                   const slim_uk_qweight *w, float *out,
                                   int64_t ldo, uint32_t flags) {
  dispatchKind(w, flags, [&](auto kind) {
    dequantBits<decltype(kind)::value>(n0, n1, w, out, ldo, flags);
  });
}
