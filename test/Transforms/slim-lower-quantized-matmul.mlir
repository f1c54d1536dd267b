// RUN: slim-opt %s --slim-lower-quantized-matmul | FileCheck %s
// RUN: slim-opt %s --slim-lower-quantized-matmul | FileCheck %s --check-prefix=F32
// RUN: slim-opt %s --slim-lower-quantized-matmul=activations=int8 | FileCheck %s --check-prefix=INT8
// RUN: not slim-opt %s --slim-lower-quantized-matmul=activations=int4 2>&1 | FileCheck %s --check-prefix=BAD
// BAD: Cannot find option named 'int4'

// RUN: slim-opt %s --slim-lower-quantized-matmul=report-fallbacks 2>&1 | FileCheck %s --check-prefix=REMARK
// RUN: slim-opt %s --slim-lower-quantized-matmul --convert-slim-to-linalg --one-shot-bufferize=bufferize-function-boundaries --slim-lower-ukernels | FileCheck %s --check-prefix=CALL

// The flags of lib/Runtime/KernelAbi.h: signed 1, int8 activations 2.
// F32-LABEL: func.func @rows
// F32: %[[FLAGS:.*]] = arith.constant 0 : i32
// F32: slim.ukernel "slim_rt_qmatmul_zp_f32" ins({{.*}}, %[[FLAGS]] : {{.*}}, i64, i64, i32)
// F32-LABEL: func.func @signed_f16
// F32: %[[FLAGS:.*]] = arith.constant 1 : i32
// F32: slim.ukernel "slim_rt_qmatmul_f16" ins({{.*}}, %[[FLAGS]] :
// INT8-LABEL: func.func @rows
// INT8: %[[FLAGS:.*]] = arith.constant 2 : i32
// INT8: slim.ukernel "slim_rt_qmatmul_zp_f32" ins({{.*}}, %[[FLAGS]] :
// INT8-LABEL: func.func @signed_f16
// INT8: %[[FLAGS:.*]] = arith.constant 3 : i32
// INT8: slim.ukernel "slim_rt_qmatmul_f16" ins({{.*}}, %[[FLAGS]] :

// Why a compressed product keeps the reference lowering.
// REMARK: remark: reference lowering: slim_rt_qmatmul: the weight is not used transposed

// After bufferization: the buffer of the tensor.empty destination is the
// call's last argument; storage is passed in place.
// CALL-DAG: func.func private @slim_rt_qmatmul_zp_f32(memref<?x?xf32, strided<[?, ?], offset: ?>>, memref<?x?xi8, strided<[?, ?], offset: ?>>, memref<?x?xf32, strided<[?, ?], offset: ?>>, memref<?x?xi8, strided<[?, ?], offset: ?>>, i64, i64, i32, memref<?x?xf32, strided<[?, ?], offset: ?>>) attributes {llvm.emit_c_interface}
// CALL-DAG: func.func private @slim_rt_qmatmul_f16(
// CALL-DAG: func.func private @slim_rt_qmatmul_sparse_f16(memref<?x?xf32, strided<[?, ?], offset: ?>>, memref<?x?xi8, strided<[?, ?], offset: ?>>, memref<?x?xf16, strided<[?, ?], offset: ?>>, memref<?x?xi8, strided<[?, ?], offset: ?>>, i64, i64, i64, i64, i32, memref<?x?xf32, strided<[?, ?], offset: ?>>)
// CALL-DAG: func.func private @slim_rt_qmatmul_lut_f16(memref<?x?xf32, strided<[?, ?], offset: ?>>, memref<?x?xi8, strided<[?, ?], offset: ?>>, memref<?x?xf16, strided<[?, ?], offset: ?>>, memref<?xf32, strided<[?], offset: ?>>, i64, i64, i32, memref<?x?xf32, strided<[?, ?], offset: ?>>)
// CALL-LABEL: func.func @rows(
// CALL: %[[OUT:.*]] = memref.alloc(%{{.*}}) {{.*}}: memref<?x32xf32>
// CALL: %[[CAST:.*]] = memref.cast %[[OUT]] : memref<?x32xf32> to memref<?x?xf32, strided<[?, ?], offset: ?>>
// CALL: call @slim_rt_qmatmul_zp_f32(%{{.*}}, %{{.*}}, %{{.*}}, %{{.*}}, %c4_i64, %c32_i64, %c0_i32, %[[CAST]])
// CALL-NOT: slim.ukernel
// CALL: return %[[OUT]]

