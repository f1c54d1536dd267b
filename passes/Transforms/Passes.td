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
    With `keep-softmax`, f32 softmaxes over the innermost dimension stay
    whole for `--slim-lower-softmax` (one pass over each row in cache
    instead of four over the whole tensor).
  }];
  let options = [
    Option<"keepSoftmax", "keep-softmax", "bool", "false",
           "Keep f32 linalg.softmax over the innermost dimension (for "
           "--slim-lower-softmax)">,
  ];
  let dependentDialects = ["::mlir::linalg::LinalgDialect",
                           "::mlir::arith::ArithDialect",
                           "::mlir::math::MathDialect"];
}

def SlimLowerSoftmaxPass
    : Pass<"slim-lower-softmax", "::mlir::ModuleOp"> {
  let summary = "Calls Slim's row-wise softmax kernel for f32 linalg.softmax on memrefs";
  let description = [{
    Replaces `linalg.softmax` over the innermost dimension of an f32
    memref (any rank, any strides; kept whole by
    `--slim-decompose-aggregate-ops{keep-softmax}` and bufferized) by a call
    to `slim_rt_softmax_f32(in, out)` (C interface, unranked memrefs) in
    Slim's model support library. The runtime shares the rows out over the
    threads and runs each in `lib/Kernels/Softmax.h`'s kernel (AVX2 + FMA
    or the portable reference, by CPUID): the max, the exponentials and
    their sum, and the scaling, while the row is in L1. Attention's scores
    (`[batch, heads, queries, keys]`) are otherwise read four times and
    written twice as whole tensors by the decomposition, 9.4 MB each per
    layer at 512 tokens for SmolLM2. Other softmaxes are left alone.
  }];
  let dependentDialects = ["::mlir::func::FuncDialect",
                           "::mlir::memref::MemRefDialect"];
}

def SlimLowerAttentionPass
    : Pass<"slim-lower-attention", "::mlir::ModuleOp"> {
  let summary = "Calls Slim's fused attention kernel for f32 scores-softmax-values chains on memrefs";
  let description = [{
    Replaces, on bufferized IR, the chain an attention layer lowers to:

    ```mlir
    linalg.fill ins(%zero : f32) outs(%s : memref<?x?x?xf32>)
    linalg.batch_matmul indexing_maps = [(b, m, n, k) -> (b, m, k), (b, n, k), (b, m, n)]
        ins(%q, %k : memref<?x?x64xf32>, memref<?x?x64xf32>) outs(%s : memref<?x?x?xf32>)
    linalg.generic ins(%s_view, %mask : ...) outs(%x : ...)   // x = s / c + mask
    linalg.softmax dimension(3) ins(%x : ...) outs(%p : ...)
    linalg.fill ins(%zero : f32) outs(%o : memref<?x?x64xf32>)
    linalg.batch_matmul ins(%p_view, %v : memref<?x?x?xf32>, memref<?x?x64xf32>) outs(%o : memref<?x?x64xf32>)
    // becomes
    call @slim_rt_attention_f32(%q, %k, %v, %mask_view, %o, %scale) : (...) -> ()
    ```

    by one call of `slim_rt_attention_f32` (or `_nomask_f32`) in Slim's
    model support library, which computes O = softmax(scale Q K^T + mask) V
    a few query rows at a time in `lib/Kernels/Attention.h`'s kernel (AVX2 +
    FMA or the portable reference, by CPUID): the score tensor
    (`[heads, queries, keys]`, 9.4 MB per layer at 512 tokens for SmolLM2)
    is never written, and keys whose mask is -inf are skipped (a causal mask
    halves prefill's attention work; their score is -inf whatever Q K^T is).
    The epilogue between the products is optional and may be `s * c`,
    `s / c` (as `s * (1 / c)`), `s + mask`, or both, with a constant c and a
    mask broadcast along any dimensions (passed as a strided view with zero
    strides). Conditions: the scores, the epilogue's output and the
    probabilities are allocations nothing else reads, the views between
    them reshapes that keep the keys innermost, both products follow a zero
    fill of their output, Q, K, V and O have contiguous rows, and nothing
    between the first fill and the second product writes memory. Other
    chains are left alone (and become GEMM and softmax calls).
  }];
  let dependentDialects = ["::mlir::arith::ArithDialect",
                           "::mlir::func::FuncDialect",
                           "::mlir::memref::MemRefDialect"];
}

