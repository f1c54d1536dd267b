// RUN: slim-opt %s --slim-outline-regions=max-ops=16 | FileCheck %s
// RUN: slim-opt %s --slim-outline-regions=max-ops=100 | FileCheck %s --check-prefix=SMALL

// Three "layers" of about 6 ops each (a named op counts with its body): with at most 16 per part, the cuts fall
// where one buffer is live (after a layer's dealloc), each part gets the
// constant and the weights view it uses as copies, and the entry is calls.
// CHECK-LABEL: func.func @main
// CHECK-SAME: (%[[X:.*]]: memref<16xf32>, %[[W:.*]]: memref<?xi8>)
// CHECK-SAME: passthrough = ["noinline", "optnone"]
// CHECK: %[[A:.*]] = call @main_part0(%[[X]], %[[W]])
// CHECK: call @main_part1(%[[A]], %[[W]])
// CHECK: return
// CHECK: func.func private @main_part0(%{{.*}}: memref<16xf32>, %[[PW:.*]]: memref<?xi8>) -> memref<16xf32>
// CHECK-SAME: llvm.linkage = #llvm.linkage<internal>
// CHECK-SAME: passthrough = ["noinline"]
// CHECK-SAME: slim.outlined
// CHECK: arith.constant 0 : index
// CHECK: memref.view %[[PW]]
// CHECK: func.func private @main_part1
// SMALL-NOT: call @main_part
func.func @main(%x: memref<16xf32>, %w: memref<?xi8>) -> memref<16xf32> {
  %c0 = arith.constant 0 : index
  %v = memref.view %w[%c0][] : memref<?xi8> to memref<16xf32>
  %a = memref.alloc() : memref<16xf32>
  linalg.add ins(%x, %v : memref<16xf32>, memref<16xf32>) outs(%a : memref<16xf32>)
  %b = memref.alloc() : memref<16xf32>
  linalg.exp ins(%a : memref<16xf32>) outs(%b : memref<16xf32>)
  memref.dealloc %a : memref<16xf32>
  %c = memref.alloc() : memref<16xf32>
  linalg.add ins(%b, %v : memref<16xf32>, memref<16xf32>) outs(%c : memref<16xf32>)
  %d = memref.alloc() : memref<16xf32>
  linalg.exp ins(%c : memref<16xf32>) outs(%d : memref<16xf32>)
  memref.dealloc %b : memref<16xf32>
  memref.dealloc %c : memref<16xf32>
  %e = memref.alloc() : memref<16xf32>
  linalg.add ins(%d, %v : memref<16xf32>, memref<16xf32>) outs(%e : memref<16xf32>)
  memref.dealloc %d : memref<16xf32>
  return %e : memref<16xf32>
}
