// RUN: slim-opt %s --convert-slim-to-linalg --canonicalize --cse | FileCheck %s

// Structure of the reference lowering; test/e2e/reference-numerics.test runs
// it and checks the numbers.

// Storage replaces the compressed value; the codes are unpacked, sign
// extended and scaled in one linalg.generic, then a plain matmul follows.
// CHECK-LABEL: func.func @matmul_int4_channel
// CHECK-SAME: (%[[CODES:.*]]: tensor<64x32xi8>, %[[SCALES:.*]]: tensor<1x64xf32>, %[[X:.*]]: tensor<?x64xf32>)
// CHECK: %[[W:.*]] = linalg.generic
// CHECK-SAME: outs(%{{.*}} : tensor<64x64xf32>)
// CHECK: tensor.extract %[[CODES]]
// CHECK: arith.shrui
// CHECK: arith.shli
// CHECK: arith.shrsi
// CHECK: arith.sitofp
// CHECK: tensor.extract %[[SCALES]][%{{.*}}, %{{.*}}] : tensor<1x64xf32>
// CHECK: arith.mulf
// CHECK: %[[FILL:.*]] = linalg.fill
// CHECK: linalg.matmul ins(%[[X]], %[[W]] : tensor<?x64xf32>, tensor<64x64xf32>) outs(%[[FILL]] : tensor<?x64xf32>)
// CHECK-NOT: slim.
func.func @matmul_int4_channel(%codes: tensor<64x32xi8>, %scales: tensor<1x64xf32>, %x: tensor<?x64xf32>) -> tensor<?x64xf32> {
  %w = slim.assemble %codes, %scales : tensor<64x32xi8>, tensor<1x64xf32> -> tensor<64x64xf32, #slim.quant<i4, channel = 1>>
  %y = slim.matmul %x, %w : tensor<?x64xf32>, tensor<64x64xf32, #slim.quant<i4, channel = 1>> -> tensor<?x64xf32>
  return %y : tensor<?x64xf32>
}

// Function boundaries carry the storage tensors, in the encoding's order.
// CHECK-LABEL: func.func @signature
// CHECK-SAME: (%{{.*}}: tensor<128x64xi8>, %{{.*}}: tensor<2x128xf16>, %{{.*}}: tensor<2x128xi8>, %{{.*}}: tensor<128x128xi8>, %{{.*}}: tensor<256x16xbf16>, %{{.*}}: tensor<16x128xbf16>)
// CHECK-SAME: -> (tensor<128x64xi8>, tensor<2x128xf16>, tensor<2x128xi8>, tensor<128x128xi8>, tensor<256x16xbf16>, tensor<16x128xbf16>)
// CHECK-NEXT: return
func.func @signature(%w: tensor<256x128xf32, #slim.compressed<[#slim.sparse<2:4, axis = 0>, #slim.quant<ui4, group = 64, axis = 0, scale = f16, zero_point>], residual = #slim.lowrank<rank = 16, factor = bf16>>>)
    -> tensor<256x128xf32, #slim.compressed<[#slim.sparse<2:4, axis = 0>, #slim.quant<ui4, group = 64, axis = 0, scale = f16, zero_point>], residual = #slim.lowrank<rank = 16, factor = bf16>>> {
  return %w : tensor<256x128xf32, #slim.compressed<[#slim.sparse<2:4, axis = 0>, #slim.quant<ui4, group = 64, axis = 0, scale = f16, zero_point>], residual = #slim.lowrank<rank = 16, factor = bf16>>>
}

