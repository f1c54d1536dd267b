//===- GemmPackedAvx512.cpp - Product with a panel-packed weight, AVX-512 -===//
//
// Part of the Slim project, under the Apache License v2.0 with LLVM Exceptions.
// SPDX-License-Identifier: Apache-2.0 WITH LLVM-exception
//
//===----------------------------------------------------------------------===//
//
// The AVX2 kernel's schedule (GemmPackedAvx2.cpp) with AVX-512's wider and
// more registers: one 16-channel panel is one zmm, and a tile of up to 12
// activation rows x two panels lives in 24 zmm accumulators
// (slim::avx512::tile, lib/Kernels/x86_64/Avx512.h), so every weight value
// loaded from cache meets 12 rows where the AVX2 tile meets 6.
//
// One or two rows (decoding) go to the AVX2 kernel's weight stream; up to
// 12 rows each panel is one sequential run of K x 64 bytes, read once for
// all rows. More rows: a tile of rows sweeps
// a group of 8 panels (128 contiguous floats of each output row) over K in
// equal slices of at most kMaxDepth steps, in blocks of at most
// kMaxRowBlock rows, as in the AVX2 kernel. Compiled for AVX-512F with a
// function attribute; the caller checks the CPU.
//
//===----------------------------------------------------------------------===//

#include "lib/Kernels/GemmPacked.h"
#include "lib/Kernels/x86_64/Avx512.h"

namespace {

using namespace slim::avx512;

constexpr int64_t kPanel = SLIM_PACKED_PANEL;
/// Most rows in one block, and most steps of K in one panel slice.
constexpr int64_t kMaxRowBlock = 12 * kTileRows;
constexpr int64_t kMaxDepth = 256;
/// Panels one tile of rows sweeps before the next.
constexpr int64_t kGroup = SLIM_PACKED_GROUP;
/// Up to this many rows, K is not split (one sequential run per panel).
constexpr int64_t kStreamRows = kTileRows;

} // namespace

extern "C" void slim_uk_gemm_packed_f32_avx512(int64_t m, int64_t p0,
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
  int64_t ldp = k * kPanel;
  if (m <= 2) {
    // A weight stream from memory, which AVX-512 does not make faster: the
    // AVX2 code's streams ran 3-4 % faster on the LM head (every CPU with
    // AVX-512F has AVX2 and FMA).
    slim_uk_gemm_packed_f32_avx2(m, p0, p1, k, a, lda, bp, c, ldc, flags);
    return;
  }
  if (m <= kStreamRows) {
    for (int64_t p = p0; p < p1; ++p)
      tileRows<1>(m, k, a, lda, bp + p * ldp, kPanel, ldp, c + p * kPanel,
                  ldc, accumulate);
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
          const float *ai = a + i * lda + k0;
          float *ci = c + i * ldc;
          int64_t p = g0;
          for (; p + 2 <= g1; p += 2) {
            const float *b = bp + p * ldp + k0 * kPanel;
            if (r == kTileRows)
              tile<kTileRows, 2>(kc, ai, lda, b, kPanel, ldp, ci + p * kPanel,
                                 ldc, load);
            else
              tileRows<2>(r, kc, ai, lda, b, kPanel, ldp, ci + p * kPanel,
                          ldc, load);
          }
          if (p < g1)
            tileRows<1>(r, kc, ai, lda, bp + p * ldp + k0 * kPanel, kPanel,
                        ldp, ci + p * kPanel, ldc, load);
        }
      }
    }
  }
}
