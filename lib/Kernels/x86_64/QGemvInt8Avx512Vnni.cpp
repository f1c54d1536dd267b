//===- QGemvInt8Avx512Vnni.cpp - int8-activation product, AVX-512 VNNI ---===//
//
// Part of the Slim project, under the Apache License v2.0 with LLVM Exceptions.
// SPDX-License-Identifier: Apache-2.0 WITH LLVM-exception
//
//===----------------------------------------------------------------------===//
//
// vpdpbusd: one instruction per 64 byte products (Cascade Lake, Ice Lake,
// Zen 4 and later).
//
//===----------------------------------------------------------------------===//

#define SLIM_Q8_TARGET                                                         \
  __attribute__((                                                              \
      target("avx512f,avx512bw,avx512vl,avx512dq,avx512vnni,avx2,fma,f16c")))
#define SLIM_Q8_VNNI 1
#define SLIM_Q8_NAME slim_uk_qgemv_q8_f32_avx512vnni
#include "lib/Kernels/x86_64/QGemvInt8Avx512.inc"
