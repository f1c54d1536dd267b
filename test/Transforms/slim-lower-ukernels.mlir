// RUN: slim-opt %s -split-input-file -verify-diagnostics --slim-lower-ukernels | FileCheck %s

// Inputs in order, then the outputs; memrefs as fully dynamic strided
// descriptors, scalars by value; one declaration for both calls.
// CHECK: func.func private @kernel(memref<?x?xf32, strided<[?, ?], offset: ?>>, i64, memref<?xf32, strided<[?], offset: ?>>) attributes {llvm.emit_c_interface}
// CHECK-LABEL: func.func @calls
// CHECK: %[[X:.*]] = memref.cast %arg0 : memref<4x8xf32> to memref<?x?xf32, strided<[?, ?], offset: ?>>
// CHECK: %[[Y:.*]] = memref.cast %arg1 : memref<4xf32, strided<[2], offset: 1>> to memref<?xf32, strided<[?], offset: ?>>
// CHECK: call @kernel(%[[X]], %arg2, %[[Y]])
// CHECK: call @kernel(
// CHECK-NOT: slim.ukernel
func.func @calls(%x: memref<4x8xf32>, %y: memref<4xf32, strided<[2], offset: 1>>, %n: i64) {
  slim.ukernel "kernel" ins(%x, %n : memref<4x8xf32>, i64) outs(%y : memref<4xf32, strided<[2], offset: 1>>)
  slim.ukernel "kernel" ins(%x, %n : memref<4x8xf32>, i64) outs(%y : memref<4xf32, strided<[2], offset: 1>>)
  return
}

// -----

func.func @on_tensors(%y: tensor<4xf32>) -> tensor<4xf32> {
  // expected-error @+1 {{'slim.ukernel' op expected memref operands: run bufferization before --slim-lower-ukernels}}
  %r = slim.ukernel "kernel" outs(%y : tensor<4xf32>) -> tensor<4xf32>
  return %r : tensor<4xf32>
}

// -----

func.func @two_types(%a: memref<4xf32>, %b: memref<8xi8>) {
  slim.ukernel "kernel" outs(%a : memref<4xf32>)
  // expected-error @+1 {{'slim.ukernel' op calls 'kernel' with type '(memref<?xi8, strided<[?], offset: ?>>) -> ()', but the module declares it as '(memref<?xf32, strided<[?], offset: ?>>) -> ()'}}
  slim.ukernel "kernel" outs(%b : memref<8xi8>)
  return
}
