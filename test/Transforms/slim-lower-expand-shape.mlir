// RUN: slim-opt %s --slim-lower-expand-shape -split-input-file | FileCheck %s
// RUN: slim-opt %s --slim-lower-expand-shape --expand-strided-metadata -split-input-file | FileCheck %s --check-prefix=META

// [B*S, N] -> [B, S, N] of a contiguous buffer: offset 0, strides the
// suffix products of the sizes.
// CHECK-LABEL: func.func @identity
// CHECK-SAME: (%[[X:.*]]: memref<?x64xf32>, %[[B:.*]]: index, %[[S:.*]]: index)
// CHECK: %[[BS:.*]] = arith.muli %{{.*}}, %[[S]] : index
// CHECK: memref.reinterpret_cast %[[X]] to offset: [0], sizes: [%[[B]], %[[S]], 64], strides: [%[[BS]], 64, 1]
// CHECK-NOT: memref.expand_shape
// META-LABEL: func.func @identity
// META-NOT: memref.expand_shape
func.func @identity(%x: memref<?x64xf32>, %b: index, %s: index) -> memref<?x?x64xf32> {
  %e = memref.expand_shape %x [[0, 1], [2]] output_shape [%b, %s, 64] : memref<?x64xf32> into memref<?x?x64xf32>
  return %e : memref<?x?x64xf32>
}

// -----

// Columns [64, 96) of rows 128 wide (a slice of a joined product), split
// into [B, S, 2, 16]: the source's offset, each group's strides the suffix
// products of its sizes times the source stride it splits (128 and 1).
// CHECK-LABEL: func.func @strided
// CHECK-SAME: (%[[X:.*]]: memref<?x32xf32, strided<[128, 1], offset: 64>>, %[[B:.*]]: index, %[[S:.*]]: index)
// CHECK: memref.reinterpret_cast %[[X]] to offset: [64], sizes: [%[[B]], %[[S]], 2, 16], strides: [%{{.*}}, 128, 16, 1]
// CHECK-NOT: memref.expand_shape
// META-LABEL: func.func @strided
// META-NOT: memref.expand_shape
func.func @strided(%x: memref<?x32xf32, strided<[128, 1], offset: 64>>, %b: index, %s: index) -> memref<?x?x2x16xf32, strided<[?, 128, 16, 1], offset: 64>> {
  %e = memref.expand_shape %x [[0, 1], [2, 3]] output_shape [%b, %s, 2, 16] : memref<?x32xf32, strided<[128, 1], offset: 64>> into memref<?x?x2x16xf32, strided<[?, 128, 16, 1], offset: 64>>
  return %e : memref<?x?x2x16xf32, strided<[?, 128, 16, 1], offset: 64>>
}

// -----

// Dynamic strides and offset come from the source's metadata.
// CHECK-LABEL: func.func @dynamic
// CHECK-SAME: (%[[X:.*]]: memref<?x?xf32, strided<[?, 1], offset: ?>>
// CHECK: %[[BASE:.*]], %[[OFF:.*]], %{{.*}}:2, %[[STR:.*]]:2 = memref.extract_strided_metadata %[[X]]
// CHECK: %[[OUTER:.*]] = arith.muli %[[STR]]#0, %{{.*}} : index
// CHECK: memref.reinterpret_cast %[[X]] to offset: [%[[OFF]]], sizes: [%{{.*}}, %{{.*}}, %{{.*}}], strides: [%[[OUTER]], %[[STR]]#0, 1]
func.func @dynamic(%x: memref<?x?xf32, strided<[?, 1], offset: ?>>, %b: index, %s: index, %n: index) -> memref<?x?x?xf32, strided<[?, ?, 1], offset: ?>> {
  %e = memref.expand_shape %x [[0, 1], [2]] output_shape [%b, %s, %n] : memref<?x?xf32, strided<[?, 1], offset: ?>> into memref<?x?x?xf32, strided<[?, ?, 1], offset: ?>>
  return %e : memref<?x?x?xf32, strided<[?, ?, 1], offset: ?>>
}
