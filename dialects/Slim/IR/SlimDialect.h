//===- SlimDialect.h - Slim dialect -----------------------------*- C++ -*-===//
//
// Part of the Slim project, under the Apache License v2.0 with LLVM Exceptions.
// SPDX-License-Identifier: Apache-2.0 WITH LLVM-exception
//
//===----------------------------------------------------------------------===//

#ifndef SLIM_DIALECTS_SLIM_IR_SLIMDIALECT_H
#define SLIM_DIALECTS_SLIM_IR_SLIMDIALECT_H

#include "mlir/IR/Dialect.h"

#include "dialects/Slim/IR/SlimDialect.h.inc"

#endif // SLIM_DIALECTS_SLIM_IR_SLIMDIALECT_H
