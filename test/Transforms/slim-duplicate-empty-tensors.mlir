// RUN: slim-opt %s --slim-duplicate-empty-tensors | FileCheck %s

// A tensor.empty CSE shared among three destinations: the first keeps it,
// the others get their own copy, made right before them.
// CHECK-LABEL: func.func @shared
// CHECK: %[[E:.*]] = tensor.empty(%[[N:.*]]) : tensor<?xf32>
// CHECK: %[[A:.*]] = linalg.exp ins(%{{.*}} : tensor<?xf32>) outs(%[[E]] : tensor<?xf32>)
// CHECK: %[[E2:.*]] = tensor.empty(%[[N]]) : tensor<?xf32>
// CHECK: %[[B:.*]] = linalg.exp ins(%[[A]] : tensor<?xf32>) outs(%[[E2]] : tensor<?xf32>)
// CHECK: scf.for
// CHECK: %[[E3:.*]] = tensor.empty(%[[N]]) : tensor<?xf32>
// CHECK: linalg.exp ins(%{{.*}} : tensor<?xf32>) outs(%[[E3]] : tensor<?xf32>)
// CHECK: %[[F:.*]] = tensor.empty(%[[N]])
// CHECK-NOT: tensor.empty
// CHECK: linalg.exp ins(%{{.*}} : tensor<?xf32>) outs(%[[F]] : tensor<?xf32>)
func.func @shared(%x: tensor<?xf32>, %n: index) -> tensor<?xf32> {
  %c0 = arith.constant 0 : index
  %c1 = arith.constant 1 : index
  %e = tensor.empty(%n) : tensor<?xf32>
  %a = linalg.exp ins(%x : tensor<?xf32>) outs(%e : tensor<?xf32>) -> tensor<?xf32>
  %b = linalg.exp ins(%a : tensor<?xf32>) outs(%e : tensor<?xf32>) -> tensor<?xf32>
  %r = scf.for %i = %c0 to %n step %c1 iter_args(%t = %b) -> tensor<?xf32> {
    %y = linalg.exp ins(%t : tensor<?xf32>) outs(%e : tensor<?xf32>) -> tensor<?xf32>
    scf.yield %y : tensor<?xf32>
  }
  // One use only: left alone.
  %f = tensor.empty(%n) : tensor<?xf32>
  %g = linalg.exp ins(%r : tensor<?xf32>) outs(%f : tensor<?xf32>) -> tensor<?xf32>
  return %g : tensor<?xf32>
}

// The zero accumulator CSE shares between two matmuls of one shape: each
// gets its own fill of its own (reshaped) empty tensor, so that each
// bufferizes in place instead of copying one filled buffer.
// CHECK-LABEL: func.func @shared_fill
// CHECK: %[[E:.*]] = tensor.empty(%[[M:.*]]) : tensor<?x32xf32>
// CHECK: %[[X:.*]] = tensor.expand_shape %[[E]]
// CHECK: %[[F:.*]] = linalg.fill ins(%[[Z:.*]] : f32) outs(%[[X]] : tensor<?x2x1x16xf32>)
// CHECK: linalg.mmt4d {{.*}} outs(%[[F]] : tensor<?x2x1x16xf32>)
// CHECK: %[[E2:.*]] = tensor.empty(%[[M]]) : tensor<?x32xf32>
// CHECK: %[[X2:.*]] = tensor.expand_shape %[[E2]]
// CHECK: %[[F2:.*]] = linalg.fill ins(%[[Z]] : f32) outs(%[[X2]] : tensor<?x2x1x16xf32>)
// CHECK: linalg.mmt4d {{.*}} outs(%[[F2]] : tensor<?x2x1x16xf32>)
func.func @shared_fill(%a: tensor<?x8x1x1xf32>, %w: tensor<2x8x16x1xf32>, %v: tensor<2x8x16x1xf32>, %m: index)
    -> (tensor<?x2x1x16xf32>, tensor<?x2x1x16xf32>) {
  %zero = arith.constant 0.0 : f32
  %e = tensor.empty(%m) : tensor<?x32xf32>
  %x = tensor.expand_shape %e [[0], [1, 2, 3]] output_shape [%m, 2, 1, 16] : tensor<?x32xf32> into tensor<?x2x1x16xf32>
  %f = linalg.fill ins(%zero : f32) outs(%x : tensor<?x2x1x16xf32>) -> tensor<?x2x1x16xf32>
  %p = linalg.mmt4d ins(%a, %w : tensor<?x8x1x1xf32>, tensor<2x8x16x1xf32>) outs(%f : tensor<?x2x1x16xf32>) -> tensor<?x2x1x16xf32>
  %q = linalg.mmt4d ins(%a, %v : tensor<?x8x1x1xf32>, tensor<2x8x16x1xf32>) outs(%f : tensor<?x2x1x16xf32>) -> tensor<?x2x1x16xf32>
  return %p, %q : tensor<?x2x1x16xf32>, tensor<?x2x1x16xf32>
}

// A fill of a tensor that is not empty keeps its uses (its clones would
// recompute what the destination holds).
// CHECK-LABEL: func.func @fill_of_value
// CHECK-COUNT-1: linalg.fill
// CHECK-NOT: linalg.fill
func.func @fill_of_value(%t: tensor<4xf32>) -> (tensor<4xf32>, tensor<4xf32>) {
  %zero = arith.constant 0.0 : f32
  %f = linalg.fill ins(%zero : f32) outs(%t : tensor<4xf32>) -> tensor<4xf32>
  %a = linalg.exp ins(%f : tensor<4xf32>) outs(%t : tensor<4xf32>) -> tensor<4xf32>
  %b = linalg.exp ins(%f : tensor<4xf32>) outs(%t : tensor<4xf32>) -> tensor<4xf32>
  return %a, %b : tensor<4xf32>, tensor<4xf32>
}