def SlimLowerExpandShapePass
    : Pass<"slim-lower-expand-shape", "::mlir::func::FuncOp"> {
  let summary = "Rewrites memref.expand_shape as memref.reinterpret_cast";
  let description = [{
    MLIR 22.1's `--expand-strided-metadata` crashes on a `memref.expand_shape`
    that splits one dimension into several dynamic ones (the `[B*S, N] ->
    [B, S, N]` reshape after every linear layer of a dynamic-shape LLM).
    For a source with the identity layout the expansion is a plain
    reinterpretation: offset 0, the output sizes, and strides that are the
    suffix products of the sizes. For a strided source (the columns of a
    joined product, `--slim-fuse-sibling-matmuls`) it is the source's
    offset and, in each reassociation group, the suffix products of the
    group's sizes times the stride of the source dimension the group splits
    (read from `memref.extract_strided_metadata` where it is dynamic). This
    pass emits exactly that, before `--expand-strided-metadata` runs.

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

def SlimFoldTransposesPass
    : Pass<"slim-fold-transposes", "::mlir::func::FuncOp"> {
  let summary = "Folds transposes and repeated KV heads into the matmuls that read them";
  let description = [{
    ONNX writes `x @ W^T` as a `Transpose` feeding a `MatMul`: a tied LM
    head transposes the whole embedding table (49152 x 576 for SmolLM2, 113
    MB) and attention transposes K, each a strided copy on every call. This
    pass rewrites `linalg.matmul` whose A or B operand is a 2-D
    `linalg.transpose` into a `linalg.matmul` with transposed indexing maps
    on the transpose's source, and `linalg.batch_matmul` whose B operand is a
    transpose of the two innermost dimensions (possibly followed by a
    `tensor.collapse_shape` that merges only the batch dimensions) into the
    transposed-B batch matmul. `--slim-lower-matmul-to-blas` then calls
    sgemm with the operand transposed: no copy, and a tied weight is stored
    once. Grouped-query attention's repeated KV heads (a broadcast of
    `[B, G, 1, T, D]` to `[B, G, R, T, D]` collapsed to `G*R` heads, feeding
    a batch matmul with the `G*R` query heads) become a batch matmul of each
    KV head with its `R` query heads as `R` times more rows, with only
    reshapes around it: the KV cache is no longer copied `R` times per call.
    With `transpose-weights`, a matmul by an f32 constant `[K, N]`
    instead reads a constant `[N, K]` transposed once at compile time, the
    layout in which the one-row products of decoding run as contiguous dot
    products at memory bandwidth. With `pack-weights`, a matmul by an f32
    constant read as `[K, N]` or `[N, K]` with `N` a multiple of 16 instead
    reads the constant packed once at compile time into `N / 16` panels of
    16 output channels, `W'[p, k, j, 0] = W(k, 16 p + j)`, through a
    `linalg.mmt4d` (tile sizes M0 = K0 = 1, N0 = 16) between reshapes of A
    and of the accumulator: the layout of Slim's packed GEMM kernels
    (`lib/Kernels/GemmPacked.h`), which no call has to repack. Element reads
    of the same constant (`tensor.extract`, as an embedding Gather of a tied
    table lowers to) read the packed copy, `W(n, k) = W'[n / 16, k, n % 16, 0]`,
    so the table is stored once.
    Example:
    ```mlir
    %t = linalg.transpose ins(%emb : tensor<49152x576xf32>) outs(%e : tensor<576x49152xf32>) permutation = [1, 0]
    %y = linalg.matmul ins(%x, %t : tensor<?x576xf32>, tensor<576x49152xf32>) outs(%acc : tensor<?x49152xf32>) -> tensor<?x49152xf32>
    // becomes
    %y = linalg.matmul indexing_maps = [affine_map<(m, n, k) -> (m, k)>, affine_map<(m, n, k) -> (n, k)>, affine_map<(m, n, k) -> (m, n)>]
        ins(%x, %emb : tensor<?x576xf32>, tensor<49152x576xf32>) outs(%acc : tensor<?x49152xf32>) -> tensor<?x49152xf32>
    // and with pack-weights
    %x4 = tensor.expand_shape %x [[0], [1, 2, 3]] : tensor<?x576xf32> into tensor<?x576x1x1xf32>
    %c4 = tensor.expand_shape %acc [[0], [1, 2, 3]] : tensor<?x49152xf32> into tensor<?x3072x1x16xf32>
    %p = linalg.mmt4d ins(%x4, %packed : tensor<?x576x1x1xf32>, tensor<3072x576x16x1xf32>) outs(%c4 : tensor<?x3072x1x16xf32>) -> tensor<?x3072x1x16xf32>
    %y = tensor.collapse_shape %p [[0], [1, 2, 3]] : tensor<?x3072x1x16xf32> into tensor<?x49152xf32>
    ```
  }];
  let options = [
    Option<"transposeWeights", "transpose-weights", "bool", "false",
           "Also store constant matmul weights transposed ([N, K])">,
    Option<"packWeights", "pack-weights", "bool", "false",
           "Also store constant matmul weights with N a multiple of 16 as "
           "16-channel panels read by linalg.mmt4d">,
  ];
  let dependentDialects = ["::mlir::linalg::LinalgDialect",
                           "::mlir::tensor::TensorDialect",
                           "::mlir::arith::ArithDialect"];
}

def SlimOutlineRegionsPass
    : Pass<"slim-outline-regions", "::mlir::ModuleOp"> {
  let summary = "Splits large functions into calls of bounded-size private functions";
  let description = [{
    An imported model is one function that grows with its layers, and
    LLVM's optimizer is superlinear in function size (a 30-layer model took
    minutes at -O3). This pass cuts the top-level body of every function
    with more than `max-ops` operations (nested ones counted) into
    consecutive segments of `max-ops / 2` to `max-ops` operations, each
    moved into a private function `@<name>_part<k>` marked `noinline` with
    internal linkage, and replaces the segment by a call. A segment takes
    the values it uses from earlier segments as arguments and returns the
    values used after it; constants are repeated instead of passed. Within
    the allowed range the cut crossed by the fewest values is chosen, which
    in a decoder falls between layers or between attention and the MLP.
    It runs on buffers after deallocation is explicit (moving operations
    changes no ownership); segments never return stack (`memref.alloca`)
    buffers. The function left, only constants and calls, is marked
    `optnone` and `noinline` for LLVM: it runs once per model call, and for
    a 60-layer model LLVM's post-RA scheduler spent 9 s on its one block.
    Example (`max-ops=2`):
    ```mlir
    func.func @main(%a: memref<4xf32>) -> memref<4xf32> {
      %0 = memref.alloc() : memref<4xf32>
      linalg.exp ins(%a : memref<4xf32>) outs(%0 : memref<4xf32>)
      %1 = memref.alloc() : memref<4xf32>
      linalg.exp ins(%0 : memref<4xf32>) outs(%1 : memref<4xf32>)
      memref.dealloc %0 : memref<4xf32>
      return %1 : memref<4xf32>
    }
    // becomes calls of @main_part0, @main_part1, ... each holding a few of
    // those operations.
    ```
  }];
  let options = [
    Option<"maxOps", "max-ops", "int64_t", "400",
           "Largest number of operations in one outlined function">,
  ];
  let dependentDialects = ["::mlir::func::FuncDialect",
                           "::mlir::LLVM::LLVMDialect"];
}

def SlimMergeEquivalentFunctionsPass
    : Pass<"slim-merge-equivalent-functions", "::mlir::ModuleOp"> {
  let summary = "Merges private functions that differ only in integer "
                "constants into one, the constants passed as arguments";
  let description = [{
    The parts `slim-outline-regions` cuts out of a decoder repeat with its
    layers, and the parts at the same position of two layers differ only in
    the byte offsets of their weights. This pass groups the private
    functions that are called directly and nowhere else referenced into
    classes whose bodies are equal operation by operation (names,
    attributes, types, operand structure), except for the values of integer
    and `index` constants. It keeps the first function of each class, makes
    the constants whose values differ within the class its trailing
    arguments, and has every call pass its own function's values; the
    others are erased. LLVM then optimizes and compiles each distinct piece
    of code once: SmolLM2-135M's 93 parts become 14 functions. (LLVM's
    MergeFunctions pass only merges bodies that are identical, constants
    included.) A class takes at most `max-arguments` new arguments; a
    function that would need more stays separate.

    Example:
    ```mlir
    func.func private @p0(%w: memref<?xi8>) -> f32 {
      %c = arith.constant 64 : index
      %v = memref.view %w[%c][] : memref<?xi8> to memref<f32>
      %x = memref.load %v[] : memref<f32>
      return %x : f32
    }
    // @p1: the same with 128. Both become @p0(%w, %c: index), called with
    // 64 and 128.
    ```
  }];
  let options = [
    Option<"maxArguments", "max-arguments", "int64_t", "32",
           "Most constants one class may turn into arguments">,
  ];
  let statistics = [
    Statistic<"numMerged", "merged",
              "Functions erased because an equivalent one serves their calls">,
  ];
  let dependentDialects = ["::mlir::arith::ArithDialect",
                           "::mlir::func::FuncDialect"];
}

def SlimDeallocAfterLastUsePass
    : Pass<"slim-dealloc-after-last-use", "::mlir::func::FuncOp"> {
  let summary = "Moves each buffer's dealloc to just after its last use";
  let description = [{
    Ownership-based buffer deallocation frees the buffers of a block at its
    end. For a model that is one block, every intermediate buffer of every
    layer then stays allocated until the model returns: the peak memory is
    their sum, malloc never reuses one buffer's memory for the next, and
    each allocation touches fresh pages. This pass moves every
    `memref.dealloc` of a `memref.alloc` made in the same block to just
    after the last operation of the block that uses the buffer or a value
    derived from it. Derived values are the results of every user except
    the operations that only read the shape or the elements (`memref.dim`,
    `memref.load`, `vector.load`, ...): views, casts, extracted pointers,
    results of loops and calls all count as the buffer. A buffer used by the
    block's terminator, or outside the block, keeps its dealloc.

    Example:
    ```mlir
    %a = memref.alloc() : memref<4xf32>
    linalg.exp ins(%x : memref<4xf32>) outs(%a : memref<4xf32>)
    %b = memref.alloc() : memref<4xf32>
    linalg.exp ins(%a : memref<4xf32>) outs(%b : memref<4xf32>)
    %c = memref.alloc() : memref<4xf32>   // may now reuse %a's memory
    linalg.exp ins(%b : memref<4xf32>) outs(%c : memref<4xf32>)
    memref.dealloc %a : memref<4xf32>     // moves up, after the second exp
    memref.dealloc %b : memref<4xf32>     // after the third
    ```
  }];
  let statistics = [
    Statistic<"numMoved", "moved", "Deallocations moved up">,
  ];
}

