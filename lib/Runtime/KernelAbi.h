//===- KernelAbi.h - Calls compiled models make into model support -*- C
//-*-===//
//
// Part of the Slim project, under the Apache License v2.0 with LLVM Exceptions.
// SPDX-License-Identifier: Apache-2.0 WITH LLVM-exception
//
//===----------------------------------------------------------------------===//
//
// What the compiler (passes/Transforms) and the model-support archive
// (lib/Runtime/ModelSupport.cpp) agree on for the kernel calls the passes
// emit: names, argument order and flag bits, in one place both include.
//
//===----------------------------------------------------------------------===//

#ifndef SLIM_LIB_RUNTIME_KERNELABI_H
#define SLIM_LIB_RUNTIME_KERNELABI_H

#include <stdint.h>

// --slim-lower-quantized-matmul, through slim.ukernel (--slim-lower-ukernels:
// the inputs in order, then the outputs):
//
//   slim_rt_qmatmul_<f32|f16|bf16>(x, codes, scales, bits, group, flags, y)
//   slim_rt_qmatmul_zp_<f32|f16|bf16>(x, codes, scales, zero_points, bits,
//                                     group, flags, y)
//   slim_rt_qmatmul_lut_<f32|f16|bf16>(x, codes, scales, table, bits,
//                                      group, flags, y)
//   slim_rt_qmatmul_sparse[_zp]_<f32|f16|bf16>(x, codes, scales,
//                                     [zero_points,] indices, bits, group,
//                                     sparse_n, sparse_m, flags, y)
//   slim_rt_qmatmul_sparse_lut_<f32|f16|bf16>(x, codes, scales, indices,
//                                     table, bits, group, sparse_n,
//                                     sparse_m, flags, y)
//   slim_rt_qmatmul_w8a8_<f32|f16|bf16>(x, codes, scales, y)
//
// MLIR C-interface calls (`_mlir_ciface_` prefix, memrefs by descriptor):
// x memref<?x?xf32> (M x K activations), codes memref<?x?xi8> (N x packed
// bytes), scales memref<?x?x{f32,f16,bf16}> (N x groups, the suffix), zero
// points memref<?x?xi8> (N x groups, `_zp_` only), bits and group i64
// (group 0: one per output channel), flags i32 of the bits below, y
// memref<?x?xf32> (M x N, every element written, none read).
//
// `_lut_` is a code-book format (nf4, e4m3, e5m2, e2m1, lutN): the weight
// is table[code] * scale, with table memref<?xf32> the value of each of the
// 2^bits codes (lutN's code book, or the compiler's constant for the fixed
// formats); the codes are unsigned indices, there are no zero points and
// SLIM_RT_QMATMUL_SIGNED is not set.
//
// `_sparse_` is an N:M structured sparse weight along K
// (`#slim.compressed<[#slim.sparse<n:m, axis = 1>, #slim.quant<...>]>`):
// codes, scales and zero points describe the kept values (N x K n/m,
// groups counted in kept values, `group` 0: one per output channel),
// indices memref<?x?xi8> (N x K n/m) each kept value's position in its run
// of m inputs; sparse_n and sparse_m are n and m (i64). `_sparse_lut_` is
// the same with kept values in a code-book format, the table as for
// `_lut_`.
//
// `_w8a8_` is SmoothQuant's W8A8: x is the f32 input of the
// slim.quantize_activation to #slim.quant<i8, channel = 0> the product
// reads, quantized per row by the kernel exactly as that op defines; the
// codes are signed, symmetric 8-bit with scales N x 1.

/// Codes (and zero points) are two's-complement signed.
#define SLIM_RT_QMATMUL_SIGNED 1u
/// Few-row products may round the activations to int8 per block of 32
/// (lib/Kernels/QGemv.h states the error bound); without it every product
/// is f32-accurate.
#define SLIM_RT_QMATMUL_INT8_ACTIVATIONS 2u
/// x is the f32 input of a slim.quantize_activation to
/// #slim.quant<i8, channel = 0> the product reads (SmoothQuant's W4A8 and
/// grouped W8A8): the kernel quantizes each row as that op defines and
/// multiplies the int8 rows by the codes in integers, for any row count.
#define SLIM_RT_QMATMUL_ROW_INT8_ACTIVATIONS 4u
/// `_lut_` only: the table is the OCP FP8 E4M3 (`fn`) / E5M2 decoding of
/// 8-bit codes (the kernels may compute the values from the bits).
#define SLIM_RT_QMATMUL_TABLE_E4M3 8u
#define SLIM_RT_QMATMUL_TABLE_E5M2 16u

// Run-time errors of compiled code (lib/Runtime/ModelSupport.cpp):
//
//   slim_rt_check_failed(site, value0, value1)   (slim.assert, lowered by
//       --convert-slim-to-linalg; `site` indexes the NUL-separated messages
//       of the model's `slim_check_messages` global)
//   _mlir_memref_to_llvm_alloc / _aligned_alloc / _free
//       (finalize-memref-to-llvm{use-generic-functions=1})
//
// stop the run started by
//
//   int32_t slim_rt_run(void (*entry)(void **), void **args,
//                       SlimRtError *error)
//
// which calls `entry(args)` (a model's slim_entry) and returns 0, or 1 with
// `error` describing the failed check or allocation (value0: the bytes
// requested) after freeing the buffers the run had allocated.

#define SLIM_RT_ERROR_NONE 0
#define SLIM_RT_ERROR_CHECK 1
#define SLIM_RT_ERROR_ALLOCATION 2

typedef struct SlimRtError {
  int32_t kind;
  int64_t site;
  int64_t value0;
  int64_t value1;
} SlimRtError;

#ifdef __cplusplus
extern "C" {
#endif
void slim_rt_check_failed(int64_t site, int64_t value0, int64_t value1);
int32_t slim_rt_run(void (*entry)(void **), void **args, SlimRtError *error);
#ifdef __cplusplus
}
#endif

#endif // SLIM_LIB_RUNTIME_KERNELABI_H
