//===- GemmPackedAvx2.cpp - Product with a panel-packed weight, AVX2 + FMA ===//
//
// Part of the Slim project, under the Apache License v2.0 with LLVM Exceptions.
// SPDX-License-Identifier: Apache-2.0 WITH LLVM-exception
//
//===----------------------------------------------------------------------===//
//
// A tile of up to 6 activation rows x one 16-channel panel lives in 12 ymm
// accumulators (slim::avx2::tile, lib/Kernels/x86_64/Avx2.h). Activations
// are read in place (not packed): their rows are short enough to stay in
// L2.
//
// Few rows (decoding): each panel is one sequential run of K x 64 bytes,
// read once for all rows. More rows: a tile of rows sweeps a group of 8
// panels (128 contiguous floats of each output row, which the hardware
// prefetches, where one panel at a time touched a single cache line per
// row of a large C: the LM head of prefill ran 20-25% slower that way),
// over K in equal slices of at most kMaxDepth steps; the group's slices
// (128 KiB) and the block of at most kMaxRowBlock rows (144 KiB) stay in
// L2 while every tile of the block meets them. Compiled for AVX2 + FMA
// with a function attribute; the caller checks the CPU.
//
//===----------------------------------------------------------------------===//

#include "lib/Kernels/GemmPacked.h"
#include "lib/Kernels/x86_64/Avx2.h"

namespace {

using namespace slim::avx2;

constexpr int64_t kPanel = SLIM_PACKED_PANEL;
/// Most rows in one block, and most steps of K in one panel slice.
constexpr int64_t kMaxRowBlock = 24 * kTileRows;
constexpr int64_t kMaxDepth = 256;
/// Panels one tile of rows sweeps before the next: 128 contiguous floats
/// of each output row.
constexpr int64_t kGroup = SLIM_PACKED_GROUP;
/// Up to this many rows, K is not split (one sequential run per panel).
constexpr int64_t kStreamRows = 8;

/// One or two rows against a whole panel (decoding): two sets of
/// accumulators for even and odd steps of K, so that four or eight
/// independent FMA chains hide the FMA latency (two chains left the
/// weight stream about 8 % slower than the [N, K] GEMV kernel).
template <int R>
__attribute__((target("avx2,fma"))) void
stream(int64_t k, const float *a, int64_t lda, const float *b, float *c,
       int64_t ldc, bool load) {
  static_assert(R == 1 || R == 2, "one or two rows");
  __m256 e00 = _mm256_setzero_ps(), e01 = e00, o00 = e00, o01 = e00;
  __m256 e10 = e00, e11 = e00, o10 = e00, o11 = e00;
  int64_t q = 0;
  for (; q + 2 <= k; q += 2) {
    __m256 b0 = _mm256_loadu_ps(b + q * kPanel);
    __m256 b1 = _mm256_loadu_ps(b + q * kPanel + 8);
    __m256 b2 = _mm256_loadu_ps(b + q * kPanel + 16);
    __m256 b3 = _mm256_loadu_ps(b + q * kPanel + 24);
    __m256 x0 = _mm256_broadcast_ss(a + q), y0 = _mm256_broadcast_ss(a + q + 1);
    e00 = _mm256_fmadd_ps(x0, b0, e00);
    e01 = _mm256_fmadd_ps(x0, b1, e01);
    o00 = _mm256_fmadd_ps(y0, b2, o00);
    o01 = _mm256_fmadd_ps(y0, b3, o01);
    if constexpr (R == 2) {
      __m256 x1 = _mm256_broadcast_ss(a + lda + q);
      __m256 y1 = _mm256_broadcast_ss(a + lda + q + 1);
      e10 = _mm256_fmadd_ps(x1, b0, e10);
      e11 = _mm256_fmadd_ps(x1, b1, e11);
      o10 = _mm256_fmadd_ps(y1, b2, o10);
      o11 = _mm256_fmadd_ps(y1, b3, o11);
    }
  }
  if (q < k) {
    __m256 b0 = _mm256_loadu_ps(b + q * kPanel);
    __m256 b1 = _mm256_loadu_ps(b + q * kPanel + 8);
    __m256 x0 = _mm256_broadcast_ss(a + q);
    e00 = _mm256_fmadd_ps(x0, b0, e00);
    e01 = _mm256_fmadd_ps(x0, b1, e01);
    if constexpr (R == 2) {
      __m256 x1 = _mm256_broadcast_ss(a + lda + q);
      e10 = _mm256_fmadd_ps(x1, b0, e10);
      e11 = _mm256_fmadd_ps(x1, b1, e11);
    }
  }
  // (A macro, not a lambda: lambdas do not inherit the target attribute.)
#define SLIM_PUT(TO, EVEN, ODD)                                                \
  {                                                                            \
    __m256 sum = _mm256_add_ps(EVEN, ODD);                                     \
    _mm256_storeu_ps(TO,                                                       \
                     load ? _mm256_add_ps(_mm256_loadu_ps(TO), sum) : sum);    \
  }
  SLIM_PUT(c, e00, o00)
  SLIM_PUT(c + 8, e01, o01)
  if constexpr (R == 2) {
    SLIM_PUT(c + ldc, e10, o10)
    SLIM_PUT(c + ldc + 8, e11, o11)
  }
#undef SLIM_PUT
}

/// Rows [0, m) in tiles of up to kTileRows against one panel slice.
__attribute__((target("avx2,fma"))) void
rows(int64_t m, int64_t kc, const float *a, int64_t lda, const float *b,
     float *c, int64_t ldc, bool load) {
  int64_t i = 0;
  for (; i + kTileRows <= m; i += kTileRows)
    tile<kTileRows>(kc, a + i * lda, lda, b, kPanel, c + i * ldc, ldc, load);
  tileRows(m - i, kc, a + i * lda, lda, b, kPanel, c + i * ldc, ldc, load);
}

} // namespace

