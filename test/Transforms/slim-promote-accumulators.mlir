// RUN: slim-opt %s --split-input-file --slim-promote-accumulators=reassociate=1 | FileCheck %s
// RUN: slim-opt %s --split-input-file --slim-promote-accumulators | FileCheck %s --check-prefix=ORDERED

// A row sum into the function's own buffer: the element is loaded before
// the loop, carried in a register and stored after it; the sum may be
// reordered.
// CHECK-LABEL: func.func @row_sum
// CHECK: %[[SUM:.*]] = memref.alloc
// CHECK: scf.for %[[I:.*]] =
// CHECK: %[[INIT:.*]] = memref.load %[[SUM]][%[[I]]]
// CHECK: %[[R:.*]] = scf.for %{{.*}} iter_args(%[[ACC:.*]] = %[[INIT]]) -> (f32) {
// CHECK-NOT: memref.store
// CHECK: %[[S:.*]] = arith.addf %{{.*}}, %[[ACC]] fastmath<reassoc> : f32
// CHECK: scf.yield %[[S]] : f32
// CHECK: memref.store %[[R]], %[[SUM]][%[[I]]]
// ORDERED-LABEL: func.func @row_sum
// ORDERED: iter_args
// ORDERED-NOT: reassoc
func.func @row_sum(%in: memref<?x?xf32>) -> memref<?xf32> {
  %c0 = arith.constant 0 : index
  %c1 = arith.constant 1 : index
  %m = memref.dim %in, %c0 : memref<?x?xf32>
  %n = memref.dim %in, %c1 : memref<?x?xf32>
  %sum = memref.alloc(%m) : memref<?xf32>
  scf.for %i = %c0 to %m step %c1 {
    scf.for %k = %c0 to %n step %c1 {
      %x = memref.load %in[%i, %k] : memref<?x?xf32>
      %acc = memref.load %sum[%i] : memref<?xf32>
      %s = arith.addf %x, %acc : f32
      memref.store %s, %sum[%i] : memref<?xf32>
    }
  }
  return %sum : memref<?xf32>
}

// -----

// A max through a view of an allocation: promoted, no flag needed.
// CHECK-LABEL: func.func @view_max
// CHECK: scf.for {{.*}} iter_args
// CHECK: arith.maximumf %{{.*}}, %{{.*}} : f32
func.func @view_max(%in: memref<4x64xf32>) -> memref<4xf32> {
  %c0 = arith.constant 0 : index
  %c1 = arith.constant 1 : index
  %c4 = arith.constant 4 : index
  %c64 = arith.constant 64 : index
  %buf = memref.alloc() : memref<1x4xf32>
  %v = memref.collapse_shape %buf [[0, 1]] : memref<1x4xf32> into memref<4xf32>
  scf.for %i = %c0 to %c4 step %c1 {
    scf.for %k = %c0 to %c64 step %c1 {
      %x = memref.load %in[%i, %k] : memref<4x64xf32>
      %acc = memref.load %v[%i] : memref<4xf32>
      %s = arith.maximumf %x, %acc : f32
      memref.store %s, %v[%i] : memref<4xf32>
    }
  }
  return %v : memref<4xf32>
}

// -----

// Not promoted: the accumulator is a function argument (it may alias the
// input), or another access of the same allocation is in the loop.
// CHECK-LABEL: func.func @kept
// CHECK-NOT: iter_args
// CHECK: return
func.func @kept(%in: memref<?x?xf32>, %out: memref<?xf32>) {
  %c0 = arith.constant 0 : index
  %c1 = arith.constant 1 : index
  %m = memref.dim %in, %c0 : memref<?x?xf32>
  %n = memref.dim %in, %c1 : memref<?x?xf32>
  scf.for %i = %c0 to %m step %c1 {
    scf.for %k = %c0 to %n step %c1 {
      %x = memref.load %in[%i, %k] : memref<?x?xf32>
      %acc = memref.load %out[%i] : memref<?xf32>
      %s = arith.addf %x, %acc : f32
      memref.store %s, %out[%i] : memref<?xf32>
    }
  }
  %buf = memref.alloc(%m) : memref<?xf32>
  scf.for %i = %c0 to %m step %c1 {
    scf.for %k = %c0 to %m step %c1 {
      %x = memref.load %buf[%k] : memref<?xf32>
      %acc = memref.load %buf[%i] : memref<?xf32>
      %s = arith.addf %x, %acc : f32
      memref.store %s, %buf[%i] : memref<?xf32>
    }
  }
  memref.dealloc %buf : memref<?xf32>
  return
}
