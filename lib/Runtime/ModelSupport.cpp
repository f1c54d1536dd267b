//===- ModelSupport.cpp - Functions compiled models call ------------------===//
//
// Part of the Slim project, under the Apache License v2.0 with LLVM Exceptions.
// SPDX-License-Identifier: Apache-2.0 WITH LLVM-exception
//
//===----------------------------------------------------------------------===//
//
// Linked into every model.so by slimc (position-independent static archive):
// the GEMMs `--slim-lower-matmul-to-blas` calls (oneDNN's sgemm), through
// MLIR's C interface for memrefs, the strided copy memref.copy needs, the
// thread-count hook the runtime calls, and the calibration observer hook.
//
//===----------------------------------------------------------------------===//

#include "mlir/ExecutionEngine/CRunnerUtils.h"

#include <dnnl.h>
#include <omp.h>

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <vector>

namespace {

/// C += A * B for one [M, K] x [K, N] slice with unit inner strides, in
/// oneDNN's JIT-compiled sgemm (it picks AVX-512/AVX2 kernels for the CPU
/// and handles the GEMV shapes of one-token decoding well).
void sgemm(int64_t m, int64_t n, int64_t k, const float *a, int64_t lda,
           const float *b, int64_t ldb, float *c, int64_t ldc) {
  if (m == 0 || n == 0 || k == 0)
    return;
  // Leading dimensions must cover a row even for a single row.
  lda = std::max<int64_t>(lda, std::max<int64_t>(k, 1));
  ldb = std::max<int64_t>(ldb, std::max<int64_t>(n, 1));
  ldc = std::max<int64_t>(ldc, std::max<int64_t>(n, 1));
  dnnl_sgemm('N', 'N', m, n, k, 1.0f, a, lda, b, ldb, 1.0f, c, ldc);
}

} // namespace

extern "C" {

void _mlir_ciface_slim_rt_sgemm(StridedMemRefType<float, 2> *a,
                                StridedMemRefType<float, 2> *b,
                                StridedMemRefType<float, 2> *c) {
  sgemm(a->sizes[0], b->sizes[1], a->sizes[1], a->data + a->offset,
        a->strides[0], b->data + b->offset, b->strides[0],
        c->data + c->offset, c->strides[0]);
}

void _mlir_ciface_slim_rt_sgemm_batched(StridedMemRefType<float, 3> *a,
                                        StridedMemRefType<float, 3> *b,
                                        StridedMemRefType<float, 3> *c) {
  for (int64_t i = 0; i < a->sizes[0]; ++i)
    sgemm(a->sizes[1], b->sizes[2], a->sizes[2],
          a->data + a->offset + i * a->strides[0], a->strides[1],
          b->data + b->offset + i * b->strides[0], b->strides[1],
          c->data + c->offset + i * c->strides[0], c->strides[1]);
}

/// The strided copy finalize-memref-to-llvm emits for memref.copy of
/// non-contiguous memrefs (the same symbol MLIR's runner utilities define,
/// so models need no MLIR library at run time).
void memrefCopy(int64_t elemSize, UnrankedMemRefType<char> *src,
                UnrankedMemRefType<char> *dst) {
  int64_t rank = src->rank;
  auto *s = static_cast<int64_t *>(src->descriptor);
  auto *d = static_cast<int64_t *>(dst->descriptor);
  const char *sBase = reinterpret_cast<const char *>(s[1]) + s[2] * elemSize;
  char *dBase = reinterpret_cast<char *>(d[1]) + d[2] * elemSize;
  const int64_t *sizes = s + 3, *sStrides = s + 3 + rank,
                *dStrides = d + 3 + rank;
  int64_t total = 1;
  for (int64_t r = 0; r < rank; ++r)
    total *= sizes[r];
  if (total == 0)
    return;
  std::vector<int64_t> index(rank, 0);
  for (int64_t n = 0; n < total; ++n) {
    int64_t so = 0, dof = 0;
    for (int64_t r = 0; r < rank; ++r) {
      so += index[r] * sStrides[r];
      dof += index[r] * dStrides[r];
    }
    std::memcpy(dBase + dof * elemSize, sBase + so * elemSize, elemSize);
    for (int64_t r = rank - 1; r >= 0; --r) {
      if (++index[r] < sizes[r])
        break;
      index[r] = 0;
    }
  }
}

void slim_rt_set_num_threads(int threads) { omp_set_num_threads(threads); }

/// Calibration (models compiled with `--slim-calibrate`): the observer the
/// runtime installs, called by `slim_rt_observe` at each observation point.
typedef void (*slim_observer_fn)(void *user, int32_t point, const float *rows,
                                 int64_t num_rows, int64_t channels,
                                 int64_t row_stride);
static slim_observer_fn observer = nullptr;
static void *observerUser = nullptr;

void slim_rt_set_observer(slim_observer_fn fn, void *user) {
  observer = fn;
  observerUser = user;
}

void _mlir_ciface_slim_rt_observe(int64_t point,
                                  StridedMemRefType<float, 2> *x) {
  if (!observer)
    return;
  int64_t rows = x->sizes[0], cols = x->sizes[1];
  const float *base = x->data + x->offset;
  if (x->strides[1] == 1) {
    observer(observerUser, static_cast<int32_t>(point), base, rows, cols,
             x->strides[0]);
    return;
  }
  // A strided view: hand over a contiguous copy.
  std::vector<float> copy(rows * cols);
  for (int64_t r = 0; r < rows; ++r)
    for (int64_t c = 0; c < cols; ++c)
      copy[r * cols + c] = base[r * x->strides[0] + c * x->strides[1]];
  observer(observerUser, static_cast<int32_t>(point), copy.data(), rows, cols,
           cols);
}

} // extern "C"
