//===- QGemv.h - Few-row products with a group-quantized weight ---*- C -*-===//
//
// Part of the Slim project, under the Apache License v2.0 with LLVM Exceptions.
// SPDX-License-Identifier: Apache-2.0 WITH LLVM-exception
//
//===----------------------------------------------------------------------===//
//
// The kernels of decoding's products by an integer `#slim.quant` weight
// W[N, K] as `--slim-quantize` stores it (docs/Compression.md): each output
// channel's codes packed LSB first along K (`bits` per code, rows
// `codesStride` bytes apart), one scale and, optionally, one zero point per
// group of `group` inputs (the last group may be shorter), with
//
//   W[n, k] = (code - zp) * scale
//
// with unsigned codes and zero points (zp = 2^(bits-1) where there are
// none), or signed codes and signed zero points (zp = 0 where there are
// none), as the reference lowering defines them,
// and C[i, n] (+)= sum_k A[i, k] W[n, k] for i < m and n in [n0, n1):
// accumulating with SLIM_UK_QGEMV_ACCUMULATE in `flags`, overwriting (C not
// read) without. The products are computed in f32 from the exact weights
// (the f32-accurate path: no rounding of the activations).
//
// ukernel rules: plain C ABI, no allocation, no threads, no globals; the
// caller splits [0, N) across threads. Each ISA variant is tested against
// the reference.
//
//===----------------------------------------------------------------------===//

#ifndef SLIM_LIB_KERNELS_QGEMV_H
#define SLIM_LIB_KERNELS_QGEMV_H

#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/// `flags` bits.
/// C += A W^T (without: C = A W^T).
#define SLIM_UK_QGEMV_ACCUMULATE 1u
/// Codes are two's-complement signed.
#define SLIM_UK_QGEMV_SIGNED 2u
/// The scales' storage type (two bits): f32, f16 or bf16.
#define SLIM_UK_QGEMV_SCALE_F32 0u
#define SLIM_UK_QGEMV_SCALE_F16 4u
#define SLIM_UK_QGEMV_SCALE_BF16 8u
#define SLIM_UK_QGEMV_SCALE_MASK 12u

/// A quantized weight's storage, read in place.
typedef struct slim_uk_qweight {
  /// Codes of row n at codes + n * codesStride (bytes).
  const uint8_t *codes;
  int64_t codesStride;
  /// Scale of row n, group g at scales[n * scalesStride + g] (elements of
  /// the type the flags name).
  const void *scales;
  int64_t scalesStride;
  /// Zero point of row n, group g at zeroPoints[n * zpStride + g] (a byte,
  /// signed where the codes are); null where the weight has none.
  const uint8_t *zeroPoints;
  int64_t zpStride;
  /// Inputs, bits per code (1-8) and the group size (K for per channel).
  int64_t k, bits, group;
} slim_uk_qweight;

/// The scale of row n, group g as f32 (f16 and bf16 widened exactly).
static inline float slim_uk_qscale(const slim_uk_qweight *w, int64_t n,
                                   int64_t g, uint32_t flags) {
  int64_t at = n * w->scalesStride + g;
  uint32_t type = flags & SLIM_UK_QGEMV_SCALE_MASK;
  uint32_t bits;
  if (type == SLIM_UK_QGEMV_SCALE_F32)
    return ((const float *)w->scales)[at];
  uint16_t h = ((const uint16_t *)w->scales)[at];
  if (type == SLIM_UK_QGEMV_SCALE_BF16) {
    bits = (uint32_t)h << 16;
  } else {
    uint32_t sign = (uint32_t)(h & 0x8000u) << 16, exp = (h >> 10) & 31u,
             man = h & 0x3ffu;
    if (exp == 31u) {
      bits = sign | 0x7f800000u | (man << 13);
    } else if (exp != 0u) {
      bits = sign | ((exp + 112u) << 23) | (man << 13);
    } else if (man == 0u) {
      bits = sign;
    } else {
      // Subnormal: normalize.
      exp = 113u;
      while (!(man & 0x400u)) {
        man <<= 1;
        --exp;
      }
      bits = sign | (exp << 23) | ((man & 0x3ffu) << 13);
    }
  }
  float f;
  __builtin_memcpy(&f, &bits, 4);
  return f;
}

/// The zero point of row n, group g.
static inline int slim_uk_qzero(const slim_uk_qweight *w, int64_t n, int64_t g,
                                uint32_t flags) {
  int isSigned = (flags & SLIM_UK_QGEMV_SIGNED) != 0;
  if (!w->zeroPoints)
    return isSigned ? 0 : 1 << (w->bits - 1);
  uint8_t z = w->zeroPoints[n * w->zpStride + g];
  return isSigned ? (int)(int8_t)z : (int)z;
}

/// Portable reference (lib/Kernels/generic): any bits, any groups.
void slim_uk_qgemv_f32_generic(int64_t m, int64_t n0, int64_t n1,
                               const float *a, int64_t lda,
                               const slim_uk_qweight *w, float *c, int64_t ldc,
                               uint32_t flags);

/// AVX2 + FMA (lib/Kernels/x86_64); only call where the CPU has both. 4-bit
/// codes in groups that are multiples of 32 inputs run vectorized (a ragged
/// last group and other shapes are exact too, in scalar code); other bit
/// widths go to the reference.
void slim_uk_qgemv_f32_avx2(int64_t m, int64_t n0, int64_t n1, const float *a,
                            int64_t lda, const slim_uk_qweight *w, float *c,
                            int64_t ldc, uint32_t flags);

/// AVX-512F (lib/Kernels/x86_64); only call where the CPU has it. 4-bit
/// codes pick their group's weights from a 16-entry table (vpermps).
void slim_uk_qgemv_f32_avx512(int64_t m, int64_t n0, int64_t n1, const float *a,
                              int64_t lda, const slim_uk_qweight *w, float *c,
                              int64_t ldc, uint32_t flags);

/// out[(n - n0) * ldo + q] = W[n, q] for n in [n0, n1), q < K: rows of the
/// weight dequantized exactly ((code - zp) * scale in f32), for products
/// that reuse a dequantized tile across many rows (prefill). `flags` as
/// above (SLIM_UK_QGEMV_ACCUMULATE is ignored).
void slim_uk_qdequant_f32_generic(int64_t n0, int64_t n1,
                                  const slim_uk_qweight *w, float *out,
                                  int64_t ldo, uint32_t flags);
/// AVX2 + FMA: 4-bit codes 32 at a time, as in slim_uk_qgemv_f32_avx2.
void slim_uk_qdequant_f32_avx2(int64_t n0, int64_t n1,
                               const slim_uk_qweight *w, float *out,
                               int64_t ldo, uint32_t flags);

#ifdef __cplusplus
}
#endif

#endif // SLIM_LIB_KERNELS_QGEMV_H
