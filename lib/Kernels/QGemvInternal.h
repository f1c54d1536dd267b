//===- QGemvInternal.h - What the quantized GEMV variants share -*- C++ -*-===//
//
// Part of the Slim project, under the Apache License v2.0 with LLVM Exceptions.
// SPDX-License-Identifier: Apache-2.0 WITH LLVM-exception
//
//===----------------------------------------------------------------------===//
//
// Internal to lib/Kernels: the scalar reading of one code (the reference's,
// and the vector kernels' tails) and the split of the activation rows into
// chunks of up to four that the vector kernels are templated on.
//
//===----------------------------------------------------------------------===//

#ifndef SLIM_LIB_KERNELS_QGEMVINTERNAL_H
#define SLIM_LIB_KERNELS_QGEMVINTERNAL_H

#include "lib/Kernels/QGemv.h"

#include <cstdint>
#include <type_traits>

namespace slim::qgemv {
namespace {

/// The group size of `w` (K for per-channel scales).
inline int64_t groupSize(const slim_uk_qweight *w) {
  return w->group > 0 ? w->group : w->k;
}

/// Whether the vector kernels take `w`: 4-bit codes in groups that start on
/// a byte.
inline bool isVectorized4(const slim_uk_qweight *w) {
  return w->bits == 4 && groupSize(w) % 2 == 0;
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

/// fn(std::integral_constant<int, R>, a + i * lda, c + i * ldc) for the
/// chunks of R <= 4 rows starting at i.
template <typename Fn>
void forRowChunks(int64_t m, const float *a, int64_t lda, float *c, int64_t ldc,
                  Fn &&fn) {
  for (int64_t i = 0; i < m; i += 4) {
    const float *ai = a + i * lda;
    float *ci = c + i * ldc;
    switch (m - i < 4 ? m - i : 4) {
    case 1:
      fn(std::integral_constant<int, 1>{}, ai, ci);
      break;
    case 2:
      fn(std::integral_constant<int, 2>{}, ai, ci);
      break;
    case 3:
      fn(std::integral_constant<int, 3>{}, ai, ci);
      break;
    default:
      fn(std::integral_constant<int, 4>{}, ai, ci);
      break;
    }
  }
}

} // namespace
} // namespace slim::qgemv

#endif // SLIM_LIB_KERNELS_QGEMVINTERNAL_H
