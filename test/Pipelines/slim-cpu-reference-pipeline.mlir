// RUN: slim-opt %s --slim-cpu-reference-pipeline | FileCheck %s
// RUN: slim-opt %s --slim-cpu-reference-pipeline="lower-to-llvm=false" | FileCheck %s --check-prefix=LOOPS

// The reference pipeline takes Slim IR all the way to the LLVM dialect.

// CHECK-LABEL: llvm.func @matmul_int4
// CHECK-NOT: slim.
// CHECK-NOT: linalg.
// CHECK: llvm.mul
// CHECK: llvm.fmul

// LOOPS-LABEL: func.func @matmul_int4
// LOOPS-SAME: memref<64x32xi8>
// LOOPS: scf.for
// LOOPS: memref.load
// LOOPS-NOT: slim.
func.func @matmul_int4(%codes: tensor<64x32xi8>, %scales: tensor<1x64xf32>, %x: tensor<4x64xf32>) -> tensor<4x64xf32> {
  %w = slim.assemble %codes, %scales : tensor<64x32xi8>, tensor<1x64xf32> -> tensor<64x64xf32, #slim.quant<i4, channel = 1>>
  %y = slim.matmul %x, %w : tensor<4x64xf32>, tensor<64x64xf32, #slim.quant<i4, channel = 1>> -> tensor<4x64xf32>
  return %y : tensor<4x64xf32>
}

// Regression: MLIR 22.1's expand-strided-metadata crashes on the dim of an
// expand_shape with two dynamic sizes in one group (an ONNX [B*S, N] ->
// [B, S, N] reshape); the pipeline resolves such dims first.
// CHECK-LABEL: llvm.func @expand_two_dynamic
// LOOPS-LABEL: func.func @expand_two_dynamic
func.func @expand_two_dynamic(%x: tensor<?x192xf32>, %b: index, %s: index) -> (index, index) {
  %c0 = arith.constant 0 : index
  %c1 = arith.constant 1 : index
  %e = tensor.expand_shape %x [[0, 1], [2]] output_shape [%b, %s, 192] : tensor<?x192xf32> into tensor<?x?x192xf32>
  %m = bufferization.to_buffer %e : tensor<?x?x192xf32> to memref<?x?x192xf32>
  %d0 = memref.dim %m, %c0 : memref<?x?x192xf32>
  %d1 = memref.dim %m, %c1 : memref<?x?x192xf32>
  return %d0, %d1 : index, index
}
