//===- DirectCalls.h - Private functions reached only by calls --*- C++ -*-===//
//
// Part of the Slim project, under the Apache License v2.0 with LLVM Exceptions.
// SPDX-License-Identifier: Apache-2.0 WITH LLVM-exception
//
//===----------------------------------------------------------------------===//

#ifndef SLIM_PASSES_TRANSFORMS_DIRECTCALLS_H
#define SLIM_PASSES_TRANSFORMS_DIRECTCALLS_H

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/IR/BuiltinOps.h"
#include "llvm/ADT/MapVector.h"

namespace mlir::slim {

/// The private functions with a body in `module` whose every use is as the
/// callee of a `func.call`, each with those calls, in module order. A
/// function whose address is taken is left out; so is every function when
/// the module has symbol uses that cannot be known.
llvm::MapVector<func::FuncOp, SmallVector<func::CallOp>>
collectDirectlyCalledFunctions(ModuleOp module);

} // namespace mlir::slim

#endif // SLIM_PASSES_TRANSFORMS_DIRECTCALLS_H
