//===- Utils.cpp - Small helpers shared by Slim's passes ------------------===//
//
// Part of the Slim project, under the Apache License v2.0 with LLVM Exceptions.
// SPDX-License-Identifier: Apache-2.0 WITH LLVM-exception
//
//===----------------------------------------------------------------------===//

#include "passes/Transforms/Utils.h"

#include "mlir/IR/Builders.h"
#include "mlir/IR/DialectResourceBlobManager.h"

using namespace mlir;

std::optional<ArrayRef<char>> mlir::slim::getConstantBytes(Attribute attr) {
  if (auto res = dyn_cast<DenseResourceElementsAttr>(attr)) {
    if (!res.getRawHandle().getBlob())
      return std::nullopt;
    return res.getData();
  }
  if (auto dense = dyn_cast<DenseElementsAttr>(attr)) {
    if (dense.isSplat())
      return std::nullopt;
    return dense.getRawData();
  }
  return std::nullopt;
}

func::FuncOp mlir::slim::getOrDeclareRuntimeFunction(ModuleOp module,
                                                     StringRef name,
                                                     FunctionType type) {
  if (auto f = module.lookupSymbol<func::FuncOp>(name))
    return f;
  OpBuilder b(module.getContext());
  b.setInsertionPointToStart(module.getBody());
  auto f = func::FuncOp::create(b, module.getLoc(), name, type);
  f.setPrivate();
  f->setAttr("llvm.emit_c_interface", b.getUnitAttr());
  return f;
}
