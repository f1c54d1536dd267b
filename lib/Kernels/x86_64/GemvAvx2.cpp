//===- GemvAvx2.cpp - Few-row product with an [N, K] weight, AVX2 + FMA ---===//
//
// Part of the Slim project, under the Apache License v2.0 with LLVM Exceptions.
// SPDX-License-Identifier: Apache-2.0 WITH LLVM-exception
//
//===----------------------------------------------------------------------===//
//
// Every weight row streams from memory once and meets every activation row
// in registers, so the weight, the only large operand, is read at memory
// bandwidth: rows of up to 1024 elements one at a time (one sequential
// stream), longer rows four at a time (4 x M accumulators). Compiled for
// AVX2 + FMA with a function attribute; the caller checks the CPU.
//
//===----------------------------------------------------------------------===//

#include "lib/Kernels/Gemv.h"

#include <immintrin.h>

namespace {

__attribute__((target("avx2,fma"))) inline float hsum(__m256 v) {
  __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
  s = _mm_add_ps(s, _mm_movehl_ps(s, s));
  s = _mm_add_ss(s, _mm_movehdup_ps(s));
  return _mm_cvtss_f32(s);
}

template <int M>
__attribute__((target("avx2,fma"))) void
block(int64_t n0, int64_t n1, int64_t k, const float *a, int64_t lda,
      const float *b, int64_t ldb, float *c, int64_t ldc) {
  int64_t n = n0;
  int64_t k8 = k & ~int64_t(7);
  for (; n + 4 <= n1; n += 4) {
    const float *w0 = b + n * ldb, *w1 = w0 + ldb, *w2 = w1 + ldb,
                *w3 = w2 + ldb;
    __m256 acc[M][4];
    for (int i = 0; i < M; ++i)
      for (int j = 0; j < 4; ++j)
        acc[i][j] = _mm256_setzero_ps();
    for (int64_t j = 0; j < k8; j += 8) {
      __m256 v0 = _mm256_loadu_ps(w0 + j), v1 = _mm256_loadu_ps(w1 + j),
             v2 = _mm256_loadu_ps(w2 + j), v3 = _mm256_loadu_ps(w3 + j);
      for (int i = 0; i < M; ++i) {
        __m256 x = _mm256_loadu_ps(a + i * lda + j);
        acc[i][0] = _mm256_fmadd_ps(v0, x, acc[i][0]);
        acc[i][1] = _mm256_fmadd_ps(v1, x, acc[i][1]);
        acc[i][2] = _mm256_fmadd_ps(v2, x, acc[i][2]);
        acc[i][3] = _mm256_fmadd_ps(v3, x, acc[i][3]);
      }
    }
    for (int i = 0; i < M; ++i) {
      const float *x = a + i * lda;
      float r[4] = {hsum(acc[i][0]), hsum(acc[i][1]), hsum(acc[i][2]),
                    hsum(acc[i][3])};
      for (int64_t j = k8; j < k; ++j) {
        r[0] += x[j] * w0[j];
        r[1] += x[j] * w1[j];
        r[2] += x[j] * w2[j];
        r[3] += x[j] * w3[j];
      }
      for (int q = 0; q < 4; ++q)
        c[i * ldc + n + q] += r[q];
    }
  }
  for (; n < n1; ++n) {
    const float *w = b + n * ldb;
    for (int i = 0; i < M; ++i) {
      const float *x = a + i * lda;
      __m256 acc = _mm256_setzero_ps();
      for (int64_t j = 0; j < k8; j += 8)
        acc = _mm256_fmadd_ps(_mm256_loadu_ps(w + j), _mm256_loadu_ps(x + j), acc);
      float r = hsum(acc);
      for (int64_t j = k8; j < k; ++j)
        r += x[j] * w[j];
      c[i * ldc + n] += r;
    }
  }
}

/// Short rows (k <= kRowwiseMaxK): one weight row at a time, so that the
/// weights are read as one sequential stream. Four rows read side by side
/// are four streams of 36 cache lines each for k = 576, too short for the
/// hardware prefetcher: measured on an AVX2 EPYC with 2 threads, 12-16 GB/s
/// that way against 18.5 GB/s row by row for every k = 576 shape of
/// SmolLM2 (the LM head 7.1 -> 6.1 ms); for k = 1536 the four streams are
/// faster (21.5 against 18.6 GB/s).
constexpr int64_t kRowwiseMaxK = 1024;

template <int M>
__attribute__((target("avx2,fma"))) void
rowwise(int64_t n0, int64_t n1, int64_t k, const float *a, int64_t lda,
        const float *b, int64_t ldb, float *c, int64_t ldc) {
  // Two accumulators per activation row (four for a single row) hide the
  // FMA latency.
  constexpr int kAcc = M == 1 ? 4 : 2;
  constexpr int64_t kStep = 8 * kAcc;
  int64_t kMain = k - k % kStep, k8 = k & ~int64_t(7);
  for (int64_t n = n0; n < n1; ++n) {
    const float *w = b + n * ldb;
    __m256 acc[M][kAcc];
    for (int i = 0; i < M; ++i)
      for (int q = 0; q < kAcc; ++q)
        acc[i][q] = _mm256_setzero_ps();
    for (int64_t j = 0; j < kMain; j += kStep) {
      __m256 v[kAcc];
      for (int q = 0; q < kAcc; ++q)
        v[q] = _mm256_loadu_ps(w + j + 8 * q);
      for (int i = 0; i < M; ++i)
        for (int q = 0; q < kAcc; ++q)
          acc[i][q] = _mm256_fmadd_ps(
              v[q], _mm256_loadu_ps(a + i * lda + j + 8 * q), acc[i][q]);
    }
    for (int64_t j = kMain; j < k8; j += 8) {
      __m256 v = _mm256_loadu_ps(w + j);
      for (int i = 0; i < M; ++i)
        acc[i][0] =
            _mm256_fmadd_ps(v, _mm256_loadu_ps(a + i * lda + j), acc[i][0]);
    }
    for (int i = 0; i < M; ++i) {
      __m256 sum = acc[i][0];
      for (int q = 1; q < kAcc; ++q)
        sum = _mm256_add_ps(sum, acc[i][q]);
      float r = hsum(sum);
      const float *x = a + i * lda;
      for (int64_t j = k8; j < k; ++j)
        r += x[j] * w[j];
      c[i * ldc + n] += r;
    }
  }
}

template <int M>
__attribute__((target("avx2,fma"))) void
rows(int64_t n0, int64_t n1, int64_t k, const float *a, int64_t lda,
     const float *b, int64_t ldb, float *c, int64_t ldc) {
  if (k <= kRowwiseMaxK)
    return rowwise<M>(n0, n1, k, a, lda, b, ldb, c, ldc);
  return block<M>(n0, n1, k, a, lda, b, ldb, c, ldc);
}

} // namespace

extern "C" void slim_uk_gemv_nt_f32_avx2(int64_t m, int64_t n0, int64_t n1,
                                         int64_t k, const float *a,
                                         int64_t lda, const float *b,
                                         int64_t ldb, float *c, int64_t ldc) {
  switch (m) {
  case 1:
    return rows<1>(n0, n1, k, a, lda, b, ldb, c, ldc);
  case 2:
    return rows<2>(n0, n1, k, a, lda, b, ldb, c, ldc);
  case 3:
    return rows<3>(n0, n1, k, a, lda, b, ldb, c, ldc);
  case 4:
    return rows<4>(n0, n1, k, a, lda, b, ldb, c, ldc);
  default:
    // More rows than one call takes: callers split them.
    for (int64_t i = 0; i < m; i += SLIM_GEMV_MAX_ROWS) {
      int64_t rows = m - i < SLIM_GEMV_MAX_ROWS ? m - i : SLIM_GEMV_MAX_ROWS;
      slim_uk_gemv_nt_f32_avx2(rows, n0, n1, k, a + i * lda, lda, b, ldb,
                               c + i * ldc, ldc);
    }
  }
}
