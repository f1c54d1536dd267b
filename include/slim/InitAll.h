//===- InitAll.h - Register Slim's dialects and passes ----------*- C++ -*-===//
//
// Part of the Slim project, under the Apache License v2.0 with LLVM Exceptions.
// SPDX-License-Identifier: Apache-2.0 WITH LLVM-exception
//
//===----------------------------------------------------------------------===//
//
// The entry point for tools and for compilers that embed Slim: register the
// dialect with a DialectRegistry and the passes and pipelines globally.
//
//===----------------------------------------------------------------------===//

#ifndef SLIM_INITALL_H
#define SLIM_INITALL_H

#include "dialects/Slim/IR/SlimDialect.h"
#include "passes/Conversion/Passes.h"
#include "passes/Pipelines/Pipelines.h"
#include "passes/Transforms/Passes.h"

#include "mlir/IR/DialectRegistry.h"

namespace mlir::slim {

/// Adds the Slim dialect to `registry`.
inline void registerAllSlimDialects(DialectRegistry &registry) {
  registry.insert<SlimDialect>();
}

/// Registers every Slim pass and pipeline with the global pass registry.
inline void registerAllSlimPasses() {
  registerSlimConversionPasses();
  registerSlimTransformsPasses();
  registerSlimPipelines();
}

} // namespace mlir::slim

#endif // SLIM_INITALL_H
