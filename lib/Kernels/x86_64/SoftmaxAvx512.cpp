//===- SoftmaxAvx512.cpp - Row-wise f32 softmax, AVX-512 ------------------===//
//
// Part of the Slim project, under the Apache License v2.0 with LLVM Exceptions.
// SPDX-License-Identifier: Apache-2.0 WITH LLVM-exception
//
//===----------------------------------------------------------------------===//
//
// The AVX2 kernel's three passes over each row in L1, 16 lanes at a time
// with the row's tail in masked loads and stores
// (slim::avx512::softmaxRow, lib/Kernels/x86_64/Avx512.h).
//
//===----------------------------------------------------------------------===//

#include "lib/Kernels/Softmax.h"
#include "lib/Kernels/x86_64/Avx512.h"

extern "C" void slim_uk_softmax_f32_avx512(int64_t rows, int64_t n,
                                           const float *in, int64_t ldin,
                                           float *out, int64_t ldout) {
  for (int64_t i = 0; i < rows; ++i)
    slim::avx512::softmaxRow(n, in + i * ldin, out + i * ldout);
}