def SlimDuplicateEmptyTensorsPass
    : Pass<"slim-duplicate-empty-tensors", "::mlir::func::FuncOp"> {
  let summary = "Gives every use of a tensor.empty its own tensor.empty";
  let description = [{
    CSE merges identical `tensor.empty` ops, so that one empty tensor
    becomes the destination of every operation of its shape (in a 30-layer
    decoder, one is the init of 122 operations). One-shot bufferization puts
    all of them into one alias set, and its conflict analysis is quadratic
    in such sets: most of its 4.4 s on 60 layers. This pass clones a
    multi-use `tensor.empty` right before each of its users but the first;
    bufferization allocates one buffer per destination either way. A
    multi-use `linalg.fill` of a `tensor.empty` (the zero accumulator CSE
    shares between all matmuls of a shape) is cloned the same way first:
    shared, it bufferizes to one filled buffer copied for every user; cloned,
    each user fills its own buffer in place, a fill that
    `--slim-lower-matmul-to-blas` then folds into the product. Run it right
    before `one-shot-bufferize`.

    Example:
    ```mlir
    %e = tensor.empty(%n) : tensor<?xf32>
    %a = linalg.exp ins(%x : tensor<?xf32>) outs(%e : tensor<?xf32>) -> tensor<?xf32>
    %b = linalg.exp ins(%a : tensor<?xf32>) outs(%e : tensor<?xf32>) -> tensor<?xf32>
    // the second linalg.exp gets its own %e2 = tensor.empty(%n)
    ```
  }];
  let dependentDialects = ["::mlir::tensor::TensorDialect"];
}

def SlimIndirectMemrefArgumentsPass
    : Pass<"slim-indirect-memref-arguments", "::mlir::ModuleOp"> {
  let summary = "Passes memrefs to private functions as pointers to "
                "descriptors in the caller's frame";
  let description = [{
    The LLVM lowering passes a memref as the 5 + 2 * rank fields of its
    descriptor and returns memrefs in one struct. An outlined model's entry
    calls its parts with a dozen buffers each, and that entry became one
    basic block of tens of thousands of field extractions and stack-argument
    stores, which LLVM's instruction selection, stack-slot colouring and
    post-RA scheduler handle in superlinear time. This pass rewrites every
    private function with memref arguments or results that is only called
    from the top level of function bodies: a memref argument becomes an
    `!llvm.ptr` to its descriptor, loaded at the entry, and a memref result
    a trailing `!llvm.ptr` argument the function stores the descriptor to
    before it returns. The caller keeps one stack slot per memref value the
    calls use (`llvm.alloca` at its entry), written once where the value is
    made or by the callee that returns it, and reloads a returned
    descriptor only where something other than such a call uses it. Run it
    last before the LLVM lowering; the `builtin.unrealized_conversion_cast`s
    it leaves between memrefs and descriptor structs fold away there.

    Example:
    ```mlir
    %r = call @part(%x) : (memref<?xf32>) -> memref<?xf32>
    // becomes
    %s = llvm.alloca %c1 x !llvm.struct<(ptr, ptr, i64, array<1 x i64>, array<1 x i64>)>
    %t = llvm.alloca ...  (after %x's definition: %x's descriptor stored to %s)
    call @part(%s, %t) : (!llvm.ptr, !llvm.ptr) -> ()
    ```
  }];
  let dependentDialects = ["::mlir::LLVM::LLVMDialect",
                           "::mlir::func::FuncDialect"];
}

def SlimSplitLowRankPass
    : Pass<"slim-split-low-rank", "::mlir::func::FuncOp"> {
  let summary = "Multiplies low-rank weights as two thin products";
  let description = [{
    A `slim.matmul` by a weight `W = U V` (`#slim.lowrank`), or `W = Q + U V`
    (`#slim.compressed<[...], residual = #slim.lowrank<...>>`), becomes
    `x Q + (x U) V` (for a transposed weight `[N, K]`: `x Q^T + (x V^T) U^T`):
    a product of rank `r` into a `[M, r]` tensor, then a product of rank `r`
    accumulated into the rest of the weight's product, which keeps its own
    encoding (quantized, sparse, both) and kernel selection. The `K x N`
    matrix `U V` is never formed, and the products cost `r (K + N)` per row
    instead of `K N`. The factors must be constants whose data is available
    (f32, f16 or bf16); they are written once, at compile time, as f32
    constants `[K, r]` and `[r, N]` of plain `linalg.matmul`s, the layout
    every dense layer has, so the CPU pipeline packs them and runs them in
    its GEMM/GEMV kernels. Activations of rank above 2 are collapsed into
    rows and the result expanded back. Other products are left alone.
    Example:
    ```mlir
    %w = slim.assemble %codes, %scales, %u, %v : ... -> tensor<64x32xf32,
        #slim.compressed<[#slim.quant<i4, group = 16, axis = 1>], residual = #slim.lowrank<rank = 4>>>
    %y = slim.matmul %x, %w transpose_rhs : tensor<?x32xf32>, ... -> tensor<?x64xf32>
    // becomes
    %q = slim.assemble %codes, %scales : ... -> tensor<64x32xf32, #slim.quant<i4, group = 16, axis = 1>>
    %yq = slim.matmul %x, %q transpose_rhs : ...
    %t = linalg.matmul ins(%x, %vt : tensor<?x32xf32>, tensor<32x4xf32>) outs(%zero : tensor<?x4xf32>)
    %y = linalg.matmul ins(%t, %ut : tensor<?x4xf32>, tensor<4x64xf32>) outs(%yq : tensor<?x64xf32>)
    ```
  }];
  let dependentDialects = ["::mlir::arith::ArithDialect",
                           "::mlir::linalg::LinalgDialect",
                           "::mlir::tensor::TensorDialect",
                           "::mlir::slim::SlimDialect"];
}

def SlimFuseSiblingMatmulsPass
    : Pass<"slim-fuse-sibling-matmuls", "::mlir::func::FuncOp"> {
  let summary = "Joins products of one activation by constant weights into one product";
  let description = [{
    A decoder layer multiplies one activation by several weights: the
    query, key and value projections read the normalized hidden state, the
    gate and up projections of a gated MLP read the same input. Run apart,
    each is a kernel call with a parallel region of its own (a key or value
    projection of SmolLM2 is 576 x 192: a few microseconds of work, less
    than waking the other threads costs), and a quantized product rounds
    the activations to int8 once per call. This pass joins, per block, the
    products that read the same activation value into one product by the
    weights concatenated along the output channels at compile time, and
    gives each former product its columns of the result with a
    `tensor.extract_slice` (a view, no copy):
     - `linalg.matmul` of an f32 activation `[M, K]` by an f32 constant
       `[K, N]` into a zero fill (what the ONNX importer emits for a MatMul
       by an initializer, before `--slim-fold-transposes` packs it);
     - `slim.matmul ... transpose_rhs` by a `slim.assemble` of constants
       whose encodings are equal, with only a quantization stage and storage
       laid out one row per output channel (codes, scales and zero points
       `[N, ...]`), activations of any rank.
    Products whose weights are not available (elided resources), splat or
    of another encoding are left alone. The weights file holds the
    concatenated copy instead of the parts, so nothing is stored twice.
    Example:
    ```mlir
    %q = linalg.matmul ins(%x, %wq : tensor<?x576xf32>, tensor<576x576xf32>) outs(%f0 : tensor<?x576xf32>)
    %k = linalg.matmul ins(%x, %wk : tensor<?x576xf32>, tensor<576x192xf32>) outs(%f1 : tensor<?x192xf32>)
    // becomes
    %qk = linalg.matmul ins(%x, %wqk : tensor<?x576xf32>, tensor<576x768xf32>) outs(%f : tensor<?x768xf32>)
    %q = tensor.extract_slice %qk[0, 0] [%m, 576] [1, 1]
    %k = tensor.extract_slice %qk[0, 576] [%m, 192] [1, 1]
    ```
  }];
  let dependentDialects = ["::mlir::arith::ArithDialect",
                           "::mlir::linalg::LinalgDialect",
                           "::mlir::tensor::TensorDialect",
                           "::mlir::slim::SlimDialect"];
}

