// RUN: slim-opt %s --slim-fuse-sibling-matmuls --canonicalize -split-input-file | FileCheck %s

// Two products of %x by f32 constants [K, N]: one product by the weights
// side by side ([[1, 2], [3, 4]] and [[5], [6]] -> [[1, 2, 5], [3, 4, 6]]),
// each result a slice of its columns.
// CHECK-LABEL: func.func @dense
// CHECK-SAME: (%[[X:.*]]: tensor<?x2xf32>)
// CHECK-DAG: %[[W:.*]] = arith.constant dense_resource<joined_weight> : tensor<2x3xf32>
// CHECK: %[[Y:.*]] = linalg.matmul ins(%[[X]], %[[W]] : tensor<?x2xf32>, tensor<2x3xf32>)
// CHECK-NOT: linalg.matmul
// CHECK-DAG: tensor.extract_slice %[[Y]][0, 0] [%{{.*}}, 2] [1, 1] : tensor<?x3xf32> to tensor<?x2xf32>
// CHECK-DAG: tensor.extract_slice %[[Y]][0, 2] [%{{.*}}, 1] [1, 1] : tensor<?x3xf32> to tensor<?x1xf32>
func.func @dense(%x: tensor<?x2xf32>) -> (tensor<?x2xf32>, tensor<?x1xf32>) {
  %c0 = arith.constant 0 : index
  %zero = arith.constant 0.0 : f32
  %m = tensor.dim %x, %c0 : tensor<?x2xf32>
  %w1 = arith.constant dense<[[1.0, 2.0], [3.0, 4.0]]> : tensor<2x2xf32>
  %w2 = arith.constant dense<[[5.0], [6.0]]> : tensor<2x1xf32>
  %e1 = tensor.empty(%m) : tensor<?x2xf32>
  %f1 = linalg.fill ins(%zero : f32) outs(%e1 : tensor<?x2xf32>) -> tensor<?x2xf32>
  %y1 = linalg.matmul ins(%x, %w1 : tensor<?x2xf32>, tensor<2x2xf32>) outs(%f1 : tensor<?x2xf32>) -> tensor<?x2xf32>
  %e2 = tensor.empty(%m) : tensor<?x1xf32>
  %f2 = linalg.fill ins(%zero : f32) outs(%e2 : tensor<?x1xf32>) -> tensor<?x1xf32>
  %y2 = linalg.matmul ins(%x, %w2 : tensor<?x2xf32>, tensor<2x1xf32>) outs(%f2 : tensor<?x1xf32>) -> tensor<?x1xf32>
  return %y1, %y2 : tensor<?x2xf32>, tensor<?x1xf32>
}

// The blob: alignment 64, then 1 2 5 3 4 6 as f32.
// CHECK: joined_weight: "0x400000000000803F000000400000A0400000404000008040
// CHECK-SAME: 0000C040"

// -----

// Products that do not share everything stay apart: another activation, a
// weight that is not a constant, an accumulating init, elided data.
// CHECK-LABEL: func.func @apart
// CHECK-COUNT-5: linalg.matmul
// CHECK-NOT: extract_slice
func.func @apart(%x: tensor<4x2xf32>, %x2: tensor<4x2xf32>, %w: tensor<2x2xf32>, %acc: tensor<4x2xf32>)
    -> (tensor<4x2xf32>, tensor<4x2xf32>, tensor<4x2xf32>, tensor<4x2xf32>, tensor<4x2xf32>) {
  %zero = arith.constant 0.0 : f32
  %w1 = arith.constant dense<[[1.0, 2.0], [3.0, 4.0]]> : tensor<2x2xf32>
  %w3 = arith.constant dense_resource<__elided__> : tensor<2x2xf32>
  %e = tensor.empty() : tensor<4x2xf32>
  %f = linalg.fill ins(%zero : f32) outs(%e : tensor<4x2xf32>) -> tensor<4x2xf32>
  %y1 = linalg.matmul ins(%x, %w1 : tensor<4x2xf32>, tensor<2x2xf32>) outs(%f : tensor<4x2xf32>) -> tensor<4x2xf32>
  %y2 = linalg.matmul ins(%x2, %w1 : tensor<4x2xf32>, tensor<2x2xf32>) outs(%f : tensor<4x2xf32>) -> tensor<4x2xf32>
  %y3 = linalg.matmul ins(%x, %w : tensor<4x2xf32>, tensor<2x2xf32>) outs(%f : tensor<4x2xf32>) -> tensor<4x2xf32>
  %y4 = linalg.matmul ins(%x, %w3 : tensor<4x2xf32>, tensor<2x2xf32>) outs(%f : tensor<4x2xf32>) -> tensor<4x2xf32>
  %y5 = linalg.matmul ins(%x, %w1 : tensor<4x2xf32>, tensor<2x2xf32>) outs(%acc : tensor<4x2xf32>) -> tensor<4x2xf32>
  return %y1, %y2, %y3, %y4, %y5 : tensor<4x2xf32>, tensor<4x2xf32>, tensor<4x2xf32>, tensor<4x2xf32>, tensor<4x2xf32>
}

