// RUN: slim-opt %s | slim-opt | FileCheck %s
// RUN: slim-opt %s --mlir-print-op-generic | slim-opt | FileCheck %s
// RUN: slim-opt %s --emit-bytecode | slim-opt | FileCheck %s

// Every encoding form, printed back in canonical spelling.

// CHECK-LABEL: func.func @quant_int_per_tensor
// CHECK-SAME: tensor<64x64xf32, #slim.quant<i8>>
// CHECK-SAME: tensor<64x64xf32, #slim.quant<i4>>
// CHECK-SAME: tensor<64x64xf32, #slim.quant<ui2>>
func.func @quant_int_per_tensor(%a: tensor<64x64xf32, #slim.quant<i8>>,
                                %b: tensor<64x64xf32, #slim.quant<si4>>,
                                %c: tensor<64x64xf32, #slim.quant<ui2, scale = f32>>) {
  return
}

// CHECK-LABEL: func.func @quant_granularity
// CHECK-SAME: #slim.quant<i4, channel = 1>
// CHECK-SAME: #slim.quant<i4, group = 128, axis = 0>
// CHECK-SAME: #slim.quant<i3, group = 32, axis = 1, scale = f16>
// CHECK-SAME: #slim.quant<ui4, group = 64, axis = 0, scale = bf16, zero_point>
// CHECK-SAME: #slim.quant<ui8, channel = 0, zero_point>
func.func @quant_granularity(%a: tensor<256x128xf32, #slim.quant<i4, channel = 1>>,
                             %b: tensor<256x128xf32, #slim.quant<i4, group = 128>>,
                             %c: tensor<256x128xf32, #slim.quant<i3, axis = 1, group = 32, scale = f16>>,
                             %d: tensor<256x128xf32, #slim.quant<ui4, zero_point, group = 64, axis = 0, scale = bf16>>,
                             %e: tensor<?x128xf32, #slim.quant<ui8, channel = 0, zero_point>>) {
  return
}

// CHECK-LABEL: func.func @quant_non_uniform
// CHECK-SAME: #slim.quant<nf4, group = 64, axis = 0>
// CHECK-SAME: #slim.quant<e4m3, channel = 1>
// CHECK-SAME: #slim.quant<e5m2>
// CHECK-SAME: #slim.quant<e2m1, group = 32, axis = 0, scale = f16>
// CHECK-SAME: #slim.quant<lut3, channel = 1>
// CHECK-SAME: #slim.quant<lut8>
func.func @quant_non_uniform(%a: tensor<128x64xf32, #slim.quant<nf4, group = 64>>,
                             %b: tensor<128x64xf32, #slim.quant<e4m3, channel = 1>>,
                             %c: tensor<128x64xf32, #slim.quant<e5m2>>,
                             %d: tensor<128x64xf32, #slim.quant<e2m1, group = 32, scale = f16>>,
                             %e: tensor<128x64xf32, #slim.quant<lut3, channel = 1>>,
                             %f: tensor<128x64xbf16, #slim.quant<lut8>>) {
  return
}

// CHECK-LABEL: func.func @sparse
// CHECK-SAME: #slim.sparse<2:4, axis = 0>
// CHECK-SAME: #slim.sparse<4:8, axis = 1>
// CHECK-SAME: #slim.sparse<unstructured, density = 3.000000e-01>
// CHECK-SAME: #slim.sparse<unstructured>
func.func @sparse(%a: tensor<128x64xf32, #slim.sparse<2:4>>,
                  %b: tensor<128x64xf16, #slim.sparse<4:8, axis = 1>>,
                  %c: tensor<128x64xf32, #slim.sparse<unstructured, density = 0.3>>,
                  %d: tensor<?x64xf32, #slim.sparse<unstructured>>) {
  return
}

// CHECK-LABEL: func.func @lowrank
// CHECK-SAME: #slim.lowrank<rank = 16>
// CHECK-SAME: #slim.lowrank<rank = 32, factor = f16>
func.func @lowrank(%a: tensor<128x64xf32, #slim.lowrank<rank = 16, factor = f32>>,
                   %b: tensor<?x64xf32, #slim.lowrank<rank = 32, factor = f16>>) {
  return
}

// CHECK-LABEL: func.func @compressed
// CHECK-SAME: #slim.compressed<[#slim.sparse<2:4, axis = 0>, #slim.quant<i4, group = 128, axis = 0>], residual = #slim.lowrank<rank = 16>>
// CHECK-SAME: #slim.compressed<[#slim.quant<nf4, group = 64, axis = 0>], residual = #slim.lowrank<rank = 8, factor = bf16>>
// CHECK-SAME: #slim.compressed<[#slim.sparse<2:4, axis = 1>]>
func.func @compressed(
    %a: tensor<512x256xf32, #slim.compressed<[#slim.sparse<2:4, axis = 0>, #slim.quant<i4, group = 128>], residual = #slim.lowrank<rank = 16>>>,
    %b: tensor<256x256xf32, #slim.compressed<[#slim.quant<nf4, group = 64>], residual = #slim.lowrank<rank = 8, factor = bf16>>>,
    %c: tensor<64x64xf32, #slim.compressed<[#slim.sparse<2:4, axis = 1>]>>) {
  return
}
