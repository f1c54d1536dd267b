// RUN: slim-opt %s --split-input-file --slim-merge-equivalent-functions | FileCheck %s
// RUN: slim-opt %s --split-input-file --slim-merge-equivalent-functions=max-arguments=1 | FileCheck %s --check-prefix=LIMIT

// Three parts that differ only in their weights' offsets: one function
// remains, the offsets its arguments, each call passing its own.
// CHECK-LABEL: func.func private @layer0
// CHECK-SAME: (%[[W:.*]]: memref<?xi8>, %[[X:.*]]: memref<4xf32>, %[[OFF:.*]]: index) -> memref<4xf32>
// CHECK-SAME: slim.merged = 3
// CHECK-NOT: arith.constant {{.*}} : index
// CHECK: %[[V:.*]] = memref.view %[[W]][%[[OFF]]][]
// CHECK: %[[C:.*]] = arith.constant 2.0
// CHECK: linalg.generic
// CHECK-NOT: func.func private @layer1
// CHECK-NOT: func.func private @layer2
// CHECK-LABEL: func.func @main
// CHECK: %[[C0:.*]] = arith.constant 0 : index
// CHECK: %[[A:.*]] = call @layer0(%{{.*}}, %{{.*}}, %[[C0]])
// CHECK: %[[C16:.*]] = arith.constant 16 : index
// CHECK: %[[B:.*]] = call @layer0(%{{.*}}, %[[A]], %[[C16]])
// CHECK: %[[C32:.*]] = arith.constant 32 : index
// CHECK: call @layer0(%{{.*}}, %[[B]], %[[C32]])
// LIMIT-LABEL: func.func private @layer0
// LIMIT-SAME: slim.merged = 3
#id = affine_map<(d0) -> (d0)>
func.func private @layer0(%w: memref<?xi8>, %x: memref<4xf32>) -> memref<4xf32> {
  %off = arith.constant 0 : index
  %v = memref.view %w[%off][] : memref<?xi8> to memref<4xf32>
  %two = arith.constant 2.0 : f32
  %y = memref.alloc() : memref<4xf32>
  linalg.generic {indexing_maps = [#id, #id, #id], iterator_types = ["parallel"]}
      ins(%x, %v : memref<4xf32>, memref<4xf32>) outs(%y : memref<4xf32>) {
  ^bb0(%a: f32, %b: f32, %o: f32):
    %m = arith.mulf %a, %b : f32
    %s = arith.mulf %m, %two : f32
    linalg.yield %s : f32
  }
  return %y : memref<4xf32>
}
func.func private @layer1(%w: memref<?xi8>, %x: memref<4xf32>) -> memref<4xf32> {
  %off = arith.constant 16 : index
  %v = memref.view %w[%off][] : memref<?xi8> to memref<4xf32>
  %two = arith.constant 2.0 : f32
  %y = memref.alloc() : memref<4xf32>
  linalg.generic {indexing_maps = [#id, #id, #id], iterator_types = ["parallel"]}
      ins(%x, %v : memref<4xf32>, memref<4xf32>) outs(%y : memref<4xf32>) {
  ^bb0(%a: f32, %b: f32, %o: f32):
    %m = arith.mulf %a, %b : f32
    %s = arith.mulf %m, %two : f32
    linalg.yield %s : f32
  }
  return %y : memref<4xf32>
}
func.func private @layer2(%w: memref<?xi8>, %x: memref<4xf32>) -> memref<4xf32> {
  %off = arith.constant 32 : index
  %v = memref.view %w[%off][] : memref<?xi8> to memref<4xf32>
  %two = arith.constant 2.0 : f32
  %y = memref.alloc() : memref<4xf32>
  linalg.generic {indexing_maps = [#id, #id, #id], iterator_types = ["parallel"]}
      ins(%x, %v : memref<4xf32>, memref<4xf32>) outs(%y : memref<4xf32>) {
  ^bb0(%a: f32, %b: f32, %o: f32):
    %m = arith.mulf %a, %b : f32
    %s = arith.mulf %m, %two : f32
    linalg.yield %s : f32
  }
  return %y : memref<4xf32>
}
func.func @main(%w: memref<?xi8>, %x: memref<4xf32>) -> memref<4xf32> {
  %a = call @layer0(%w, %x) : (memref<?xi8>, memref<4xf32>) -> memref<4xf32>
  %b = call @layer1(%w, %a) : (memref<?xi8>, memref<4xf32>) -> memref<4xf32>
  %c = call @layer2(%w, %b) : (memref<?xi8>, memref<4xf32>) -> memref<4xf32>
  memref.dealloc %a : memref<4xf32>
  memref.dealloc %b : memref<4xf32>
  return %c : memref<4xf32>
}

// -----

// Not merged: a float constant differs (@f1), an operation differs (@f2),
// the operand structure differs (@f3), a public function (@f4), a function
// whose address is taken (@f5). Two constants differing between @g0 and @g1
// exceed max-arguments=1.
// CHECK-LABEL: func.func private @f0
// CHECK-SAME: (%{{.*}}: f32) -> f32 {
// CHECK: func.func private @f1
// CHECK: func.func private @f2
// CHECK: func.func private @f3
// CHECK: func.func @f4
// CHECK: func.func private @f5
// CHECK: func.func private @g0(%{{.*}}: index, %{{.*}}: index, %{{.*}}: index) -> index
// CHECK-SAME: slim.merged = 2
// CHECK-NOT: func.func private @g1
// LIMIT: func.func private @g0(%{{.*}}: index) -> index {
// LIMIT: func.func private @g1(%{{.*}}: index) -> index {
func.func private @f0(%x: f32) -> f32 {
  %c = arith.constant 1.0 : f32
  %y = arith.addf %x, %c : f32
  return %y : f32
}
func.func private @f1(%x: f32) -> f32 {
  %c = arith.constant 3.0 : f32
  %y = arith.addf %x, %c : f32
  return %y : f32
}
func.func private @f2(%x: f32) -> f32 {
  %c = arith.constant 1.0 : f32
  %y = arith.mulf %x, %c : f32
  return %y : f32
}
func.func private @f3(%x: f32) -> f32 {
  %c = arith.constant 1.0 : f32
  %y = arith.addf %x, %x : f32
  return %y : f32
}
func.func @f4(%x: f32) -> f32 {
  %c = arith.constant 1.0 : f32
  %y = arith.addf %x, %c : f32
  return %y : f32
}
func.func private @f5(%x: f32) -> f32 {
  %c = arith.constant 1.0 : f32
  %y = arith.addf %x, %c : f32
  return %y : f32
}
func.func private @g0(%x: index) -> index {
  %a = arith.constant 1 : index
  %b = arith.constant 2 : index
  %y = arith.addi %x, %a : index
  %z = arith.muli %y, %b : index
  return %z : index
}
func.func private @g1(%x: index) -> index {
  %a = arith.constant 3 : index
  %b = arith.constant 4 : index
  %y = arith.addi %x, %a : index
  %z = arith.muli %y, %b : index
  return %z : index
}
func.func @user(%x: f32, %i: index) -> (f32, f32, f32, f32, f32, index, index, (f32) -> f32) {
  %0 = call @f0(%x) : (f32) -> f32
  %1 = call @f1(%x) : (f32) -> f32
  %2 = call @f2(%x) : (f32) -> f32
  %3 = call @f3(%x) : (f32) -> f32
  %4 = call @f4(%x) : (f32) -> f32
  %5 = call @g0(%i) : (index) -> index
  %6 = call @g1(%i) : (index) -> index
  %f = func.constant @f5 : (f32) -> f32
  return %0, %1, %2, %3, %4, %5, %6, %f : f32, f32, f32, f32, f32, index, index, (f32) -> f32
}
