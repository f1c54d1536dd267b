// RUN: slim-opt %s -split-input-file -verify-diagnostics

// One test per diagnostic of the slim dialect. Diagnostics only reachable
// through the C++ builders are tested in test/unit/Dialect/EncodingTest.cpp.

//===----------------------------------------------------------------------===//
// #slim.quant parameters
//===----------------------------------------------------------------------===//

// expected-error @+1 {{expected 2 to 8 bits for int codes, got 9}}
func.func @quant_bits_too_wide(%a: tensor<4x4xf32, #slim.quant<i9>>)

// -----

// expected-error @+1 {{expected 2 to 8 bits for lut codes, got 1}}
func.func @quant_lut_bits(%a: tensor<4x4xf32, #slim.quant<lut1>>)

// -----

// expected-error @+1 {{expected an integer code type, got 'f32'}}
func.func @quant_float_code_type(%a: tensor<4x4xf32, #slim.quant<f32>>)

// -----

// expected-error @+1 {{unknown code format 'int4'}}
func.func @quant_unknown_format(%a: tensor<4x4xf32, #slim.quant<int4>>)

// -----

// expected-error @+1 {{expected lutN with N the code width}}
func.func @quant_lut_without_width(%a: tensor<4x4xf32, #slim.quant<lutx>>)

// -----

// expected-error @+1 {{expected a code format: iN, uiN, nf4, e4m3, e5m2, e2m1 or lutN}}
func.func @quant_missing_format(%a: tensor<4x4xf32, #slim.quant<4>>)

// -----

// expected-error @+1 {{unknown #slim.quant parameter 'groups'; expected channel, group, axis, scale or zero_point}}
func.func @quant_unknown_parameter(%a: tensor<4x4xf32, #slim.quant<i4, groups = 2>>)

// -----

// expected-error @+1 {{expected a non-negative axis, got -1}}
func.func @quant_negative_channel(%a: tensor<4x4xf32, #slim.quant<i4, channel = -1>>)

// -----

// expected-error @+1 {{expected a positive group size, got 0}}
func.func @quant_zero_group(%a: tensor<4x4xf32, #slim.quant<i4, group = 0>>)

// -----

// expected-error @+1 {{'channel' excludes 'group' and 'axis'}}
func.func @quant_channel_and_group(%a: tensor<4x4xf32, #slim.quant<i4, channel = 1, group = 2>>)

// -----

// expected-error @+1 {{'axis' requires 'group'}}
func.func @quant_axis_without_group(%a: tensor<4x4xf32, #slim.quant<i4, axis = 1>>)

// -----

// expected-error @+1 {{expected scale type f32, f16 or bf16, got 'f64'}}
func.func @quant_scale_type(%a: tensor<4x4xf32, #slim.quant<i4, scale = f64>>)

// -----

// expected-error @+1 {{zero points require an integer format, got nf4}}
func.func @quant_zero_point_nf4(%a: tensor<4x4xf32, #slim.quant<nf4, zero_point>>)

//===----------------------------------------------------------------------===//
// #slim.quant against the tensor type
//===----------------------------------------------------------------------===//

// -----

// expected-error @+1 {{quantized tensor must have a floating-point element type, got 'i32'}}
func.func @quant_integer_tensor(%a: tensor<4x4xi32, #slim.quant<i4>>)

// -----

// expected-error @+1 {{quantized tensor must have rank >= 1}}
func.func @quant_rank0(%a: tensor<f32, #slim.quant<i4>>)

// -----

// expected-error @+1 {{quantized tensor must have a static innermost dimension}}
func.func @quant_dynamic_innermost(%a: tensor<4x?xf32, #slim.quant<i4>>)

// -----

// expected-error @+1 {{quantization axis 2 is out of range for rank 2}}
func.func @quant_axis_out_of_range(%a: tensor<4x4xf32, #slim.quant<i4, channel = 2>>)


//===----------------------------------------------------------------------===//
// #slim.sparse
//===----------------------------------------------------------------------===//

// -----

// expected-error @+1 {{expected 0 < n < m <= 64 for n:m sparsity, got 4:4}}
func.func @sparse_n_equals_m(%a: tensor<8x8xf32, #slim.sparse<4:4>>)

// -----

// expected-error @+1 {{expected a non-negative axis, got -1}}
func.func @sparse_negative_axis(%a: tensor<8x8xf32, #slim.sparse<2:4, axis = -1>>)

// -----

// expected-error @+1 {{expected a density in (0, 1], got 1.5}}
func.func @sparse_density(%a: tensor<8x8xf32, #slim.sparse<unstructured, density = 1.5>>)

// -----

// expected-error @+1 {{sparsity axis 2 is out of range for rank 2}}
func.func @sparse_axis_out_of_range(%a: tensor<8x8xf32, #slim.sparse<2:4, axis = 2>>)

// -----

// expected-error @+1 {{sparsity block 4 does not divide dimension 0 of size 10}}
func.func @sparse_block_not_dividing(%a: tensor<10x8xf32, #slim.sparse<2:4>>)

// -----

// expected-error @+1 {{unstructured sparse tensor must have rank 2, got 3}}
func.func @sparse_csr_rank(%a: tensor<2x8x8xf32, #slim.sparse<unstructured>>)

// -----

// expected-error @+1 {{unstructured sparse tensor must have a static column dimension}}
func.func @sparse_csr_dynamic_columns(%a: tensor<8x?xf32, #slim.sparse<unstructured>>)

//===----------------------------------------------------------------------===//
// #slim.lowrank
//===----------------------------------------------------------------------===//

// -----

// expected-error @+1 {{expected a positive rank, got 0}}
func.func @lowrank_zero(%a: tensor<8x8xf32, #slim.lowrank<rank = 0>>)

// -----

// expected-error @+1 {{expected factor type f32, f16 or bf16, got 'i8'}}
func.func @lowrank_factor_type(%a: tensor<8x8xf32, #slim.lowrank<rank = 2, factor = i8>>)

// -----

// expected-error @+1 {{low-rank tensor must have rank 2, got 3}}
func.func @lowrank_tensor_rank(%a: tensor<2x8x8xf32, #slim.lowrank<rank = 2>>)

// -----

// expected-error @+1 {{low-rank tensor must have a floating-point element type, got 'i32'}}
func.func @lowrank_integer(%a: tensor<8x8xi32, #slim.lowrank<rank = 2>>)

// -----

// expected-error @+1 {{rank 16 exceeds dimension size 8 of shape [8, 64]}}
func.func @lowrank_rank_too_large(%a: tensor<8x64xf32, #slim.lowrank<rank = 16>>)

//===----------------------------------------------------------------------===//
// #slim.compressed
//===----------------------------------------------------------------------===//

// -----

// expected-error @+1 {{expected at least one stage}}
func.func @compressed_empty(%a: tensor<8x8xf32, #slim.compressed<[]>>)

// -----

// expected-error @+1 {{expected at most one #slim.sparse stage}}
func.func @compressed_two_sparse(%a: tensor<8x8xf32, #slim.compressed<[#slim.sparse<2:4>, #slim.sparse<1:2>]>>)

// -----

// expected-error @+1 {{expected the #slim.sparse stage before the #slim.quant stage}}
func.func @compressed_order(%a: tensor<8x8xf32, #slim.compressed<[#slim.quant<i4>, #slim.sparse<2:4>]>>)

// -----

// expected-error @+1 {{expected at most one #slim.quant stage}}
func.func @compressed_two_quant(%a: tensor<8x8xf32, #slim.compressed<[#slim.quant<i4>, #slim.quant<i8>]>>)

// -----

// expected-error @+1 {{expected a #slim.sparse or #slim.quant stage, got #slim.lowrank<rank = 2>}}
func.func @compressed_lowrank_stage(%a: tensor<8x8xf32, #slim.compressed<[#slim.lowrank<rank = 2>]>>)

// -----

// expected-error @+1 {{expected a #slim.lowrank residual, got #slim.quant<i4>}}
func.func @compressed_bad_residual(%a: tensor<8x8xf32, #slim.compressed<[#slim.quant<i4>], residual = #slim.quant<i4>>>)


//===----------------------------------------------------------------------===//
// slim.assemble / slim.disassemble
//===----------------------------------------------------------------------===//

// -----

func.func @assemble_operand_count(%c: tensor<8x4xi8>) {
  // expected-error @+1 {{'slim.assemble' op expected 2 storage operands for 'tensor<8x8xf32, #slim.quant<i4>>', got 1}}
  %w = slim.assemble %c : tensor<8x4xi8> -> tensor<8x8xf32, #slim.quant<i4>>
  return
}

// -----

func.func @assemble_operand_type(%c: tensor<8x4xi8>, %s: tensor<1x8xf32>) {
  // expected-error @+1 {{'slim.assemble' op expected operand #1 ('scales') of type 'tensor<1x8xf16>', got 'tensor<1x8xf32>'}}
  %w = slim.assemble %c, %s : tensor<8x4xi8>, tensor<1x8xf32> -> tensor<8x8xf32, #slim.quant<i4, channel = 1, scale = f16>>
  return
}

// -----

func.func @assemble_operand_shape(%c: tensor<8x8xi8>, %s: tensor<1x1xf32>) {
  // expected-error @+1 {{'slim.assemble' op expected operand #0 ('codes') of type 'tensor<8x4xi8>', got 'tensor<8x8xi8>'}}
  %w = slim.assemble %c, %s : tensor<8x8xi8>, tensor<1x1xf32> -> tensor<8x8xf32, #slim.quant<i4>>
  return
}

// -----

func.func @assemble_dense_result(%c: tensor<8x8xf32>) {
  // expected-error @+1 {{'slim.assemble' op result #0 must be ranked tensor with a Slim encoding, but got 'tensor<8x8xf32>'}}
  %w = slim.assemble %c : tensor<8x8xf32> -> tensor<8x8xf32>
  return
}

// -----

func.func @disassemble_result_count(%w: tensor<8x8xf32, #slim.quant<i4, zero_point>>) {
  // expected-error @+1 {{'slim.disassemble' op expected 3 storage results for 'tensor<8x8xf32, #slim.quant<i4, zero_point>>', got 2}}
  %c, %s = slim.disassemble %w : tensor<8x8xf32, #slim.quant<i4, zero_point>> -> tensor<8x4xi8>, tensor<1x1xf32>
  return
}

// -----

func.func @disassemble_result_type(%w: tensor<8x8xf32, #slim.sparse<2:4>>) {
  // expected-error @+1 {{'slim.disassemble' op expected result #1 ('indices') of type 'tensor<4x8xi8>', got 'tensor<4x8xi32>'}}
  %v, %i = slim.disassemble %w : tensor<8x8xf32, #slim.sparse<2:4>> -> tensor<4x8xf32>, tensor<4x8xi32>
  return
}

//===----------------------------------------------------------------------===//
// slim.dequantize
//===----------------------------------------------------------------------===//

// -----

func.func @dequantize_shape(%w: tensor<8x8xf32, #slim.quant<i4>>) {
  // expected-error @+1 {{'slim.dequantize' op expected result type 'tensor<8x8xf32>' (the input's shape and element type), got 'tensor<8x4xf32>'}}
  %d = slim.dequantize %w : tensor<8x8xf32, #slim.quant<i4>> -> tensor<8x4xf32>
  return
}

//===----------------------------------------------------------------------===//
// slim.matmul
//===----------------------------------------------------------------------===//

// -----

func.func @matmul_sparse_lhs(%x: tensor<4x8xf32, #slim.sparse<2:4, axis = 1>>, %w: tensor<8x8xf32, #slim.quant<i4>>) {
  // expected-error @+1 {{'slim.matmul' op expected a dense or #slim.quant lhs, got 'tensor<4x8xf32, #slim.sparse<2:4, axis = 1>>'}}
  %y = slim.matmul %x, %w : tensor<4x8xf32, #slim.sparse<2:4, axis = 1>>, tensor<8x8xf32, #slim.quant<i4>> -> tensor<4x8xf32>
  return
}

// -----

func.func @matmul_lhs_rank(%x: tensor<8xf32>, %w: tensor<8x8xf32, #slim.quant<i4>>) {
  // expected-error @+1 {{'slim.matmul' op expected lhs of rank >= 2, got rank 1}}
  %y = slim.matmul %x, %w : tensor<8xf32>, tensor<8x8xf32, #slim.quant<i4>> -> tensor<8xf32>
  return
}

// -----

func.func @matmul_weight_rank(%x: tensor<4x8xf32>, %w: tensor<2x8x8xf32, #slim.quant<i4>>) {
  // expected-error @+1 {{'slim.matmul' op expected a rank-2 weight, got rank 3}}
  %y = slim.matmul %x, %w : tensor<4x8xf32>, tensor<2x8x8xf32, #slim.quant<i4>> -> tensor<4x8xf32>
  return
}

// -----

func.func @matmul_element_types(%x: tensor<4x8xf16>, %w: tensor<8x8xf32, #slim.quant<i4>>) {
  // expected-error @+1 {{'slim.matmul' op expected matching element types, got 'f16', 'f32' and 'f32'}}
  %y = slim.matmul %x, %w : tensor<4x8xf16>, tensor<8x8xf32, #slim.quant<i4>> -> tensor<4x8xf32>
  return
}

// -----

func.func @matmul_integer(%x: tensor<4x8xi32>, %w: tensor<8x8xi32, #slim.sparse<2:4>>) {
  // expected-error @+1 {{'slim.matmul' op expected a floating-point element type, got 'i32'}}
  %y = slim.matmul %x, %w : tensor<4x8xi32>, tensor<8x8xi32, #slim.sparse<2:4>> -> tensor<4x8xi32>
  return
}

// -----

func.func @matmul_reduction_mismatch(%x: tensor<4x16xf32>, %w: tensor<8x8xf32, #slim.quant<i4>>) {
  // expected-error @+1 {{'slim.matmul' op expected lhs inner dimension 16 to match weight dimension 0 of size 8}}
  %y = slim.matmul %x, %w : tensor<4x16xf32>, tensor<8x8xf32, #slim.quant<i4>> -> tensor<4x8xf32>
  return
}

// -----

func.func @matmul_transposed_reduction_mismatch(%x: tensor<4x16xf32>, %w: tensor<16x8xf32, #slim.quant<i4>>) {
  // expected-error @+1 {{'slim.matmul' op expected lhs inner dimension 16 to match weight dimension 1 of size 8}}
  %y = slim.matmul %x, %w transpose_rhs : tensor<4x16xf32>, tensor<16x8xf32, #slim.quant<i4>> -> tensor<4x16xf32>
  return
}

// -----

func.func @matmul_result_type(%x: tensor<?x4x8xf32>, %w: tensor<8x16xf32, #slim.quant<i4>>) {
  // expected-error @+1 {{'slim.matmul' op expected result type 'tensor<?x4x16xf32>', got 'tensor<2x4x16xf32>'}}
  %y = slim.matmul %x, %w : tensor<?x4x8xf32>, tensor<8x16xf32, #slim.quant<i4>> -> tensor<2x4x16xf32>
  return
}

// -----

func.func @matmul_dense_weight(%x: tensor<4x8xf32>, %w: tensor<8x8xf32>) {
  // expected-error @+1 {{'slim.matmul' op operand #1 must be ranked tensor with a Slim encoding, but got 'tensor<8x8xf32>'}}
  %y = slim.matmul %x, %w : tensor<4x8xf32>, tensor<8x8xf32> -> tensor<4x8xf32>
  return
}

//===----------------------------------------------------------------------===//
// slim.quantize_activation
//===----------------------------------------------------------------------===//

// -----

func.func @quantize_activation_encoding(%x: tensor<4x8xf32>) {
  // expected-error @+1 {{'slim.quantize_activation' op expected a #slim.quant result encoding, got #slim.sparse<2:4, axis = 1>}}
  %q = slim.quantize_activation %x : tensor<4x8xf32> -> tensor<4x8xf32, #slim.sparse<2:4, axis = 1>>
  return
}

// -----

func.func @quantize_activation_format(%x: tensor<4x8xf32>) {
  // expected-error @+1 {{'slim.quantize_activation' op expected an integer quantization format, got nf4}}
  %q = slim.quantize_activation %x : tensor<4x8xf32> -> tensor<4x8xf32, #slim.quant<nf4, channel = 0>>
  return
}

// -----

func.func @quantize_activation_ragged(%x: tensor<4x12xf32>) {
  // expected-error @+1 {{'slim.quantize_activation' op expected group size 8 to divide dimension 1 of size 12 (activation groups cannot be ragged)}}
  %q = slim.quantize_activation %x : tensor<4x12xf32> -> tensor<4x12xf32, #slim.quant<i8, group = 8, axis = 1>>
  return
}

// -----

func.func @quantize_activation_bits(%x: tensor<4x8xf32>) {
  // expected-error @+1 {{'slim.quantize_activation' op expected 2, 4 or 8 bits, got 3}}
  %q = slim.quantize_activation %x : tensor<4x8xf32> -> tensor<4x8xf32, #slim.quant<i3, channel = 0>>
  return
}

// -----

func.func @quantize_activation_shape(%x: tensor<4x8xf32>) {
  // expected-error @+1 {{'slim.quantize_activation' op expected the result's shape and element type to match the input 'tensor<4x8xf32>'}}
  %q = slim.quantize_activation %x : tensor<4x8xf32> -> tensor<4x8xf16, #slim.quant<i8, channel = 0>>
  return
}

// -----

func.func @ukernel_mixed_outputs(%a: tensor<4xf32>, %b: memref<4xf32>) {
  // expected-error @+1 {{'slim.ukernel' op expected outputs that are all ranked tensors or all ranked memrefs, got 'memref<4xf32>'}}
  %r = slim.ukernel "k" outs(%a, %b : tensor<4xf32>, memref<4xf32>) -> tensor<4xf32>
  return
}

// -----

func.func @ukernel_tensor_input_on_buffers(%a: tensor<4xf32>, %b: memref<4xf32>) {
  // expected-error @+1 {{'slim.ukernel' op expected no tensor inputs when the outputs are memrefs, got 'tensor<4xf32>'}}
  slim.ukernel "k" ins(%a : tensor<4xf32>) outs(%b : memref<4xf32>)
  return
}

// -----

func.func @ukernel_compressed_input(%w: tensor<4x32xf32, #slim.quant<i4, channel = 0>>, %b: tensor<4xf32>) {
  // expected-error @+1 {{'slim.ukernel' op expected inputs without encoding (pass the storage of a compressed tensor), got 'tensor<4x32xf32, #slim.quant<i4, channel = 0>>'}}
  %r = slim.ukernel "k" ins(%w : tensor<4x32xf32, #slim.quant<i4, channel = 0>>) outs(%b : tensor<4xf32>) -> tensor<4xf32>
  return
}

// -----

func.func @ukernel_no_outputs(%a: memref<4xf32>) {
  // expected-error @+1 {{'slim.ukernel' op expected at least one output}}
  "slim.ukernel"(%a) <{callee = "k", operandSegmentSizes = array<i32: 1, 0>}> : (memref<4xf32>) -> ()
  return
}

// -----

func.func @ukernel_results(%b: tensor<4xf32>) {
  // expected-error @+1 {{'slim.ukernel' op expected the number of tensor results (0) to be equal to the number of output tensors (1)}}
  slim.ukernel "k" outs(%b : tensor<4xf32>)
  return
}