extern "C" void slim_uk_gemm_packed_f32_avx2(int64_t m, int64_t p0,
                                             int64_t p1, int64_t k,
                                             const float *a, int64_t lda,
                                             const float *bp, float *c,
                                             int64_t ldc, uint32_t flags) {
  bool accumulate = flags & SLIM_UK_GEMM_ACCUMULATE;
  if (k == 0) {
    // An empty sum: C keeps its values, or is zero.
    for (int64_t i = 0; i < m && !accumulate; ++i)
      for (int64_t j = p0 * kPanel; j < p1 * kPanel; ++j)
        c[i * ldc + j] = 0.0f;
    return;
  }
  if (m <= 2) {
    for (int64_t p = p0; p < p1; ++p) {
      if (m == 1)
        stream<1>(k, a, lda, bp + p * k * kPanel, c + p * kPanel, ldc,
                  accumulate);
      else
        stream<2>(k, a, lda, bp + p * k * kPanel, c + p * kPanel, ldc,
                  accumulate);
    }
    return;
  }
  if (m <= kStreamRows) {
    for (int64_t p = p0; p < p1; ++p)
      rows(m, k, a, lda, bp + p * k * kPanel, c + p * kPanel, ldc, accumulate);
    return;
  }
  // Equal blocks: a short last block would stream the weights once more
  // for a few rows.
  int64_t rowBlocks = (m + kMaxRowBlock - 1) / kMaxRowBlock;
  int64_t rowBlock = (m + rowBlocks - 1) / rowBlocks;
  rowBlock = (rowBlock + kTileRows - 1) / kTileRows * kTileRows;
  int64_t depthBlocks = (k + kMaxDepth - 1) / kMaxDepth;
  int64_t depth = (k + depthBlocks - 1) / depthBlocks;
  for (int64_t g0 = p0; g0 < p1; g0 += kGroup) {
    int64_t g1 = g0 + kGroup < p1 ? g0 + kGroup : p1;
    for (int64_t i0 = 0; i0 < m; i0 += rowBlock) {
      int64_t i1 = m - i0 < rowBlock ? m : i0 + rowBlock;
      for (int64_t k0 = 0; k0 < k; k0 += depth) {
        int64_t kc = k - k0 < depth ? k - k0 : depth;
        // Later slices add to what the first one wrote.
        bool load = accumulate || k0 > 0;
        for (int64_t i = i0; i < i1; i += kTileRows) {
          int64_t r = i1 - i < kTileRows ? i1 - i : kTileRows;
          for (int64_t p = g0; p < g1; ++p)
            rows(r, kc, a + i * lda + k0, lda, bp + (p * k + k0) * kPanel,
                 c + i * ldc + p * kPanel, ldc, load);
        }
      }
    }
  }
}

