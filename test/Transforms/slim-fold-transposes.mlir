// RUN: slim-opt %s --slim-fold-transposes --canonicalize -split-input-file | FileCheck %s

// A tied LM head: the matmul reads the embedding table transposed, and the
// transpose is gone.
// CHECK-LABEL: func.func @matmul_tied_head
// CHECK-SAME: (%[[X:.*]]: tensor<?x8xf32>, %[[E:.*]]: tensor<32x8xf32>
// CHECK-NOT: linalg.transpose
// CHECK: linalg.matmul indexing_maps = [#{{.*}}, #{{.*}}, #{{.*}}] ins(%[[X]], %[[E]] : tensor<?x8xf32>, tensor<32x8xf32>)
func.func @matmul_tied_head(%x: tensor<?x8xf32>, %emb: tensor<32x8xf32>, %acc: tensor<?x32xf32>) -> tensor<?x32xf32> {
  %e = tensor.empty() : tensor<8x32xf32>
  %t = linalg.transpose ins(%emb : tensor<32x8xf32>) outs(%e : tensor<8x32xf32>) permutation = [1, 0]
  %y = linalg.matmul ins(%x, %t : tensor<?x8xf32>, tensor<8x32xf32>) outs(%acc : tensor<?x32xf32>) -> tensor<?x32xf32>
  return %y : tensor<?x32xf32>
}

// -----

// A transposed A operand.
// CHECK: #[[MA:.*]] = affine_map<(d0, d1, d2) -> (d2, d0)>
// CHECK-LABEL: func.func @matmul_transposed_a
// CHECK-NOT: linalg.transpose
// CHECK: linalg.matmul indexing_maps = [#[[MA]],
func.func @matmul_transposed_a(%a: tensor<8x4xf32>, %b: tensor<8x16xf32>, %acc: tensor<4x16xf32>) -> tensor<4x16xf32> {
  %e = tensor.empty() : tensor<4x8xf32>
  %t = linalg.transpose ins(%a : tensor<8x4xf32>) outs(%e : tensor<4x8xf32>) permutation = [1, 0]
  %y = linalg.matmul ins(%t, %b : tensor<4x8xf32>, tensor<8x16xf32>) outs(%acc : tensor<4x16xf32>) -> tensor<4x16xf32>
  return %y : tensor<4x16xf32>
}

// -----

// Attention's q @ k^T: transpose of the two inner dimensions, then a
// collapse of the batch dimensions. The batch matmul reads the collapsed K.
// CHECK: #[[MB:.*]] = affine_map<(d0, d1, d2, d3) -> (d0, d2, d3)>
// CHECK-LABEL: func.func @batch_matmul_scores
// CHECK-SAME: %[[K:[a-z0-9]+]]: tensor<2x3x5x4xf32>
// CHECK-NOT: linalg.transpose
// CHECK: %[[KC:.*]] = tensor.collapse_shape %[[K]] {{\[}}[0, 1], [2], [3]] : tensor<2x3x5x4xf32> into tensor<6x5x4xf32>
// CHECK: linalg.batch_matmul indexing_maps = [#{{.*}}, #[[MB]], #{{.*}}] ins(%{{.*}}, %[[KC]] :
func.func @batch_matmul_scores(%q: tensor<6x7x4xf32>, %k: tensor<2x3x5x4xf32>, %acc: tensor<6x7x5xf32>) -> tensor<6x7x5xf32> {
  %e = tensor.empty() : tensor<2x3x4x5xf32>
  %t = linalg.transpose ins(%k : tensor<2x3x5x4xf32>) outs(%e : tensor<2x3x4x5xf32>) permutation = [0, 1, 3, 2]
  %c = tensor.collapse_shape %t [[0, 1], [2], [3]] : tensor<2x3x4x5xf32> into tensor<6x4x5xf32>
  %y = linalg.batch_matmul ins(%q, %c : tensor<6x7x4xf32>, tensor<6x4x5xf32>) outs(%acc : tensor<6x7x5xf32>) -> tensor<6x7x5xf32>
  return %y : tensor<6x7x5xf32>
}

// -----

// Other permutations are not a transposed operand: left alone.
// CHECK-LABEL: func.func @batch_matmul_other_permutation
// CHECK: linalg.transpose
// CHECK: linalg.batch_matmul ins(
func.func @batch_matmul_other_permutation(%q: tensor<3x7x4xf32>, %k: tensor<4x3x5xf32>, %acc: tensor<3x7x5xf32>) -> tensor<3x7x5xf32> {
  %e = tensor.empty() : tensor<3x4x5xf32>
  %t = linalg.transpose ins(%k : tensor<4x3x5xf32>) outs(%e : tensor<3x4x5xf32>) permutation = [1, 0, 2]
  %y = linalg.batch_matmul ins(%q, %t : tensor<3x7x4xf32>, tensor<3x4x5xf32>) outs(%acc : tensor<3x7x5xf32>) -> tensor<3x7x5xf32>
  return %y : tensor<3x7x5xf32>
}
