// RUN: slim-opt %s --slim-lower-quantized-matmul | FileCheck %s
// RUN: slim-opt %s --slim-lower-quantized-matmul | FileCheck %s --check-prefix=F32
// RUN: slim-opt %s --slim-lower-quantized-matmul=activations=int8 | FileCheck %s --check-prefix=INT8
// RUN: not slim-opt %s --slim-lower-quantized-matmul=activations=int4 2>&1 | FileCheck %s --check-prefix=BAD
// BAD: Cannot find option named 'int4'

// The flags of lib/Runtime/KernelAbi.h: zero points 2, signed 1, int8
// activations 4.
// F32-LABEL: func.func @rows
// F32: %[[FLAGS:.*]] = arith.constant 2 : i32
// F32: call @slim_rt_qmatmul_f32({{.*}}, %[[FLAGS]]) : ({{.*}}, i64, i64, i32) -> ()
// F32-LABEL: func.func @signed_f16
// F32: %[[FLAGS:.*]] = arith.constant 1 : i32
// F32: call @slim_rt_qmatmul_f16({{.*}}, %[[FLAGS]])
// INT8-LABEL: func.func @rows
// INT8: %[[FLAGS:.*]] = arith.constant 6 : i32
// INT8: call @slim_rt_qmatmul_f32({{.*}}, %[[FLAGS]])
// INT8-LABEL: func.func @signed_f16
// INT8: %[[FLAGS:.*]] = arith.constant 5 : i32
// INT8: call @slim_rt_qmatmul_f16({{.*}}, %[[FLAGS]])

// Rows of activations times a 4-bit weight: one kernel call.
// CHECK-LABEL: func.func @rows
// CHECK-NOT: tensor.collapse_shape
// CHECK: memref.alloc(%{{.*}}) : memref<?x32xf32>
// CHECK: call @slim_rt_qmatmul_f32(
// CHECK-NOT: tensor.expand_shape
// CHECK: return
func.func @rows(%x: tensor<?x64xf32>, %codes: tensor<32x32xi8>, %scales: tensor<32x2xf32>, %zp: tensor<32x2xi8>) -> tensor<?x32xf32> {
  %w = slim.assemble %codes, %scales, %zp : tensor<32x32xi8>, tensor<32x2xf32>, tensor<32x2xi8> -> tensor<32x64xf32, #slim.quant<ui4, group = 32, axis = 1, zero_point>>
  %y = slim.matmul %x, %w transpose_rhs : tensor<?x64xf32>, tensor<32x64xf32, #slim.quant<ui4, group = 32, axis = 1, zero_point>> -> tensor<?x32xf32>
  return %y : tensor<?x32xf32>
}

// Signed codes without zero points, f16 scales per output channel.
// CHECK-LABEL: func.func @signed_f16
// CHECK: call @slim_rt_qmatmul_f16(
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
// CHECK: memref.alloc(%[[N]]) : memref<?x32xf32>
// CHECK: call @slim_rt_qmatmul_f32(
// CHECK: %[[FLAT:.*]] = bufferization.to_tensor %{{.*}} : memref<?x32xf32> to tensor<?x32xf32>
// CHECK: tensor.expand_shape %[[FLAT]] {{\[\[}}0, 1], [2]] output_shape [%{{.*}}, %{{.*}}, 32] : tensor<?x32xf32> into tensor<?x?x32xf32>
func.func @batch_sequence(%x: tensor<?x?x64xf32>, %codes: tensor<32x32xi8>, %scales: tensor<32x2xf32>, %zp: tensor<32x2xi8>) -> tensor<?x?x32xf32> {
  %w = slim.assemble %codes, %scales, %zp : tensor<32x32xi8>, tensor<32x2xf32>, tensor<32x2xi8> -> tensor<32x64xf32, #slim.quant<ui4, group = 32, axis = 1, zero_point>>
  %y = slim.matmul %x, %w transpose_rhs : tensor<?x?x64xf32>, tensor<32x64xf32, #slim.quant<ui4, group = 32, axis = 1, zero_point>> -> tensor<?x?x32xf32>
  return %y : tensor<?x?x32xf32>
}

// A weight used without transpose_rhs is left to the reference lowering.
// CHECK-LABEL: func.func @not_transposed
// CHECK-NOT: call @slim_rt_qmatmul
// CHECK: slim.matmul
func.func @not_transposed(%x: tensor<4x32xf32>, %codes: tensor<32x32xi8>, %scales: tensor<32x2xf32>, %zp: tensor<32x2xi8>) -> tensor<4x64xf32> {
  %w = slim.assemble %codes, %scales, %zp : tensor<32x32xi8>, tensor<32x2xf32>, tensor<32x2xi8> -> tensor<32x64xf32, #slim.quant<ui4, group = 32, axis = 1, zero_point>>
  %y = slim.matmul %x, %w : tensor<4x32xf32>, tensor<32x64xf32, #slim.quant<ui4, group = 32, axis = 1, zero_point>> -> tensor<4x64xf32>
  return %y : tensor<4x64xf32>
}