// Calls are converted with their callee.
// CHECK-LABEL: func.func @call
// CHECK: %[[R:.*]]:6 = call @signature(%{{.*}}, %{{.*}}, %{{.*}}, %{{.*}}, %{{.*}}, %{{.*}})
// CHECK: return %[[R]]#0, %[[R]]#1
func.func @call(%w: tensor<256x128xf32, #slim.compressed<[#slim.sparse<2:4, axis = 0>, #slim.quant<ui4, group = 64, axis = 0, scale = f16, zero_point>], residual = #slim.lowrank<rank = 16, factor = bf16>>>)
    -> tensor<256x128xf32, #slim.compressed<[#slim.sparse<2:4, axis = 0>, #slim.quant<ui4, group = 64, axis = 0, scale = f16, zero_point>], residual = #slim.lowrank<rank = 16, factor = bf16>>> {
  %r = call @signature(%w) : (tensor<256x128xf32, #slim.compressed<[#slim.sparse<2:4, axis = 0>, #slim.quant<ui4, group = 64, axis = 0, scale = f16, zero_point>], residual = #slim.lowrank<rank = 16, factor = bf16>>>)
      -> tensor<256x128xf32, #slim.compressed<[#slim.sparse<2:4, axis = 0>, #slim.quant<ui4, group = 64, axis = 0, scale = f16, zero_point>], residual = #slim.lowrank<rank = 16, factor = bf16>>>
  return %r : tensor<256x128xf32, #slim.compressed<[#slim.sparse<2:4, axis = 0>, #slim.quant<ui4, group = 64, axis = 0, scale = f16, zero_point>], residual = #slim.lowrank<rank = 16, factor = bf16>>>
}

// Codes wider than a byte boundary read two bytes; the second read is
// clamped to the row.
// CHECK-LABEL: func.func @dequantize_int3
// CHECK: %[[LAST:.*]] = arith.constant 23 : index
// CHECK: linalg.generic
// CHECK: arith.minui %{{.*}}, %[[LAST]]
// CHECK: arith.ori
func.func @dequantize_int3(%w: tensor<64x64xf32, #slim.quant<i3, channel = 1>>) -> tensor<64x64xf32> {
  %d = slim.dequantize %w : tensor<64x64xf32, #slim.quant<i3, channel = 1>> -> tensor<64x64xf32>
  return %d : tensor<64x64xf32>
}

// Asymmetric unsigned codes subtract the stored zero point of their group.
// CHECK-LABEL: func.func @dequantize_zero_point
// CHECK-SAME: %[[ZP:[a-z0-9]+]]: tensor<2x64xi8>
// CHECK: arith.divui %{{.*}}, %{{.*}} : index
// CHECK: tensor.extract %[[ZP]]
// CHECK: arith.extui %{{.*}} : i8 to i32
// CHECK: arith.subi
func.func @dequantize_zero_point(%w: tensor<64x64xf32, #slim.quant<ui4, group = 32, axis = 0, zero_point>>) -> tensor<64x64xf32> {
  %d = slim.dequantize %w : tensor<64x64xf32, #slim.quant<ui4, group = 32, axis = 0, zero_point>> -> tensor<64x64xf32>
  return %d : tensor<64x64xf32>
}

// Fixed-table formats look their value up in a constant table.
// CHECK-LABEL: func.func @dequantize_nf4
// CHECK: %[[TABLE:.*]] = arith.constant dense<[-1.000000e+00, {{.*}}, 1.000000e+00]> : tensor<16xf32>
// CHECK: tensor.extract %[[TABLE]]
func.func @dequantize_nf4(%w: tensor<64x64xf32, #slim.quant<nf4, group = 64>>) -> tensor<64x64xf32> {
  %d = slim.dequantize %w : tensor<64x64xf32, #slim.quant<nf4, group = 64>> -> tensor<64x64xf32>
  return %d : tensor<64x64xf32>
}

// 2:4 sparsity selects among the two kept values of each run of four.
// CHECK-LABEL: func.func @dequantize_sparse_2_4
// CHECK-SAME: (%[[V:.*]]: tensor<4x4xf32>, %[[I:.*]]: tensor<4x4xi8>)
// CHECK: linalg.generic
// CHECK-COUNT-2: arith.cmpi eq
// CHECK-NOT: arith.cmpi
// CHECK: linalg.yield
func.func @dequantize_sparse_2_4(%w: tensor<8x4xf32, #slim.sparse<2:4, axis = 0>>) -> tensor<8x4xf32> {
  %d = slim.dequantize %w : tensor<8x4xf32, #slim.sparse<2:4, axis = 0>> -> tensor<8x4xf32>
  return %d : tensor<8x4xf32>
}

// CSR is scattered row by row.
// CHECK-LABEL: func.func @dequantize_csr
// CHECK: scf.for
// CHECK: scf.for
// CHECK: tensor.insert
func.func @dequantize_csr(%w: tensor<?x16xf32, #slim.sparse<unstructured>>) -> tensor<?x16xf32> {
  %d = slim.dequantize %w : tensor<?x16xf32, #slim.sparse<unstructured>> -> tensor<?x16xf32>
  return %d : tensor<?x16xf32>
}

// The low-rank residual is U * V added to the decoded tensor; f16 factors
// are extended to f32 first.
// CHECK-LABEL: func.func @dequantize_lowrank_residual
// CHECK: arith.extf %{{.*}} : f16 to f32
// CHECK: linalg.matmul
// CHECK: linalg.add
func.func @dequantize_lowrank_residual(%w: tensor<64x64xf32, #slim.compressed<[#slim.quant<i8>], residual = #slim.lowrank<rank = 4, factor = f16>>>) -> tensor<64x64xf32> {
  %d = slim.dequantize %w : tensor<64x64xf32, #slim.compressed<[#slim.quant<i8>], residual = #slim.lowrank<rank = 4, factor = f16>>> -> tensor<64x64xf32>
  return %d : tensor<64x64xf32>
}

// f16 products accumulate in f32.
// CHECK-LABEL: func.func @matmul_f16_accumulates_in_f32
// CHECK: linalg.matmul ins(%{{.*}}, %{{.*}} : tensor<8x64xf32>, tensor<64x32xf32>) outs(%{{.*}} : tensor<8x32xf32>)
// CHECK: arith.truncf %{{.*}} : f32 to f16
func.func @matmul_f16_accumulates_in_f32(%x: tensor<8x64xf16>, %w: tensor<64x32xf16, #slim.quant<i8, channel = 1>>) -> tensor<8x32xf16> {
  %y = slim.matmul %x, %w : tensor<8x64xf16>, tensor<64x32xf16, #slim.quant<i8, channel = 1>> -> tensor<8x32xf16>
  return %y : tensor<8x32xf16>
}

// Batch dimensions fold into M and come back.
// CHECK-LABEL: func.func @matmul_batched
// CHECK: tensor.collapse_shape %{{.*}} {{\[\[}}0, 1, 2], [3]] : tensor<2x?x3x64xf32> into tensor<?x64xf32>
// CHECK: linalg.matmul
// CHECK: tensor.expand_shape %{{.*}} {{\[\[}}0, 1, 2], [3]] output_shape [2, %{{.*}}, 3, 16] : tensor<?x16xf32> into tensor<2x?x3x16xf32>
func.func @matmul_batched(%x: tensor<2x?x3x64xf32>, %w: tensor<64x16xf32, #slim.quant<i8>>) -> tensor<2x?x3x16xf32> {
  %y = slim.matmul %x, %w : tensor<2x?x3x64xf32>, tensor<64x16xf32, #slim.quant<i8>> -> tensor<2x?x3x16xf32>
  return %y : tensor<2x?x3x16xf32>
}

// Per-token int8 quantization: absmax over each row, scale, round, saturate.
// CHECK-LABEL: func.func @quantize_activation_per_token
// CHECK-SAME: -> (tensor<?x64xi8>, tensor<?x1xf32>)
// CHECK: linalg.generic {{.*}} iterator_types = ["parallel", "reduction"]
// CHECK: math.absf
// CHECK: arith.maximumf
// CHECK: tensor.expand_shape
// CHECK: arith.divf
// CHECK: math.roundeven
func.func @quantize_activation_per_token(%x: tensor<?x64xf32>) -> tensor<?x64xf32, #slim.quant<i8, channel = 0>> {
  %q = slim.quantize_activation %x : tensor<?x64xf32> -> tensor<?x64xf32, #slim.quant<i8, channel = 0>>
  return %q : tensor<?x64xf32, #slim.quant<i8, channel = 0>>
}

