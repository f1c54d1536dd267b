// RUN: slim-opt %s --slim-fold-transposes=pack-weights --canonicalize -split-input-file | FileCheck %s
// RUN: slim-opt %s --slim-fold-transposes=transpose-weights --canonicalize -split-input-file | FileCheck %s --check-prefix=NOPACK

// The tied LM head (a transposed-B product of the embedding constant
// [N, K] = [32, 2]) becomes a linalg.mmt4d by the embedding packed into
// N / 16 = 2 panels of 16 output channels, W'[p, k, j, 0] = E[16 p + j, k],
// between reshapes of A and of the accumulator. The first panel's values
// are E[0..15, 0] = 0, 2, 4, ... then E[0..15, 1] = 1, 3, ...
// CHECK-LABEL: func.func @tied_head
// CHECK-SAME: (%[[X:.*]]: tensor<?x2xf32>, %[[ACC:.*]]: tensor<?x32xf32>)
// CHECK-DAG: %[[W:.*]] = arith.constant dense_resource<packed_weight> : tensor<2x2x16x1xf32>
// CHECK-DAG: %[[X4:.*]] = tensor.expand_shape %[[X]] {{\[}}[0], [1, 2, 3]] output_shape [%{{.*}}, 2, 1, 1] : tensor<?x2xf32> into tensor<?x2x1x1xf32>
// CHECK-DAG: %[[C4:.*]] = tensor.expand_shape %[[ACC]] {{\[}}[0], [1, 2, 3]] output_shape [%{{.*}}, 2, 1, 16] : tensor<?x32xf32> into tensor<?x2x1x16xf32>
// CHECK: %[[P:.*]] = linalg.mmt4d ins(%[[X4]], %[[W]] : tensor<?x2x1x1xf32>, tensor<2x2x16x1xf32>) outs(%[[C4]] : tensor<?x2x1x16xf32>)
// CHECK: %[[Y:.*]] = tensor.collapse_shape %[[P]] {{\[}}[0], [1, 2, 3]] : tensor<?x2x1x16xf32> into tensor<?x32xf32>
// CHECK: return %[[Y]]
// CHECK-NOT: linalg.transpose
// CHECK: packed_weight: "0x40000000000000000000004000008040{{.*}}0000803F000040400000A040
// NOPACK-LABEL: func.func @tied_head
// NOPACK-NOT: linalg.mmt4d
// NOPACK: linalg.matmul indexing_maps
func.func @tied_head(%x: tensor<?x2xf32>, %acc: tensor<?x32xf32>) -> tensor<?x32xf32> {
  %emb = arith.constant dense<[[0.0, 1.0], [2.0, 3.0], [4.0, 5.0], [6.0, 7.0], [8.0, 9.0], [10.0, 11.0], [12.0, 13.0], [14.0, 15.0], [16.0, 17.0], [18.0, 19.0], [20.0, 21.0], [22.0, 23.0], [24.0, 25.0], [26.0, 27.0], [28.0, 29.0], [30.0, 31.0], [32.0, 33.0], [34.0, 35.0], [36.0, 37.0], [38.0, 39.0], [40.0, 41.0], [42.0, 43.0], [44.0, 45.0], [46.0, 47.0], [48.0, 49.0], [50.0, 51.0], [52.0, 53.0], [54.0, 55.0], [56.0, 57.0], [58.0, 59.0], [60.0, 61.0], [62.0, 63.0]]> : tensor<32x2xf32>
  %e = tensor.empty() : tensor<2x32xf32>
  %t = linalg.transpose ins(%emb : tensor<32x2xf32>) outs(%e : tensor<2x32xf32>) permutation = [1, 0]
  %y = linalg.matmul ins(%x, %t : tensor<?x2xf32>, tensor<2x32xf32>) outs(%acc : tensor<?x32xf32>) -> tensor<?x32xf32>
  return %y : tensor<?x32xf32>
}

// -----

