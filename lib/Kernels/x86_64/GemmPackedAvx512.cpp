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
// Up to 12 rows (decoding, short prompts) each panel is one sequential run
// of K x 64 bytes, read once for all rows. More rows: a tile of rows sweeps
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

/// One or two rows against a whole panel (decoding): four independent FMA
/// chains (four steps of K for one row, two for two rows) hide the FMA
/// latency while the panel streams in.
template <int R>
SLIM_AVX512_TARGET void stream(int64_t k, const float *a, int64_t lda,
                               const float *b, float *c, int64_t ldc,
                               bool load) {
  static_assert(R == 1 || R == 2, "one or two rows");
  __m512 s0 = _mm512_setzero_ps(), s1 = s0, s2 = s0, s3 = s0;
  int64_t q = 0;
  if constexpr (R == 1) {
    for (; q + 4 <= k; q += 4) {
      s0 = _mm512_fmadd_ps(_mm512_set1_ps(a[q]),
                           _mm512_loadu_ps(b + q * kPanel), s0);
      s1 = _mm512_fmadd_ps(_mm512_set1_ps(a[q + 1]),
                           _mm512_loadu_ps(b + (q + 1) * kPanel), s1);
      s2 = _mm512_fmadd_ps(_mm512_set1_ps(a[q + 2]),
                           _mm512_loadu_ps(b + (q + 2) * kPanel), s2);
      s3 = _mm512_fmadd_ps(_mm512_set1_ps(a[q + 3]),
                           _mm512_loadu_ps(b + (q + 3) * kPanel), s3);
    }
    for (; q < k; ++q)
      s0 = _mm512_fmadd_ps(_mm512_set1_ps(a[q]),
                           _mm512_loadu_ps(b + q * kPanel), s0);
    __m512 sum = _mm512_add_ps(_mm512_add_ps(s0, s1), _mm512_add_ps(s2, s3));
    _mm512_storeu_ps(c, load ? _mm512_add_ps(_mm512_loadu_ps(c), sum) : sum);
  } else {
    // s0/s1: row 0 at even/odd steps, s2/s3: row 1.
    for (; q + 2 <= k; q += 2) {
      __m512 b0 = _mm512_loadu_ps(b + q * kPanel);
      __m512 b1 = _mm512_loadu_ps(b + (q + 1) * kPanel);
      s0 = _mm512_fmadd_ps(_mm512_set1_ps(a[q]), b0, s0);
      s1 = _mm512_fmadd_ps(_mm512_set1_ps(a[q + 1]), b1, s1);
      s2 = _mm512_fmadd_ps(_mm512_set1_ps(a[lda + q]), b0, s2);
      s3 = _mm512_fmadd_ps(_mm512_set1_ps(a[lda + q + 1]), b1, s3);
    }
    if (q < k) {
      __m512 b0 = _mm512_loadu_ps(b + q * kPanel);
      s0 = _mm512_fmadd_ps(_mm512_set1_ps(a[q]), b0, s0);
      s2 = _mm512_fmadd_ps(_mm512_set1_ps(a[lda + q]), b0, s2);
    }
    __m512 r0 = _mm512_add_ps(s0, s1), r1 = _mm512_add_ps(s2, s3);
    _mm512_storeu_ps(c, load ? _mm512_add_ps(_mm512_loadu_ps(c), r0) : r0);
    _mm512_storeu_ps(c + ldc, load ? _mm512_add_ps(_mm512_loadu_ps(c + ldc), r1)
                                   : r1);
  }
}

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
    for (int64_t p = p0; p < p1; ++p) {
      if (m == 1)
        stream<1>(k, a, lda, bp + p * ldp, c + p * kPanel, ldc, accumulate);
      else
        stream<2>(k, a, lda, bp + p * ldp, c + p * kPanel, ldc, accumulate);
    }
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
