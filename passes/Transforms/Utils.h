//===- Utils.h - Small helpers shared by Slim's passes ------------*- C++ -*-===//
//
// Part of the Slim project, under the Apache License v2.0 with LLVM Exceptions.
// SPDX-License-Identifier: Apache-2.0 WITH LLVM-exception
//
//===----------------------------------------------------------------------===//

#ifndef SLIM_PASSES_TRANSFORMS_UTILS_H
#define SLIM_PASSES_TRANSFORMS_UTILS_H

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/IR/BuiltinAttributes.h"
#include "mlir/IR/BuiltinOps.h"

#include <optional>

namespace mlir::slim {

/// The raw bytes of a constant's elements as stored: a dense resource whose
/// blob is present, or a non-splat DenseElementsAttr (booleans there are
/// bit-packed). Nothing for splats, elided blobs and other attributes.
std::optional<ArrayRef<char>> getConstantBytes(Attribute attr);

/// The private `func.func` named `name` in `module` that generated code
/// calls in Slim's model support library (C interface for memrefs),
/// declared at the top of the module with `type` if it is not there yet.
func::FuncOp getOrDeclareRuntimeFunction(ModuleOp module, StringRef name,
                                         FunctionType type);

} // namespace mlir::slim

#endif // SLIM_PASSES_TRANSFORMS_UTILS_H
