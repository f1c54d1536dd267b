//===- Utils.h - Small helpers shared by Slim's passes ------------*- C++
//-*-===//
//
// Part of the Slim project, under the Apache License v2.0 with LLVM Exceptions.
// SPDX-License-Identifier: Apache-2.0 WITH LLVM-exception
//
//===----------------------------------------------------------------------===//

#ifndef SLIM_PASSES_TRANSFORMS_UTILS_H
#define SLIM_PASSES_TRANSFORMS_UTILS_H

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Dialect/Linalg/IR/Linalg.h"
#include "mlir/IR/BuiltinAttributes.h"
#include "mlir/IR/BuiltinOps.h"
#include "mlir/IR/DialectResourceBlobManager.h"

#include <optional>

namespace mlir::slim {

/// The raw bytes of a constant's elements as stored: a dense resource whose
/// blob is present, or a non-splat DenseElementsAttr (booleans there are
/// bit-packed). Nothing for splats, elided blobs and other attributes.
std::optional<ArrayRef<char>> getConstantBytes(Attribute attr);

/// A writable blob of `size` bytes (64-byte aligned) in an unlinked
/// temporary file, mapped shared: weights rewritten at compile time are as
/// large as the model, and file-backed pages can be written back and
/// dropped instead of holding that much anonymous memory. Falls back to the
/// heap where no temporary file can be made.
AsmResourceBlob allocateWeightBlob(size_t size);

/// Whether `v` is a `linalg.fill` of +0.0 on tensors (what the ONNX importer
/// gives a product to accumulate into).
bool isZeroFill(Value v);

/// A zero-filled f32 tensor `[M, cols]` for products of the rows `rows`
/// `[M, K]` (M dynamic where it is there).
Value createZeroRows(OpBuilder &b, Location loc, Value rows, int64_t cols);

/// `v` (a tensor of rank >= 2) as rows: its leading dimensions collapsed
/// into one, `[..., K] -> [M, K]` (`v` itself at rank 2).
Value collapseToRows(OpBuilder &b, Location loc, Value v);

/// The inverse for a product's rows `rows` `[M, N]` of the rows of `like`
/// `[..., K]`: `rows` expanded to `type` `[..., N]` (`rows` itself when
/// `like` has rank 2).
Value expandFromRows(OpBuilder &b, Location loc, Value rows, Value like,
                     RankedTensorType type);

/// The private `func.func` named `name` in `module` that generated code
/// calls in Slim's model support library (C interface for memrefs),
/// declared at the top of the module with `type` if it is not there yet.
func::FuncOp getOrDeclareRuntimeFunction(ModuleOp module, StringRef name,
                                         FunctionType type);

/// The memref type of `rank` fully dynamic dimensions, strides and offset
/// of `element`: what runtime functions take through MLIR's C interface.
MemRefType getFullyDynamicStridedType(Type element, int64_t rank);

/// Whether `v` is an f32 memref (of `rank` dimensions, unless negative)
/// whose innermost stride is 1: its rows are contiguous.
bool hasContiguousF32Rows(Value v, int64_t rank = -1);

/// The buffer `v` shows all of: `v` itself, seen through casts and
/// reshapes (which keep every element and their order).
Value getWholeBuffer(Value v);

/// The `linalg.fill` of +0.0 that writes the whole of `output` right before
/// `op` (only allocations of other buffers and ops without memory effects
/// in between), or null: removing it and overwriting the output instead of
/// accumulating into it is the same computation.
linalg::FillOp getZeroFillBefore(Operation *op, Value output);

/// Whether `op` is a lowered run-time check (`slim.assert` after
/// --convert-slim-to-linalg): an `scf.if` without results whose body only
/// computes scalars and calls `slim_rt_check_failed`, which never returns.
/// It reads and writes no buffer, so the rewrites that need a stretch of
/// code without memory effects may look past it.
bool isRuntimeCheck(Operation *op);

} // namespace mlir::slim

#endif // SLIM_PASSES_TRANSFORMS_UTILS_H
