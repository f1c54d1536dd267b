//===- Pipelines.cpp - Slim pass pipelines --------------------------------===//
//
// Part of the Slim project, under the Apache License v2.0 with LLVM Exceptions.
// SPDX-License-Identifier: Apache-2.0 WITH LLVM-exception
//
//===----------------------------------------------------------------------===//

#include "passes/Pipelines/Pipelines.h"

#include "passes/Conversion/Passes.h"

#include "mlir/Pass/PassRegistry.h"
#include "llvm/Support/ErrorHandling.h"

using namespace mlir;
using namespace mlir::slim;

/// The upstream passes after the Slim conversion, as a textual pipeline so
/// that it reads the same as the mlir-opt command line it is equivalent to.
static constexpr const char *kBufferizeAndLoops =
    "one-shot-bufferize{bufferize-function-boundaries=1 "
    "function-boundary-type-conversion=identity-layout-map},"
    "func.func(convert-linalg-to-loops),canonicalize";

static constexpr const char *kToLLVM =
    "convert-scf-to-cf,expand-strided-metadata,lower-affine,"
    "finalize-memref-to-llvm,convert-math-to-llvm,convert-math-to-libm,"
    "convert-arith-to-llvm,convert-index-to-llvm,convert-cf-to-llvm,"
    "convert-func-to-llvm,reconcile-unrealized-casts";

void mlir::slim::buildCpuReferencePipeline(
    OpPassManager &pm, const CpuReferencePipelineOptions &options) {
  pm.addPass(createConvertSlimToLinalgPass());
  // The textual pipelines are compile-time constants; failing to parse them
  // is a bug in Slim, not a user error.
  if (failed(parsePassPipeline(kBufferizeAndLoops, pm)))
    llvm::report_fatal_error("slim: invalid built-in bufferization pipeline");
  if (options.lowerToLLVM && failed(parsePassPipeline(kToLLVM, pm)))
    llvm::report_fatal_error("slim: invalid built-in LLVM lowering pipeline");
}

void mlir::slim::registerSlimPipelines() {
  PassPipelineRegistration<CpuReferencePipelineOptions>(
      "slim-cpu-reference-pipeline",
      "Runs Slim's reference semantics on the CPU: --convert-slim-to-linalg, "
      "bufferization, scalar loops and the LLVM dialect",
      buildCpuReferencePipeline);
}
