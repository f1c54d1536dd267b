//===- slim-opt.cpp - Slim optimizer driver -------------------------------===//
//
// Part of the Slim project, under the Apache License v2.0 with LLVM Exceptions.
// SPDX-License-Identifier: Apache-2.0 WITH LLVM-exception
//
//===----------------------------------------------------------------------===//
//
// mlir-opt with Slim's dialect, passes and pipelines added to the upstream
// ones, so that Slim passes compose with any upstream lowering.
//
//===----------------------------------------------------------------------===//

#include "lib/Support/Version.h"
#include "slim/InitAll.h"

#include "mlir/InitAllDialects.h"
#include "mlir/InitAllExtensions.h"
#include "mlir/InitAllPasses.h"
#include "mlir/Tools/mlir-opt/MlirOptMain.h"

int main(int argc, char **argv) {
  mlir::slim::initTool("slim-opt");
  mlir::DialectRegistry registry;
  mlir::registerAllDialects(registry);
  mlir::registerAllExtensions(registry);
  mlir::registerAllPasses();
  mlir::slim::registerAllSlimDialects(registry);
  mlir::slim::registerAllSlimPasses();
  return mlir::asMainReturnCode(
      mlir::MlirOptMain(argc, argv, "Slim optimizer driver\n", registry));
}
