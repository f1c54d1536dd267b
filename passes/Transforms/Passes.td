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

def SlimExternalizeWeightsPass
    : Pass<"slim-externalize-weights", "::mlir::ModuleOp"> {
  let summary = "Moves large constants into a weights file read at run time";
  let description = [{
    Writes every constant tensor of at least `min-bytes` bytes (dense or
    `dense_resource`) into `weights-file`, 64-byte aligned and deduplicated,
    and replaces it with a view of a new last argument of its function,
    `%weights: memref<?xi8>`, the file as the runtime maps it:

    ```mlir
    %w = arith.constant dense_resource<w> : tensor<4096x4096xf32>
    // becomes
    %v = memref.view %weights[%offset][] : memref<?xi8> to memref<4096x4096xf32>
    %w = bufferization.to_tensor %v restrict : memref<4096x4096xf32> to tensor<4096x4096xf32>
    ```

    Compiled code then never embeds weights, and a model's weights are
    mapped, not loaded. The function gets the unit attribute
    `slim.weights_argument` when it takes the argument. Boolean and splat
    constants stay inline.
  }];
  let options = [
    Option<"weightsFile", "weights-file", "std::string", "",
           "File to write the weights to (required)">,
    Option<"minBytes", "min-bytes", "int64_t", "1024",
           "Smallest constant (in bytes) that is moved to the file">,
  ];
  let dependentDialects = ["::mlir::memref::MemRefDialect",
                           "::mlir::bufferization::BufferizationDialect",
                           "::mlir::arith::ArithDialect"];
}

def SlimLowerMatmulToBlasPass
    : Pass<"slim-lower-matmul-to-blas", "::mlir::ModuleOp"> {
  let summary = "Calls a BLAS sgemm for f32 linalg.matmul/batch_matmul on memrefs";
  let description = [{
    Replaces `linalg.matmul` and `linalg.batch_matmul` on f32 memrefs whose
    rows are contiguous (unit innermost stride) by calls to
    `slim_rt_sgemm` / `slim_rt_sgemm_batched` (C interface, implemented by
    Slim's model support library on OpenBLAS): the dense GEMMs of an LLM run
    in a tuned, multithreaded kernel. The op accumulates into its output,
    which is what the calls do (beta = 1). Other matmuls are left alone.
  }];
  let dependentDialects = ["::mlir::func::FuncDialect",
                           "::mlir::memref::MemRefDialect"];
}

def SlimCopyResultsPass : Pass<"slim-copy-results", "::mlir::func::FuncOp"> {
  let summary = "Returns fresh buffers from public functions";
  let description = [{
    Copies each tensor a public function returns that could alias an
    argument, a constant, a weight or another result (looking through
    casts, reshapes and slices) into a new `bufferization.alloc_tensor`, so
    that after bufferization every result is a distinct heap buffer the
    caller owns and frees. Computed results already are and are not copied.
    Also marks the tensor arguments `bufferization.writable = false`: the
    caller's inputs are never written.
  }];
  let dependentDialects = ["::mlir::bufferization::BufferizationDialect"];
}

#endif // SLIM_PASSES_TRANSFORMS_PASSES_TD
