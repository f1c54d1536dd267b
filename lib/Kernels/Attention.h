//===- Attention.h - Fused f32 attention for a block of query rows -*- C -*-===//
//
// Part of the Slim project, under the Apache License v2.0 with LLVM Exceptions.
// SPDX-License-Identifier: Apache-2.0 WITH LLVM-exception
//
//===----------------------------------------------------------------------===//
//
// O = softmax(scale * Q K^T + mask) V for up to SLIM_ATTENTION_ROWS query
// rows of one head group, without the score tensor in memory: each row's
// scores live in `scratch` (rows x round_up(t, 16) floats) while the
// softmax and the product by V read them. Q is [rows, d], K [t, d], V
// [t, dv], O [rows, dv], each row contiguous, `ldX` floats apart; mask row
// i is `mask[i]`, element j at mask[i][j * maskStride] (no mask: null).
//
// A key whose mask is -inf scores -inf whatever Q K^T is (the product is
// skipped: causal masks halve prefill's attention work); a row whose
// scores are all -inf (or all NaN) gives NaN, as linalg.softmax does. The
// softmax follows linalg.softmax's decomposition (maximum ignoring NaN,
// exp of the difference, division by the sum).
//
// ukernel rules: plain C ABI, no allocation, no threads, no globals. Each
// ISA variant is tested against the reference.
//
//===----------------------------------------------------------------------===//

#ifndef SLIM_LIB_KERNELS_ATTENTION_H
#define SLIM_LIB_KERNELS_ATTENTION_H

#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/// The most query rows one call handles (the AVX-512 variant: twice as
/// many, SLIM_ATTENTION_ROWS_AVX512).
#define SLIM_ATTENTION_ROWS 6
#define SLIM_ATTENTION_ROWS_AVX512 12
/// Keys per panel of the packed K.
#define SLIM_ATTENTION_PANEL 16

/// K [t, d] as round_up(t, 16) / 16 panels of [d, 16] (keys past t zero),
/// for kernels that read K packed: round_up(t, 16) * d floats.
void slim_uk_attention_pack_k_f32(int64_t t, int64_t d, const float *k,
                                  int64_t ldk, float *kp);

/// Portable reference (lib/Kernels/generic); `kp` is not read.
void slim_uk_attention_f32_generic(int64_t rows, int64_t t, int64_t d,
                                   int64_t dv, const float *q, int64_t ldq,
                                   const float *k, int64_t ldk,
                                   const float *kp, const float *v,
                                   int64_t ldv, const float *const *mask,
                                   int64_t maskStride, float scale, float *o,
                                   int64_t ldo, float *scratch);

/// AVX2 + FMA (lib/Kernels/x86_64); only call where the CPU has both. With
/// `kp` (K packed as above) the scores are 6 x 16 tiles of the packed
/// GEMM's kernel; without, dot products of each row with each key (for a
/// few rows, where packing K would cost as much as the product).
void slim_uk_attention_f32_avx2(int64_t rows, int64_t t, int64_t d,
                                int64_t dv, const float *q, int64_t ldq,
                                const float *k, int64_t ldk, const float *kp,
                                const float *v, int64_t ldv,
                                const float *const *mask, int64_t maskStride,
                                float scale, float *o, int64_t ldo,
                                float *scratch);

/// AVX-512F (lib/Kernels/x86_64); only call where the CPU has it. Up to
/// SLIM_ATTENTION_ROWS_AVX512 rows per call; the scores are 12 x 16 tiles
/// of the packed K, or dot products without it, as in the AVX2 variant.
void slim_uk_attention_f32_avx512(int64_t rows, int64_t t, int64_t d,
                                  int64_t dv, const float *q, int64_t ldq,
                                  const float *k, int64_t ldk,
                                  const float *kp, const float *v,
                                  int64_t ldv, const float *const *mask,
                                  int64_t maskStride, float scale, float *o,
                                  int64_t ldo, float *scratch);

#ifdef __cplusplus
}
#endif

#endif // SLIM_LIB_KERNELS_ATTENTION_H
