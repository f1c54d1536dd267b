//===- Pipelines.cpp - Slim pass pipelines --------------------------------===//
//
// Part of the Slim project, under the Apache License v2.0 with LLVM Exceptions.
// SPDX-License-Identifier: Apache-2.0 WITH LLVM-exception
//
//===----------------------------------------------------------------------===//

#include "passes/Pipelines/Pipelines.h"

#include "passes/Conversion/Passes.h"
#include "passes/Transforms/Passes.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Pass/PassRegistry.h"
#include "mlir/Transforms/Passes.h"
#include "llvm/IR/Module.h"
#include "llvm/Support/ErrorHandling.h"
#include "llvm/Support/FormatVariadic.h"

#include <cstring>

using namespace mlir;
using namespace mlir::slim;

/// The upstream passes after the Slim conversion, as a textual pipeline so
/// that it reads the same as the mlir-opt command line it is equivalent to.
static constexpr const char *kBufferizeAndLoops =
    "func.func(slim-decompose-aggregate-ops),one-shot-bufferize{bufferize-"
    "function-boundaries=1 "
    "function-boundary-type-conversion=identity-layout-map},"
    "func.func(convert-linalg-to-loops),canonicalize,"
    // MLIR 22.1's expand-strided-metadata crashes on a memref.expand_shape
    // with two dynamic sizes in one group: resolve dims of expansions from
    // their output_shape and lower contiguous expansions beforehand.
    "resolve-ranked-shaped-type-result-dims,canonicalize,"
    "func.func(slim-lower-expand-shape)";

/// The lowering to the LLVM dialect. With `trackedAllocations`, buffers
/// come from `_mlir_memref_to_llvm_alloc`/`_free` (model support: a failed
/// allocation stops the run with an error, and a run stopped by a check
/// frees what it had allocated) instead of malloc/free.
static std::string toLLVM(bool trackedAllocations) {
  return llvm::formatv(
      // bf16 arithmetic in f32 and bf16 conversions as integer operations
      // (slim-expand-arith): otherwise LLVM calls compiler-rt's
      // __truncsfbf2, which Debian 12's libgcc lacks. Not upstream's
      // arith-expand, whose select chains for maximumf would keep max
      // reductions scalar.
      "arith-emulate-unsupported-floats{{source-types=bf16 target-type=f32},"
      "convert-scf-to-cf,expand-strided-metadata,lower-affine,"
      "finalize-memref-to-llvm{{use-generic-functions={0}},"
      "convert-math-to-llvm,convert-math-to-libm,"
      "slim-expand-arith,convert-arith-to-llvm,convert-index-to-llvm,convert-"
      "cf-"
      "to-llvm,"
      "convert-func-to-llvm,convert-openmp-to-llvm,reconcile-unrealized-casts",
      trackedAllocations);
}

void mlir::slim::buildCpuReferencePipeline(
    OpPassManager &pm, const CpuReferencePipelineOptions &options) {
  // mlir-runner has no Slim runtime to unwind to: failed checks abort.
  ConvertSlimToLinalgPassOptions convert;
  convert.checks = "abort";
  pm.addPass(createConvertSlimToLinalgPass(convert));
  // The textual pipelines are compile-time constants; failing to parse them
  // is a bug in Slim, not a user error.
  if (failed(parsePassPipeline(kBufferizeAndLoops, pm)))
    llvm::report_fatal_error("slim: invalid built-in bufferization pipeline");
  if (options.lowerToLLVM && failed(parsePassPipeline(toLLVM(false), pm)))
    llvm::report_fatal_error("slim: invalid built-in LLVM lowering pipeline");
}

static constexpr const char *kCpuBufferize =
    "func.func(slim-copy-results,slim-duplicate-empty-tensors),"
    "one-shot-bufferize{bufferize-function-boundaries=1 "
    "function-boundary-type-conversion=identity-layout-map},"
    "buffer-deallocation-pipeline,convert-bufferization-to-memref,"
    "slim-lower-ukernels,canonicalize,cse";

static constexpr const char *kCpuLoopsTail =
    "canonicalize,resolve-ranked-shaped-type-result-dims,canonicalize,"
    "func.func(slim-lower-expand-shape)";

