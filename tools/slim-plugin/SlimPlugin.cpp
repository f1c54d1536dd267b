//===- SlimPlugin.cpp - Slim as an mlir-opt plugin ------------------------===//
//
// Part of the Slim project, under the Apache License v2.0 with LLVM Exceptions.
// SPDX-License-Identifier: Apache-2.0 WITH LLVM-exception
//
//===----------------------------------------------------------------------===//
//
// Entry points for `--load-dialect-plugin` and `--load-pass-plugin` of the
// stock mlir-opt. The plugin links the same libMLIR.so as Debian's
// mlir-opt-22, so registries and TypeIDs are shared with the host.
//
//===----------------------------------------------------------------------===//

#include "slim/InitAll.h"

#include "mlir/Tools/Plugins/DialectPlugin.h"
#include "mlir/Tools/Plugins/PassPlugin.h"
#include "llvm/Config/llvm-config.h"

using namespace mlir;

extern "C" LLVM_ATTRIBUTE_WEAK DialectPluginLibraryInfo
mlirGetDialectPluginInfo() {
  return {MLIR_PLUGIN_API_VERSION, "Slim", LLVM_VERSION_STRING,
          [](DialectRegistry *registry) {
            slim::registerAllSlimDialects(*registry);
          }};
}

extern "C" LLVM_ATTRIBUTE_WEAK PassPluginLibraryInfo mlirGetPassPluginInfo() {
  return {MLIR_PLUGIN_API_VERSION, "SlimPasses", LLVM_VERSION_STRING,
          []() { slim::registerAllSlimPasses(); }};
}
