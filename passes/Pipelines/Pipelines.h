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
#include "passes/Transforms/Passes.h"

namespace llvm {
class Module;
} // namespace llvm

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

/// Options of the CPU compilation pipeline (slimc).
struct CpuPipelineOptions : public PassPipelineOptions<CpuPipelineOptions> {
  PassOptions::Option<std::string> weightsFile{
      *this, "weights-file",
      llvm::cl::desc("Move large constants into this file, read at run time "
                     "(empty: keep them in the code)")};
  PassOptions::Option<int64_t> weightsMinBytes{
      *this, "weights-min-bytes",
      llvm::cl::desc("Smallest constant moved to the weights file"),
      llvm::cl::init(1024)};
  PassOptions::Option<bool> splitLowRank{
      *this, "split-low-rank",
      llvm::cl::desc("Multiply low-rank weights (and low-rank residuals) as "
                     "two thin products by their factors instead of decoding "
                     "U * V (--slim-split-low-rank)"),
      llvm::cl::init(true)};
  PassOptions::Option<bool> fuseSiblings{
      *this, "fuse-siblings",
      llvm::cl::desc("Join products of one activation by constant weights "
                     "(query/key/value, gate/up) into one product by the "
                     "weights concatenated at compile time "
                     "(--slim-fuse-sibling-matmuls)"),
      llvm::cl::init(true)};
  PassOptions::Option<bool> blas{
      *this, "blas", llvm::cl::desc("Run f32 matmuls in BLAS sgemm (oneDNN)"),
      llvm::cl::init(true)};
  PassOptions::Option<bool> packWeights{
      *this, "pack-weights",
      llvm::cl::desc("With blas: store constant f32 matmul weights whose "
                     "output width is a multiple of 16 as 16-channel panels "
                     "at compile time and run them in Slim's packed GEMM "
                     "kernels (false: oneDNN's sgemm on [N, K] weights)"),
      llvm::cl::init(true)};
  PassOptions::Option<bool> softmaxKernel{
      *this, "softmax-kernel",
      llvm::cl::desc("Run f32 softmaxes over the innermost dimension in "
                     "Slim's row-wise kernel (false: decomposed into loops "
                     "over the whole tensor)"),
      llvm::cl::init(true)};
  PassOptions::Option<bool> attentionKernel{
      *this, "attention-kernel",
      llvm::cl::desc("Run f32 attention (scores, scale and mask, softmax, "
                     "product by the values) in Slim's fused kernel, skipping "
                     "masked keys (false: two GEMMs around the softmax)"),
      llvm::cl::init(true)};
  PassOptions::Option<bool> runtimeChecks{
      *this, "runtime-checks",
      llvm::cl::desc("Keep the checks of input values the importer emits "
                     "(gather indices, dimensions known only at run time; "
                     "a failed one stops the run with SLIM_ERROR_INPUT). "
                     "false drops them, for measuring what they cost: the "
                     "model then reads out of bounds on bad input"),
      llvm::cl::init(true)};
  PassOptions::Option<bool> quantizedKernels{
      *this, "quantized-kernels",
      llvm::cl::desc("Run weight-quantized matmuls in Slim's CPU kernel "
                     "(false: the reference dequantize-then-matmul lowering)"),
      llvm::cl::init(true)};
  PassOptions::Option<QuantizedActivations> quantizedActivations{
      *this, "quantized-activations",
      llvm::cl::desc("With quantized-kernels: what products of up to 16 "
                     "rows (decoding, short prompts) may do with the "
                     "activations: f32 (exact "
                     "weights times f32 activations) or int8 (rounded to "
                     "int8 per block of 32 for integer dot products with "
                     "4- and 8-bit codes, as "
                     "llama.cpp and onnxruntime's accuracy level 4 do)"),
      llvm::cl::init(QuantizedActivations::F32),
      llvm::cl::values(
          clEnumValN(QuantizedActivations::F32, "f32", "f32 activations"),
          clEnumValN(QuantizedActivations::Int8, "int8",
                     "int8 activations per block of 32"))};
  PassOptions::Option<bool> fuse{
      *this, "fuse",
      llvm::cl::desc("Fuse elementwise producers into their consumers "
                     "(--slim-fuse-elementwise)"),
      llvm::cl::init(true)};
  PassOptions::Option<bool> reassociateReductions{
      *this, "reassociate-reductions",
      llvm::cl::desc("Let float sums and products of reductions be "
                     "reordered so that they vectorize "
                     "(--slim-promote-accumulators=reassociate)"),
      llvm::cl::init(true)};
  PassOptions::Option<bool> approximateMath{
      *this, "approximate-math",
      llvm::cl::desc("Compute f32 exp, log, tanh, erf, sin and cos with "
                     "vectorizable polynomials (--slim-approximate-math) "
                     "instead of libm calls"),
      llvm::cl::init(true)};
  PassOptions::Option<bool> parallel{
      *this, "parallel",
      llvm::cl::desc("Share large loops out over the threads "
                     "(--slim-parallelize-loops)"),
      llvm::cl::init(true)};
  PassOptions::Option<int64_t> parallelMinWork{
      *this, "parallel-min-work",
      llvm::cl::desc("Smallest loop work (iterations times body operations) "
                     "shared out over the threads"),
      llvm::cl::init(65536)};
  PassOptions::Option<int64_t> outlineMaxOps{
      *this, "outline-max-ops",
      llvm::cl::desc("Split functions into outlined parts of at most this "
                     "many operations, so that LLVM optimizes bounded units "
                     "(0: keep one function)"),
      llvm::cl::init(400)};
  PassOptions::Option<bool> mergeFunctions{
      *this, "merge-functions",
      llvm::cl::desc("Compile the outlined parts that repeat with the layers "
                     "once, their weight offsets passed as arguments "
                     "(--slim-merge-equivalent-functions)"),
      llvm::cl::init(true)};
  PassOptions::Option<bool> lowerToLLVM{
      *this, "lower-to-llvm", llvm::cl::desc("Lower to the LLVM dialect"),
      llvm::cl::init(true)};
};

/// Builds the CPU pipeline slimc runs: weights to a file, the Slim reference
/// lowering, fusion of elementwise ops, bufferization with deallocation,
/// BLAS calls for f32 GEMMs, loops, LLVM. Public functions return fresh
/// buffers the caller frees.
void buildCpuPipeline(OpPassManager &pm, const CpuPipelineOptions &options);

/// Renames the OpenMP runtime calls LLVM's OpenMPIRBuilder emitted for the
/// parallel loops of `--slim-parallelize-loops` (`__kmpc_fork_call`, ...)
/// to the `slim_rt_kmpc_*` entry points of Slim's model support library,
/// which run them on libgomp's thread pool. Call it on the translated LLVM
/// module before optimizing it.
void renameOpenMPRuntimeCalls(llvm::Module &module);

/// Registers `--slim-cpu-reference-pipeline` and `--slim-cpu-pipeline`.
void registerSlimPipelines();

} // namespace mlir::slim

#endif // SLIM_PASSES_PIPELINES_PIPELINES_H
