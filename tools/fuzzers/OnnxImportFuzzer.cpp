//===- onnx-import-fuzzer.cpp - libFuzzer target for the ONNX importer ----===//
//
// Part of the Slim project, under the Apache License v2.0 with LLVM Exceptions.
// SPDX-License-Identifier: Apache-2.0 WITH LLVM-exception
//
//===----------------------------------------------------------------------===//
//
// Feeds arbitrary bytes to the ONNX importer as a model file. Any input must
// end in a module or in diagnostics; crashes, sanitizer reports and
// unverifiable IR are bugs.
//
//===----------------------------------------------------------------------===//

#include "lib/Import/Onnx/OnnxImporter.h"
#include "tools/fuzzers/FuzzTarget.h"

#include "mlir/IR/Diagnostics.h"
#include "mlir/IR/MLIRContext.h"
#include "mlir/IR/Verifier.h"

#include <cstddef>
#include <cstdint>
#include <memory>

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  static mlir::DialectRegistry *registry = [] {
    auto *r = new mlir::DialectRegistry();
    mlir::slim::registerOnnxImportDialects(*r);
    return r;
  }();
  // One context for a thousand inputs: creating it and loading the
  // dialects costs more than most imports, and what inputs leave behind in
  // it (uniqued attributes and types) does not change what the next one
  // imports to; renewing it bounds the memory that accumulates.
  static std::unique_ptr<mlir::MLIRContext> owner;
  static unsigned uses = 0;
  if (!owner || ++uses == 1000) {
    owner = std::make_unique<mlir::MLIRContext>(
        *registry, mlir::MLIRContext::Threading::DISABLED);
    uses = 0;
  }
  mlir::MLIRContext &context = *owner;
  mlir::ScopedDiagnosticHandler quiet(
      &context, [](mlir::Diagnostic &) { return mlir::success(); });
  mlir::slim::OnnxImportOptions options;
  auto module = mlir::slim::importOnnxModel(
      &context, "/nonexistent/fuzz.onnx",
      llvm::StringRef(reinterpret_cast<const char *>(data), size), options);
  if (mlir::failed(module))
    return 0;
  ++slim_fuzz::accepted;
  if (mlir::failed(mlir::verify(**module)))
    __builtin_trap();
  return 0;
}
