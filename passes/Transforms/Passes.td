//===- Passes.td - Slim transformation passes --------------*- tablegen -*-===//
//
// Part of the Slim project, under the Apache License v2.0 with LLVM Exceptions.
// SPDX-License-Identifier: Apache-2.0 WITH LLVM-exception
//
//===----------------------------------------------------------------------===//

#ifndef SLIM_PASSES_TRANSFORMS_PASSES_TD
#define SLIM_PASSES_TRANSFORMS_PASSES_TD

include "mlir/Pass/PassBase.td"

def SlimDecomposeAggregateOpsPass
    : Pass<"slim-decompose-aggregate-ops", "::mlir::func::FuncOp"> {
  let summary = "Decomposes aggregate linalg ops (linalg.softmax) into generics";
  let description = [{
    The importer keeps `linalg.softmax` as a named op so that later passes
    can recognise attention; code generation paths without a fused softmax
    use this pass to expand every op implementing
    `AggregatedOpInterface` into its `linalg.generic` parts (max-reduce,
    exp, sum-reduce, divide).

    Example: `linalg.softmax dimension(1) ins(%x) outs(%y)` becomes a
    `linalg.fill` + two reductions + two elementwise `linalg.generic`s.
  }];
  let dependentDialects = ["::mlir::linalg::LinalgDialect",
                           "::mlir::arith::ArithDialect",
                           "::mlir::math::MathDialect"];
}

def SlimLowerExpandShapePass
    : Pass<"slim-lower-expand-shape", "::mlir::func::FuncOp"> {
  let summary = "Rewrites memref.expand_shape of contiguous buffers as "
                "memref.reinterpret_cast";
  let description = [{
    MLIR 22.1's `--expand-strided-metadata` crashes on a `memref.expand_shape`
    that splits one dimension into several dynamic ones (the `[B*S, N] ->
    [B, S, N]` reshape after every linear layer of a dynamic-shape LLM).
    For a source with the identity layout the expansion is a plain
    reinterpretation: offset 0, the output sizes, and strides that are the
    suffix products of the sizes. This pass emits exactly that, before
    `--expand-strided-metadata` runs; expansions of strided sources are left
    alone.

    Example:

    ```mlir
    %e = memref.expand_shape %m [[0, 1], [2]] output_shape [%b, %s, 192]
        : memref<?x192xf32> into memref<?x?x192xf32>
    // becomes
    %e = memref.reinterpret_cast %m to offset: [0], sizes: [%b, %s, 192],
        strides: [%s192, 192, 1] : memref<?x192xf32> to memref<?x?x192xf32>
    ```
  }];
  let dependentDialects = ["::mlir::memref::MemRefDialect",
                           "::mlir::arith::ArithDialect"];
}

#endif // SLIM_PASSES_TRANSFORMS_PASSES_TD
