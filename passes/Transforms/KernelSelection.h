//===- KernelSelection.h - Kernels for compressed matmuls -------*- C++ -*-===//
//
// Part of the Slim project, under the Apache License v2.0 with LLVM Exceptions.
// SPDX-License-Identifier: Apache-2.0 WITH LLVM-exception
//
//===----------------------------------------------------------------------===//
//
// Which micro-kernel a compressed `slim.matmul` becomes, decided in one
// place from the weight's encoding (format, bits, granularity, sparsity,
// low-rank residual) and the shapes. The lowering passes ask this table and
// build a `slim.ukernel` of the answer; a backend adds its kernels as rows
// of the table (docs/RationaleKernels.md).
//
//===----------------------------------------------------------------------===//

#ifndef SLIM_PASSES_TRANSFORMS_KERNELSELECTION_H
#define SLIM_PASSES_TRANSFORMS_KERNELSELECTION_H

#include "passes/Transforms/Passes.h"

#include "dialects/Slim/IR/SlimOps.h"

#include <string>

namespace mlir::slim {

/// The machines kernels are selected for.
enum class KernelTarget {
  /// lib/Kernels on x86-64 (and their portable references elsewhere).
  Cpu,
};

/// What selection looks at: the compressed product in normalized form.
struct CompressedMatmulInfo {
  MatmulOp op;
  /// The op building the weight from its storage, or null.
  AssembleOp assemble;
  EncodingStages stages;
  /// The weight's storage by role (set when `assemble` is).
  std::optional<StorageLayout> layout;
  /// The activation `[..., K]` and the weight as stored.
  RankedTensorType lhs, rhs;
};

/// A selected kernel: the `slim.ukernel` callee and its operands besides
/// the output, in the order of the kernel ABI (lib/Runtime/KernelAbi.h).
struct QuantizedMatmulKernel {
  std::string callee;
  /// The activation `[..., K]` (f32) the kernel reads; rows of rank > 2 are
  /// collapsed by the lowering.
  Value activation;
  /// Storage operands.
  SmallVector<Value> storage;
  /// The code table of the weight's format follows the storage (lutN's
  /// code book, or the fixed values of nf4 / fp8 / fp4 as a constant:
  /// buildCodeTable of `quant` and `quantStorage`).
  bool codeTable = false;
  QuantAttr quant;
  QuantStorage quantStorage;
  /// Integer scalars after the storage: value and bit width.
  SmallVector<std::pair<int64_t, unsigned>> scalars;
};

struct KernelSelectionOptions {
  KernelTarget target = KernelTarget::Cpu;
  QuantizedActivations activations = QuantizedActivations::F32;
};

/// The kernel for `op`, or failure with `reason` saying why no kernel of
/// the target applies (the op then keeps the reference lowering).
FailureOr<QuantizedMatmulKernel>
selectQuantizedMatmulKernel(MatmulOp op, const KernelSelectionOptions &options,
                            std::string &reason);

} // namespace mlir::slim

#endif // SLIM_PASSES_TRANSFORMS_KERNELSELECTION_H
