//===- Passes.td - Slim conversion passes ------------------*- tablegen -*-===//
//
// Part of the Slim project, under the Apache License v2.0 with LLVM Exceptions.
// SPDX-License-Identifier: Apache-2.0 WITH LLVM-exception
//
//===----------------------------------------------------------------------===//

#ifndef SLIM_PASSES_CONVERSION_PASSES_TD
#define SLIM_PASSES_CONVERSION_PASSES_TD

include "mlir/Pass/PassBase.td"

def ConvertSlimToLinalgPass : Pass<"convert-slim-to-linalg", "::mlir::ModuleOp"> {
  let summary = "Expands Slim ops into upstream ops on dense tensors";
  let description = [{
    The reference semantics of the `slim` dialect as a lowering. Every
    compressed tensor is replaced by its storage tensors (function
    signatures, calls and returns included), and every Slim op by upstream
    `linalg`, `tensor`, `arith`, `math` and `scf` ops on dense tensors:
    unpacking of bit-packed codes, scale/zero-point/code-book dequantization,
    N:M and CSR scatter, `U * V` low-rank products, dynamic activation
    quantization and matrix products (accumulating in f32 for narrower
    element types).

    It is deliberately simple, not fast: it is the oracle every fused kernel
    is tested against. Compressed values reaching an op that is not a Slim,
    `func.func`, `func.call` or `func.return` op make the pass fail.

    Example:

    ```mlir
    %w = slim.assemble %codes, %scales : tensor<64x32xi8>, tensor<1x64xf32>
        -> tensor<64x64xf32, #slim.quant<i4, channel = 1>>
    %y = slim.matmul %x, %w : tensor<?x64xf32>,
        tensor<64x64xf32, #slim.quant<i4, channel = 1>> -> tensor<?x64xf32>
    ```

    becomes a `linalg.generic` that decodes `%codes` with `%scales` into a
    dense `tensor<64x64xf32>` followed by `linalg.fill` and `linalg.matmul`.

    Run-time checks (`slim.assert`) become `scf.if` on the failed condition
    calling `slim_rt_check_failed(site, value0, value1)`; their messages
    are collected in the module's `slim_check_messages` global (an
    external, constant `!llvm.array` of NUL-terminated strings in site
    order, then one more NUL; its size in the i64 global
    `slim_check_messages_size`), where the runtime looks them up. With
    `checks=abort` (the reference pipeline, run by `mlir-runner` without
    Slim's runtime) they become `cf.assert`, which prints the message and
    aborts.
  }];
  let options = [
    Option<"checks", "checks", "std::string", "\"runtime\"",
           "How slim.assert fails: 'runtime' (call the model-support "
           "function, the run returns an error), 'abort' (cf.assert), or "
           "'none' (drop the checks: only for measuring their cost)">,
  ];
  let dependentDialects = [
    "::mlir::cf::ControlFlowDialect",
    "::mlir::arith::ArithDialect",
    "::mlir::func::FuncDialect",
    "::mlir::LLVM::LLVMDialect",
    "::mlir::linalg::LinalgDialect",
    "::mlir::math::MathDialect",
    "::mlir::scf::SCFDialect",
    "::mlir::tensor::TensorDialect",
  ];
}

#endif // SLIM_PASSES_CONVERSION_PASSES_TD