def SlimFuseElementwisePass
    : Pass<"slim-fuse-elementwise", "::mlir::func::FuncOp"> {
  let summary = "Fuses elementwise linalg.generic producers into their consumers";
  let description = [{
    Applies upstream's producer-consumer fusion of elementwise
    `linalg.generic` ops (`linalg::populateElementwiseOpsFusionPatterns`)
    without the reshape propagation of `--linalg-fuse-elementwise-ops`,
    which would rewrite named matmuls into generics and lose their BLAS
    lowering. A producer is fused when its result has a single reader, so
    nothing is computed twice. An LLM's normalizations, rotary embedding,
    SiLU gating and residual adds become a few loop nests without
    intermediate buffers; the consumer may be a reduction (the mean of
    squares of RMSNorm absorbs the square).
    Example:
    ```mlir
    %sq = linalg.generic {..., iterator_types = ["parallel", "parallel"]} ins(%x) outs(%e0) { mulf }
    %sum = linalg.generic {..., iterator_types = ["parallel", "reduction"]} ins(%sq) outs(%acc) { addf }
    // becomes one reduction reading %x and computing x*x in its body
    ```
  }];
  let dependentDialects = ["::mlir::linalg::LinalgDialect",
                           "::mlir::tensor::TensorDialect"];
}

