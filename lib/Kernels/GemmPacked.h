//===- GemmPacked.h - f32 products with a panel-packed weight ----*- C -*-===//
//
// Part of the Slim project, under the Apache License v2.0 with LLVM Exceptions.
// SPDX-License-Identifier: Apache-2.0 WITH LLVM-exception
//
//===----------------------------------------------------------------------===//
//
// The kernels of dense products with a constant weight B[N, K], stored as
// N / 16 panels of 16 output channels each, panel p holding B[16 p + j, k]
// at bp[(p * K + k) * 16 + j]: `--slim-fold-transposes` writes this layout
// into the weights file at compile time (docs/Compile.md). One layout for
// every row count: decoding streams each panel once as one sequential run,
// prefill keeps a panel slice in L1 while every activation row meets it.
//
// C[i, 16 p + j] (+)= sum_k A[i, k] B[16 p + j, k] for i < m, p in
// [p0, p1), j < 16: the product accumulates into C with
// SLIM_UK_GEMM_ACCUMULATE in `flags`, and overwrites it without (C is then
// never read: no zero-filling beforehand). ukernel rules: plain C ABI, no allocation, no threads, no
// globals; the caller splits [0, N / 16) across threads. Each ISA variant
// is tested against the reference.
//
//===----------------------------------------------------------------------===//

#ifndef SLIM_LIB_KERNELS_GEMMPACKED_H
#define SLIM_LIB_KERNELS_GEMMPACKED_H

#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/// Output channels per panel.
#define SLIM_PACKED_PANEL 16
/// Panels the AVX2 kernel's row tiles sweep together in prefill (ranges of
/// whole groups keep that sweep intact).
#define SLIM_PACKED_GROUP 8

/// `flags` bit: C += A B (without it, C = A B).
#define SLIM_UK_GEMM_ACCUMULATE 1u

/// Portable reference (lib/Kernels/generic).
void slim_uk_gemm_packed_f32_generic(int64_t m, int64_t p0, int64_t p1,
                                     int64_t k, const float *a, int64_t lda,
                                     const float *bp, float *c, int64_t ldc,
                                     uint32_t flags);

/// AVX2 + FMA (lib/Kernels/x86_64); only call where the CPU has both.
void slim_uk_gemm_packed_f32_avx2(int64_t m, int64_t p0, int64_t p1,
                                  int64_t k, const float *a, int64_t lda,
                                  const float *bp, float *c, int64_t ldc,
                                  uint32_t flags);

/// AVX-512F (lib/Kernels/x86_64); only call where the CPU has it (and
/// AVX2 + FMA, which every such CPU has: one or two rows take the AVX2
/// kernel's path).
void slim_uk_gemm_packed_f32_avx512(int64_t m, int64_t p0, int64_t p1,
                                    int64_t k, const float *a, int64_t lda,
                                    const float *bp, float *c, int64_t ldc,
                                    uint32_t flags);

/// One panel of the layout above from 16 row-major rows: panel[q * 16 + j]
/// = rows[j * ldr + q] for j < 16, q < k (for weights packed at run time,
/// e.g. dequantized tiles of a quantized weight).
void slim_uk_pack_panel_f32_generic(const float *rows, int64_t ldr, int64_t k,
                                    float *panel);
/// AVX2: 8 x 8 register transposes.
void slim_uk_pack_panel_f32_avx2(const float *rows, int64_t ldr, int64_t k,
                                 float *panel);

#ifdef __cplusplus
}
#endif

#endif // SLIM_LIB_KERNELS_GEMMPACKED_H
