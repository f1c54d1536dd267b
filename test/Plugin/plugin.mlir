// The stock mlir-opt of LLVM 22 loads Slim as a plugin: it parses and
// verifies Slim IR, rejects invalid Slim IR, and runs a Slim pass.
// A plugin built with the sanitizers cannot load into the uninstrumented
// mlir-opt (the ASan runtime must come first in the process).
// UNSUPPORTED: sanitize
// RUN: mlir-opt --load-dialect-plugin=%slim_plugin --load-pass-plugin=%slim_plugin %s | FileCheck %s --check-prefix=PARSE
// Passes from a pass plugin are registered after the command line is parsed,
// so they are named in --pass-pipeline rather than as flags.
// RUN: mlir-opt --load-dialect-plugin=%slim_plugin --load-pass-plugin=%slim_plugin %s --pass-pipeline="builtin.module(convert-slim-to-linalg)" | FileCheck %s --check-prefix=LOWER
// RUN: mlir-opt --load-dialect-plugin=%slim_plugin --load-pass-plugin=%slim_plugin --help | FileCheck %s --check-prefix=HELP
// RUN: not mlir-opt --load-dialect-plugin=%slim_plugin %S/Inputs/invalid-weight.mlir 2>&1 | FileCheck %s --check-prefix=INVALID

// PARSE-LABEL: func.func @plugin_matmul
// PARSE: slim.assemble
// PARSE: slim.matmul

// LOWER-LABEL: func.func @plugin_matmul
// LOWER-NOT: slim.
// LOWER: linalg.generic
// LOWER: linalg.matmul

// HELP: --convert-slim-to-linalg
// HELP: --slim-cpu-reference-pipeline

// INVALID: error: quantization axis 2 is out of range for rank 2
func.func @plugin_matmul(%codes: tensor<64x32xi8>, %scales: tensor<1x64xf32>, %x: tensor<?x64xf32>) -> tensor<?x64xf32> {
  %w = slim.assemble %codes, %scales : tensor<64x32xi8>, tensor<1x64xf32> -> tensor<64x64xf32, #slim.quant<i4, channel = 1>>
  %y = slim.matmul %x, %w : tensor<?x64xf32>, tensor<64x64xf32, #slim.quant<i4, channel = 1>> -> tensor<?x64xf32>
  return %y : tensor<?x64xf32>
}
