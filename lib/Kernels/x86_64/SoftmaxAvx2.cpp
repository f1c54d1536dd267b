//===- SoftmaxAvx2.cpp - Row-wise f32 softmax, AVX2 + FMA -----------------===//
//
// Part of the Slim project, under the Apache License v2.0 with LLVM Exceptions.
// SPDX-License-Identifier: Apache-2.0 WITH LLVM-exception
//
//===----------------------------------------------------------------------===//
//
// Eight lanes at a time: a max pass, an exp-and-sum pass that writes the
// exponentials, and a scaling pass, over one row while it is in L1
// (slim::avx2::softmaxRow, lib/Kernels/x86_64/Avx2.h).
//
//===----------------------------------------------------------------------===//

#include "lib/Kernels/Softmax.h"
#include "lib/Kernels/x86_64/Avx2.h"

extern "C" void slim_uk_softmax_f32_avx2(int64_t rows, int64_t n,
                                         const float *in, int64_t ldin,
                                         float *out, int64_t ldout) {
  for (int64_t i = 0; i < rows; ++i)
    slim::avx2::softmaxRow(n, in + i * ldin, out + i * ldout);
}
