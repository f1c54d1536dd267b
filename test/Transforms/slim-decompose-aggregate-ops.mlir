// RUN: slim-opt %s --pass-pipeline='builtin.module(func.func(slim-decompose-aggregate-ops{keep-softmax}))' | FileCheck %s --check-prefix=KEEP
// RUN: slim-opt %s --pass-pipeline='builtin.module(func.func(slim-decompose-aggregate-ops))' | FileCheck %s --check-prefix=ALL

// linalg.softmax becomes a max reduction, exp, a sum reduction and a
// division; with keep-softmax, an f32 softmax over the innermost dimension
// stays whole for --slim-lower-softmax, one over another dimension is
// decomposed as before.
// ALL-NOT: linalg.softmax
// ALL-COUNT-8: linalg.generic
// ALL-NOT: linalg.softmax
// KEEP-LABEL: func.func @scores
// KEEP: linalg.softmax dimension(3)
// KEEP-LABEL: func.func @other_dimension
// KEEP-NOT: linalg.softmax
// KEEP: linalg.generic
func.func @scores(%x: tensor<?x9x?x?xf32>, %y: tensor<?x9x?x?xf32>) -> tensor<?x9x?x?xf32> {
  %r = linalg.softmax dimension(3) ins(%x : tensor<?x9x?x?xf32>) outs(%y : tensor<?x9x?x?xf32>) -> tensor<?x9x?x?xf32>
  return %r : tensor<?x9x?x?xf32>
}
func.func @other_dimension(%x: tensor<4x8xf32>, %y: tensor<4x8xf32>) -> tensor<4x8xf32> {
  %r = linalg.softmax dimension(0) ins(%x : tensor<4x8xf32>) outs(%y : tensor<4x8xf32>) -> tensor<4x8xf32>
  return %r : tensor<4x8xf32>
}

