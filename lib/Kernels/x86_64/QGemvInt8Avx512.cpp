//===- QGemvInt8Avx512.cpp - int8-activation product, AVX-512BW ----------===//
//
// Part of the Slim project, under the Apache License v2.0 with LLVM Exceptions.
// SPDX-License-Identifier: Apache-2.0 WITH LLVM-exception
//
//===----------------------------------------------------------------------===//
//
// vpmaddubsw + vpmaddwd: for AVX-512 CPUs without VNNI (Skylake-X).
//
//===----------------------------------------------------------------------===//

#define SLIM_Q8_TARGET                                                         \
  __attribute__((target("avx512f,avx512bw,avx512vl,avx512dq,avx2,fma,f16c")))
#define SLIM_Q8_VNNI 0
#define SLIM_Q8_NAME slim_uk_qgemv_q8_f32_avx512
#include "lib/Kernels/x86_64/QGemvInt8Avx512.inc"
