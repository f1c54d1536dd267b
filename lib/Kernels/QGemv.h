//===- QGemv.h - Few-row products with a group-quantized weight ---*- C -*-===//
//
// Part of the Slim project, under the Apache License v2.0 with LLVM Exceptions.
// SPDX-License-Identifier: Apache-2.0 WITH LLVM-exception
//
//===----------------------------------------------------------------------===//
//
// The kernels of decoding's products by a `#slim.quant` weight W[N, K] as
// `--slim-quantize` stores it (docs/Compression.md): each output
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
// read) without. A weight in a code-book format (nf4, fp8, fp4, lutN) has
// a `table` of 2^bits f32 values instead of zero points:
//
//   W[n, k] = table[code] * scale
//
// (the compiler passes lutN's code book, or the fixed format's decoded
// values, lib/Compression/Packing.h getCodeTable). The products are computed in
// f32 from the exact weights (the f32-accurate path: no rounding of the
// activations).
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
/// The code table is the OCP FP8 E4M3 (`fn`) or E5M2 decoding of 8-bit
/// codes: kernels may compute the values from the bits instead of reading
/// the table (the same values, NaN codes included).
#define SLIM_UK_QGEMV_TABLE_E4M3 16u
#define SLIM_UK_QGEMV_TABLE_E5M2 32u

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
  /// Code-book formats: the value of each of the 2^bits codes (read
  /// unsigned; `zeroPoints` and SLIM_UK_QGEMV_SIGNED are ignored). Null
  /// for integer codes.
  const float *table;
  /// N:M structured sparsity along K (`#slim.sparse<n:m, axis = 1>` under
  /// the quant stage; sparseM 0: dense). Then the codes, scales and zero
  /// points above describe the kept values, k / sparseM * sparseN of them
  /// per row (`group` counts kept values), and kept value j of row n sits
  /// at input (j / sparseN) * sparseM + indices[n * indicesStride + j]
  /// (every other input of its run is zero).
  const uint8_t *indices;
  int64_t indicesStride, sparseN, sparseM;
} slim_uk_qweight;

/// The number of stored (kept) values per row of `w`.
static inline int64_t slim_uk_qweight_values(const slim_uk_qweight *w) {
  return w->sparseM > 0 ? w->k / w->sparseM * w->sparseN : w->k;
}

/// The input that kept value j of row n multiplies.
static inline int64_t slim_uk_qweight_input(const slim_uk_qweight *w,
                                            int64_t n, int64_t j) {
  if (w->sparseM <= 0)
    return j;
  return j / w->sparseN * w->sparseM + w->indices[n * w->indicesStride + j];
}

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
/// codes in groups that are multiples of 32 inputs and 8-bit codes run
/// their own byte paths; the other widths (2, 3, 5, 6, 7) and the code-book
/// formats (any width) are unpacked from the bit stream 8 codes at a time
/// (groups of a multiple of 8 inputs); what is left (a ragged last group's
/// end, other group sizes) is exact in scalar code.
void slim_uk_qgemv_f32_avx2(int64_t m, int64_t n0, int64_t n1, const float *a,
                            int64_t lda, const slim_uk_qweight *w, float *c,
                            int64_t ldc, uint32_t flags);

/// AVX-512F (lib/Kernels/x86_64); only call where the CPU has it. 4-bit
/// integer codes pick their group's weights from a 16-entry table
/// (vpermps); 8-bit codes are widened 16 at a time; other widths and
/// code-book formats take the AVX2 variant.
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
/// AVX2 + FMA: 4-bit codes 32 at a time, 8-bit codes 8 at a time, other
/// widths and code books 8 at a time from the bit stream, as in
/// slim_uk_qgemv_f32_avx2.
void slim_uk_qdequant_f32_avx2(int64_t n0, int64_t n1, const slim_uk_qweight *w,
                               float *out, int64_t ldo, uint32_t flags);

//===----------------------------------------------------------------------===//
// The int8-activation path
//===----------------------------------------------------------------------===//
//
// Like llama.cpp's Q4_0 x Q8_0 and onnxruntime's MatMulNBits at accuracy
// level 4, the activations are first rounded to int8 per block of 32
// inputs (d = max |a| / 127, q = nearest(a / d)) so that each code meets
// its activation in an integer dot product (vpmaddubsw / vpdpbusd): C is
//
//   sum over blocks b: scale(g(b)) * d_b * sum_{k in b} (code_k - zp) q_k
//
// computed exactly in integers per block, in f32 across blocks. Against
// the f32-accurate path each block's contribution is off by at most
//
//   |C - C_f32| <= sum_b (d_b / 2) sum_{k in b} |W[n, k]|
//
// (half a step of the activations' rounding; QGemvTest checks it), i.e.
// 1/254 of max|a_b| * sum |W| per block.
//
// The quantized activations (slim_uk_qact_quantize) are laid out for the
// nibble order of the codes, per superblock s of 128 inputs (256 bytes):
//   [0, 64)     int8 q of the even inputs: block j's 16 at [16 j, 16 j + 16)
//               (input 128 s + 32 j + 2 i at byte 16 j + i)
//   [64, 128)   int8 q of the odd inputs, in the same order
//   [128, 192)  f32 lane scales: lane l (0-15) holds d of block l / 4
//   [192, 208)  f32 t_j = d_j * (sum of block j's q), j < 4
//   [208, 256)  zeros
// so that the low nibbles of a row's 64 code bytes [64 s, 64 s + 64) meet
// the even part and the high nibbles the odd part, each 32-bit lane within
// one block; the kernels take the codes' dot products as unsigned and add
// the zero points' part, -zp * scale * t_j, per block. Inputs past K are
// zero. 8-bit codes (one byte each, in input order) meet the same layout
// with their even and odd bytes (AVX2: as signed bytes through vpsignb +
// vpmaddubsw, the activations within +-127); 6-bit codes (32 in 24 bytes)
// are unpacked to such bytes first and multiplied as 16-bit products.