// Sub-byte activation codes are packed two per byte.
// CHECK-LABEL: func.func @quantize_activation_int4_groups
// CHECK-SAME: -> (tensor<4x32xi8>, tensor<4x2xf16>, tensor<4x2xi8>)
// CHECK: tensor.expand_shape %{{.*}} {{\[\[}}0], [1, 2]] output_shape [4, 2, 32] : tensor<4x64xf32> into tensor<4x2x32xf32>
// CHECK: arith.minimumf
// CHECK: arith.maximumf
// CHECK: arith.shli
// CHECK: arith.ori
func.func @quantize_activation_int4_groups(%x: tensor<4x64xf32>) -> tensor<4x64xf32, #slim.quant<ui4, group = 32, axis = 1, scale = f16, zero_point>> {
  %q = slim.quantize_activation %x : tensor<4x64xf32> -> tensor<4x64xf32, #slim.quant<ui4, group = 32, axis = 1, scale = f16, zero_point>>
  return %q : tensor<4x64xf32, #slim.quant<ui4, group = 32, axis = 1, scale = f16, zero_point>>
}

// Disassembling returns the storage directly.
// CHECK-LABEL: func.func @disassemble
// CHECK-SAME: (%[[C:.*]]: tensor<64x32xi8>, %[[S:.*]]: tensor<1x64xf32>)
// CHECK-NEXT: return %[[C]], %[[S]]
func.func @disassemble(%w: tensor<64x64xf32, #slim.quant<i4, channel = 1>>) -> (tensor<64x32xi8>, tensor<1x64xf32>) {
  %c, %s = slim.disassemble %w : tensor<64x64xf32, #slim.quant<i4, channel = 1>> -> tensor<64x32xi8>, tensor<1x64xf32>
  return %c, %s : tensor<64x32xi8>, tensor<1x64xf32>
}

// A transposed (N x K) weight is decoded in its stored layout, then
// transposed for the product.
// CHECK-LABEL: func.func @matmul_transpose_rhs
// CHECK: %[[W:.*]] = linalg.generic {{.*}} outs(%{{.*}} : tensor<16x64xf32>)
// CHECK: %[[T:.*]] = linalg.transpose ins(%[[W]] : tensor<16x64xf32>) outs(%{{.*}} : tensor<64x16xf32>) permutation = [1, 0]
// CHECK: linalg.matmul ins(%{{.*}}, %[[T]] : tensor<8x64xf32>, tensor<64x16xf32>)
func.func @matmul_transpose_rhs(%x: tensor<8x64xf32>, %w: tensor<16x64xf32, #slim.quant<ui4, group = 32, axis = 1, zero_point>>) -> tensor<8x16xf32> {
  %y = slim.matmul %x, %w transpose_rhs : tensor<8x64xf32>, tensor<16x64xf32, #slim.quant<ui4, group = 32, axis = 1, zero_point>> -> tensor<8x16xf32>
  return %y : tensor<8x16xf32>
}