// Rows of activations times a 4-bit weight: one kernel call.
// CHECK-LABEL: func.func @rows
// CHECK-NOT: tensor.collapse_shape
// CHECK: %[[INIT:.*]] = tensor.empty(%{{.*}}) : tensor<?x32xf32>
// CHECK: %[[Y:.*]] = slim.ukernel "slim_rt_qmatmul_zp_f32" ins(%arg0, %arg1, %arg2, %arg3, %{{.*}}, %{{.*}}, %{{.*}} : tensor<?x64xf32>, tensor<32x32xi8>, tensor<32x2xf32>, tensor<32x2xi8>, i64, i64, i32) outs(%[[INIT]] : tensor<?x32xf32>) -> tensor<?x32xf32>
// CHECK-NOT: tensor.expand_shape
// CHECK: return %[[Y]]
func.func @rows(%x: tensor<?x64xf32>, %codes: tensor<32x32xi8>, %scales: tensor<32x2xf32>, %zp: tensor<32x2xi8>) -> tensor<?x32xf32> {
  %w = slim.assemble %codes, %scales, %zp : tensor<32x32xi8>, tensor<32x2xf32>, tensor<32x2xi8> -> tensor<32x64xf32, #slim.quant<ui4, group = 32, axis = 1, zero_point>>
  %y = slim.matmul %x, %w transpose_rhs : tensor<?x64xf32>, tensor<32x64xf32, #slim.quant<ui4, group = 32, axis = 1, zero_point>> -> tensor<?x32xf32>
  return %y : tensor<?x32xf32>
}

// Signed codes without zero points, f16 scales per output channel.
// CHECK-LABEL: func.func @signed_f16
// CHECK: slim.ukernel "slim_rt_qmatmul_f16" ins(%arg0, %arg1, %arg2, %{{.*}}, %{{.*}}, %{{.*}} : tensor<?x64xf32>, tensor<32x32xi8>, tensor<32x1xf16>, i64, i64, i32)
func.func @signed_f16(%x: tensor<?x64xf32>, %codes: tensor<32x32xi8>, %scales: tensor<32x1xf16>) -> tensor<?x32xf32> {
  %w = slim.assemble %codes, %scales : tensor<32x32xi8>, tensor<32x1xf16> -> tensor<32x64xf32, #slim.quant<i4, channel = 0, scale = f16>>
  %y = slim.matmul %x, %w transpose_rhs : tensor<?x64xf32>, tensor<32x64xf32, #slim.quant<i4, channel = 0, scale = f16>> -> tensor<?x32xf32>
  return %y : tensor<?x32xf32>
}

// [batch, sequence, K] activations, as an imported MatMulNBits keeps them:
// collapsed into rows for the kernel, the result expanded back.
// CHECK-LABEL: func.func @batch_sequence
// CHECK: %[[ROWS:.*]] = tensor.collapse_shape %arg0 {{\[\[}}0, 1], [2]] : tensor<?x?x64xf32> into tensor<?x64xf32>
// CHECK: %[[N:.*]] = tensor.dim %[[ROWS]], %c0
// CHECK: %[[INIT:.*]] = tensor.empty(%[[N]]) : tensor<?x32xf32>
// CHECK: %[[FLAT:.*]] = slim.ukernel "slim_rt_qmatmul_zp_f32" ins(%[[ROWS]], {{.*}}) outs(%[[INIT]] : tensor<?x32xf32>)
// CHECK: tensor.expand_shape %[[FLAT]] {{\[\[}}0, 1], [2]] output_shape [%{{.*}}, %{{.*}}, 32] : tensor<?x32xf32> into tensor<?x?x32xf32>
func.func @batch_sequence(%x: tensor<?x?x64xf32>, %codes: tensor<32x32xi8>, %scales: tensor<32x2xf32>, %zp: tensor<32x2xi8>) -> tensor<?x?x32xf32> {
  %w = slim.assemble %codes, %scales, %zp : tensor<32x32xi8>, tensor<32x2xf32>, tensor<32x2xi8> -> tensor<32x64xf32, #slim.quant<ui4, group = 32, axis = 1, zero_point>>
  %y = slim.matmul %x, %w transpose_rhs : tensor<?x?x64xf32>, tensor<32x64xf32, #slim.quant<ui4, group = 32, axis = 1, zero_point>> -> tensor<?x?x32xf32>
  return %y : tensor<?x?x32xf32>
}