/// Bytes per superblock and per activation row of K inputs.
#define SLIM_UK_QACT_SUPERBLOCK_BYTES 256
static inline int64_t slim_uk_qact_row_bytes(int64_t k) {
  return (k + 127) / 128 * SLIM_UK_QACT_SUPERBLOCK_BYTES;
}

/// Whether the int8-activation kernels take `w`: 4-, 6- or 8-bit integer
/// codes in groups of a multiple of 32 inputs (or one group per output
/// channel).
static inline int slim_uk_qgemv_q8_supported(const slim_uk_qweight *w) {
  return !w->table && w->sparseM <= 0 &&
         (w->bits == 4 || w->bits == 6 || w->bits == 8) &&
         (w->group <= 0 || w->group >= w->k || w->group % 32 == 0);
}

/// Rows a[i * lda, + k) for i < m quantized into out + i * outStride
/// (outStride >= slim_uk_qact_row_bytes(k), a multiple of 64). Portable;
/// every variant of the product reads what it writes.
void slim_uk_qact_quantize_generic(int64_t m, int64_t k, const float *a,
                                   int64_t lda, uint8_t *out,
                                   int64_t outStride);
/// AVX2: the same bytes, 32 inputs a step.
void slim_uk_qact_quantize_avx2(int64_t m, int64_t k, const float *a,
                                int64_t lda, uint8_t *out, int64_t outStride);

/// The same layout for activations quantized per row, as
/// `slim.quantize_activation` to `#slim.quant<i8, channel = 0>` defines it
/// (W4A8 / grouped W8A8, SmoothQuant's activations): scale max|x| / 127
/// (1 for a row of zeros, NaN for a row with a NaN or an infinity), codes
/// x / scale rounded to nearest even and saturated to [-128, 127]; every
/// block of a row gets the row's scale, so the product below computes the
/// reference lowering's result up to f32 rounding. Portable (one division
/// per input, as the definition has it; O(m k), small beside the product).
void slim_uk_qact_quantize_rows_generic(int64_t m, int64_t k, const float *a,
                                        int64_t lda, uint8_t *out,
                                        int64_t outStride);

/// C[i, n] (+)= the int8-activation product above, for i < m, n in [n0,
/// n1), with `act` quantized by slim_uk_qact_quantize (rows actStride
/// bytes apart); `w` must be slim_uk_qgemv_q8_supported. `flags` as for
/// slim_uk_qgemv_f32_*.
void slim_uk_qgemv_q8_f32_generic(int64_t m, int64_t n0, int64_t n1,
                                  const uint8_t *act, int64_t actStride,
                                  const slim_uk_qweight *w, float *c,
                                  int64_t ldc, uint32_t flags);
/// AVX2 (vpmaddubsw + vpmaddwd), 64 codes a step.
void slim_uk_qgemv_q8_f32_avx2(int64_t m, int64_t n0, int64_t n1,
                               const uint8_t *act, int64_t actStride,
                               const slim_uk_qweight *w, float *c, int64_t ldc,
                               uint32_t flags);
/// AVX-512BW (vpmaddubsw + vpmaddwd on zmm), 128 codes a step.
void slim_uk_qgemv_q8_f32_avx512(int64_t m, int64_t n0, int64_t n1,
                                 const uint8_t *act, int64_t actStride,
                                 const slim_uk_qweight *w, float *c,
                                 int64_t ldc, uint32_t flags);
/// AVX-512 VNNI (vpdpbusd), 128 codes a step; only call where the CPU has
/// AVX512_VNNI.
void slim_uk_qgemv_q8_f32_avx512vnni(int64_t m, int64_t n0, int64_t n1,
                                     const uint8_t *act, int64_t actStride,
                                     const slim_uk_qweight *w, float *c,
                                     int64_t ldc, uint32_t flags);

#ifdef __cplusplus
}
#endif

#endif // SLIM_LIB_KERNELS_QGEMV_H