void mlir::slim::buildCpuPipeline(OpPassManager &pm,
                                  const CpuPipelineOptions &options) {
  // Low-rank factors become dense products by constants, which the steps
  // below join, pack and run like any dense layer.
  if (options.splitLowRank)
    pm.addNestedPass<func::FuncOp>(createSlimSplitLowRankPass());
  // Products of one activation (after CSE has merged its copies) become
  // one, while the weights are constants.
  if (options.fuseSiblings) {
    pm.addPass(createCSEPass());
    pm.addNestedPass<func::FuncOp>(createSlimFuseSiblingMatmulsPass());
  }
  // Weights the BLAS path reads transposed or packed are rewritten while
  // they are still constants, before they move to the weights file.
  if (options.blas) {
    SlimFoldTransposesPassOptions t;
    t.transposeWeights = true;
    t.packWeights = options.packWeights;
    pm.addNestedPass<func::FuncOp>(createSlimFoldTransposesPass(t));
    pm.addPass(createCanonicalizerPass());
  }
  if (!options.weightsFile.empty()) {
    SlimExternalizeWeightsPassOptions w;
    w.weightsFile = options.weightsFile;
    w.minBytes = options.weightsMinBytes;
    pm.addPass(createSlimExternalizeWeightsPass(w));
  }
  if (options.quantizedKernels) {
    SlimLowerQuantizedMatmulPassOptions q;
    q.activations = options.quantizedActivations;
    pm.addPass(createSlimLowerQuantizedMatmulPass(q));
  }
  ConvertSlimToLinalgPassOptions convert;
  convert.checks = options.runtimeChecks ? "runtime" : "none";
  pm.addPass(createConvertSlimToLinalgPass(convert));
  auto parse = [&](StringRef text) {
    if (failed(parsePassPipeline(text, pm)))
      llvm::report_fatal_error("slim: invalid built-in CPU pipeline");
  };
  // Slim's own elementwise fusion, not upstream's linalg-fuse-elementwise-ops:
  // its reshape propagation rewrites named matmuls into generics, which
  // would lose the BLAS path.
  parse(llvm::formatv("func.func(slim-decompose-aggregate-ops{{keep-softmax="
                      "{0}},slim-fold-transposes),canonicalize,cse",
                      bool(options.softmaxKernel))
            .str());
  if (options.fuse)
    parse("func.func(slim-fuse-elementwise),canonicalize,cse");
  parse(kCpuBufferize);
  // Before the BLAS lowering: it takes the chain's two products.
  if (options.attentionKernel && options.softmaxKernel)
    pm.addPass(createSlimLowerAttentionPass());
  if (options.blas)
    pm.addPass(createSlimLowerMatmulToBlasPass());
  if (options.softmaxKernel)
    pm.addPass(createSlimLowerSoftmaxPass());
  if (options.parallel)
    parse(llvm::formatv("func.func(slim-lower-strided-copies,"
                        "convert-linalg-to-parallel-loops,"
                        "slim-parallelize-loops{{min-work={0}})",
                        int64_t(options.parallelMinWork))
              .str());
  else
    parse("func.func(slim-lower-strided-copies,convert-linalg-to-loops)");
  parse(kCpuLoopsTail);
  parse(llvm::formatv("func.func(slim-promote-accumulators{{reassociate={0}})",
                      bool(options.reassociateReductions))
            .str());
  if (options.approximateMath)
    parse("func.func(slim-approximate-math)");
  parse("func.func(slim-dealloc-after-last-use)");
  if (options.outlineMaxOps > 0) {
    SlimOutlineRegionsPassOptions o;
    o.maxOps = options.outlineMaxOps;
    pm.addPass(createSlimOutlineRegionsPass(o));
    if (options.mergeFunctions)
      pm.addPass(createSlimMergeEquivalentFunctionsPass());
    if (options.lowerToLLVM)
      pm.addPass(createSlimIndirectMemrefArgumentsPass());
  }
  if (options.lowerToLLVM)
    parse(toLLVM(true));
}

void mlir::slim::renameOpenMPRuntimeCalls(llvm::Module &module) {
  for (llvm::Function &f : module.functions())
    if (f.isDeclaration() && f.getName().starts_with("__kmpc_"))
      f.setName("slim_rt_kmpc_" + f.getName().drop_front(strlen("__kmpc_")));
}

void mlir::slim::registerSlimPipelines() {
  PassPipelineRegistration<CpuPipelineOptions>(
      "slim-cpu-pipeline",
      "Compiles for the CPU as slimc does: weights file, Slim lowering, "
      "fusion, bufferization with deallocation, BLAS GEMMs, LLVM",
      buildCpuPipeline);
  PassPipelineRegistration<CpuReferencePipelineOptions>(
      "slim-cpu-reference-pipeline",
      "Runs Slim's reference semantics on the CPU: --convert-slim-to-linalg, "
      "bufferization, scalar loops and the LLVM dialect",
      buildCpuReferencePipeline);
}
