// RUN: slim-opt %s --slim-lower-softmax | FileCheck %s

// On memrefs, an f32 softmax over the innermost dimension becomes one call
// of the row-wise kernel, through unranked descriptors (any rank, any
// strides); others are left alone.

// CHECK-LABEL: func.func private @slim_rt_softmax_f32(memref<*xf32>, memref<*xf32>) attributes {llvm.emit_c_interface}
// CHECK-LABEL: func.func @rows
// CHECK: %[[IN:.*]] = memref.cast %{{.*}} : memref<?x9x?x?xf32, strided<[?, ?, ?, ?], offset: ?>> to memref<*xf32>
// CHECK: %[[OUT:.*]] = memref.cast %{{.*}} : memref<?x9x?x?xf32> to memref<*xf32>
// CHECK: call @slim_rt_softmax_f32(%[[IN]], %[[OUT]])
// CHECK-NOT: linalg.softmax
// CHECK-LABEL: func.func @left_alone
// CHECK: linalg.softmax dimension(0)
func.func @rows(%x: memref<?x9x?x?xf32, strided<[?, ?, ?, ?], offset: ?>>, %y: memref<?x9x?x?xf32>) {
  linalg.softmax dimension(3) ins(%x : memref<?x9x?x?xf32, strided<[?, ?, ?, ?], offset: ?>>) outs(%y : memref<?x9x?x?xf32>)
  return
}
func.func @left_alone(%x: memref<4x8xf32>, %y: memref<4x8xf32>) {
  linalg.softmax dimension(0) ins(%x : memref<4x8xf32>) outs(%y : memref<4x8xf32>)
  return
}
