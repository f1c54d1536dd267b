//===- Pipelines.h - Slim pass pipelines ------------------------*- C++ -*-===//
//
// Part of the Slim project, under the Apache License v2.0 with LLVM Exceptions.
// SPDX-License-Identifier: Apache-2.0 WITH LLVM-exception
//
//===----------------------------------------------------------------------===//

#ifndef SLIM_PASSES_PIPELINES_PIPELINES_H
#define SLIM_PASSES_PIPELINES_PIPELINES_H

#include "mlir/Pass/PassManager.h"
#include "mlir/Pass/PassOptions.h"

namespace mlir::slim {

/// Options of the reference CPU pipeline.
struct CpuReferencePipelineOptions
    : public PassPipelineOptions<CpuReferencePipelineOptions> {
  PassOptions::Option<bool> lowerToLLVM{
      *this, "lower-to-llvm",
      llvm::cl::desc("Lower to the LLVM dialect (otherwise stop after "
                     "bufferization and conversion to loops)"),
      llvm::cl::init(true)};
};

/// Builds the reference CPU pipeline: --convert-slim-to-linalg, one-shot
/// bufferization, linalg to scalar loops and, optionally, the LLVM dialect.
/// Correct and simple, not fast: it executes Slim's reference semantics, for
/// example under mlir-runner.
void buildCpuReferencePipeline(OpPassManager &pm,
                               const CpuReferencePipelineOptions &options);

/// Registers `--slim-cpu-reference-pipeline`.
void registerSlimPipelines();

} // namespace mlir::slim

#endif // SLIM_PASSES_PIPELINES_PIPELINES_H