def SlimApproximateMathPass
    : Pass<"slim-approximate-math", "::mlir::func::FuncOp"> {
  let summary = "Replaces f32 exp, log, tanh, erf, sin and cos by polynomial "
                "approximations LLVM vectorizes";
  let description = [{
    LLVM lowers `math.exp` and its kin on f32 to calls of libm, one element
    at a time, and does not vectorize a loop around such a call. This pass
    applies upstream's polynomial approximations
    (`populateMathPolynomialApproximationPatterns`: range reduction and
    minimax polynomials within a few ulp of libm over the whole f32 range)
    to `exp`, `expm1`, `log`, `log1p`, `log2`, `tanh`, `erf`, `sin` and
    `cos`, so that a softmax or GELU loop vectorizes like the arithmetic
    around it. Other element types and functions are left as they are.
    The `math.fma` of the polynomials (and any other) becomes `arith.mulf`
    and `arith.addf` with the `contract` flag: one FMA instruction where the
    target has FMA, two instructions where it has not (never a call of
    libm's `fmaf`).
    `slimc` runs it after the loops are formed (`--slim-cpu-pipeline`
    option `approximate-math`, on by default).
    Example:
    ```mlir
    %e = math.exp %x : f32
    // becomes a range reduction (x = k ln2 + r), a polynomial in r and a
    // scaling by 2^k built from integer operations on the exponent bits
    ```
  }];
  let dependentDialects = ["::mlir::arith::ArithDialect",
                           "::mlir::math::MathDialect",
                           "::mlir::vector::VectorDialect"];
}

def SlimParallelizeLoopsPass
    : Pass<"slim-parallelize-loops", "::mlir::func::FuncOp"> {
  let summary = "Shares large scf.parallel loops out over the threads "
                "(OpenMP worksharing loops)";
  let description = [{
    Rewrites each outermost `scf.parallel` (as
    `--convert-linalg-to-parallel-loops` produces them) whose work reaches
    `min-work` into `omp.parallel` + `omp.wsloop` + `omp.loop_nest`, with a
    static schedule. The work is the number of iterations times the
    operations of the body, inner loops counted with their trip counts.
    When it depends on dynamic sizes it is computed at run time and the
    parallel region asks for one thread when it is small
    (`num_threads(1)`: Slim's runtime then runs the body inline, without
    waking the pool). Loops whose work is statically below `min-work` stay
    `scf.parallel` and become sequential loops.

    Dimensions of one iteration are dropped; the outer dimensions are
    shared out (collapsed when there are several) and the innermost one
    stays a sequential loop in each thread's range so that LLVM vectorizes
    it, unless it is the only dimension or the body has loops of its own
    (a reduction: then every parallel dimension is shared out). Loops with
    `scf.reduce` operands stay sequential.

    The OpenMP runtime calls LLVM emits for these ops (`__kmpc_fork_call`,
    `__kmpc_for_static_init_8u`, ...) are renamed by `slimc` to
    `slim_rt_kmpc_*` and implemented by Slim's model support library on the
    libgomp thread pool that oneDNN and the GEMV kernel use: one pool, as
    many threads as `slim_model_set_threads` says.
    Example:
    ```mlir
    scf.parallel (%i, %j) = (%c0, %c0) to (%n, %c576) step (%c1, %c1) { ... }
    // becomes, when n * 576 * (ops of the body) may reach min-work:
    %nt = arith.select %big, %c65536_i32, %c1_i32 : i32
    omp.parallel num_threads(%nt : i32) {
      omp.wsloop {
        omp.loop_nest (%i) : index = (%c0) to (%n) step (%c1) {
          scf.parallel (%j) = (%c0) to (%c576) step (%c1) { ... }
          omp.yield
        }
      }
      omp.terminator
    }
    ```
  }];
  let options = [
    Option<"minWork", "min-work", "int64_t", /*default=*/"65536",
           "Smallest work (iterations times body operations) shared out">,
  ];
  let dependentDialects = ["::mlir::arith::ArithDialect",
                           "::mlir::omp::OpenMPDialect",
                           "::mlir::scf::SCFDialect"];
}

def SlimPromoteAccumulatorsPass
    : Pass<"slim-promote-accumulators", "::mlir::func::FuncOp"> {
  let summary = "Keeps reduction accumulators of loops in registers "
                "(scf.for iteration arguments)";
  let description = [{
    A linalg reduction lowered to loops loads and stores its output element
    on every iteration of the reduction loop; LLVM can neither keep it in a
    register nor vectorize the loop, since it cannot prove that the input
    does not alias the output. This pass turns a `memref.load` / `memref.store`
    pair of one loop-invariant element into an `scf.for` iteration argument
    (loaded before the loop, stored after it) when the buffer is an
    allocation of the function itself (`memref.alloc`/`alloca`, through
    views) and no other operation in the loop may touch that allocation; a
    function argument or global is never promoted, a loop with a call is
    left alone.

    With `reassociate` (on in `slimc`), the `arith.addf` / `arith.mulf`
    combining the accumulator gets the `reassoc` fast-math flag, so that
    LLVM vectorizes the sum with several partial sums (a reordering of the
    additions, as onnxruntime's and BLAS kernels do; results differ from
    the in-order sum by rounding). Max and min reductions are exact in any
    order and need no flag.
    Example:
    ```mlir
    scf.for %k = %c0 to %n step %c1 {
      %x = memref.load %in[%i, %k] : memref<?x?xf32>
      %acc = memref.load %sum[%i] : memref<?xf32>      // %sum = memref.alloc
      %s = arith.addf %x, %acc : f32
      memref.store %s, %sum[%i] : memref<?xf32>
    }
    // becomes
    %init = memref.load %sum[%i] : memref<?xf32>
    %r = scf.for %k = %c0 to %n step %c1 iter_args(%acc = %init) -> (f32) {
      %x = memref.load %in[%i, %k] : memref<?x?xf32>
      %s = arith.addf %x, %acc fastmath<reassoc> : f32
      scf.yield %s : f32
    }
    memref.store %r, %sum[%i] : memref<?xf32>
    ```
  }];
  let options = [
    Option<"reassociate", "reassociate", "bool", /*default=*/"false",
           "Mark the promoted float sums and products reassociable">,
  ];
  let dependentDialects = ["::mlir::arith::ArithDialect",
                           "::mlir::memref::MemRefDialect",
                           "::mlir::scf::SCFDialect"];
}

def SlimExpandArithPass : Pass<"slim-expand-arith"> {
  let summary = "Expands the arith ops LLVM lowering lacks, keeping "
                "maximumf/minimumf";
  let description = [{
    `--arith-expand` with its bf16 option, less its rewrite of
    `arith.maximumf`/`minimumf`/`maxnumf`/`minnumf` into compare-and-select
    chains: `--convert-arith-to-llvm` lowers those to `llvm.maximum` and
    kin, which LLVM's loop vectorizer vectorizes as reductions (a softmax's
    row maximum), where it leaves the select chain scalar. Expanded:
    `ceildivsi`/`ceildivui`/`floordivsi` and bf16 `extf`/`truncf` (as
    integer operations; Debian's libgcc lacks `__truncsfbf2`).
    Example:
    ```mlir
    %q = arith.ceildivsi %a, %b : index   // becomes divsi, muli, cmpi, select
    %m = arith.maximumf %x, %y : f32      // kept
    ```
  }];
  let dependentDialects = ["::mlir::arith::ArithDialect"];
}

def SlimLowerStridedCopiesPass
    : Pass<"slim-lower-strided-copies", "::mlir::func::FuncOp"> {
  let summary = "Rewrites memref.copy of strided buffers as linalg.copy";
  let description = [{
    `--finalize-memref-to-llvm` turns a `memref.copy` between identity-layout
    buffers into `memcpy` and every other one into a call of the generic
    `memrefCopy`, which copies element by element through descriptors.
    KV-cache concatenation and the halves of the rotary embedding copy into
    strided subviews on every decoding step. This pass rewrites those
    copies (not the contiguous ones) as `linalg.copy`, which
    `--convert-linalg-to-loops` and LLVM's vectorizer turn into vector
    loops.
    Example:
    ```mlir
    memref.copy %new, %sub : memref<?x3x?x64xf32> to memref<?x3x?x64xf32, strided<[?, ?, 64, 1], offset: ?>>
    // becomes
    linalg.copy ins(%new : memref<?x3x?x64xf32>) outs(%sub : memref<?x3x?x64xf32, strided<[?, ?, 64, 1], offset: ?>>)
    ```
  }];
  let dependentDialects = ["::mlir::linalg::LinalgDialect"];
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
    `slim.weights_argument` when it takes the argument. Splat constants stay
    inline; boolean tensors are written one byte per element, whatever
    their size (LLVM cannot translate inline `i1` arrays).
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
  let summary = "Calls a BLAS sgemm for f32 linalg.matmul/batch_matmul on memrefs, Slim's packed GEMM for linalg.mmt4d";
  let description = [{
    Replaces `linalg.matmul` and `linalg.batch_matmul` on f32 memrefs whose
    rows are contiguous (unit innermost stride) by calls to
    `slim_rt_sgemm` / `slim_rt_sgemm_batched` (C interface, implemented by
    Slim's model support library on oneDNN's sgemm): the dense GEMMs of an
    LLM run in a tuned, multithreaded kernel. Matmuls whose indexing maps
    read A or B transposed (from `--slim-fold-transposes`) call the
    `_tn`/`_nt`/`_tt` variants, which pass the transposition to sgemm.
    A `linalg.mmt4d` by a weight packed by `--slim-fold-transposes{pack-weights}`
    (A `[M, K, 1, 1]` with unit-stride rows, a contiguous `[N / 16, K, 16, 1]`
    weight, C `[M, N / 16, 1, 16]` with contiguous rows) calls
    `slim_rt_sgemm_packed`: Slim's own packed GEMM kernels
    (`lib/Kernels/GemmPacked.h`, AVX2 + FMA or the portable reference,
    chosen by CPUID), split over the threads by panels of 16 output
    channels. The ops accumulate into their output, which is what the calls
    do (beta = 1), except where a `linalg.fill` of +0.0 writes the whole
    output right before the product (nothing but allocations and ops without
    memory effects in between): the fill is removed and the `_overwrite`
    variant of the call computes C = A B without reading C (beta = 0), so the
    accumulator is neither zeroed nor read. Other matmuls are left alone.

    Example:
    ```mlir
    linalg.fill ins(%zero : f32) outs(%c : memref<?x576xf32>)
    %c4 = memref.expand_shape %c [[0], [1, 2, 3]] output_shape [%m, 36, 1, 16] : memref<?x576xf32> into memref<?x36x1x16xf32>
    linalg.mmt4d ins(%a4, %w : memref<?x576x1x1xf32>, memref<36x576x16x1xf32>) outs(%c4 : memref<?x36x1x16xf32>)
    // becomes
    call @slim_rt_sgemm_packed_overwrite(%a_cast, %w_cast, %c_cast) : (...) -> ()
    ```
  }];
  let dependentDialects = ["::mlir::func::FuncDialect",
                           "::mlir::memref::MemRefDialect"];
}

def SlimLowerQuantizedMatmulPass
    : Pass<"slim-lower-quantized-matmul", "::mlir::ModuleOp"> {
  let summary = "Selects Slim's CPU kernels for weight-quantized slim.matmul";
  let description = [{
    Replaces `slim.matmul %x, %w transpose_rhs` of a dense f32 activation
    `M x K` by an `N x K` weight assembled from `#slim.quant` storage
    (integer codes of 2-8 bits, signed or unsigned, zero points or not; or
    a code-book format: `nf4`, `e4m3`, `e5m2`, `e2m1`, `lutN`; one scale per
    output channel or per group along K, f16/bf16/f32 scales) with a
    `slim.ukernel` of the model-support kernel
    `slim_rt_qmatmul[_zp|_lut]_<scale type>` (declared in
    `lib/Runtime/KernelAbi.h`) on the storage tensors, in
    destination-passing style. Code-book formats pass their table of 2^N
    values after the storage: `lutN`'s code book, or a constant with the
    decoded values of the fixed format. N:M sparse weights along K whose
    kept values are quantized
    (`#slim.compressed<[#slim.sparse<n:m, axis = 1>, #slim.quant<...>]>`)
    take `slim_rt_qmatmul_sparse[_zp|_lut]_<scale type>` with the indices
    after the quant storage (before a code table) and n, m after bits and
    group:

    ```mlir
    %y = slim.matmul %x, %w transpose_rhs : tensor<?x576xf32>, tensor<1536x576xf32, #slim.quant<ui4, group = 128, axis = 1, scale = f16, zero_point>> -> tensor<?x1536xf32>
    // becomes
    %init = tensor.empty(%m) : tensor<?x1536xf32>
    %y = slim.ukernel "slim_rt_qmatmul_zp_f16"
        ins(%x, %codes, %scales, %zp, %c4, %c128, %flags : ...)
        outs(%init : tensor<?x1536xf32>) -> tensor<?x1536xf32>
    ```

    Bufferization then owns every buffer, and `--slim-lower-ukernels` makes
    the calls. `%flags` (i32) says whether the codes are signed, whether
    products of up to 32 rows may use int8 activations (`activations=int8`)
    and whether a table is the FP8 E4M3 / E5M2 decoding (which the kernels
    then compute from the codes' bits).
    Products whose activation is `slim.quantize_activation` to int8 per row
    take `slim_rt_qmatmul_w8a8_<scale type>` (8-bit signed per-channel
    weights: SmoothQuant's W8A8) or, for 4- and 8-bit codes per channel or
    in groups of a multiple of 32 (W4A8, grouped W8A8), the kernel above on
    the quantization's f32 input, flagged to quantize the rows itself as
    that op defines.
    Activations of rank > 2 are collapsed into rows. Which kernel a product
    gets is decided by one table (`passes/Transforms/KernelSelection.h`)
    from the weight's encoding and the shapes; `report-fallbacks` emits a
    remark saying why each compressed product it leaves keeps the
    reference lowering (`--convert-slim-to-linalg`, which defines what the
    kernels compute). The kernels read the packed codes in place: for up
    to 8 rows (decoding) a quantized GEMV with f32 products by the exact
    weights, or, with `activations=int8`, for up to 32 rows one with the
    activations rounded to int8 per block of 32 and integer dot products
    (4- and 8-bit integer codes in groups of a multiple of 32); for more
    rows tiles of the weight dequantized once into the packed GEMM's
    panels.
  }];
  let options = [
    Option<"activations", "activations", "::mlir::slim::QuantizedActivations",
           "::mlir::slim::QuantizedActivations::F32",
           "What products of up to 32 rows may do with the activations: `f32` "
           "(exact weights times f32 activations) or `int8` (rounded to "
           "int8 per block of 32: faster, error bounded in "
           "lib/Kernels/QGemv.h)",
           [{::llvm::cl::values(
             clEnumValN(::mlir::slim::QuantizedActivations::F32, "f32",
                        "f32 activations"),
             clEnumValN(::mlir::slim::QuantizedActivations::Int8, "int8",
                        "int8 activations per block of 32"))}]>,
    Option<"reportFallbacks", "report-fallbacks", "bool", "false",
           "Emit a remark for each slim.matmul left to the reference "
           "lowering, saying why no kernel applies">,
  ];
  let dependentDialects = ["::mlir::tensor::TensorDialect",
                           "::mlir::arith::ArithDialect"];
}

def SlimLowerUKernelsPass : Pass<"slim-lower-ukernels", "::mlir::ModuleOp"> {
  let summary = "Turns bufferized slim.ukernel ops into kernel calls";
  let description = [{
    Replaces each `slim.ukernel` on memrefs (after bufferization) by a
    `func.call` of its callee, declared `private` with
    `llvm.emit_c_interface`: the inputs in order, then the outputs, every
    memref cast to a fully dynamic strided layout (the runtime receives
    `StridedMemRefType` descriptors), scalars by value.

    ```mlir
    slim.ukernel "slim_rt_qmatmul_f16" ins(%x, %codes, %scales, %c4, %c0, %c1 : memref<?x576xf32>, memref<1536x288xi8>, memref<1536x1xf16>, i64, i64, i32) outs(%y : memref<?x1536xf32>)
    // becomes
    func.call @slim_rt_qmatmul_f16(%x_cast, %codes_cast, %scales_cast, %c4, %c0, %c1, %y_cast) : (memref<?x?xf32, strided<[?, ?], offset: ?>>, ...) -> ()
    ```

    Fails on a `slim.ukernel` still on tensors, and on two calls of one
    callee with different argument types.
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

def SlimQuantizePass : Pass<"slim-quantize", "::mlir::ModuleOp"> {
  let summary = "Quantizes the weights of linear layers (RTN or GPTQ)";
  let description = [{
    Replaces each selected linear layer, a `linalg.matmul` of an activation
    `[M, K]` by a constant f32 weight `[K, N]` (named by the weight's
    resource key, the ONNX initializer name), with a `slim.matmul
    {transpose_rhs}` of a `#slim.quant` weight `[N, K]` assembled from
    packed codes, scales and zero points:

    ```mlir
    %w = arith.constant dense_resource<model.layers.0.mlp.up_proj.weight> : tensor<576x1536xf32>
    %y = linalg.matmul ins(%x, %w : tensor<?x576xf32>, tensor<576x1536xf32>) outs(%zero : tensor<?x1536xf32>) -> tensor<?x1536xf32>
    // becomes
    %q = slim.assemble %codes, %scales, %zero_points : ... -> tensor<1536x576xf32, #slim.quant<u4, group = 128, axis = 1, scale = f16, zero_point>>
    %y = slim.matmul %x, %q {transpose_rhs} : (tensor<?x576xf32>, tensor<1536x576xf32, #slim.quant<...>>) -> tensor<?x1536xf32>
    ```

    Methods: `rtn` (round to nearest, optionally with a clipping search),
    `gptq` (Frantar et al.; needs `stats`, the file slim-run `--calibrate`
    writes), `awq` (Lin et al.: input channels scaled by
    `mean|x|^alpha` before RTN, alpha searched per layer on the
    calibration statistics; the activation is divided by the scales in a
    `linalg.generic` before the `slim.matmul`; needs `stats`) and
    `smoothquant` (Xiao et al.: `s = max|x|^a / max|w|^(1-a)` per input
    channel, `W diag(s)` quantized by RTN, `x / s` quantized to int8 per
    token at run time by `slim.quantize_activation`, W8A8 with `bits=8`;
    needs `stats`). The report's output error covers the weights only. Groups run along the input channels; with
    `act-order` GPTQ uses static groups so that the contiguous-group
    storage needs no permutation; act-order is the default because, without
    it, GPTQ's error feedback writes into the columns of the few input
    channels that carry attention-sink activations and made SmolLM2-135M
    worse than RTN (docs/Compression.md). A failed Cholesky factorization
    is retried with ten times the damping and reported.

    Layers are selected by `layers` and `exclude` (extended regexes searched
    in the layer name); the defaults keep the LM head and embeddings dense.

    `embeddings=int8|int4` also quantizes the constant embedding tables
    `[V, H]` the gathers read (those `embedding-tables` names, and any
    table an LM head is tied to; RTN, symmetric, f16 scales; int8: one
    scale per row, int4: groups of 32), and an LM head tied to a table
    (`matmul(x, transpose(table))`) becomes a `slim.matmul` by the same
    quantized table: one copy of it. Each gather reads its elements from
    the codes and scales in place (the rest of the table is never
    decoded). Tables with other uses are left dense (with a warning).
    `report` writes one JSON record per layer: shape, method, bits, group,
    the relative output error ||WX - ŴX|| / ||WX|| on the calibration
    inputs (when statistics are given), the relative weight error, and
    bytes before and after.
  }];
  let options = [
    Option<"method", "method", "std::string", "\"rtn\"",
           "Algorithm: rtn, gptq, awq or smoothquant">,
    Option<"bits", "bits", "unsigned", "4", "Code width, 2 to 8">,
    Option<"groupSize", "group-size", "int64_t", "128",
           "Input channels per scale; 0 for one scale per output channel">,
    Option<"symmetric", "symmetric", "bool", "false",
           "Signed codes without zero points (default: unsigned codes with "
           "a zero point per group)">,
    Option<"scaleType", "scale-type", "std::string", "\"f16\"",
           "Storage type of the scales: f16, bf16 or f32">,
    Option<"raggedGroups", "ragged-groups", "bool", "false",
           "Accept a group size that does not divide a layer's input "
           "channels: its last group is shorter (otherwise an error)">,
    Option<"clipSearch", "clip-search", "bool", "false",
           "Search each group's clipping range for the least squared error">,
    Option<"statsFile", "stats", "std::string", "\"\"",
           "Calibration statistics file (required by gptq; gives output "
           "errors in the report)">,
    Option<"damp", "damp", "double", "0.01",
           "GPTQ damping, as a fraction of the mean Hessian diagonal">,
    Option<"blockSize", "block-size", "int64_t", "128",
           "GPTQ columns per lazy-update block">,
    Option<"actOrder", "act-order", "bool", "true",
           "GPTQ: quantize columns by decreasing activation energy (with "
           "static groups: no run-time permutation)">,
    Option<"staticGroups", "static-groups", "bool", "true",
           "GPTQ: fix group ranges from the original weights (false: take "
           "them from the error-compensated weights, as the reference does)">,
    Option<"smoothAlpha", "smooth-alpha", "double", "0.5",
           "SmoothQuant migration strength a (0 to 1)">,
    Option<"layers", "layers", "std::string", "\".\"",
           "Extended regex: quantize the layers whose names it matches">,
    Option<"exclude", "exclude", "std::string", "\"lm_head|embed|wte|wpe\"",
           "Extended regex: keep the layers whose names it matches dense">,
    Option<"allowEmpty", "allow-empty", "bool", "false",
           "A layers pattern that selects no layer is a warning, not an "
           "error">,
    Option<"reportFile", "report", "std::string", "\"\"",
           "Write a per-layer JSON report to this file">,
    Option<"progress", "progress", "bool", "false",
           "Print a line per layer to stderr">,
    Option<"embeddings", "embeddings",
           "::mlir::slim::EmbeddingQuantization",
           "::mlir::slim::EmbeddingQuantization::Dense",
           "Embedding tables and the LM head tied to them: dense, int8 "
           "(per row), int6 or int4 (groups of 32)",
           [{::llvm::cl::values(
             clEnumValN(::mlir::slim::EmbeddingQuantization::Dense, "dense",
                        "keep them f32"),
             clEnumValN(::mlir::slim::EmbeddingQuantization::Int8, "int8",
                        "int8 codes, one f16 scale per row"),
             clEnumValN(::mlir::slim::EmbeddingQuantization::Int6, "int6",
                        "int6 codes, one f16 scale per 32"),
             clEnumValN(::mlir::slim::EmbeddingQuantization::Int4, "int4",
                        "int4 codes, one f16 scale per 32"))}]>,
    Option<"embeddingTables", "embedding-tables", "std::string",
           "\"embed|wte|word_embeddings\"",
           "With embeddings=int8|int6|int4: extended regex naming the gathered "
           "tables to quantize (a table the LM head is tied to always is; "
           "rotary cos/sin caches, also gathered, are not embeddings)">,
  ];
  let dependentDialects = ["::mlir::slim::SlimDialect",
                           "::mlir::arith::ArithDialect",
                           "::mlir::tensor::TensorDialect",
                           "::mlir::linalg::LinalgDialect"];
}

def SlimPrunePass : Pass<"slim-prune", "::mlir::ModuleOp"> {
  let summary = "Prunes the weights of linear layers (magnitude, Wanda, SparseGPT)";
  let description = [{
    Replaces each selected linear layer (see `--slim-quantize`) with a
    `slim.matmul {transpose_rhs}` of a sparse weight `[N, K]`:

    * `pattern=N:M` (e.g. `2:4`): `N` of every `M` consecutive input
      channels kept in each output row, `#slim.sparse<N:M, axis = 1>` (the
      kept values and their positions in the run); with `bits=2..8` the
      kept values are quantized too, `#slim.compressed<[#slim.sparse<N:M,
      axis = 1>, #slim.quant<...>]>`, whose groups (`group-size`) count kept
      values. 2:4 (and any N dividing 8) with quantized values runs on the
      CPU kernels; f32 values take the reference lowering.
    * `pattern=unstructured`: a fraction `sparsity` of the weights removed,
      `#slim.sparse<unstructured>` in CSR form (reference lowering: no CPU
      kernel reads CSR yet).

    Criteria (`method`): `magnitude` (|W|; unstructured pruning compares
    the whole layer), `wanda` (Sun et al.: |W| times the input channel's
    norm from the calibration statistics, compared within each output
    row) and `sparsegpt` (Frantar & Alistarh: the error of each pruned
    column spread over the later columns through the inverse Hessian of the
    calibration inputs, masks chosen per `block-size` columns or per run;
    with `bits` the kept values are quantized in the same sweep, the paper's
    joint sparsification and quantization). `wanda` and `sparsegpt` need
    `stats`, the file `slim-run --calibrate` writes; with `magnitude` they
    only add output errors to the report.

    Layers are selected by `layers` and `exclude` as by `--slim-quantize`.
    `report` writes one JSON record per layer: shape, method, pattern, the
    sparsity reached, the relative output error on the calibration inputs
    (with statistics) and the relative weight error, bytes before and
    after. Layers pruned here are `slim.matmul`s, which a later
    `--slim-quantize` leaves alone: quantize pruned layers with `bits`.

    Structured patterns remove whole units and shrink the dense layers
    and every op between them (no sparse encoding: the weights stay dense
    `linalg.matmul`s, smaller): `pattern=heads` removes attention heads
    (under grouped-query attention a key/value head with its query heads,
    so the groups stay consistent; the KV cache inputs and outputs of a
    decoder lose those heads too), `pattern=channels` MLP intermediate
    channels (gate/up outputs and down inputs), `pattern=structured` both.
    The units are found by following a layer's output channels through the
    IR to the layers that contract them; groups that cannot be followed
    (a norm over them, a gather, a reshape through a shape tensor) are left
    whole. Units are scored on the consumer layer (`o_proj`, `down_proj`):
    `magnitude` (squared row norms), `wanda` (row norm times input norm)
    or `flap` (An et al.: the input's variance times the squared row
    norm; the removed channels' mean contribution is added back as a bias
    after the consumer, which needs a statistics file with signed means).
    `allocation=global` standardizes scores per kind and removes the
    lowest across all layers until `sparsity` of the groups' weights is
    gone (every group keeps one unit); `uniform` removes the same fraction
    per group. `channel-multiple=m` then rounds each group's kept channels
    to a multiple of `m` (a later `--quantize group-size` needs widths it
    divides). The report lists each group's layers, units and kept units.

    `residual-rank=r` adds a rank-`r` correction of what pruning (and
    quantizing) lost, `#slim.compressed<[sparse(, quant)], residual =
    #slim.lowrank<rank = r>>`: the truncated SVD of the error, whitened by
    the calibration inputs as in `--slim-factorize method=svd-llm` when
    `stats` is given. The CPU pipeline runs it as two thin products beside
    the sparse one.
  }];
  let options = [
    Option<"method", "method", "::mlir::slim::PruneMethod",
           "::mlir::slim::PruneMethod::Magnitude",
           "Criterion: magnitude, wanda or sparsegpt",
           [{::llvm::cl::values(
             clEnumValN(::mlir::slim::PruneMethod::Magnitude, "magnitude",
                        "the weights' magnitude"),
             clEnumValN(::mlir::slim::PruneMethod::Wanda, "wanda",
                        "magnitude times the input's norm (needs stats)"),
             clEnumValN(::mlir::slim::PruneMethod::SparseGPT, "sparsegpt",
                        "OBS reconstruction through the inverse Hessian "
                        "(needs stats)"),
             clEnumValN(::mlir::slim::PruneMethod::Flap, "flap",
                        "structured: the inputs' fluctuation, with bias "
                        "compensation (needs stats)"))}]>,
    Option<"pattern", "pattern", "std::string", "\"unstructured\"",
           "unstructured, N:M (N kept of every M input channels, e.g. 2:4), "
           "or structured removal of whole units: heads, channels or "
           "structured (both)">,
    Option<"sparsity", "sparsity", "double", "0.5",
           "Unstructured: fraction of each layer's weights removed; heads / "
           "channels / structured: fraction of the pruned groups' weights "
           "removed; in [0, 1)">,
    Option<"channelMultiple", "channel-multiple", "int64_t", "1",
           "Structured: round each group's kept input channels of the "
           "consumer to a multiple of this (e.g. the quantization group size "
           "of a later --quantize)">,
    Option<"biasCompensation", "bias-compensation", "bool", "true",
           "method=flap: add the removed channels' mean contribution as a "
           "bias after each consumer layer">,
    Option<"allocation", "allocation", "std::string", "\"global\"",
           "Structured: global (FLAP's adaptive structure: standardized "
           "scores ranked across layers) or uniform (the same fraction in "
           "every layer)">,
    Option<"bits", "bits", "unsigned", "0",
           "N:M only: quantize the kept values to this many bits (2 to 8; "
           "0: keep them f32)">,
    Option<"groupSize", "group-size", "int64_t", "32",
           "With bits: kept values per scale; 0 for one per output channel">,
    Option<"symmetric", "symmetric", "bool", "false",
           "With bits: signed codes without zero points">,
    Option<"scaleType", "scale-type", "std::string", "\"f16\"",
           "With bits: storage type of the scales, f16, bf16 or f32">,
    Option<"residualRank", "residual-rank", "int64_t", "0",
           "Add a low-rank residual of this rank fitted to the pruning (and "
           "quantization) error: SVD-LLM with stats, SVD without (0: none)">,
    Option<"statsFile", "stats", "std::string", "\"\"",
           "Calibration statistics file (required by wanda and sparsegpt)">,
    Option<"damp", "damp", "double", "0.01",
           "SparseGPT damping, as a fraction of the mean Hessian diagonal">,
    Option<"blockSize", "block-size", "int64_t", "128",
           "SparseGPT columns per lazy-update block (and per unstructured "
           "mask)">,
    Option<"layers", "layers", "std::string", "\".\"",
           "Extended regex: prune the layers whose names it matches">,
    Option<"exclude", "exclude", "std::string", "\"lm_head|embed|wte|wpe\"",
           "Extended regex: keep the layers whose names it matches dense">,
    Option<"allowEmpty", "allow-empty", "bool", "false",
           "A layers pattern that selects no layer is a warning, not an "
           "error">,
    Option<"reportFile", "report", "std::string", "\"\"",
           "Write a per-layer JSON report to this file">,
    Option<"progress", "progress", "bool", "false",
           "Print a line per layer to stderr">,
  ];
  let dependentDialects = ["::mlir::slim::SlimDialect",
                           "::mlir::arith::ArithDialect",
                           "::mlir::tensor::TensorDialect",
                           "::mlir::linalg::LinalgDialect"];
}

def SlimFactorizePass : Pass<"slim-factorize", "::mlir::ModuleOp"> {
  let summary = "Factorizes the weights of linear layers into low-rank factors";
  let description = [{
    Replaces each selected linear layer (see `--slim-quantize`) with a
    `slim.matmul {transpose_rhs}` of a low-rank weight `[N, K] = U V`
    (`#slim.lowrank<rank = r>`, factors `u` `[N, r]` and `v` `[r, K]`), or,
    with `residual`, of the weight quantized (RTN, or GPTQ with
    `residual-method=gptq`) plus a low-rank correction of its quantization
    error (`#slim.compressed<[#slim.quant<...>],
    residual = #slim.lowrank<rank = r>>`, low-rank compensation). The CPU
    pipeline runs the factors as two thin products (`--slim-split-low-rank`)
    and the quantized part on the kernels.

    Methods: `svd` (truncated SVD of the weight), `svd-llm` (Wang et al.:
    the SVD of the weight whitened by the Cholesky factor of the calibration
    X^T X, which minimizes the output error on the calibration inputs; needs
    `stats`) and `asvd` (Yuan et al.: input channels scaled by
    `mean|x|^alpha` before the SVD; needs `stats`). The rank is `rank`, or the
    largest keeping at most `ratio` of the dense parameters, or the smallest
    retaining `energy` of the (whitened) squared singular values: exactly one
    of the three. A replacement that would not be smaller than the dense
    weight leaves the layer dense (the report says so).

    Layers are selected by `layers` and `exclude` as by `--slim-quantize`;
    `report` writes one JSON record per layer (rank, retained energy, output
    and weight errors, bytes before and after).
  }];
  let options = [
    Option<"method", "method", "::mlir::slim::FactorizeMethod",
           "::mlir::slim::FactorizeMethod::SVD",
           "Method: svd, svd-llm or asvd",
           [{::llvm::cl::values(
             clEnumValN(::mlir::slim::FactorizeMethod::SVD, "svd",
                        "truncated SVD of the weight"),
             clEnumValN(::mlir::slim::FactorizeMethod::SVDLLM, "svd-llm",
                        "SVD of the weight whitened by the inputs (needs "
                        "stats)"),
             clEnumValN(::mlir::slim::FactorizeMethod::ASVD, "asvd",
                        "SVD of the weight scaled by mean|x|^alpha (needs "
                        "stats)"))}]>,
    Option<"rank", "rank", "int64_t", "0", "Rank of every factorized layer">,
    Option<"ratio", "ratio", "double", "0",
           "Largest rank whose factors hold at most this fraction of the "
           "dense parameters (0, 1]">,
    Option<"energy", "energy", "double", "0",
           "Smallest rank retaining this fraction of the squared singular "
           "values (0, 1]">,
    Option<"residual", "residual", "bool", "false",
           "Quantize the weight (bits, group-size, symmetric, scale-type) "
           "and factorize its quantization error">,
    Option<"residualMethod", "residual-method", "std::string", "\"rtn\"",
           "With residual: the quantizer whose error the factors correct, rtn "
           "or gptq (act-order, static groups; needs stats)">,
    Option<"bits", "bits", "unsigned", "4",
           "With residual: code width, 2 to 8">,
    Option<"groupSize", "group-size", "int64_t", "128",
           "With residual: input channels per scale; 0 for one per output "
           "channel (a last shorter group is allowed)">,
    Option<"symmetric", "symmetric", "bool", "false",
           "With residual: signed codes without zero points">,
    Option<"scaleType", "scale-type", "std::string", "\"f16\"",
           "With residual: storage type of the scales, f16, bf16 or f32">,
    Option<"alpha", "alpha", "double", "0.5",
           "ASVD: exponent of mean|x| in the input scaling">,
    Option<"damp", "damp", "double", "0.01",
           "SVD-LLM: damping of X^T X, as a fraction of its mean diagonal">,
    Option<"statsFile", "stats", "std::string", "\"\"",
           "Calibration statistics file (required by svd-llm and asvd)">,
    Option<"layers", "layers", "std::string", "\".\"",
           "Extended regex: factorize the layers whose names it matches">,
    Option<"exclude", "exclude", "std::string", "\"lm_head|embed|wte|wpe\"",
           "Extended regex: keep the layers whose names it matches dense">,
    Option<"allowEmpty", "allow-empty", "bool", "false",
           "A layers pattern that selects no layer is a warning, not an "
           "error">,
    Option<"reportFile", "report", "std::string", "\"\"",
           "Write a per-layer JSON report to this file">,
    Option<"progress", "progress", "bool", "false",
           "Print a line per layer to stderr">,
  ];
  let dependentDialects = ["::mlir::slim::SlimDialect",
                           "::mlir::arith::ArithDialect",
                           "::mlir::tensor::TensorDialect",
                           "::mlir::linalg::LinalgDialect"];
}

def SlimCalibratePass : Pass<"slim-calibrate", "::mlir::ModuleOp"> {
  let summary = "Instruments linear layers to record calibration statistics";
  let description = [{
    Before each linear-layer input (see `--slim-quantize`; layers reading
    the same activation, such as the q/k/v projections, share one
    observation point) inserts a call that hands the activation `[M, K]` to
    the runtime:

    ```mlir
    %m = bufferization.to_buffer %x read_only : tensor<?x576xf32> to memref<?x576xf32, strided<[?, ?], offset: ?>>
    %c = memref.cast %m : ... to memref<?x?xf32, strided<[?, ?], offset: ?>>
    func.call @slim_rt_observe(%c0_i64, %c) : (i64, memref<?x?xf32, strided<[?, ?], offset: ?>>) -> ()
    ```

    and records the points in the module attribute `slim.observation_points`
    (per point, indexed by the call's first operand, a dictionary
    `{channels = K, layers = [names], weight_hashes = [hashes]}`, the hashes
    being XXH3 of each layer's weight bytes, so that a statistics file can
    be matched to its model), which `slimc` writes into `model.json`. A model compiled with
    `slimc --calibration` and run by `slim-run --calibrate` accumulates
    X^T X and per-channel mean/max |x| per point and writes the statistics
    file `--slim-quantize` reads.
  }];
  let options = [
    Option<"layers", "layers", "std::string", "\".\"",
           "Extended regex: observe the layers whose names it matches">,
    Option<"exclude", "exclude", "std::string", "\"\"",
           "Extended regex: skip the layers whose names it matches">,
  ];
  let dependentDialects = ["::mlir::func::FuncDialect",
                           "::mlir::memref::MemRefDialect",
                           "::mlir::bufferization::BufferizationDialect",
                           "::mlir::arith::ArithDialect"];
}

#endif // SLIM_PASSES_TRANSFORMS_PASSES_TD
