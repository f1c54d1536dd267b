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
