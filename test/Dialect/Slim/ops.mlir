// RUN: slim-opt %s | slim-opt | FileCheck %s
// RUN: slim-opt %s --mlir-print-op-generic | slim-opt | FileCheck %s
// RUN: slim-opt %s --emit-bytecode | slim-opt | FileCheck %s

// The examples of the op documentation, and the other operand forms.

// CHECK-LABEL: func.func @assemble_quant
// CHECK-SAME: (%[[C:.*]]: tensor<256x64xi8>, %[[S:.*]]: tensor<2x128xf16>)
// CHECK: %[[W:.*]] = slim.assemble %[[C]], %[[S]] : tensor<256x64xi8>, tensor<2x128xf16> -> tensor<256x128xf32, #slim.quant<i4, group = 128, axis = 0, scale = f16>>
// CHECK: %{{.*}}:2 = slim.disassemble %[[W]] : tensor<256x128xf32, #slim.quant<i4, group = 128, axis = 0, scale = f16>> -> tensor<256x64xi8>, tensor<2x128xf16>
func.func @assemble_quant(%codes: tensor<256x64xi8>, %scales: tensor<2x128xf16>)
    -> (tensor<256x64xi8>, tensor<2x128xf16>) {
  %w = slim.assemble %codes, %scales : tensor<256x64xi8>, tensor<2x128xf16>
      -> tensor<256x128xf32, #slim.quant<i4, group = 128, axis = 0, scale = f16>>
  %c, %s = slim.disassemble %w
      : tensor<256x128xf32, #slim.quant<i4, group = 128, axis = 0, scale = f16>>
      -> tensor<256x64xi8>, tensor<2x128xf16>
  return %c, %s : tensor<256x64xi8>, tensor<2x128xf16>
}

// A group size that does not divide the axis: the last group is shorter
// (576 = 4 x 128 + 64), so there are ceil(576 / 128) = 5 scales per row.
// CHECK-LABEL: func.func @assemble_ragged_groups
// CHECK: slim.assemble %{{.*}}, %{{.*}}, %{{.*}} : tensor<192x288xi8>, tensor<192x5xf16>, tensor<192x5xi8> -> tensor<192x576xf32, #slim.quant<ui4, group = 128, axis = 1, scale = f16, zero_point>>
func.func @assemble_ragged_groups(%codes: tensor<192x288xi8>, %scales: tensor<192x5xf16>, %zp: tensor<192x5xi8>)
    -> tensor<192x576xf32, #slim.quant<ui4, group = 128, axis = 1, scale = f16, zero_point>> {
  %w = slim.assemble %codes, %scales, %zp
      : tensor<192x288xi8>, tensor<192x5xf16>, tensor<192x5xi8>
      -> tensor<192x576xf32, #slim.quant<ui4, group = 128, axis = 1, scale = f16, zero_point>>
  return %w : tensor<192x576xf32, #slim.quant<ui4, group = 128, axis = 1, scale = f16, zero_point>>
}

// CHECK-LABEL: func.func @assemble_lut
// CHECK: slim.assemble %{{.*}}, %{{.*}}, %{{.*}} : tensor<64x24xi8>, tensor<1x64xf32>, tensor<8xf32> -> tensor<64x64xf32, #slim.quant<lut3, channel = 1>>
func.func @assemble_lut(%codes: tensor<64x24xi8>, %scales: tensor<1x64xf32>, %book: tensor<8xf32>)
    -> tensor<64x64xf32, #slim.quant<lut3, channel = 1>> {
  %w = slim.assemble %codes, %scales, %book
      : tensor<64x24xi8>, tensor<1x64xf32>, tensor<8xf32>
      -> tensor<64x64xf32, #slim.quant<lut3, channel = 1>>
  return %w : tensor<64x64xf32, #slim.quant<lut3, channel = 1>>
}

// CHECK-LABEL: func.func @assemble_asymmetric
// CHECK: slim.assemble %{{.*}}, %{{.*}}, %{{.*}} : tensor<?x32xi8>, tensor<?x64xbf16>, tensor<?x64xi8> -> tensor<?x64xf32, #slim.quant<ui4, group = 1, axis = 0, scale = bf16, zero_point>>
func.func @assemble_asymmetric(%codes: tensor<?x32xi8>, %scales: tensor<?x64xbf16>, %zp: tensor<?x64xi8>)
    -> tensor<?x64xf32, #slim.quant<ui4, group = 1, axis = 0, scale = bf16, zero_point>> {
  %w = slim.assemble %codes, %scales, %zp
      : tensor<?x32xi8>, tensor<?x64xbf16>, tensor<?x64xi8>
      -> tensor<?x64xf32, #slim.quant<ui4, group = 1, axis = 0, scale = bf16, zero_point>>
  return %w : tensor<?x64xf32, #slim.quant<ui4, group = 1, axis = 0, scale = bf16, zero_point>>
}

