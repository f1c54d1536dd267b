// RUN: slim-opt %s --split-input-file --slim-dealloc-after-last-use | FileCheck %s

// Each dealloc moves up to just after the last use of its buffer.
// CHECK-LABEL: func.func @chain
// CHECK: %[[A:.*]] = memref.alloc()
// CHECK: %[[B:.*]] = memref.alloc()
// CHECK-NEXT: linalg.exp ins(%[[A]] {{.*}} outs(%[[B]]
// CHECK-NEXT: memref.dealloc %[[A]]
// CHECK: %[[C:.*]] = memref.alloc()
// CHECK-NEXT: linalg.exp ins(%[[B]] {{.*}} outs(%[[C]]
// CHECK-NEXT: memref.dealloc %[[B]]
// CHECK-NEXT: return %[[C]]
func.func @chain(%x: memref<4xf32>) -> memref<4xf32> {
  %a = memref.alloc() : memref<4xf32>
  linalg.exp ins(%x : memref<4xf32>) outs(%a : memref<4xf32>)
  %b = memref.alloc() : memref<4xf32>
  linalg.exp ins(%a : memref<4xf32>) outs(%b : memref<4xf32>)
  %c = memref.alloc() : memref<4xf32>
  linalg.exp ins(%b : memref<4xf32>) outs(%c : memref<4xf32>)
  memref.dealloc %a : memref<4xf32>
  memref.dealloc %b : memref<4xf32>
  return %c : memref<4xf32>
}

// -----

// Views, extracted pointers and loops over the buffer count as uses; a
// memref.dim or a load does not carry the buffer on.
// CHECK-LABEL: func.func @aliases
// CHECK: %[[A:.*]] = memref.alloc
// CHECK: %[[V:.*]] = memref.reinterpret_cast %[[A]]
// CHECK: %[[P:.*]] = memref.extract_aligned_pointer_as_index %[[V]]
// CHECK: call @use_pointer(%[[P]])
// CHECK-NEXT: memref.dealloc %[[A]]
// CHECK: %[[B:.*]] = memref.alloc
// CHECK: scf.for
// CHECK: memref.store {{.*}}, %[[B]]
// CHECK: }
// CHECK-NEXT: memref.dealloc %[[B]]
// CHECK: %[[C:.*]] = memref.alloc
// CHECK: memref.load %[[C]]
// CHECK-NEXT: memref.dealloc %[[C]]
// CHECK: arith.addf
// CHECK: return
func.func private @use_pointer(index)
func.func @aliases(%n: index, %f: f32) -> (index, f32) {
  %c0 = arith.constant 0 : index
  %c1 = arith.constant 1 : index
  %a = memref.alloc(%n) : memref<?xf32>
  %v = memref.reinterpret_cast %a to offset: [0], sizes: [%n], strides: [1] : memref<?xf32> to memref<?xf32>
  %p = memref.extract_aligned_pointer_as_index %v : memref<?xf32> -> index
  func.call @use_pointer(%p) : (index) -> ()
  %b = memref.alloc(%n) : memref<?xf32>
  scf.for %i = %c0 to %n step %c1 {
    memref.store %f, %b[%i] : memref<?xf32>
  }
  %c = memref.alloc(%n) : memref<?xf32>
  %d = memref.dim %c, %c0 : memref<?xf32>
  %l = memref.load %c[%c0] : memref<?xf32>
  %s = arith.addf %l, %f : f32
  %e = arith.addi %d, %n : index
  memref.dealloc %a : memref<?xf32>
  memref.dealloc %b : memref<?xf32>
  memref.dealloc %c : memref<?xf32>
  return %e, %s : index, f32
}

// -----

// Blocks nested in regions are handled too; a buffer allocated outside the
// block keeps its dealloc, and so does one a pointer derived from it
// leaves through the terminator.
// CHECK-LABEL: func.func @nested
// CHECK: scf.if
// CHECK: %[[B:.*]] = memref.alloc
// CHECK-NEXT: linalg.exp ins(%{{.*}} outs(%[[B]]
// CHECK-NEXT: linalg.exp ins(%[[B]]
// CHECK-NEXT: memref.dealloc %[[B]]
// CHECK-NEXT: linalg.exp
// CHECK-NEXT: memref.dealloc %{{.*}}
// CHECK-NEXT: }
// CHECK: %[[E:.*]] = memref.alloc
// CHECK: %[[P:.*]] = memref.extract_aligned_pointer_as_index %[[E]]
// CHECK: linalg.exp
// CHECK-NEXT: memref.dealloc %[[E]]
// CHECK-NEXT: return %[[P]]
func.func @nested(%c: i1, %x: memref<4xf32>, %y: memref<4xf32>) -> index {
  %a = memref.alloc() : memref<4xf32>
  scf.if %c {
    %b = memref.alloc() : memref<4xf32>
    linalg.exp ins(%x : memref<4xf32>) outs(%b : memref<4xf32>)
    linalg.exp ins(%b : memref<4xf32>) outs(%y : memref<4xf32>)
    linalg.exp ins(%x : memref<4xf32>) outs(%y : memref<4xf32>)
    memref.dealloc %a : memref<4xf32>
    memref.dealloc %b : memref<4xf32>
  }
  %e = memref.alloc() : memref<4xf32>
  %p = memref.extract_aligned_pointer_as_index %e : memref<4xf32> -> index
  linalg.exp ins(%x : memref<4xf32>) outs(%y : memref<4xf32>)
  memref.dealloc %e : memref<4xf32>
  return %p : index
}
