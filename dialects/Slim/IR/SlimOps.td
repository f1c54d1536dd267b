//===- SlimOps.td - Slim operations ------------------------*- tablegen -*-===//
//
// Part of the Slim project, under the Apache License v2.0 with LLVM Exceptions.
// SPDX-License-Identifier: Apache-2.0 WITH LLVM-exception
//
//===----------------------------------------------------------------------===//

#ifndef SLIM_DIALECT_SLIM_IR_SLIMOPS_TD
#define SLIM_DIALECT_SLIM_IR_SLIMOPS_TD

include "dialects/Slim/IR/SlimBase.td"
include "dialects/Slim/IR/SlimAttrs.td"
include "mlir/Dialect/Bufferization/IR/BufferizableOpInterface.td"
include "mlir/Interfaces/DestinationStyleOpInterface.td"
include "mlir/Interfaces/SideEffectInterfaces.td"

def Slim_CompressedTensor : Type<
    CPred<"::mlir::slim::isCompressedTensor($_self)">,
    "ranked tensor with a Slim encoding", "::mlir::RankedTensorType">;

def Slim_DenseTensor : Type<
    And<[AnyRankedTensor.predicate,
         CPred<"!::llvm::cast<::mlir::RankedTensorType>($_self).getEncoding()">]>,
    "ranked tensor without encoding", "::mlir::RankedTensorType">;

def Slim_AssembleOp : Slim_Op<"assemble", [Pure]> {
  let summary = "Builds a compressed tensor from its storage tensors";
  let description = [{
    Joins the storage tensors of a compressed tensor (packed codes, scales,
    zero points, sparsity metadata, low-rank factors) into one value of the
    compressed type. The number, order, shapes and element types of the
    operands are fixed by the result's encoding (see the attribute
    documentation); the verifier checks each one.

    Example:

    ```mlir
    %w = slim.assemble %codes, %scales
        : tensor<256x64xi8>, tensor<2x128xf16>
        -> tensor<256x128xf32, #slim.quant<i4, group = 128, axis = 0, scale = f16>>
    ```
  }];
  let arguments = (ins Variadic<Slim_DenseTensor>:$storage);
  let results = (outs Slim_CompressedTensor:$result);
  let assemblyFormat = "$storage attr-dict `:` type($storage) `->` type($result)";
  let hasVerifier = 1;
}

def Slim_DisassembleOp : Slim_Op<"disassemble", [Pure]> {
  let summary = "Splits a compressed tensor into its storage tensors";
  let description = [{
    The inverse of `slim.assemble`: returns the storage tensors of a
    compressed tensor in the order its encoding defines.
    `disassemble(assemble(x...))` folds to `x...`.

    Example:

    ```mlir
    %codes, %scales = slim.disassemble %w
        : tensor<256x128xf32, #slim.quant<i4, group = 128, axis = 0, scale = f16>>
        -> tensor<256x64xi8>, tensor<2x128xf16>
    ```
  }];
  let arguments = (ins Slim_CompressedTensor:$tensor);
  let results = (outs Variadic<Slim_DenseTensor>:$storage);
  let assemblyFormat = "$tensor attr-dict `:` type($tensor) `->` type($storage)";
  let hasVerifier = 1;
  let hasFolder = 1;
}

def Slim_DequantizeOp : Slim_Op<"dequantize", [Pure]> {
  let summary = "Materializes the dense tensor a compressed tensor stands for";
  let description = [{
    Decodes a compressed tensor of any Slim encoding (quantized, sparse,
    low-rank or a composition) into the dense tensor of the same shape and
    element type, following the semantics of the encoding.

    Example:

    ```mlir
    %d = slim.dequantize %w
        : tensor<256x128xf32, #slim.quant<i4, group = 128, axis = 0>>
        -> tensor<256x128xf32>
    ```
  }];
  let arguments = (ins Slim_CompressedTensor:$input);
  let results = (outs Slim_DenseTensor:$result);
  let assemblyFormat = "$input attr-dict `:` type($input) `->` type($result)";
  let hasVerifier = 1;
}

def Slim_MatmulOp : Slim_Op<"matmul", [Pure]> {
  let summary = "Multiplies an activation by a compressed weight";
  let description = [{
    `result[b..., m, n] = sum_k lhs[b..., m, k] * dequantize(rhs)[k, n]`.
    `lhs` has rank >= 2 (leading batch dimensions, then `M x K`) and is a
    dense tensor or a quantized activation from `slim.quantize_activation`;
    `rhs` is a compressed `K x N` weight, or with `transpose_rhs` an `N x K`
    weight used transposed (`dequantize(rhs)[n, k]`): the layout of weights
    stored one output channel per row, such as ONNX Runtime's MatMulNBits
    and PyTorch's `Linear`. The result has `lhs`'s shape with `K` replaced
    by `N`. Element types match and are floating point; accumulation is in
    f32 or wider.

    Example:

    ```mlir
    %y = slim.matmul %x, %w
        : tensor<?x?x4096xf32>,
          tensor<4096x11008xf32, #slim.quant<i4, group = 128, axis = 0>>
        -> tensor<?x?x11008xf32>
    %z = slim.matmul %x, %wt transpose_rhs
        : tensor<?x4096xf32>,
          tensor<11008x4096xf32, #slim.quant<ui4, group = 32, axis = 1>>
        -> tensor<?x11008xf32>
    ```
  }];
  let arguments = (ins AnyRankedTensor:$lhs, Slim_CompressedTensor:$rhs,
                       UnitAttr:$transpose_rhs);
  let results = (outs Slim_DenseTensor:$result);
  let assemblyFormat = [{
    $lhs `,` $rhs (`transpose_rhs` $transpose_rhs^)? attr-dict `:` type($lhs)
    `,` type($rhs) `->` type($result)
  }];
  let hasVerifier = 1;
}