// CHECK-LABEL: func.func @assemble_composed
// CHECK: slim.assemble {{.*}} : tensor<128x64xi8>, tensor<1x128xf32>, tensor<128x128xi8>, tensor<256x16xf32>, tensor<16x128xf32> -> tensor<256x128xf32, #slim.compressed<[#slim.sparse<2:4, axis = 0>, #slim.quant<i4, channel = 1>], residual = #slim.lowrank<rank = 16>>>
func.func @assemble_composed(%c: tensor<128x64xi8>, %s: tensor<1x128xf32>, %i: tensor<128x128xi8>,
                             %u: tensor<256x16xf32>, %v: tensor<16x128xf32>)
    -> tensor<256x128xf32, #slim.compressed<[#slim.sparse<2:4, axis = 0>, #slim.quant<i4, channel = 1>], residual = #slim.lowrank<rank = 16>>> {
  %w = slim.assemble %c, %s, %i, %u, %v
      : tensor<128x64xi8>, tensor<1x128xf32>, tensor<128x128xi8>, tensor<256x16xf32>, tensor<16x128xf32>
      -> tensor<256x128xf32, #slim.compressed<[#slim.sparse<2:4, axis = 0>, #slim.quant<i4, channel = 1>], residual = #slim.lowrank<rank = 16>>>
  return %w : tensor<256x128xf32, #slim.compressed<[#slim.sparse<2:4, axis = 0>, #slim.quant<i4, channel = 1>], residual = #slim.lowrank<rank = 16>>>
}

// CHECK-LABEL: func.func @assemble_csr_static_storage
// CHECK: slim.assemble {{.*}} : tensor<37xf32>, tensor<17xi32>, tensor<37xi32> -> tensor<16x32xf32, #slim.sparse<unstructured>>
func.func @assemble_csr_static_storage(%v: tensor<37xf32>, %r: tensor<17xi32>, %c: tensor<37xi32>)
    -> tensor<16x32xf32, #slim.sparse<unstructured>> {
  %w = slim.assemble %v, %r, %c : tensor<37xf32>, tensor<17xi32>, tensor<37xi32>
      -> tensor<16x32xf32, #slim.sparse<unstructured>>
  return %w : tensor<16x32xf32, #slim.sparse<unstructured>>
}

// CHECK-LABEL: func.func @dequantize
// CHECK: slim.dequantize %{{.*}} : tensor<256x128xf32, #slim.quant<i4, group = 128, axis = 0>> -> tensor<256x128xf32>
func.func @dequantize(%w: tensor<256x128xf32, #slim.quant<i4, group = 128, axis = 0>>) -> tensor<256x128xf32> {
  %d = slim.dequantize %w : tensor<256x128xf32, #slim.quant<i4, group = 128, axis = 0>> -> tensor<256x128xf32>
  return %d : tensor<256x128xf32>
}

// CHECK-LABEL: func.func @matmul_batched
// CHECK: slim.matmul %{{.*}}, %{{.*}} : tensor<?x?x4096xf32>, tensor<4096x11008xf32, #slim.quant<i4, group = 128, axis = 0>> -> tensor<?x?x11008xf32>
func.func @matmul_batched(%x: tensor<?x?x4096xf32>,
                          %w: tensor<4096x11008xf32, #slim.quant<i4, group = 128, axis = 0>>) -> tensor<?x?x11008xf32> {
  %y = slim.matmul %x, %w : tensor<?x?x4096xf32>, tensor<4096x11008xf32, #slim.quant<i4, group = 128, axis = 0>> -> tensor<?x?x11008xf32>
  return %y : tensor<?x?x11008xf32>
}

// CHECK-LABEL: func.func @matmul_f16_sparse
// CHECK: slim.matmul %{{.*}}, %{{.*}} : tensor<8x64xf16>, tensor<64x32xf16, #slim.sparse<2:4, axis = 0>> -> tensor<8x32xf16>
func.func @matmul_f16_sparse(%x: tensor<8x64xf16>, %w: tensor<64x32xf16, #slim.sparse<2:4, axis = 0>>) -> tensor<8x32xf16> {
  %y = slim.matmul %x, %w : tensor<8x64xf16>, tensor<64x32xf16, #slim.sparse<2:4, axis = 0>> -> tensor<8x32xf16>
  return %y : tensor<8x32xf16>
}