// -----

// Quantized weights of one encoding (4-bit codes, groups of 2, f16 scales
// and zero points) stacked along the output channels: codes, scales and
// zero points each one tensor, the activation of rank 3 (an imported
// MatMulNBits) sliced along its last dimension; the splat zero points
// written out.
// CHECK-LABEL: func.func @quantized
// CHECK-SAME: (%[[X:.*]]: tensor<?x?x4xf32>)
// CHECK-DAG: %[[C:.*]] = arith.constant dense_resource<joined_codes> : tensor<3x2xi8>
// CHECK-DAG: %[[S:.*]] = arith.constant dense_resource<joined_scales> : tensor<3x2xf16>
// CHECK-DAG: %[[Z:.*]] = arith.constant dense_resource<joined_zero_points> : tensor<3x2xi8>
// CHECK: %[[W:.*]] = slim.assemble %[[C]], %[[S]], %[[Z]] : tensor<3x2xi8>, tensor<3x2xf16>, tensor<3x2xi8> -> tensor<3x4xf32, #slim.quant<ui4, group = 2, axis = 1, scale = f16, zero_point>>
// CHECK: %[[Y:.*]] = slim.matmul %[[X]], %[[W]] transpose_rhs : tensor<?x?x4xf32>, {{.*}} -> tensor<?x?x3xf32>
// CHECK-DAG: tensor.extract_slice %[[Y]][0, 0, 0] [%{{.*}}, %{{.*}}, 2] [1, 1, 1] : tensor<?x?x3xf32> to tensor<?x?x2xf32>
// CHECK-DAG: tensor.extract_slice %[[Y]][0, 0, 2] [%{{.*}}, %{{.*}}, 1] [1, 1, 1] : tensor<?x?x3xf32> to tensor<?x?x1xf32>
// CHECK-DAG: joined_codes: "0x40000000111221223132"
// CHECK-DAG: joined_zero_points: "0x40000000080808080707"
!w2 = tensor<2x4xf32, #slim.quant<ui4, group = 2, axis = 1, scale = f16, zero_point>>
!w1 = tensor<1x4xf32, #slim.quant<ui4, group = 2, axis = 1, scale = f16, zero_point>>
func.func @quantized(%x: tensor<?x?x4xf32>) -> (tensor<?x?x2xf32>, tensor<?x?x1xf32>) {
  %c1 = arith.constant dense<[[17, 18], [33, 34]]> : tensor<2x2xi8>
  %s1 = arith.constant dense<[[1.0, 2.0], [3.0, 4.0]]> : tensor<2x2xf16>
  %z1 = arith.constant dense<8> : tensor<2x2xi8>
  %a1 = slim.assemble %c1, %s1, %z1 : tensor<2x2xi8>, tensor<2x2xf16>, tensor<2x2xi8> -> !w2
  %y1 = slim.matmul %x, %a1 transpose_rhs : tensor<?x?x4xf32>, !w2 -> tensor<?x?x2xf32>
  %c2 = arith.constant dense<[[49, 50]]> : tensor<1x2xi8>
  %s2 = arith.constant dense<[[5.0, 6.0]]> : tensor<1x2xf16>
  %z2 = arith.constant dense<7> : tensor<1x2xi8>
  %a2 = slim.assemble %c2, %s2, %z2 : tensor<1x2xi8>, tensor<1x2xf16>, tensor<1x2xi8> -> !w1
  %y2 = slim.matmul %x, %a2 transpose_rhs : tensor<?x?x4xf32>, !w1 -> tensor<?x?x1xf32>
  return %y1, %y2 : tensor<?x?x2xf32>, tensor<?x?x1xf32>
}

