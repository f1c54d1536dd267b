// RUN: not slim-opt %s --convert-slim-to-linalg 2>&1 | FileCheck %s

// A compressed value used by an op the conversion does not know must fail
// the pass with a diagnostic, not produce half-converted IR.

// CHECK: error: failed to legalize operation 'tensor.cast'
func.func @unknown_user(%w: tensor<64x64xf32, #slim.quant<i4, channel = 1>>) -> tensor<?x64xf32, #slim.quant<i4, channel = 1>> {
  %c = tensor.cast %w : tensor<64x64xf32, #slim.quant<i4, channel = 1>> to tensor<?x64xf32, #slim.quant<i4, channel = 1>>
  return %c : tensor<?x64xf32, #slim.quant<i4, channel = 1>>
}
