// RUN: slim-opt %s --canonicalize | FileCheck %s

// CHECK-LABEL: func.func @disassemble_of_assemble
// CHECK-SAME: (%[[C:.*]]: tensor<64x32xi8>, %[[S:.*]]: tensor<1x64xf32>)
// CHECK-NOT: slim.
// CHECK: return %[[C]], %[[S]]
func.func @disassemble_of_assemble(%c: tensor<64x32xi8>, %s: tensor<1x64xf32>) -> (tensor<64x32xi8>, tensor<1x64xf32>) {
  %w = slim.assemble %c, %s : tensor<64x32xi8>, tensor<1x64xf32> -> tensor<64x64xf32, #slim.quant<i4, channel = 1>>
  %a, %b = slim.disassemble %w : tensor<64x64xf32, #slim.quant<i4, channel = 1>> -> tensor<64x32xi8>, tensor<1x64xf32>
  return %a, %b : tensor<64x32xi8>, tensor<1x64xf32>
}

// Storage of a different (more static) type is not folded.
// CHECK-LABEL: func.func @disassemble_of_assemble_type_change
// CHECK: slim.assemble
// CHECK: slim.disassemble
func.func @disassemble_of_assemble_type_change(%v: tensor<37xf32>, %r: tensor<17xi32>, %c: tensor<37xi32>)
    -> (tensor<?xf32>, tensor<17xi32>, tensor<?xi32>) {
  %w = slim.assemble %v, %r, %c : tensor<37xf32>, tensor<17xi32>, tensor<37xi32> -> tensor<16x32xf32, #slim.sparse<unstructured>>
  %a, %b, %d = slim.disassemble %w : tensor<16x32xf32, #slim.sparse<unstructured>> -> tensor<?xf32>, tensor<17xi32>, tensor<?xi32>
  return %a, %b, %d : tensor<?xf32>, tensor<17xi32>, tensor<?xi32>
}

// Unused slim ops are pure and disappear.
// CHECK-LABEL: func.func @dead_dequantize
// CHECK-NOT: slim.dequantize
func.func @dead_dequantize(%w: tensor<64x64xf32, #slim.quant<i4, channel = 1>>) {
  %d = slim.dequantize %w : tensor<64x64xf32, #slim.quant<i4, channel = 1>> -> tensor<64x64xf32>
  return
}
