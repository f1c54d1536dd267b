// RUN: slim-opt %s --split-input-file --slim-indirect-memref-arguments | FileCheck %s
// RUN: slim-opt %s --split-input-file --slim-indirect-memref-arguments --expand-strided-metadata --finalize-memref-to-llvm --convert-arith-to-llvm --convert-func-to-llvm --reconcile-unrealized-casts | FileCheck %s --check-prefix=LLVM

// Memref arguments and results of a private function become pointers to
// descriptors: the callee loads its arguments at the entry and stores its
// results before returning; the caller keeps a slot per value, writes it
// once, shares slots whose uses do not overlap, and reloads a result only
// for a use that is not such a call.
// CHECK-LABEL: func.func private @part
// CHECK-SAME: (%[[X:.*]]: !llvm.ptr, %[[N:.*]]: index, %[[OUT:.*]]: !llvm.ptr) -> index
// CHECK: %[[D:.*]] = llvm.load %[[X]] : !llvm.ptr -> !llvm.struct<(ptr, ptr, i64, array<1 x i64>, array<1 x i64>)>
// CHECK: %[[M:.*]] = builtin.unrealized_conversion_cast %[[D]] {{.*}} to memref<?xf32>
// CHECK: memref.dim %[[M]]
// CHECK: %[[R:.*]] = builtin.unrealized_conversion_cast %{{.*}} : memref<?xf32> to !llvm.struct
// CHECK: llvm.store %[[R]], %[[OUT]]
// CHECK: return %{{.*}} : index
// CHECK-LABEL: func.func @main
// CHECK-COUNT-2: llvm.alloca
// CHECK-NOT: llvm.alloca
// CHECK: %[[S:.*]] = builtin.unrealized_conversion_cast %arg0
// CHECK: llvm.store %[[S]], %[[SLOT0:.*]] :
// CHECK: %[[I:.*]] = call @part(%[[SLOT0]], %arg1, %[[SLOT1:.*]]) : (!llvm.ptr, index, !llvm.ptr) -> index
// CHECK-NEXT: %[[L:.*]] = llvm.load %[[SLOT1]]
// CHECK-NEXT: %[[A:.*]] = builtin.unrealized_conversion_cast %[[L]]
// CHECK-NEXT: %[[J:.*]] = call @part(%[[SLOT1]], %[[I]], %[[SLOT0]])
// CHECK-NEXT: %[[L2:.*]] = llvm.load %[[SLOT0]]
// CHECK-NEXT: %[[B:.*]] = builtin.unrealized_conversion_cast %[[L2]]
// CHECK-NEXT: %[[K:.*]] = call @part(%[[SLOT0]], %[[J]], %[[SLOT1]])
// CHECK-NEXT: %[[L3:.*]] = llvm.load %[[SLOT1]]
// CHECK-NEXT: %[[C:.*]] = builtin.unrealized_conversion_cast %[[L3]]
// CHECK-NEXT: memref.dealloc %[[A]]
// CHECK-NEXT: memref.dealloc %[[B]]
// CHECK-NEXT: return %[[C]], %[[K]]
// LLVM-NOT: unrealized_conversion_cast
// LLVM: llvm.func @main
// LLVM: llvm.call @part({{.*}}) : (!llvm.ptr, i64, !llvm.ptr) -> i64
func.func private @part(%x: memref<?xf32>, %n: index) -> (memref<?xf32>, index) {
  %c0 = arith.constant 0 : index
  %d = memref.dim %x, %c0 : memref<?xf32>
  %y = memref.alloc(%d) : memref<?xf32>
  memref.copy %x, %y : memref<?xf32> to memref<?xf32>
  %m = arith.addi %n, %d : index
  return %y, %m : memref<?xf32>, index
}
func.func @main(%x: memref<?xf32>, %n: index) -> (memref<?xf32>, index) {
  %a, %i = call @part(%x, %n) : (memref<?xf32>, index) -> (memref<?xf32>, index)
  %b, %j = call @part(%a, %i) : (memref<?xf32>, index) -> (memref<?xf32>, index)
  %c, %k = call @part(%b, %j) : (memref<?xf32>, index) -> (memref<?xf32>, index)
  memref.dealloc %a : memref<?xf32>
  memref.dealloc %b : memref<?xf32>
  return %c, %k : memref<?xf32>, index
}

// -----

// Left alone: a public function, and one whose call sits in a nested region.
// CHECK-LABEL: func.func @pub(%{{.*}}: memref<4xf32>)
// CHECK: func.func private @nested(%{{.*}}: memref<4xf32>)
// CHECK-NOT: llvm.alloca
func.func @pub(%x: memref<4xf32>) {
  return
}
func.func private @nested(%x: memref<4xf32>) {
  return
}
func.func @user(%c: i1, %x: memref<4xf32>) {
  call @pub(%x) : (memref<4xf32>) -> ()
  scf.if %c {
    func.call @nested(%x) : (memref<4xf32>) -> ()
  }
  return
}
