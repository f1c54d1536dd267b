//===- PassOptionsFuzzer.cpp - Fuzz target: compression option strings ----===//
//
// Part of the Slim project, under the Apache License v2.0 with LLVM Exceptions.
// SPDX-License-Identifier: Apache-2.0 WITH LLVM-exception
//
//===----------------------------------------------------------------------===//
//
// Feeds arbitrary option strings to the compression passes (what slimc's
// --quantize, --prune and --factorize and slim-opt's --slim-quantize="..."
// take) and to the CPU pipeline's options (--pipeline). The first byte picks
// the consumer, the rest is the option text. Options that parse are run on a
// three-layer MLP: the pass must succeed or fail with a diagnostic, and what
// it leaves must verify. Options naming files (stats=, report=) are skipped:
// a fuzzer must not write where its input says.
//
//===----------------------------------------------------------------------===//

#include "passes/Pipelines/Pipelines.h"
#include "passes/Transforms/Passes.h"
#include "slim/InitAll.h"
#include "tools/fuzzers/FuzzTarget.h"

#include "mlir/IR/BuiltinOps.h"
#include "mlir/IR/Diagnostics.h"
#include "mlir/IR/MLIRContext.h"
#include "mlir/IR/Verifier.h"
#include "mlir/InitAllDialects.h"
#include "mlir/Parser/Parser.h"
#include "mlir/Pass/PassManager.h"

#include <cstdint>

using namespace mlir;

// Three linear layers named by their locations; lm_head is excluded by the
// passes' defaults.
static const char *const kModule = R"mlir(
func.func @mlp(%x: tensor<?x8xf32>) -> tensor<?x8xf32> {
  %c0 = arith.constant 0 : index
  %zero = arith.constant 0.0 : f32
  %m = tensor.dim %x, %c0 : tensor<?x8xf32>
  %w1 = arith.constant dense<[[0.5, -0.25, 1.0, 0.125], [-1.5, 0.75, 0.0, 2.0], [0.3, -0.7, 0.9, -1.1], [1.25, 0.6, -0.4, 0.2], [-0.8, 1.7, 0.05, -0.3], [0.45, -1.2, 0.65, 0.9], [-0.15, 0.35, -1.9, 1.4], [0.8, -0.55, 0.25, -0.95]]> : tensor<8x4xf32>
  %e1 = tensor.empty(%m) : tensor<?x4xf32>
  %f1 = linalg.fill ins(%zero : f32) outs(%e1 : tensor<?x4xf32>) -> tensor<?x4xf32>
  %h = linalg.matmul ins(%x, %w1 : tensor<?x8xf32>, tensor<8x4xf32>) outs(%f1 : tensor<?x4xf32>) -> tensor<?x4xf32> loc("layers.0.up")
  %w2 = arith.constant dense<[[0.2, -0.4, 0.6, -0.8, 1.0, -1.2], [1.1, 0.9, -0.7, 0.5, -0.3, 0.1], [-0.25, 0.5, -0.75, 1.0, 0.35, -0.6], [0.7, -0.15, 0.45, -1.3, 0.85, 0.05]]> : tensor<4x6xf32>
  %e2 = tensor.empty(%m) : tensor<?x6xf32>
  %f2 = linalg.fill ins(%zero : f32) outs(%e2 : tensor<?x6xf32>) -> tensor<?x6xf32>
  %g = linalg.matmul ins(%h, %w2 : tensor<?x4xf32>, tensor<4x6xf32>) outs(%f2 : tensor<?x6xf32>) -> tensor<?x6xf32> loc("layers.0.mid")
  %w3 = arith.constant dense<0.375> : tensor<6x8xf32>
  %e3 = tensor.empty(%m) : tensor<?x8xf32>
  %f3 = linalg.fill ins(%zero : f32) outs(%e3 : tensor<?x8xf32>) -> tensor<?x8xf32>
  %y = linalg.matmul ins(%g, %w3 : tensor<?x6xf32>, tensor<6x8xf32>) outs(%f3 : tensor<?x8xf32>) -> tensor<?x8xf32> loc("lm_head")
  return %y : tensor<?x8xf32>
}
)mlir";

static MLIRContext *context;
static OwningOpRef<ModuleOp> *module;

extern "C" int LLVMFuzzerInitialize(int *, char ***) {
  DialectRegistry registry;
  registerAllDialects(registry);
  slim::registerAllSlimDialects(registry);
  context = new MLIRContext(registry, MLIRContext::Threading::DISABLED);
  context->loadAllAvailableDialects();
  module = new OwningOpRef<ModuleOp>(
      parseSourceString<ModuleOp>(kModule, ParserConfig(context)));
  if (!*module)
    __builtin_trap();
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (size == 0)
    return 0;
  llvm::StringRef options(reinterpret_cast<const char *>(data) + 1, size - 1);
  if (options.contains("stats") || options.contains("report"))
    return 0;
  auto ignore = [](const llvm::Twine &) { return failure(); };
  std::unique_ptr<Pass> pass;
  switch (data[0] % 4) {
  case 0:
    pass = slim::createSlimQuantizePass();
    break;
  case 1:
    pass = slim::createSlimPrunePass();
    break;
  case 2:
    pass = slim::createSlimFactorizePass();
    break;
  default: {
    slim::CpuPipelineOptions pipeline;
    if (succeeded(pipeline.parseFromString(options)))
      ++slim_fuzz::accepted;
    return 0;
  }
  }
  if (failed(pass->initializeOptions(options, ignore)))
    return 0;
  ScopedDiagnosticHandler quiet(context,
                                [](Diagnostic &) { return success(); });
  OwningOpRef<ModuleOp> copy((**module).clone());
  PassManager pm(context);
  pm.enableVerifier(true);
  pm.addPass(std::move(pass));
  ++slim_fuzz::accepted;
  if (succeeded(pm.run(*copy)) && failed(verify(*copy)))
    __builtin_trap();
  return 0;
}
