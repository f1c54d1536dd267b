//===- SlimAttrs.td - Slim tensor encodings ----------------*- tablegen -*-===//
//
// Part of the Slim project, under the Apache License v2.0 with LLVM Exceptions.
// SPDX-License-Identifier: Apache-2.0 WITH LLVM-exception
//
//===----------------------------------------------------------------------===//

#ifndef SLIM_DIALECT_SLIM_IR_SLIMATTRS_TD
#define SLIM_DIALECT_SLIM_IR_SLIMATTRS_TD

include "dialects/Slim/IR/SlimBase.td"
include "mlir/IR/TensorEncoding.td"
include "mlir/IR/EnumAttr.td"

def Slim_QuantFormat : I32EnumAttr<"QuantFormat",
    "element format of quantized codes", [
  I32EnumAttrCase<"Int", 0, "int">,
  I32EnumAttrCase<"NF4", 1, "nf4">,
  I32EnumAttrCase<"FP8E4M3", 2, "e4m3">,
  I32EnumAttrCase<"FP8E5M2", 3, "e5m2">,
  I32EnumAttrCase<"FP4E2M1", 4, "e2m1">,
  I32EnumAttrCase<"LUT", 5, "lut">]> {
  let cppNamespace = "::mlir::slim";
  let genSpecializedAttr = 0;
}

//===----------------------------------------------------------------------===//
// #slim.quant
//===----------------------------------------------------------------------===//