extern "C" __attribute__((target("avx2,fma"))) void
slim_uk_pack_panel_f32_avx2(const float *rows, int64_t ldr, int64_t k,
                            float *panel) {
  int64_t q = 0;
  for (; q + 8 <= k; q += 8)
    for (int64_t j0 = 0; j0 < kPanel; j0 += 8) {
      const float *r = rows + j0 * ldr + q;
      __m256 r0 = _mm256_loadu_ps(r), r1 = _mm256_loadu_ps(r + ldr),
             r2 = _mm256_loadu_ps(r + 2 * ldr),
             r3 = _mm256_loadu_ps(r + 3 * ldr),
             r4 = _mm256_loadu_ps(r + 4 * ldr),
             r5 = _mm256_loadu_ps(r + 5 * ldr),
             r6 = _mm256_loadu_ps(r + 6 * ldr),
             r7 = _mm256_loadu_ps(r + 7 * ldr);
      __m256 t0 = _mm256_unpacklo_ps(r0, r1), t1 = _mm256_unpackhi_ps(r0, r1),
             t2 = _mm256_unpacklo_ps(r2, r3), t3 = _mm256_unpackhi_ps(r2, r3),
             t4 = _mm256_unpacklo_ps(r4, r5), t5 = _mm256_unpackhi_ps(r4, r5),
             t6 = _mm256_unpacklo_ps(r6, r7), t7 = _mm256_unpackhi_ps(r6, r7);
      __m256 s0 = _mm256_shuffle_ps(t0, t2, 0x44),
             s1 = _mm256_shuffle_ps(t0, t2, 0xee),
             s2 = _mm256_shuffle_ps(t1, t3, 0x44),
             s3 = _mm256_shuffle_ps(t1, t3, 0xee),
             s4 = _mm256_shuffle_ps(t4, t6, 0x44),
             s5 = _mm256_shuffle_ps(t4, t6, 0xee),
             s6 = _mm256_shuffle_ps(t5, t7, 0x44),
             s7 = _mm256_shuffle_ps(t5, t7, 0xee);
      float *o = panel + q * kPanel + j0;
      _mm256_storeu_ps(o, _mm256_permute2f128_ps(s0, s4, 0x20));
      _mm256_storeu_ps(o + kPanel, _mm256_permute2f128_ps(s1, s5, 0x20));
      _mm256_storeu_ps(o + 2 * kPanel, _mm256_permute2f128_ps(s2, s6, 0x20));
      _mm256_storeu_ps(o + 3 * kPanel, _mm256_permute2f128_ps(s3, s7, 0x20));
      _mm256_storeu_ps(o + 4 * kPanel, _mm256_permute2f128_ps(s0, s4, 0x31));
      _mm256_storeu_ps(o + 5 * kPanel, _mm256_permute2f128_ps(s1, s5, 0x31));
      _mm256_storeu_ps(o + 6 * kPanel, _mm256_permute2f128_ps(s2, s6, 0x31));
      _mm256_storeu_ps(o + 7 * kPanel, _mm256_permute2f128_ps(s3, s7, 0x31));
    }
  for (; q < k; ++q)
    for (int64_t j = 0; j < kPanel; ++j)
      panel[q * kPanel + j] = rows[j * ldr + q];
}