def Slim_QuantizeActivationOp : Slim_Op<"quantize_activation", [Pure]> {
  let summary = "Dynamically quantizes an activation at run time";
  let description = [{
    Computes scales (and zero points) from the values of `input` and returns
    it quantized with the result's `#slim.quant` encoding. Symmetric
    encodings use `scale = max|x| / (2^(bits-1) - 1)` per block; asymmetric
    ones (`zero_point`) map `[min(x, 0), max(x, 0)]` onto the full code
    range. Codes are rounded to nearest, ties to even, and saturated. Scales
    are rounded to the scale type before the codes are computed, so
    dequantizing is consistent with the stored scales. An all-zero block gets
    scale 1. Supported: integer formats of 2, 4 or 8 bits; per-tensor,
    per-channel (`channel = 0` on `M x K` is per-token) or grouped along an
    axis (`group = g, axis = 1` is per-token groups).

    Example:

    ```mlir
    %q = slim.quantize_activation %x
        : tensor<?x4096xf32> -> tensor<?x4096xf32, #slim.quant<i8, channel = 0>>
    ```
  }];
  let arguments = (ins Slim_DenseTensor:$input);
  let results = (outs Slim_CompressedTensor:$result);
  let assemblyFormat = "$input attr-dict `:` type($input) `->` type($result)";
  let hasVerifier = 1;
}

def Slim_UKernelOp : Slim_Op<"ukernel", [
    AttrSizedOperandSegments, DestinationStyleOpInterface,
    DeclareOpInterfaceMethods<MemoryEffectsOpInterface>,
    DeclareOpInterfaceMethods<BufferizableOpInterface,
        ["bufferizesToMemoryRead", "bufferizesToMemoryWrite",
         "getAliasingValues", "bufferize"]>]> {
  let summary = "Calls a micro-kernel in destination-passing style";
  let description = [{
    A call to the C function `callee` (a micro-kernel of the Slim runtime,
    declared in `lib/Runtime/KernelAbi.h`) that reads `inputs` and writes
    every element of `outputs`, the model of IREE's `ukernel.generic`. On
    tensors it returns the new values of `outputs` (destination-passing
    style), so bufferization decides where they live and whether an
    operand must be copied; `outputs` are write-only (their old contents
    are never read, so a `tensor.empty` destination costs no copy). After
    bufferization the op takes memrefs and has no results, and
    `--slim-lower-ukernels` turns it into a `func.call` of `callee` with
    the C interface: the inputs in order, then the outputs, each memref
    passed as a fully dynamic strided descriptor, scalars by value.

    Example:

    ```mlir
    %init = tensor.empty(%m) : tensor<?x1536xf32>
    %y = slim.ukernel "slim_rt_qmatmul_f16"
        ins(%x, %codes, %scales, %c4, %c128, %flags
            : tensor<?x576xf32>, tensor<1536x288xi8>, tensor<1536x5xf16>, i64, i64, i32)
        outs(%init : tensor<?x1536xf32>) -> tensor<?x1536xf32>
    ```
  }];
  let arguments = (ins StrAttr:$callee, Variadic<AnyType>:$inputs,
                       Variadic<AnyShaped>:$outputs);
  let results = (outs Variadic<AnyRankedTensor>:$results);
  let assemblyFormat = [{
    $callee (`ins` `(` $inputs^ `:` type($inputs) `)`)?
    `outs` `(` $outputs `:` type($outputs) `)` attr-dict
    (`->` type($results)^)?
  }];
  let extraClassDeclaration = [{
    ::mlir::MutableOperandRange getDpsInitsMutable() {
      return getOutputsMutable();
    }
    /// Whether the op takes memrefs (after bufferization).
    bool hasBufferSemantics() {
      return getNumResults() == 0 && !getOutputs().empty() &&
             ::llvm::isa<::mlir::MemRefType>(getOutputs()[0].getType());
    }
  }];
  let hasVerifier = 1;
}

def Slim_AssertOp : Slim_Op<"assert", [
    MemoryEffects<[MemRead, MemWrite]>]> {
  let summary = "Stops the model's run with an error when a condition is false";
  let description = [{
    A run-time check of what a model is given: when `condition` is false the
    run stops and `slim_model_run` returns `SLIM_ERROR_INPUT` with `message`,
    its placeholders `{0}`, `{1}` replaced by the values of `values` (at most
    two, printed as signed integers). The importer guards operations whose
    memory accesses depend on input values it cannot check at compile time
    (gather indices, dimensions that must agree); its messages name the ONNX
    node. A check known to hold at compile time folds away.

    `--convert-slim-to-linalg` numbers the checks of a module and turns each
    into `scf.if` calling the model-support function
    `slim_rt_check_failed(site, value0, value1)`, which does not return
    (it unwinds to the runtime's entry, `lib/Runtime/ModelSupport.cpp`);
    the messages go to the module's `slim_check_messages` global, where the
    runtime reads them.

    Example:

    ```mlir
    slim.assert %ok, "Gather node 'embed': index {0} is out of range for 49152 rows" (%bad : i64)
    ```
  }];
  let arguments = (ins I1:$condition, StrAttr:$message,
                       Variadic<AnySignlessIntegerOrIndex>:$values);
  let assemblyFormat = [{
    $condition `,` $message (`(` $values^ `:` type($values) `)`)? attr-dict
  }];
  let hasVerifier = 1;
  let hasCanonicalizeMethod = 1;
}

#endif // SLIM_DIALECT_SLIM_IR_SLIMOPS_TD
