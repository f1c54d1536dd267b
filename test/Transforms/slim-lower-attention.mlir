// RUN: slim-opt %s --slim-lower-attention -split-input-file | FileCheck %s

// The chain of a causal attention layer after bufferization: scores into
// their own buffer, divided by sqrt(d) and masked through a view as
// [batch, heads, queries, keys], the softmax, the product by V. One call;
// the mask [queries, keys] goes as a view with zero strides for batch and
// heads, the scale as 1 / 2; the three intermediate buffers are gone.
// CHECK-LABEL: func.func @masked
// CHECK-NOT: linalg.
// CHECK-NOT: memref.alloc
// CHECK: %[[Z:.*]] = arith.constant 0 : index
// CHECK: memref.reinterpret_cast %{{.*}} to offset: [%{{.*}}], sizes: [1, 2, 8, 8], strides: [%[[Z]], %[[Z]], %{{.*}}, %{{.*}}]
// CHECK: %[[SCALE:.*]] = arith.constant 5.000000e-01 : f32
// CHECK: call @slim_rt_attention_f32(%{{.*}}, %{{.*}}, %{{.*}}, %{{.*}}, %{{.*}}, %[[SCALE]]) : (memref<?x?x?xf32, strided<[?, ?, ?], offset: ?>>, memref<?x?x?xf32, strided<[?, ?, ?], offset: ?>>, memref<?x?x?xf32, strided<[?, ?, ?], offset: ?>>, memref<*xf32>, memref<?x?x?xf32, strided<[?, ?, ?], offset: ?>>, f32) -> ()
// CHECK-NOT: linalg.
// CHECK-NOT: memref.alloc
func.func @masked(%q: memref<2x8x4xf32>, %k: memref<2x8x4xf32>, %v: memref<2x8x4xf32>,
                  %mask: memref<8x8xf32>, %o: memref<2x8x4xf32>) {
  %zero = arith.constant 0.0 : f32
  %two = arith.constant 2.0 : f32
  %s = memref.alloc() : memref<2x8x8xf32>
  linalg.fill ins(%zero : f32) outs(%s : memref<2x8x8xf32>)
  linalg.batch_matmul indexing_maps = [affine_map<(b, m, n, k) -> (b, m, k)>, affine_map<(b, m, n, k) -> (b, n, k)>, affine_map<(b, m, n, k) -> (b, m, n)>]
      ins(%q, %k : memref<2x8x4xf32>, memref<2x8x4xf32>) outs(%s : memref<2x8x8xf32>)
  %s4 = memref.expand_shape %s [[0, 1], [2], [3]] output_shape [1, 2, 8, 8] : memref<2x8x8xf32> into memref<1x2x8x8xf32>
  %x = memref.alloc() : memref<1x2x8x8xf32>
  linalg.generic {indexing_maps = [affine_map<(d0, d1, d2, d3) -> (d0, d1, d2, d3)>, affine_map<(d0, d1, d2, d3) -> (d2, d3)>, affine_map<(d0, d1, d2, d3) -> (d0, d1, d2, d3)>],
                  iterator_types = ["parallel", "parallel", "parallel", "parallel"]}
      ins(%s4, %mask : memref<1x2x8x8xf32>, memref<8x8xf32>) outs(%x : memref<1x2x8x8xf32>) {
  ^bb0(%a: f32, %m: f32, %out: f32):
    %d = arith.divf %a, %two : f32
    %y = arith.addf %d, %m : f32
    linalg.yield %y : f32
  }
  %p = memref.alloc() : memref<1x2x8x8xf32>
  linalg.softmax dimension(3) ins(%x : memref<1x2x8x8xf32>) outs(%p : memref<1x2x8x8xf32>)
  %p3 = memref.collapse_shape %p [[0, 1], [2], [3]] : memref<1x2x8x8xf32> into memref<2x8x8xf32>
  linalg.fill ins(%zero : f32) outs(%o : memref<2x8x4xf32>)
  linalg.batch_matmul ins(%p3, %v : memref<2x8x8xf32>, memref<2x8x4xf32>) outs(%o : memref<2x8x4xf32>)
  memref.dealloc %s : memref<2x8x8xf32>
  memref.dealloc %x : memref<1x2x8x8xf32>
  memref.dealloc %p : memref<1x2x8x8xf32>
  return
}

// -----

