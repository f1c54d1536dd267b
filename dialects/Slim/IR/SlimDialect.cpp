//===- SlimDialect.cpp - Slim dialect registration ------------------------===//
//
// Part of the Slim project, under the Apache License v2.0 with LLVM Exceptions.
// SPDX-License-Identifier: Apache-2.0 WITH LLVM-exception
//
//===----------------------------------------------------------------------===//

#include "dialects/Slim/IR/SlimDialect.h"
#include "dialects/Slim/IR/SlimAttrs.h"
#include "dialects/Slim/IR/SlimOps.h"

#include "mlir/IR/DialectImplementation.h"
#include "llvm/ADT/TypeSwitch.h"

using namespace mlir;
using namespace mlir::slim;

#include "dialects/Slim/IR/SlimDialect.cpp.inc"

void SlimDialect::initialize() {
  registerAttributes();
  addOperations<
#define GET_OP_LIST
#include "dialects/Slim/IR/SlimOps.cpp.inc"
      >();
}
