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

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  static mlir::DialectRegistry *registry = [] {
    auto *r = new mlir::DialectRegistry();
    mlir::slim::registerOnnxImportDialects(*r);
    return r;
  }();
  mlir::MLIRContext context(*registry, mlir::MLIRContext::Threading::DISABLED);
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