// A weight read as [K, N] = [3, 32]: packed too, W'[p, k, j, 0] = W[k, 16 p + j].
// CHECK-LABEL: func.func @plain_weight
// CHECK: linalg.mmt4d ins(%{{.*}}, %{{.*}} : tensor<?x3x1x1xf32>, tensor<2x3x16x1xf32>) outs(%{{.*}} : tensor<?x2x1x16xf32>)
// NOPACK-LABEL: func.func @plain_weight
// NOPACK: dense_resource<transposed_weight> : tensor<32x3xf32>
func.func @plain_weight(%x: tensor<?x3xf32>, %acc: tensor<?x32xf32>) -> tensor<?x32xf32> {
  %w = arith.constant dense<[[0.0, 1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0, 8.0, 9.0, 10.0, 11.0, 12.0, 13.0, 14.0, 15.0, 16.0, 17.0, 18.0, 19.0, 20.0, 21.0, 22.0, 23.0, 24.0, 25.0, 26.0, 27.0, 28.0, 29.0, 30.0, 31.0], [0.5, 1.5, 2.5, 3.5, 4.5, 5.5, 6.5, 7.5, 8.5, 9.5, 10.5, 11.5, 12.5, 13.5, 14.5, 15.5, 16.5, 17.5, 18.5, 19.5, 20.5, 21.5, 22.5, 23.5, 24.5, 25.5, 26.5, 27.5, 28.5, 29.5, 30.5, 31.5], [-0.0, -1.0, -2.0, -3.0, -4.0, -5.0, -6.0, -7.0, -8.0, -9.0, -10.0, -11.0, -12.0, -13.0, -14.0, -15.0, -16.0, -17.0, -18.0, -19.0, -20.0, -21.0, -22.0, -23.0, -24.0, -25.0, -26.0, -27.0, -28.0, -29.0, -30.0, -31.0]]> : tensor<3x32xf32>
  %y = linalg.matmul ins(%x, %w : tensor<?x3xf32>, tensor<3x32xf32>) outs(%acc : tensor<?x32xf32>) -> tensor<?x32xf32>
  return %y : tensor<?x32xf32>
}

// -----

// N = 24 is not a multiple of 16: the weight is only transposed, for the
// dot-product kernels of decoding.
// CHECK-LABEL: func.func @ragged_width
// CHECK-NOT: linalg.mmt4d
// CHECK: %[[W:.*]] = arith.constant dense_resource<transposed_weight> : tensor<24x4xf32>
// CHECK: linalg.matmul indexing_maps = [#{{.*}}, #{{.*}}, #{{.*}}] ins(%{{.*}}, %[[W]] : tensor<?x4xf32>, tensor<24x4xf32>)
func.func @ragged_width(%x: tensor<?x4xf32>, %acc: tensor<?x24xf32>) -> tensor<?x24xf32> {
  %w = arith.constant dense<[[0.0, 1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0, 8.0, 9.0, 10.0, 11.0, 12.0, 13.0, 14.0, 15.0, 16.0, 17.0, 18.0, 19.0, 20.0, 21.0, 22.0, 23.0], [0.5, 1.5, 2.5, 3.5, 4.5, 5.5, 6.5, 7.5, 8.5, 9.5, 10.5, 11.5, 12.5, 13.5, 14.5, 15.5, 16.5, 17.5, 18.5, 19.5, 20.5, 21.5, 22.5, 23.5], [-0.0, -1.0, -2.0, -3.0, -4.0, -5.0, -6.0, -7.0, -8.0, -9.0, -10.0, -11.0, -12.0, -13.0, -14.0, -15.0, -16.0, -17.0, -18.0, -19.0, -20.0, -21.0, -22.0, -23.0], [-0.5, -1.5, -2.5, -3.5, -4.5, -5.5, -6.5, -7.5, -8.5, -9.5, -10.5, -11.5, -12.5, -13.5, -14.5, -15.5, -16.5, -17.5, -18.5, -19.5, -20.5, -21.5, -22.5, -23.5]]> : tensor<4x24xf32>
  %y = linalg.matmul ins(%x, %w : tensor<?x4xf32>, tensor<4x24xf32>) outs(%acc : tensor<?x24xf32>) -> tensor<?x24xf32>
  return %y : tensor<?x24xf32>
}

// -----