// No epilogue: the softmax of the scores themselves, scale 1.
// CHECK-LABEL: func.func @plain
// CHECK: %[[ONE:.*]] = arith.constant 1.000000e+00 : f32
// CHECK: call @slim_rt_attention_nomask_f32(%{{.*}}, %{{.*}}, %{{.*}}, %{{.*}}, %[[ONE]])
// CHECK-NOT: linalg.
func.func @plain(%q: memref<2x8x4xf32>, %k: memref<2x8x4xf32>, %v: memref<2x8x4xf32>, %o: memref<2x8x4xf32>) {
  %zero = arith.constant 0.0 : f32
  %s = memref.alloc() : memref<2x8x8xf32>
  linalg.fill ins(%zero : f32) outs(%s : memref<2x8x8xf32>)
  linalg.batch_matmul indexing_maps = [affine_map<(b, m, n, k) -> (b, m, k)>, affine_map<(b, m, n, k) -> (b, n, k)>, affine_map<(b, m, n, k) -> (b, m, n)>]
      ins(%q, %k : memref<2x8x4xf32>, memref<2x8x4xf32>) outs(%s : memref<2x8x8xf32>)
  %p = memref.alloc() : memref<2x8x8xf32>
  linalg.softmax dimension(2) ins(%s : memref<2x8x8xf32>) outs(%p : memref<2x8x8xf32>)
  linalg.fill ins(%zero : f32) outs(%o : memref<2x8x4xf32>)
  linalg.batch_matmul ins(%p, %v : memref<2x8x8xf32>, memref<2x8x4xf32>) outs(%o : memref<2x8x4xf32>)
  return
}

// -----

// A mask computed in the epilogue from position ids (what elementwise
// fusion makes of a causal mask): materialized over the dimensions it
// depends on ([queries, keys]) right before the call, freed after it.
// CHECK-LABEL: func.func @computed_mask
// CHECK: %[[M:.*]] = memref.alloc() : memref<8x8xf32>
// CHECK: linalg.generic {{.*}} ins(%{{.*}}, %{{.*}} : memref<1x8xi64>, memref<8x1xi64>) outs(%[[M]] : memref<8x8xf32>)
// CHECK: arith.cmpi sle
// CHECK: arith.select
// CHECK-NOT: arith.divf
// CHECK: call @slim_rt_attention_f32(
// CHECK-NEXT: memref.dealloc %[[M]]
// CHECK-NOT: linalg.softmax
// CHECK-NOT: linalg.batch_matmul
func.func @computed_mask(%q: memref<2x8x4xf32>, %k: memref<2x8x4xf32>, %v: memref<2x8x4xf32>,
                         %keys: memref<1x8xi64>, %queries: memref<8x1xi64>, %o: memref<2x8x4xf32>) {
  %zero = arith.constant 0.0 : f32
  %ninf = arith.constant 0xFF800000 : f32
  %c = arith.constant 2.0 : f32
  %s = memref.alloc() : memref<2x8x8xf32>
  linalg.fill ins(%zero : f32) outs(%s : memref<2x8x8xf32>)
  linalg.batch_matmul indexing_maps = [affine_map<(b, m, n, k) -> (b, m, k)>, affine_map<(b, m, n, k) -> (b, n, k)>, affine_map<(b, m, n, k) -> (b, m, n)>]
      ins(%q, %k : memref<2x8x4xf32>, memref<2x8x4xf32>) outs(%s : memref<2x8x8xf32>)
  %s4 = memref.expand_shape %s [[0, 1], [2], [3]] output_shape [1, 2, 8, 8] : memref<2x8x8xf32> into memref<1x2x8x8xf32>
  %x = memref.alloc() : memref<1x2x8x8xf32>
  linalg.generic {indexing_maps = [affine_map<(d0, d1, d2, d3) -> (d0, d1, d2, d3)>, affine_map<(d0, d1, d2, d3) -> (0, d3)>, affine_map<(d0, d1, d2, d3) -> (d2, 0)>, affine_map<(d0, d1, d2, d3) -> (d0, d1, d2, d3)>],
                  iterator_types = ["parallel", "parallel", "parallel", "parallel"]}
      ins(%s4, %keys, %queries : memref<1x2x8x8xf32>, memref<1x8xi64>, memref<8x1xi64>) outs(%x : memref<1x2x8x8xf32>) {
  ^bb0(%a: f32, %kp: i64, %qp: i64, %out: f32):
    %le = arith.cmpi sle, %kp, %qp : i64
    %m = arith.select %le, %zero, %ninf : f32
    %d = arith.mulf %a, %c : f32
    %y = arith.addf %d, %m : f32
    linalg.yield %y : f32
  }
  %p = memref.alloc() : memref<1x2x8x8xf32>
  linalg.softmax dimension(3) ins(%x : memref<1x2x8x8xf32>) outs(%p : memref<1x2x8x8xf32>)
  %p3 = memref.collapse_shape %p [[0, 1], [2], [3]] : memref<1x2x8x8xf32> into memref<2x8x8xf32>
  linalg.fill ins(%zero : f32) outs(%o : memref<2x8x4xf32>)
  linalg.batch_matmul ins(%p3, %v : memref<2x8x8xf32>, memref<2x8x4xf32>) outs(%o : memref<2x8x4xf32>)
  return
}

