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
