// RUN: slim-opt %s --slim-lower-matmul-to-blas -split-input-file | FileCheck %s

// A product by a packed weight (--slim-fold-transposes{pack-weights}, then
// bufferization): A [M, K, 1, 1] and C [M, N / 16, 1, 16] are views of
// row-major buffers, the weight is contiguous. It becomes one call of
// Slim's packed GEMM, through the C interface of strided memrefs.
// CHECK-LABEL: func.func private @slim_rt_sgemm_packed(memref<?x?x?x?xf32, strided<[?, ?, ?, ?], offset: ?>>, memref<?x?x?x?xf32, strided<[?, ?, ?, ?], offset: ?>>, memref<?x?x?x?xf32, strided<[?, ?, ?, ?], offset: ?>>) attributes {llvm.emit_c_interface}
// CHECK-LABEL: func.func @packed
// CHECK-NOT: linalg.mmt4d
// CHECK-COUNT-3: memref.cast
// CHECK: call @slim_rt_sgemm_packed(
// CHECK-NOT: linalg.mmt4d
func.func @packed(%a: memref<?x576xf32>, %w: memref<36x576x16x1xf32>, %c: memref<?x576xf32>) {
  %c0 = arith.constant 0 : index
  %m = memref.dim %a, %c0 : memref<?x576xf32>
  %a4 = memref.expand_shape %a [[0], [1, 2, 3]] output_shape [%m, 576, 1, 1] : memref<?x576xf32> into memref<?x576x1x1xf32>
  %c4 = memref.expand_shape %c [[0], [1, 2, 3]] output_shape [%m, 36, 1, 16] : memref<?x576xf32> into memref<?x36x1x16xf32>
  linalg.mmt4d ins(%a4, %w : memref<?x576x1x1xf32>, memref<36x576x16x1xf32>) outs(%c4 : memref<?x36x1x16xf32>)
  return
}

// -----

// Other tile sizes, a weight that is a strided view, and rows of A that are
// not contiguous are not what the kernel reads: left to the loops.
// CHECK-LABEL: func.func @not_packed
// CHECK-NOT: call
// CHECK-COUNT-3: linalg.mmt4d
func.func @not_packed(%a: memref<?x4x1x1xf32>, %w8: memref<2x4x8x1xf32>, %c8: memref<?x2x1x8xf32>,
                      %ws: memref<2x4x16x1xf32, strided<[128, 32, 1, 1]>>, %c: memref<?x2x1x16xf32>,
                      %as: memref<?x4x1x1xf32, strided<[8, 2, 1, 1]>>, %w: memref<2x4x16x1xf32>) {
  linalg.mmt4d ins(%a, %w8 : memref<?x4x1x1xf32>, memref<2x4x8x1xf32>) outs(%c8 : memref<?x2x1x8xf32>)
  linalg.mmt4d ins(%a, %ws : memref<?x4x1x1xf32>, memref<2x4x16x1xf32, strided<[128, 32, 1, 1]>>) outs(%c : memref<?x2x1x16xf32>)
  linalg.mmt4d ins(%as, %w : memref<?x4x1x1xf32, strided<[8, 2, 1, 1]>>, memref<2x4x16x1xf32>) outs(%c : memref<?x2x1x16xf32>)
  return
}
