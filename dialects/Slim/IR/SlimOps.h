//===- SlimOps.h - Slim operations ------------------------------*- C++ -*-===//
//
// Part of the Slim project, under the Apache License v2.0 with LLVM Exceptions.
// SPDX-License-Identifier: Apache-2.0 WITH LLVM-exception
//
//===----------------------------------------------------------------------===//

#ifndef SLIM_DIALECTS_SLIM_IR_SLIMOPS_H
#define SLIM_DIALECTS_SLIM_IR_SLIMOPS_H

#include "mlir/Bytecode/BytecodeOpInterface.h"
#include "mlir/IR/BuiltinTypes.h"
#include "mlir/IR/OpDefinition.h"
#include "mlir/IR/OpImplementation.h"
#include "mlir/Dialect/Bufferization/IR/BufferizableOpInterface.h"
#include "mlir/Interfaces/DestinationStyleOpInterface.h"
#include "mlir/Interfaces/SideEffectInterfaces.h"

#include "dialects/Slim/IR/SlimAttrs.h"
#include "dialects/Slim/IR/SlimDialect.h"

#define GET_OP_CLASSES
#include "dialects/Slim/IR/SlimOps.h.inc"

#endif // SLIM_DIALECTS_SLIM_IR_SLIMOPS_H
