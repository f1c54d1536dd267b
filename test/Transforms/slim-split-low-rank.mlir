// RUN: slim-opt %s --slim-split-low-rank --canonicalize -split-input-file | FileCheck %s
// RUN: slim-opt %s --slim-cpu-pipeline=lower-to-llvm=false -split-input-file | FileCheck %s --check-prefix=CPU

// A transposed 4-bit weight [N, K] = [4, 2] with a rank-1 f16 residual
// U [4, 1] V [1, 2]: the quantized part keeps its product, the residual is
// (x V^T) U^T by f32 constants V^T [2, 1] and U^T [1, 4], the second
// product accumulating into the first.
// CHECK-LABEL: func.func @residual_transposed
// CHECK-SAME: (%[[X:.*]]: tensor<?x2xf32>)
// CHECK-DAG: %[[VT:.*]] = arith.constant dense_resource<low_rank_factor> : tensor<2x1xf32>
// CHECK-DAG: %[[UT:.*]] = arith.constant dense_resource<low_rank_factor{{.*}}> : tensor<1x4xf32>
// CHECK: %[[Q:.*]] = slim.assemble %{{.*}}, %{{.*}} : tensor<4x1xi8>, tensor<4x1xf16> -> tensor<4x2xf32, #slim.quant<i4, group = 2, axis = 1, scale = f16>>
// CHECK: %[[YQ:.*]] = slim.matmul %[[X]], %[[Q]] transpose_rhs
// CHECK: %[[T:.*]] = linalg.matmul ins(%[[X]], %[[VT]] : tensor<?x2xf32>, tensor<2x1xf32>)
// CHECK: linalg.matmul ins(%[[T]], %[[UT]] : tensor<?x1xf32>, tensor<1x4xf32>) outs(%[[YQ]] : tensor<?x4xf32>)
// The factors, V^T = [1, 2] and U^T = [1, 2, 3, 4], as f32.
// CHECK-DAG: low_rank_factor: "0x400000000000803F00000040"
// CHECK-DAG: low_rank_factor_{{[0-9]+}}: "0x400000000000803F000000400000404000008040"
// CPU-LABEL: func.func @residual_transposed
// CPU: call @slim_rt_qmatmul_f16(
// CPU-NOT: slim.matmul
!w = tensor<4x2xf32, #slim.compressed<[#slim.quant<i4, group = 2, axis = 1, scale = f16>], residual = #slim.lowrank<rank = 1, factor = f16>>>
func.func @residual_transposed(%x: tensor<?x2xf32>) -> tensor<?x4xf32> {
  %c = arith.constant dense<[[1], [2], [3], [4]]> : tensor<4x1xi8>
  %s = arith.constant dense<[[1.0], [2.0], [3.0], [4.0]]> : tensor<4x1xf16>
  %u = arith.constant dense<[[1.0], [2.0], [3.0], [4.0]]> : tensor<4x1xf16>
  %v = arith.constant dense<[[1.0, 2.0]]> : tensor<1x2xf16>
  %w = slim.assemble %c, %s, %u, %v : tensor<4x1xi8>, tensor<4x1xf16>, tensor<4x1xf16>, tensor<1x2xf16> -> !w
  %y = slim.matmul %x, %w transpose_rhs : tensor<?x2xf32>, !w -> tensor<?x4xf32>
  return %y : tensor<?x4xf32>
}

// -----

// A pure low-rank weight [K, N] = [3, 2] = U [3, 1] V [1, 2] (bf16), an
// activation of rank 3: (x U) V on rows, expanded back; no U V formed.
// CHECK-LABEL: func.func @pure_plain
// CHECK-NOT: slim.
// CHECK: %[[R:.*]] = tensor.collapse_shape %{{.*}} {{\[}}[0, 1], [2]] : tensor<?x5x3xf32> into tensor<?x3xf32>
// CHECK: %[[T:.*]] = linalg.matmul ins(%[[R]], %{{.*}} : tensor<?x3xf32>, tensor<3x1xf32>)
// CHECK: %[[Y:.*]] = linalg.matmul ins(%[[T]], %{{.*}} : tensor<?x1xf32>, tensor<1x2xf32>)
// CHECK: tensor.expand_shape %[[Y]] {{\[}}[0, 1], [2]] output_shape [%{{.*}}, 5, 2] : tensor<?x2xf32> into tensor<?x5x2xf32>
// CPU-LABEL: func.func @pure_plain
// CPU-NOT: slim.matmul
!l = tensor<3x2xf32, #slim.lowrank<rank = 1, factor = bf16>>
func.func @pure_plain(%x: tensor<?x5x3xf32>) -> tensor<?x5x2xf32> {
  %u = arith.constant dense<[[1.0], [2.0], [3.0]]> : tensor<3x1xbf16>
  %v = arith.constant dense<[[1.0, 2.0]]> : tensor<1x2xbf16>
  %w = slim.assemble %u, %v : tensor<3x1xbf16>, tensor<1x2xbf16> -> !l
  %y = slim.matmul %x, %w : tensor<?x5x3xf32>, !l -> tensor<?x5x2xf32>
  return %y : tensor<?x5x2xf32>
}

// -----

// Factors that are not constants stay in the product.
// CHECK-LABEL: func.func @not_constant
// CHECK: slim.matmul
// CHECK-NOT: linalg.matmul
func.func @not_constant(%x: tensor<2x3xf32>, %u: tensor<3x1xf32>, %v: tensor<1x2xf32>) -> tensor<2x2xf32> {
  %w = slim.assemble %u, %v : tensor<3x1xf32>, tensor<1x2xf32> -> tensor<3x2xf32, #slim.lowrank<rank = 1>>
  %y = slim.matmul %x, %w : tensor<2x3xf32>, tensor<3x2xf32, #slim.lowrank<rank = 1>> -> tensor<2x2xf32>
  return %y : tensor<2x2xf32>
}