// A weight used without transpose_rhs is left to the reference lowering.
// CHECK-LABEL: func.func @not_transposed
// CHECK-NOT: slim.ukernel
// CHECK: slim.matmul
func.func @not_transposed(%x: tensor<4x32xf32>, %codes: tensor<32x32xi8>, %scales: tensor<32x2xf32>, %zp: tensor<32x2xi8>) -> tensor<4x64xf32> {
  %w = slim.assemble %codes, %scales, %zp : tensor<32x32xi8>, tensor<32x2xf32>, tensor<32x2xi8> -> tensor<32x64xf32, #slim.quant<ui4, group = 32, axis = 1, zero_point>>
  %y = slim.matmul %x, %w : tensor<4x32xf32>, tensor<32x64xf32, #slim.quant<ui4, group = 32, axis = 1, zero_point>> -> tensor<4x64xf32>
  return %y : tensor<4x64xf32>
}

// 2:4 runs along N (axis 0 of the N x K weight) have no CPU kernel: the
// reference lowering, with the reason.
// REMARK: remark: reference lowering: slim_rt_qmatmul: the N:M runs are not along K (axis 1 of the N x K weight)
// CHECK-LABEL: func.func @composed
// CHECK-NOT: slim.ukernel
// CHECK: slim.matmul
func.func @composed(%x: tensor<4x128xf32>, %w: tensor<256x128xf32, #slim.compressed<[#slim.sparse<2:4, axis = 0>, #slim.quant<i4, channel = 1>], residual = #slim.lowrank<rank = 16>>>) -> tensor<4x256xf32> {
  %y = slim.matmul %x, %w transpose_rhs : tensor<4x128xf32>, tensor<256x128xf32, #slim.compressed<[#slim.sparse<2:4, axis = 0>, #slim.quant<i4, channel = 1>], residual = #slim.lowrank<rank = 16>>> -> tensor<4x256xf32>
  return %y : tensor<4x256xf32>
}

// SmoothQuant's W8A8: the kernel reads the f32 input of the per-row
// activation quantization (it quantizes the rows itself, as the op defines)
// and the signed 8-bit codes with their per-channel scales.
// CHECK-LABEL: func.func @w8a8
// CHECK-NOT: slim.quantize_activation
// CHECK: %[[Y:.*]] = slim.ukernel "slim_rt_qmatmul_w8a8_f32" ins(%arg0, %arg1, %arg2 : tensor<?x64xf32>, tensor<32x64xi8>, tensor<32x1xf32>) outs(%{{.*}} : tensor<?x32xf32>) -> tensor<?x32xf32>
// CHECK: return %[[Y]]
func.func @w8a8(%x: tensor<?x64xf32>, %codes: tensor<32x64xi8>, %scales: tensor<32x1xf32>) -> tensor<?x32xf32> {
  %w = slim.assemble %codes, %scales : tensor<32x64xi8>, tensor<32x1xf32> -> tensor<32x64xf32, #slim.quant<i8, channel = 0>>
  %q = slim.quantize_activation %x : tensor<?x64xf32> -> tensor<?x64xf32, #slim.quant<i8, channel = 0>>
  %y = slim.matmul %q, %w transpose_rhs : tensor<?x64xf32, #slim.quant<i8, channel = 0>>, tensor<32x64xf32, #slim.quant<i8, channel = 0>> -> tensor<?x32xf32>
  return %y : tensor<?x32xf32>
}

