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

// -----

// A zero fill of the whole output right before the product (through the
// reshape that makes it [M, N / 16, 1, 16], past an allocation) is folded
// into the call: the _overwrite entry points compute C = A B.
// CHECK-LABEL: func.func @zero_filled
// CHECK-NOT: linalg.fill
// CHECK: call @slim_rt_sgemm_packed_overwrite(
// CHECK: call @slim_rt_sgemm_batched_nt_overwrite(
// CHECK-NOT: linalg.fill
func.func @zero_filled(%a: memref<?x576xf32>, %w: memref<36x576x16x1xf32>,
                       %q: memref<9x?x64xf32>, %k: memref<9x?x64xf32>) -> (memref<?x576xf32>, memref<9x?x?xf32>) {
  %zero = arith.constant 0.0 : f32
  %c0 = arith.constant 0 : index
  %c1 = arith.constant 1 : index
  %m = memref.dim %a, %c0 : memref<?x576xf32>
  %c = memref.alloc(%m) : memref<?x576xf32>
  linalg.fill ins(%zero : f32) outs(%c : memref<?x576xf32>)
  %s = memref.dim %q, %c1 : memref<9x?x64xf32>
  %other = memref.alloc(%s, %s) : memref<9x?x?xf32>
  %a4 = memref.expand_shape %a [[0], [1, 2, 3]] output_shape [%m, 576, 1, 1] : memref<?x576xf32> into memref<?x576x1x1xf32>
  %c4 = memref.expand_shape %c [[0], [1, 2, 3]] output_shape [%m, 36, 1, 16] : memref<?x576xf32> into memref<?x36x1x16xf32>
  linalg.mmt4d ins(%a4, %w : memref<?x576x1x1xf32>, memref<36x576x16x1xf32>) outs(%c4 : memref<?x36x1x16xf32>)
  linalg.fill ins(%zero : f32) outs(%other : memref<9x?x?xf32>)
  linalg.batch_matmul indexing_maps = [affine_map<(b, m, n, k) -> (b, m, k)>, affine_map<(b, m, n, k) -> (b, n, k)>, affine_map<(b, m, n, k) -> (b, m, n)>]
      ins(%q, %k : memref<9x?x64xf32>, memref<9x?x64xf32>) outs(%other : memref<9x?x?xf32>)
  return %c, %other : memref<?x576xf32>, memref<9x?x?xf32>
}

// -----

// Not folded: fills of other values than +0.0 (-0.0 + x is not always x),
// an op that reads the output between fill and product, and a fill of
// part of the output.
// CHECK-LABEL: func.func @not_zero_filled
// CHECK-COUNT-4: linalg.fill
// CHECK-NOT: _overwrite
func.func @not_zero_filled(%a: memref<?x16x1x1xf32>, %w: memref<1x16x16x1xf32>, %c: memref<?x1x1x16xf32>,
                           %out: memref<?x1x1x16xf32>) {
  %one = arith.constant 1.0 : f32
  %neg = arith.constant -0.0 : f32
  %zero = arith.constant 0.0 : f32
  linalg.fill ins(%one : f32) outs(%c : memref<?x1x1x16xf32>)
  linalg.mmt4d ins(%a, %w : memref<?x16x1x1xf32>, memref<1x16x16x1xf32>) outs(%c : memref<?x1x1x16xf32>)
  linalg.fill ins(%neg : f32) outs(%c : memref<?x1x1x16xf32>)
  linalg.mmt4d ins(%a, %w : memref<?x16x1x1xf32>, memref<1x16x16x1xf32>) outs(%c : memref<?x1x1x16xf32>)
  linalg.fill ins(%zero : f32) outs(%c : memref<?x1x1x16xf32>)
  memref.copy %c, %out : memref<?x1x1x16xf32> to memref<?x1x1x16xf32>
  linalg.mmt4d ins(%a, %w : memref<?x16x1x1xf32>, memref<1x16x16x1xf32>) outs(%c : memref<?x1x1x16xf32>)
  %c0 = arith.constant 0 : index
  %m = memref.dim %c, %c0 : memref<?x1x1x16xf32>
  %sub = memref.subview %out[0, 0, 0, 0] [%m, 1, 1, 8] [1, 1, 1, 1] : memref<?x1x1x16xf32> to memref<?x1x1x8xf32, strided<[16, 16, 16, 1]>>
  linalg.fill ins(%zero : f32) outs(%sub : memref<?x1x1x8xf32, strided<[16, 16, 16, 1]>>)
  linalg.mmt4d ins(%a, %w : memref<?x16x1x1xf32>, memref<1x16x16x1xf32>) outs(%out : memref<?x1x1x16xf32>)
  return
}