// CHECK-LABEL: func.func @quantize_activation_w8a8
// CHECK: %[[Q:.*]] = slim.quantize_activation %{{.*}} : tensor<?x4096xf32> -> tensor<?x4096xf32, #slim.quant<i8, channel = 0>>
// CHECK: slim.matmul %[[Q]], %{{.*}} : tensor<?x4096xf32, #slim.quant<i8, channel = 0>>, tensor<4096x1024xf32, #slim.quant<i8, channel = 1>> -> tensor<?x1024xf32>
func.func @quantize_activation_w8a8(%x: tensor<?x4096xf32>,
                                    %w: tensor<4096x1024xf32, #slim.quant<i8, channel = 1>>) -> tensor<?x1024xf32> {
  %q = slim.quantize_activation %x : tensor<?x4096xf32> -> tensor<?x4096xf32, #slim.quant<i8, channel = 0>>
  %y = slim.matmul %q, %w : tensor<?x4096xf32, #slim.quant<i8, channel = 0>>, tensor<4096x1024xf32, #slim.quant<i8, channel = 1>> -> tensor<?x1024xf32>
  return %y : tensor<?x1024xf32>
}

// CHECK-LABEL: func.func @quantize_activation_groups
// CHECK: slim.quantize_activation %{{.*}} : tensor<4x256xf32> -> tensor<4x256xf32, #slim.quant<ui4, group = 64, axis = 1, zero_point>>
func.func @quantize_activation_groups(%x: tensor<4x256xf32>) -> tensor<4x256xf32, #slim.quant<ui4, group = 64, axis = 1, zero_point>> {
  %q = slim.quantize_activation %x : tensor<4x256xf32> -> tensor<4x256xf32, #slim.quant<ui4, group = 64, axis = 1, zero_point>>
  return %q : tensor<4x256xf32, #slim.quant<ui4, group = 64, axis = 1, zero_point>>
}

// CHECK-LABEL: func.func @matmul_transpose_rhs
// CHECK: slim.matmul %{{.*}}, %{{.*}} transpose_rhs : tensor<?x4096xf32>, tensor<11008x4096xf32, #slim.quant<ui4, group = 32, axis = 1, zero_point>> -> tensor<?x11008xf32>
func.func @matmul_transpose_rhs(%x: tensor<?x4096xf32>,
                                %w: tensor<11008x4096xf32, #slim.quant<ui4, group = 32, axis = 1, zero_point>>) -> tensor<?x11008xf32> {
  %y = slim.matmul %x, %w transpose_rhs : tensor<?x4096xf32>, tensor<11008x4096xf32, #slim.quant<ui4, group = 32, axis = 1, zero_point>> -> tensor<?x11008xf32>
  return %y : tensor<?x11008xf32>
}

// CHECK-LABEL: func.func @ukernel_tensors
// CHECK: %[[Y:.*]] = slim.ukernel "slim_rt_qmatmul_f16" ins(%arg0, %arg1, %arg2, %{{.*}}, %{{.*}}, %{{.*}} : tensor<?x576xf32>, tensor<1536x288xi8>, tensor<1536x5xf16>, i64, i64, i32) outs(%{{.*}} : tensor<?x1536xf32>) -> tensor<?x1536xf32>
// CHECK: return %[[Y]]
func.func @ukernel_tensors(%x: tensor<?x576xf32>, %codes: tensor<1536x288xi8>, %scales: tensor<1536x5xf16>) -> tensor<?x1536xf32> {
  %c0 = arith.constant 0 : index
  %m = tensor.dim %x, %c0 : tensor<?x576xf32>
  %init = tensor.empty(%m) : tensor<?x1536xf32>
  %bits = arith.constant 4 : i64
  %group = arith.constant 128 : i64
  %flags = arith.constant 0 : i32
  %y = slim.ukernel "slim_rt_qmatmul_f16" ins(%x, %codes, %scales, %bits, %group, %flags : tensor<?x576xf32>, tensor<1536x288xi8>, tensor<1536x5xf16>, i64, i64, i32) outs(%init : tensor<?x1536xf32>) -> tensor<?x1536xf32>
  return %y : tensor<?x1536xf32>
}

// CHECK-LABEL: func.func @ukernel_buffers
// CHECK: slim.ukernel "kernel" ins(%arg0 : memref<4x8xf32>) outs(%arg1 : memref<4x8xf32>)
// CHECK-NOT: ->
func.func @ukernel_buffers(%x: memref<4x8xf32>, %y: memref<4x8xf32>) {
  slim.ukernel "kernel" ins(%x : memref<4x8xf32>) outs(%y : memref<4x8xf32>)
  return
}