// W4A8 (SmoothQuant with 4-bit weights): the int8-activation kernel on the
// f32 input, flagged to quantize per row as slim.quantize_activation does
// (flags 4 | signed 1); the int8 option of decoding does not change it.
// CHECK-LABEL: func.func @w4a8
// CHECK-NOT: slim.quantize_activation
// CHECK: %[[FLAGS:.*]] = arith.constant 5 : i32
// CHECK: slim.ukernel "slim_rt_qmatmul_f32" ins(%arg0, %arg1, %arg2, %{{.*}}, %{{.*}}, %[[FLAGS]] :
// INT8-LABEL: func.func @w4a8
// INT8: arith.constant 5 : i32
func.func @w4a8(%x: tensor<?x64xf32>, %codes: tensor<32x32xi8>, %scales: tensor<32x1xf32>) -> tensor<?x32xf32> {
  %w = slim.assemble %codes, %scales : tensor<32x32xi8>, tensor<32x1xf32> -> tensor<32x64xf32, #slim.quant<i4, channel = 0>>
  %q = slim.quantize_activation %x : tensor<?x64xf32> -> tensor<?x64xf32, #slim.quant<i8, channel = 0>>
  %y = slim.matmul %q, %w transpose_rhs : tensor<?x64xf32, #slim.quant<i8, channel = 0>>, tensor<32x64xf32, #slim.quant<i4, channel = 0>> -> tensor<?x32xf32>
  return %y : tensor<?x32xf32>
}

// Code-book formats: the table of 2^N values follows codes and scales, a
// constant with the decoded values for nf4 (its first and last entries
// -1 and 1), lut3's own code book from the storage; signed flag off.
// CHECK-LABEL: func.func @nf4
// CHECK: %[[TABLE:.*]] = arith.constant dense<[-1.000000e+00, {{.*}}, 1.000000e+00]> : tensor<16xf32>
// CHECK: slim.ukernel "slim_rt_qmatmul_lut_f16" ins(%arg0, %arg1, %arg2, %[[TABLE]], %{{.*}}, %{{.*}}, %{{.*}} : tensor<?x64xf32>, tensor<32x32xi8>, tensor<32x2xf16>, tensor<16xf32>, i64, i64, i32)
// F32-LABEL: func.func @nf4
// F32: %[[FLAGS:.*]] = arith.constant 0 : i32
// F32: slim.ukernel "slim_rt_qmatmul_lut_f16" ins({{.*}}, %[[FLAGS]] :
func.func @nf4(%x: tensor<?x64xf32>, %codes: tensor<32x32xi8>, %scales: tensor<32x2xf16>) -> tensor<?x32xf32> {
  %w = slim.assemble %codes, %scales : tensor<32x32xi8>, tensor<32x2xf16> -> tensor<32x64xf32, #slim.quant<nf4, group = 32, axis = 1, scale = f16>>
  %y = slim.matmul %x, %w transpose_rhs : tensor<?x64xf32>, tensor<32x64xf32, #slim.quant<nf4, group = 32, axis = 1, scale = f16>> -> tensor<?x32xf32>
  return %y : tensor<?x32xf32>
}

// CHECK-LABEL: func.func @lut3
// CHECK: slim.ukernel "slim_rt_qmatmul_lut_f32" ins(%arg0, %arg1, %arg2, %arg3, %{{.*}}, %{{.*}}, %{{.*}} : tensor<?x64xf32>, tensor<32x24xi8>, tensor<32x1xf32>, tensor<8xf32>, i64, i64, i32)
func.func @lut3(%x: tensor<?x64xf32>, %codes: tensor<32x24xi8>, %scales: tensor<32x1xf32>, %book: tensor<8xf32>) -> tensor<?x32xf32> {
  %w = slim.assemble %codes, %scales, %book : tensor<32x24xi8>, tensor<32x1xf32>, tensor<8xf32> -> tensor<32x64xf32, #slim.quant<lut3, channel = 0>>
  %y = slim.matmul %x, %w transpose_rhs : tensor<?x64xf32>, tensor<32x64xf32, #slim.quant<lut3, channel = 0>> -> tensor<?x32xf32>
  return %y : tensor<?x32xf32>
}

