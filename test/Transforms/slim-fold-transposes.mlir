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

// -----

// Grouped-query attention: the 4 query heads share 2 KV heads, which the
// graph repeats (Expand) before q @ k^T. Instead each KV head meets its 2
// query heads as 2x more rows of one product, with only reshapes around it;
// the broadcast copy is gone.
#bcast = affine_map<(d0, d1, d2, d3, d4) -> (d0, d1, 0, d3, d4)>
#id5 = affine_map<(d0, d1, d2, d3, d4) -> (d0, d1, d2, d3, d4)>
// CHECK-LABEL: func.func @batch_matmul_repeated_heads
// CHECK-SAME: (%[[Q:.*]]: tensor<1x4x2x8xf32>, %[[K:.*]]: tensor<1x2x1x5x8xf32>
// CHECK-NOT: linalg.generic
// CHECK-DAG: %[[Q5:.*]] = tensor.expand_shape %[[Q]] {{\[}}[0], [1, 2], [3], [4]] {{.*}} into tensor<1x2x2x2x8xf32>
// CHECK-DAG: %[[A:.*]] = tensor.collapse_shape %[[Q5]] {{\[}}[0, 1], [2, 3], [4]] : tensor<1x2x2x2x8xf32> into tensor<2x4x8xf32>
// CHECK-DAG: %[[KF:.*]] = tensor.collapse_shape %[[K]] {{\[}}[0, 1, 2], [3], [4]] : tensor<1x2x1x5x8xf32> into tensor<2x5x8xf32>
// CHECK: %[[Y:.*]] = linalg.batch_matmul indexing_maps = {{.*}} ins(%[[A]], %[[KF]] : tensor<2x4x8xf32>, tensor<2x5x8xf32>) outs(%{{.*}} : tensor<2x4x5xf32>)
// CHECK: tensor.expand_shape %[[Y]] {{\[}}[0, 1], [2, 3], [4]]
// CHECK-NOT: linalg.generic
func.func @batch_matmul_repeated_heads(%q: tensor<1x4x2x8xf32>, %k: tensor<1x2x1x5x8xf32>, %acc: tensor<4x2x5xf32>) -> tensor<4x2x5xf32> {
  %e = tensor.empty() : tensor<1x2x2x5x8xf32>
  %rep = linalg.generic {indexing_maps = [#bcast, #id5], iterator_types = ["parallel", "parallel", "parallel", "parallel", "parallel"]}
      ins(%k : tensor<1x2x1x5x8xf32>) outs(%e : tensor<1x2x2x5x8xf32>) {
  ^bb0(%in: f32, %out: f32):
    linalg.yield %in : f32
  } -> tensor<1x2x2x5x8xf32>
  %heads = tensor.collapse_shape %rep [[0], [1, 2], [3], [4]] : tensor<1x2x2x5x8xf32> into tensor<1x4x5x8xf32>
  %et = tensor.empty() : tensor<1x4x8x5xf32>
  %kt = linalg.transpose ins(%heads : tensor<1x4x5x8xf32>) outs(%et : tensor<1x4x8x5xf32>) permutation = [0, 1, 3, 2]
  %b = tensor.collapse_shape %kt [[0, 1], [2], [3]] : tensor<1x4x8x5xf32> into tensor<4x8x5xf32>
  %a = tensor.collapse_shape %q [[0, 1], [2], [3]] : tensor<1x4x2x8xf32> into tensor<4x2x8xf32>
  %y = linalg.batch_matmul ins(%a, %b : tensor<4x2x8xf32>, tensor<4x8x5xf32>) outs(%acc : tensor<4x2x5xf32>) -> tensor<4x2x5xf32>
  return %y : tensor<4x2x5xf32>
}
