// RUN: slim-opt %s --split-input-file --slim-parallelize-loops=min-work=4096 | FileCheck %s

// Statically large: shared out without a thread request; the outer
// dimension is the worksharing loop, the inner one a sequential loop in it.
// CHECK-LABEL: func.func @static_large
// CHECK: omp.parallel {
// CHECK-NEXT: omp.wsloop {
// CHECK-NEXT: omp.loop_nest (%[[I:.*]]) : index = (%c0) to (%c128) step (%c1) {
// CHECK-NEXT: scf.parallel (%[[J:.*]]) = (%c0) to (%c576) step (%c1) {
// CHECK: memref.load %{{.*}}[%[[I]], %[[J]]]
// CHECK: omp.yield
// CHECK: omp.terminator
func.func @static_large(%a: memref<128x576xf32>, %b: memref<128x576xf32>) {
  %c0 = arith.constant 0 : index
  %c1 = arith.constant 1 : index
  %c128 = arith.constant 128 : index
  %c576 = arith.constant 576 : index
  scf.parallel (%i, %j) = (%c0, %c0) to (%c128, %c576) step (%c1, %c1) {
    %x = memref.load %a[%i, %j] : memref<128x576xf32>
    %y = math.exp %x : f32
    memref.store %y, %b[%i, %j] : memref<128x576xf32>
    scf.reduce
  }
  return
}

// -----

// Statically small (8 x 64 x 3 ops): stays a sequential scf.parallel.
// CHECK-LABEL: func.func @static_small
// CHECK-NOT: omp.
// CHECK: scf.parallel
func.func @static_small(%a: memref<8x64xf32>, %b: memref<8x64xf32>) {
  %c0 = arith.constant 0 : index
  %c1 = arith.constant 1 : index
  %c8 = arith.constant 8 : index
  %c64 = arith.constant 64 : index
  scf.parallel (%i, %j) = (%c0, %c0) to (%c8, %c64) step (%c1, %c1) {
    %x = memref.load %a[%i, %j] : memref<8x64xf32>
    %y = math.exp %x : f32
    memref.store %y, %b[%i, %j] : memref<8x64xf32>
    scf.reduce
  }
  return
}

// -----

// Dynamic sizes: the work (rows x 9 x 64 x 4 ops) is computed at run time
// and a small loop asks for one thread. A dimension of one iteration is
// dropped; the two parallel ones left are collapsed since the body is a
// reduction loop, which stays sequential inside each thread's range.
// CHECK-LABEL: func.func @dynamic
// CHECK: %[[ROWS:.*]] = arith.muli %{{.*}}, %c256
// CHECK: %[[WORK:.*]] = arith.muli %[[ROWS]], %c9
// CHECK: %[[MIN:.*]] = arith.constant 4096 : index
// CHECK: %[[BIG:.*]] = arith.cmpi sge, %[[WORK]], %[[MIN]] : index
// CHECK-DAG: %[[C1T:.*]] = arith.constant 1 : i32
// CHECK-DAG: %[[ALL:.*]] = arith.constant 65536 : i32
// CHECK: %[[NT:.*]] = arith.select %[[BIG]], %[[ALL]], %[[C1T]] : i32
// CHECK: omp.parallel num_threads(%[[NT]] : i32) {
// CHECK: omp.loop_nest (%[[B:.*]], %[[H:.*]]) : index = (%c0, %c0) to (%[[N:.*]], %c9) step (%c1, %c1) collapse(2) {
// CHECK-NEXT: scf.for %[[K:.*]] = %c0 to %c64
// CHECK: memref.load %{{.*}}[%[[B]], %c0, %[[H]], %[[K]]]
func.func @dynamic(%a: memref<?x1x9x64xf32>, %s: memref<?x1x9xf32>) {
  %c0 = arith.constant 0 : index
  %c1 = arith.constant 1 : index
  %c9 = arith.constant 9 : index
  %c64 = arith.constant 64 : index
  %n = memref.dim %a, %c0 : memref<?x1x9x64xf32>
  scf.parallel (%b, %u, %h) = (%c0, %c0, %c0) to (%n, %c1, %c9) step (%c1, %c1, %c1) {
    scf.for %k = %c0 to %c64 step %c1 {
      %x = memref.load %a[%b, %u, %h, %k] : memref<?x1x9x64xf32>
      %acc = memref.load %s[%b, %u, %h] : memref<?x1x9xf32>
      %y = arith.addf %x, %acc : f32
      memref.store %y, %s[%b, %u, %h] : memref<?x1x9xf32>
    }
    scf.reduce
  }
  return
}

// -----

// A single dimension left is shared out itself (no inner loop); a loop
// with reduction results stays sequential.
// CHECK-LABEL: func.func @one_dim
// CHECK: omp.loop_nest (%{{.*}}) : index = (%c0) to (%c65536) step (%c1) {
// CHECK-NEXT: memref.load
// CHECK: scf.parallel {{.*}} init
func.func @one_dim(%a: memref<65536xf32>) -> f32 {
  %c0 = arith.constant 0 : index
  %c1 = arith.constant 1 : index
  %n = arith.constant 65536 : index
  %zero = arith.constant 0.0 : f32
  scf.parallel (%i) = (%c0) to (%n) step (%c1) {
    %x = memref.load %a[%i] : memref<65536xf32>
    %y = arith.mulf %x, %x : f32
    memref.store %y, %a[%i] : memref<65536xf32>
    scf.reduce
  }
  %r = scf.parallel (%i) = (%c0) to (%n) step (%c1) init (%zero) -> f32 {
    %x = memref.load %a[%i] : memref<65536xf32>
    scf.reduce(%x : f32) {
    ^bb0(%l: f32, %r: f32):
      %s = arith.addf %l, %r : f32
      scf.reduce.return %s : f32
    }
  }
  return %r : f32
}