// A splat weight is left as it is (nothing to store), and so is a product
// of two activations.
// CHECK-LABEL: func.func @not_weights
// CHECK-NOT: linalg.mmt4d
// CHECK-COUNT-2: linalg.matmul ins
func.func @not_weights(%x: tensor<?x4xf32>, %b: tensor<4x32xf32>, %acc: tensor<?x32xf32>) -> (tensor<?x32xf32>, tensor<?x32xf32>) {
  %w = arith.constant dense<2.0> : tensor<4x32xf32>
  %y = linalg.matmul ins(%x, %w : tensor<?x4xf32>, tensor<4x32xf32>) outs(%acc : tensor<?x32xf32>) -> tensor<?x32xf32>
  %z = linalg.matmul ins(%x, %b : tensor<?x4xf32>, tensor<4x32xf32>) outs(%acc : tensor<?x32xf32>) -> tensor<?x32xf32>
  return %y, %z : tensor<?x32xf32>, tensor<?x32xf32>
}

// -----

// The embedding Gather of the same table (element reads in a generic)
// reads the packed copy, E[n, k] = W'[n / 16, k, n % 16, 0] with n at most
// the last row (no read past the table): the table is stored once, packed
// for the head.
// CHECK-LABEL: func.func @tied_gather
// CHECK: %[[W:.*]] = arith.constant dense_resource<packed_weight> : tensor<2x2x16x1xf32>
// CHECK-NOT: tensor<32x2xf32>
// CHECK: linalg.generic
// CHECK: %[[R:.*]] = arith.index_cast
// CHECK: %[[N:.*]] = arith.minui %[[R]], %c31
// CHECK: %[[P:.*]] = arith.divui %[[N]], %c16
// CHECK: %[[J:.*]] = arith.remui %[[N]], %c16
// CHECK: tensor.extract %[[W]][%[[P]], %{{.*}}, %[[J]], %c0{{.*}}] : tensor<2x2x16x1xf32>
// CHECK: linalg.mmt4d ins(%{{.*}}, %[[W]]
// CHECK-NOT: tensor<32x2xf32>
func.func @tied_gather(%ids: tensor<?xi64>, %x: tensor<?x2xf32>, %acc: tensor<?x32xf32>) -> (tensor<?x2xf32>, tensor<?x32xf32>) {
  %c0 = arith.constant 0 : index
  %emb = arith.constant dense<[[0.0, 1.0], [2.0, 3.0], [4.0, 5.0], [6.0, 7.0], [8.0, 9.0], [10.0, 11.0], [12.0, 13.0], [14.0, 15.0], [16.0, 17.0], [18.0, 19.0], [20.0, 21.0], [22.0, 23.0], [24.0, 25.0], [26.0, 27.0], [28.0, 29.0], [30.0, 31.0], [32.0, 33.0], [34.0, 35.0], [36.0, 37.0], [38.0, 39.0], [40.0, 41.0], [42.0, 43.0], [44.0, 45.0], [46.0, 47.0], [48.0, 49.0], [50.0, 51.0], [52.0, 53.0], [54.0, 55.0], [56.0, 57.0], [58.0, 59.0], [60.0, 61.0], [62.0, 63.0]]> : tensor<32x2xf32>
  %n = tensor.dim %ids, %c0 : tensor<?xi64>
  %g0 = tensor.empty(%n) : tensor<?x2xf32>
  %rows = linalg.generic {indexing_maps = [affine_map<(i, j) -> (i)>, affine_map<(i, j) -> (i, j)>], iterator_types = ["parallel", "parallel"]}
      ins(%ids : tensor<?xi64>) outs(%g0 : tensor<?x2xf32>) {
  ^bb0(%id: i64, %out: f32):
    %r = arith.index_cast %id : i64 to index
    %col = linalg.index 1 : index
    %v = tensor.extract %emb[%r, %col] : tensor<32x2xf32>
    linalg.yield %v : f32
  } -> tensor<?x2xf32>
  %e = tensor.empty() : tensor<2x32xf32>
  %t = linalg.transpose ins(%emb : tensor<32x2xf32>) outs(%e : tensor<2x32xf32>) permutation = [1, 0]
  %y = linalg.matmul ins(%x, %t : tensor<?x2xf32>, tensor<2x32xf32>) outs(%acc : tensor<?x32xf32>) -> tensor<?x32xf32>
  return %rows, %y : tensor<?x2xf32>, tensor<?x32xf32>
}
