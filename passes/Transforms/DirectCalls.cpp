//===- DirectCalls.cpp - Private functions reached only by calls ----------===//
//
// Part of the Slim project, under the Apache License v2.0 with LLVM Exceptions.
// SPDX-License-Identifier: Apache-2.0 WITH LLVM-exception
//
//===----------------------------------------------------------------------===//

#include "passes/Transforms/DirectCalls.h"

#include "mlir/IR/SymbolTable.h"

using namespace mlir;

llvm::MapVector<func::FuncOp, SmallVector<func::CallOp>>
mlir::slim::collectDirectlyCalledFunctions(ModuleOp module) {
  llvm::MapVector<func::FuncOp, SmallVector<func::CallOp>> functions;
  for (auto f : module.getOps<func::FuncOp>())
    if (f.isPrivate() && !f.isExternal())
      functions[f] = {};
  auto uses = SymbolTable::getSymbolUses(&module.getBodyRegion());
  if (!uses)
    return {};
  SymbolTable symbols(module);
  for (const SymbolTable::SymbolUse &use : *uses) {
    auto ref = dyn_cast<FlatSymbolRefAttr>(use.getSymbolRef());
    auto target = ref ? symbols.lookup<func::FuncOp>(ref.getAttr())
                      : func::FuncOp();
    auto it = target ? functions.find(target) : functions.end();
    if (it == functions.end())
      continue;
    if (auto call = dyn_cast<func::CallOp>(use.getUser()))
      it->second.push_back(call);
    else
      functions.erase(it); // address taken
  }
  return functions;
}