// A 3-bit weight has no integer kernel: every row says why.
// REMARK: remark: reference lowering: slim_rt_qmatmul: the activation is not a dense f32 tensor; slim_rt_qmatmul_w8a8: the weight is not signed, symmetric 8-bit; slim_rt_qmatmul (int8 rows): the weight's codes are not 4- or 8-bit integers
// CHECK-LABEL: func.func @w3a8
// CHECK-NOT: slim.ukernel
func.func @w3a8(%x: tensor<?x64xf32>, %codes: tensor<32x24xi8>, %scales: tensor<32x1xf32>) -> tensor<?x32xf32> {
  %w = slim.assemble %codes, %scales : tensor<32x24xi8>, tensor<32x1xf32> -> tensor<32x64xf32, #slim.quant<i3, channel = 0>>
  %q = slim.quantize_activation %x : tensor<?x64xf32> -> tensor<?x64xf32, #slim.quant<i8, channel = 0>>
  %y = slim.matmul %q, %w transpose_rhs : tensor<?x64xf32, #slim.quant<i8, channel = 0>>, tensor<32x64xf32, #slim.quant<i3, channel = 0>> -> tensor<?x32xf32>
  return %y : tensor<?x32xf32>
}

// 2:4 runs along K under signed 4-bit codes in groups of 16 kept values:
// the sparse entry, codes, scales and indices, then bits, group, n, m and
// the flags.
// CHECK-LABEL: func.func @sparse24
// CHECK: %[[BITS:.*]] = arith.constant 4 : i64
// CHECK: %[[GROUP:.*]] = arith.constant 16 : i64
// CHECK: %[[N:.*]] = arith.constant 2 : i64
// CHECK: %[[M:.*]] = arith.constant 4 : i64
// CHECK: %[[FLAGS:.*]] = arith.constant 1 : i32
// CHECK: slim.ukernel "slim_rt_qmatmul_sparse_f16" ins(%arg0, %arg1, %arg2, %arg3, %[[BITS]], %[[GROUP]], %[[N]], %[[M]], %[[FLAGS]] : tensor<?x64xf32>, tensor<32x16xi8>, tensor<32x2xf16>, tensor<32x32xi8>, i64, i64, i64, i64, i32)
func.func @sparse24(%x: tensor<?x64xf32>, %codes: tensor<32x16xi8>, %scales: tensor<32x2xf16>, %indices: tensor<32x32xi8>) -> tensor<?x32xf32> {
  %w = slim.assemble %codes, %scales, %indices : tensor<32x16xi8>, tensor<32x2xf16>, tensor<32x32xi8> -> tensor<32x64xf32, #slim.compressed<[#slim.sparse<2:4, axis = 1>, #slim.quant<i4, group = 16, axis = 1, scale = f16>]>>
  %y = slim.matmul %x, %w transpose_rhs : tensor<?x64xf32>, tensor<32x64xf32, #slim.compressed<[#slim.sparse<2:4, axis = 1>, #slim.quant<i4, group = 16, axis = 1, scale = f16>]>> -> tensor<?x32xf32>
  return %y : tensor<?x32xf32>
}

// FP8 code books: the table constant plus a flag that lets the kernels
// decode the codes from their bits (e4m3 8, e5m2 16).
// CHECK-LABEL: func.func @e4m3
// CHECK: %[[FLAGS:.*]] = arith.constant 8 : i32
// CHECK: slim.ukernel "slim_rt_qmatmul_lut_f32" ins(%arg0, %arg1, %arg2, %{{.*}}, %{{.*}}, %{{.*}}, %[[FLAGS]] : tensor<?x64xf32>, tensor<32x64xi8>, tensor<32x1xf32>, tensor<256xf32>, i64, i64, i32)
func.func @e4m3(%x: tensor<?x64xf32>, %codes: tensor<32x64xi8>, %scales: tensor<32x1xf32>) -> tensor<?x32xf32> {
  %w = slim.assemble %codes, %scales : tensor<32x64xi8>, tensor<32x1xf32> -> tensor<32x64xf32, #slim.quant<e4m3, channel = 0>>
  %y = slim.matmul %x, %w transpose_rhs : tensor<?x64xf32>, tensor<32x64xf32, #slim.quant<e4m3, channel = 0>> -> tensor<?x32xf32>
  return %y : tensor<?x32xf32>
}