// -----

// Other encodings (groups of 2 and of 4) stay apart, and so does a
// product of the weight not transposed.
// CHECK-LABEL: func.func @other_encodings
// CHECK-COUNT-3: slim.matmul
// CHECK-NOT: extract_slice
!g2 = tensor<2x4xf32, #slim.quant<ui4, group = 2, axis = 1, scale = f16, zero_point>>
!g4 = tensor<2x4xf32, #slim.quant<ui4, group = 4, axis = 1, scale = f16, zero_point>>
!t2 = tensor<4x2xf32, #slim.quant<ui4, group = 2, axis = 0, scale = f16, zero_point>>
func.func @other_encodings(%x: tensor<3x4xf32>) -> (tensor<3x2xf32>, tensor<3x2xf32>, tensor<3x2xf32>) {
  %c = arith.constant dense<[[17, 18], [33, 34]]> : tensor<2x2xi8>
  %s2 = arith.constant dense<[[1.0, 2.0], [3.0, 4.0]]> : tensor<2x2xf16>
  %z2 = arith.constant dense<8> : tensor<2x2xi8>
  %s4 = arith.constant dense<[[1.0], [3.0]]> : tensor<2x1xf16>
  %z4 = arith.constant dense<8> : tensor<2x1xi8>
  %a = slim.assemble %c, %s2, %z2 : tensor<2x2xi8>, tensor<2x2xf16>, tensor<2x2xi8> -> !g2
  %y1 = slim.matmul %x, %a transpose_rhs : tensor<3x4xf32>, !g2 -> tensor<3x2xf32>
  %b = slim.assemble %c, %s4, %z4 : tensor<2x2xi8>, tensor<2x1xf16>, tensor<2x1xi8> -> !g4
  %y2 = slim.matmul %x, %b transpose_rhs : tensor<3x4xf32>, !g4 -> tensor<3x2xf32>
  %ct = arith.constant dense<[[17], [18], [33], [34]]> : tensor<4x1xi8>
  %st = arith.constant dense<[[1.0, 2.0], [3.0, 4.0]]> : tensor<2x2xf16>
  %zt = arith.constant dense<8> : tensor<2x2xi8>
  %t = slim.assemble %ct, %st, %zt : tensor<4x1xi8>, tensor<2x2xf16>, tensor<2x2xi8> -> !t2
  %y3 = slim.matmul %x, %t : tensor<3x4xf32>, !t2 -> tensor<3x2xf32>
  return %y1, %y2, %y3 : tensor<3x2xf32>, tensor<3x2xf32>, tensor<3x2xf32>
}

// -----

// A weight read by another op too stays in its own product (joined, it
// would be stored twice).
// CHECK-LABEL: func.func @shared_weight
// CHECK-COUNT-2: linalg.matmul
// CHECK-NOT: extract_slice
func.func @shared_weight(%x: tensor<4x2xf32>) -> (tensor<4x2xf32>, tensor<4x1xf32>, tensor<2x2xf32>) {
  %zero = arith.constant 0.0 : f32
  %w1 = arith.constant dense<[[1.0, 2.0], [3.0, 4.0]]> : tensor<2x2xf32>
  %w2 = arith.constant dense<[[5.0], [6.0]]> : tensor<2x1xf32>
  %e1 = tensor.empty() : tensor<4x2xf32>
  %f1 = linalg.fill ins(%zero : f32) outs(%e1 : tensor<4x2xf32>) -> tensor<4x2xf32>
  %y1 = linalg.matmul ins(%x, %w1 : tensor<4x2xf32>, tensor<2x2xf32>) outs(%f1 : tensor<4x2xf32>) -> tensor<4x2xf32>
  %e2 = tensor.empty() : tensor<4x1xf32>
  %f2 = linalg.fill ins(%zero : f32) outs(%e2 : tensor<4x1xf32>) -> tensor<4x1xf32>
  %y2 = linalg.matmul ins(%x, %w2 : tensor<4x2xf32>, tensor<2x1xf32>) outs(%f2 : tensor<4x1xf32>) -> tensor<4x1xf32>
  return %y1, %y2, %w1 : tensor<4x2xf32>, tensor<4x1xf32>, tensor<2x2xf32>
}
