//===- SlimBase.td - Slim dialect definition ---------------*- tablegen -*-===//
//
// Part of the Slim project, under the Apache License v2.0 with LLVM Exceptions.
// SPDX-License-Identifier: Apache-2.0 WITH LLVM-exception
//
//===----------------------------------------------------------------------===//

#ifndef SLIM_DIALECT_SLIM_IR_SLIMBASE_TD
#define SLIM_DIALECT_SLIM_IR_SLIMBASE_TD

include "mlir/IR/OpBase.td"
include "mlir/IR/AttrTypeBase.td"

def Slim_Dialect : Dialect {
  let name = "slim";
  let cppNamespace = "::mlir::slim";
  let summary = "Compressed (quantized, sparse, low-rank) tensors for LLM weights";
  let description = [{
    The `slim` dialect represents compressed tensors as *logical dense
    tensors* whose builtin `tensor` type carries an encoding attribute saying
    how the values are stored: `#slim.quant` (integer, NF4, FP8, FP4 or
    code-book quantization at per-tensor, per-channel or group granularity),
    `#slim.sparse` (N:M structured or unstructured CSR), `#slim.lowrank`
    (`W = U * V`) and `#slim.compressed`, which composes them (for example
    2:4 sparse, then int4 group-128, plus a rank-16 low-rank residual).

    The storage of a compressed tensor is a list of ordinary dense tensors
    (packed codes, scales, zero points, sparsity metadata, factors) that
    `slim.assemble` joins and `slim.disassemble` splits. Compute ops
    (`slim.dequantize`, `slim.matmul`, `slim.quantize_activation`) consume
    and produce compressed tensors. `--convert-slim-to-linalg` expands every
    op into upstream dialects on dense tensors; it is the executable
    definition of the dialect's semantics.
  }];
  let useDefaultAttributePrinterParser = 1;
  let extraClassDeclaration = [{
    void registerAttributes();
  }];
}

class Slim_Op<string mnemonic, list<Trait> traits = []>
    : Op<Slim_Dialect, mnemonic, traits>;

class Slim_Attr<string name, string attrMnemonic, list<Trait> traits = []>
    : AttrDef<Slim_Dialect, name, traits> {
  let mnemonic = attrMnemonic;
}

#endif // SLIM_DIALECT_SLIM_IR_SLIMBASE_TD