// -----

// Left alone: the scores are also copied out (someone else reads them),
// the probabilities' product has no zero fill before it, and a write
// between the products (into V) could change what the chain reads.
// CHECK-LABEL: func.func @not_fused
// CHECK-NOT: slim_rt_attention
// CHECK-COUNT-3: linalg.softmax
// CHECK-NOT: slim_rt_attention
func.func @not_fused(%q: memref<2x8x4xf32>, %k: memref<2x8x4xf32>, %v: memref<2x8x4xf32>, %o: memref<2x8x4xf32>,
                     %keep: memref<2x8x8xf32>) {
  %zero = arith.constant 0.0 : f32
  %s = memref.alloc() : memref<2x8x8xf32>
  linalg.fill ins(%zero : f32) outs(%s : memref<2x8x8xf32>)
  linalg.batch_matmul indexing_maps = [affine_map<(b, m, n, k) -> (b, m, k)>, affine_map<(b, m, n, k) -> (b, n, k)>, affine_map<(b, m, n, k) -> (b, m, n)>]
      ins(%q, %k : memref<2x8x4xf32>, memref<2x8x4xf32>) outs(%s : memref<2x8x8xf32>)
  memref.copy %s, %keep : memref<2x8x8xf32> to memref<2x8x8xf32>
  %p = memref.alloc() : memref<2x8x8xf32>
  linalg.softmax dimension(2) ins(%s : memref<2x8x8xf32>) outs(%p : memref<2x8x8xf32>)
  linalg.fill ins(%zero : f32) outs(%o : memref<2x8x4xf32>)
  linalg.batch_matmul ins(%p, %v : memref<2x8x8xf32>, memref<2x8x4xf32>) outs(%o : memref<2x8x4xf32>)

  %s2 = memref.alloc() : memref<2x8x8xf32>
  linalg.fill ins(%zero : f32) outs(%s2 : memref<2x8x8xf32>)
  linalg.batch_matmul indexing_maps = [affine_map<(b, m, n, k) -> (b, m, k)>, affine_map<(b, m, n, k) -> (b, n, k)>, affine_map<(b, m, n, k) -> (b, m, n)>]
      ins(%q, %k : memref<2x8x4xf32>, memref<2x8x4xf32>) outs(%s2 : memref<2x8x8xf32>)
  %p2 = memref.alloc() : memref<2x8x8xf32>
  linalg.softmax dimension(2) ins(%s2 : memref<2x8x8xf32>) outs(%p2 : memref<2x8x8xf32>)
  linalg.batch_matmul ins(%p2, %v : memref<2x8x8xf32>, memref<2x8x4xf32>) outs(%o : memref<2x8x4xf32>)

  %s3 = memref.alloc() : memref<2x8x8xf32>
  linalg.fill ins(%zero : f32) outs(%s3 : memref<2x8x8xf32>)
  linalg.batch_matmul indexing_maps = [affine_map<(b, m, n, k) -> (b, m, k)>, affine_map<(b, m, n, k) -> (b, n, k)>, affine_map<(b, m, n, k) -> (b, m, n)>]
      ins(%q, %k : memref<2x8x4xf32>, memref<2x8x4xf32>) outs(%s3 : memref<2x8x8xf32>)
  %p3 = memref.alloc() : memref<2x8x8xf32>
  linalg.softmax dimension(2) ins(%s3 : memref<2x8x8xf32>) outs(%p3 : memref<2x8x8xf32>)
  linalg.fill ins(%zero : f32) outs(%v : memref<2x8x4xf32>)
  linalg.fill ins(%zero : f32) outs(%o : memref<2x8x4xf32>)
  linalg.batch_matmul ins(%p3, %v : memref<2x8x8xf32>, memref<2x8x4xf32>) outs(%o : memref<2x8x4xf32>)
  return
}