def Slim_QuantAttr : Slim_Attr<"Quant", "quant",
    [DeclareAttrInterfaceMethods<VerifiableTensorEncoding>]> {
  let summary = "Quantized tensor encoding: code format, granularity, scales";
  let description = [{
    A tensor with this encoding stores one `bits`-wide code per element and
    one scale (and optionally one zero point) per block of elements. The
    logical value of an element is

    * integer formats: `(code - zero_point) * scale`, where `code` is read as
      signed (`iN`) or unsigned (`uN`); without `zero_point` the zero point is
      0 for signed and `2^(N-1)` for unsigned codes;
    * `nf4`, `e4m3`, `e5m2`, `e2m1`: `decode(code) * scale` with the fixed
      NF4 table, the OCP FP8 E4M3 (`fn`) / E5M2 or the FP4 E2M1 encodings;
    * `lutN`: `codebook[code] * scale`, the code book (`2^N` f32 values) being
      a storage tensor.

    Granularity, with `shape` the tensor's shape:

    * per-tensor (default): one scale; scales have shape `[1, ..., 1]`;
    * `channel = a`: one scale per index along axis `a`; scales have shape
      `shape` with every dimension but `a` set to 1;
    * `group = g, axis = a`: runs of `g` consecutive elements along axis `a`
      share a scale; scales have shape `shape` with dimension `a` replaced by
      `ceil(size / g)` (for a `KxN` weight with `axis = 0`, one scale per
      output channel and group of `g` input channels). When `g` does not
      divide the dimension the last group is shorter, as in ONNX
      MatMulNBits and GPTQ checkpoints (a 576-channel layer with `g = 128`
      has four groups of 128 and one of 64).

    Storage tensors, in order: `codes` (`i8`, codes packed LSB-first as a bit
    stream along the innermost dimension, each row padded to a whole byte, so
    the innermost size is `ceil(n * bits / 8)`), `scales` (`scale` element
    type: f32, f16 or bf16), `zero_points` (`i8`, same shape as the scales,
    read with the format's signedness) when `zero_point` is given, and
    `codebook` (`tensor<2^N x f32>`) for `lutN`.

    Example:

    ```mlir
    tensor<4096x4096xf32, #slim.quant<i4, group = 128, axis = 0, scale = f16>>
    tensor<1024x512xf32, #slim.quant<u8, channel = 1, zero_point>>
    tensor<64x64xf32, #slim.quant<nf4, group = 64, axis = 0>>
    tensor<64x64xf32, #slim.quant<lut3, channel = 1>>
    ```
  }];
  let parameters = (ins
    AttrParameter<"::mlir::slim::QuantFormat",
                  "code format: int, nf4, e4m3, e5m2, e2m1 or lut">:$format,
    AttrParameter<"unsigned", "code width in bits (2 to 8)">:$bits,
    AttrParameter<"bool", "integer codes are two's complement">:$isSigned,
    AttrParameter<"int64_t",
                  "channel axis, or group axis; -1 for per-tensor">:$axis,
    AttrParameter<"int64_t", "group size along `axis`; 0 if not grouped">:$groupSize,
    AttrParameter<"::mlir::Type", "element type of the scales">:$scaleType,
    AttrParameter<"bool", "zero points are stored">:$hasZeroPoint);
  let hasCustomAssemblyFormat = 1;
  let genVerifyDecl = 1;
  let extraClassDeclaration = [{
    /// True for one scale per tensor (no `channel` or `group`).
    bool isPerTensor() const { return getAxis() < 0; }
    /// True for `channel = a`.
    bool isPerChannel() const { return getAxis() >= 0 && getGroupSize() == 0; }
    /// True for `group = g, axis = a`.
    bool isGrouped() const { return getGroupSize() > 0; }
    /// The shape of the scale (and zero point) tensors for a tensor of
    /// `shape`. Dynamic dimensions stay dynamic.
    ::llvm::SmallVector<int64_t> getScaleShape(::llvm::ArrayRef<int64_t> shape) const;
    /// The innermost size of the packed code tensor for `n` codes.
    int64_t getPackedSize(int64_t n) const;
  }];
}

//===----------------------------------------------------------------------===//
// #slim.sparse
//===----------------------------------------------------------------------===//

def Slim_SparseAttr : Slim_Attr<"Sparse", "sparse",
    [DeclareAttrInterfaceMethods<VerifiableTensorEncoding>]> {
  let summary = "Sparse tensor encoding: N:M structured or unstructured";
  let description = [{
    `n:m, axis = a`: in every run of `m` consecutive elements along axis `a`
    at most `n` are non-zero. Storage: `values` (the tensor's shape with
    dimension `a` scaled by `n/m`, holding the kept elements of each run in
    order) and `indices` (`i8`, same shape: each kept element's position
    `0..m-1` inside its run). Unused slots hold any position with value 0;
    an element is the sum of the kept values at its position.

    `unstructured, density = d`: a rank-2 tensor in CSR form. Storage:
    `values` (`tensor<?xT>`), `row_ptr` (`tensor<(rows+1) x i32>`) and
    `col_idx` (`tensor<? x i32>`). The optional density is the expected
    fraction of non-zeros, informative only. The column dimension must be
    static.

    When composed (`#slim.compressed`), a later stage encodes the `values`.

    Example:

    ```mlir
    tensor<4096x4096xf32, #slim.sparse<2:4, axis = 0>>
    tensor<512x512xf32, #slim.sparse<unstructured, density = 0.3>>
    ```
  }];
  let parameters = (ins
    AttrParameter<"unsigned", "kept elements per run (0: unstructured)">:$n,
    AttrParameter<"unsigned", "run length (0: unstructured)">:$m,
    AttrParameter<"int64_t", "axis of the runs">:$axis,
    AttrParameter<"::mlir::FloatAttr",
                  "expected fraction of non-zeros (unstructured), or null">:$density);
  let hasCustomAssemblyFormat = 1;
  let genVerifyDecl = 1;
  let extraClassDeclaration = [{
    bool isStructured() const { return getM() != 0; }
  }];
}

//===----------------------------------------------------------------------===//
// #slim.lowrank
//===----------------------------------------------------------------------===//

def Slim_LowRankAttr : Slim_Attr<"LowRank", "lowrank",
    [DeclareAttrInterfaceMethods<VerifiableTensorEncoding>]> {
  let summary = "Low-rank factorized tensor encoding: W = U * V";
  let description = [{
    A rank-2 `KxN` tensor stored as `u` (`K x rank`) and `v` (`rank x N`)
    with the `factor` element type (default f32): `W = U * V`. Used as the
    `residual` of `#slim.compressed` it adds `U * V` to the tensor decoded by
    the other stages (low-rank compensation).

    Example:

    ```mlir
    tensor<4096x4096xf32, #slim.lowrank<rank = 256, factor = f16>>
    ```
  }];
  let parameters = (ins
    AttrParameter<"int64_t", "inner dimension of U and V">:$rank,
    AttrParameter<"::mlir::Type", "element type of U and V">:$factorType);
  let hasCustomAssemblyFormat = 1;
  let genVerifyDecl = 1;
}

//===----------------------------------------------------------------------===//
// #slim.compressed
//===----------------------------------------------------------------------===//

def Slim_CompressedAttr : Slim_Attr<"Compressed", "compressed",
    [DeclareAttrInterfaceMethods<VerifiableTensorEncoding>]> {
  let summary = "Composition of sparse, quantized and low-rank encodings";
  let description = [{
    `stages` is a list of at most one `#slim.sparse` followed by at most one
    `#slim.quant`: the sparse stage stores the kept values, which the quant
    stage then quantizes (its granularity refers to the shape of those
    values). An optional `residual = #slim.lowrank<...>` adds `U * V`.

    Storage tensors, in order: the last stage's storage for the values, then
    the sparse metadata, then `u` and `v`. For 2:4 + int4 + rank 16:
    `codes, scales, indices, u, v`.

    Example:

    ```mlir
    tensor<256x128xf32, #slim.compressed<[#slim.sparse<2:4, axis = 0>,
        #slim.quant<i4, group = 64, axis = 0>],
        residual = #slim.lowrank<rank = 16>>>
    ```
  }];
  let parameters = (ins
    ArrayRefParameter<"::mlir::Attribute",
                      "#slim.sparse then #slim.quant, each optional">:$stages,
    AttrParameter<"::mlir::slim::LowRankAttr",
                  "low-rank residual added to the result, or null">:$residual);
  let hasCustomAssemblyFormat = 1;
  let genVerifyDecl = 1;
  let extraClassDeclaration = [{
    /// The sparse stage, or null.
    SparseAttr getSparse() const;
    /// The quant stage, or null.
    QuantAttr getQuant() const;
  }];
}

#endif // SLIM_DIALECT_SLIM_IR_SLIMATTRS_TD
