//===- OnnxImporter.h - ONNX to MLIR import ---------------------*- C++ -*-===//
//
// Part of the Slim project, under the Apache License v2.0 with LLVM Exceptions.
// SPDX-License-Identifier: Apache-2.0 WITH LLVM-exception
//
//===----------------------------------------------------------------------===//
//
// Imports an ONNX model into upstream dialects on tensors (linalg, tensor,
// arith, math) in one func.func whose arguments and results are the graph's
// inputs and outputs. Linear layers become `linalg.matmul` of the flattened
// activation by a constant weight; weights are `dense_resource` blobs that
// point into the memory-mapped model or external-data file; quantized ONNX
// operators (DequantizeLinear of weights, com.microsoft.MatMulNBits) import as
// `#slim.quant` tensors.
//
//===----------------------------------------------------------------------===//

#ifndef SLIM_LIB_IMPORT_ONNX_ONNXIMPORTER_H
#define SLIM_LIB_IMPORT_ONNX_ONNXIMPORTER_H

#include "mlir/IR/BuiltinOps.h"
#include "mlir/IR/MLIRContext.h"
#include "mlir/IR/OwningOpRef.h"
#include "llvm/ADT/StringMap.h"

#include <string>
#include <vector>

namespace mlir::slim {

struct OnnxImportOptions {
  /// Values for symbolic dimensions (`dim_param`) of the graph inputs, e.g.
  /// {"batch": 1, "sequence": 128}. Unbound ones stay dynamic.
  llvm::StringMap<int64_t> boundDims;
  /// Name of the function the graph becomes.
  std::string functionName = "main";
  /// Constants with at most this many elements become inline dense
  /// attributes (foldable); larger ones are dense_resource blobs.
  int64_t inlineConstantLimit = 64;
};

/// The opsets the importer knows the operator semantics of.
constexpr int64_t kMinDefaultOpset = 1;
constexpr int64_t kMaxDefaultOpset = 23;
constexpr int64_t kMaxMicrosoftOpset = 1;

/// Loads the ONNX model at `path` (and its external data) and imports it.
/// Errors are emitted as diagnostics on `context` naming the file and, where
/// there is one, the node (name, op type, domain).
FailureOr<OwningOpRef<ModuleOp>>
importOnnxModel(MLIRContext *context, StringRef path,
                const OnnxImportOptions &options);

/// Imports a model held in memory (`path` names it in diagnostics and is
/// where external data is looked for).
FailureOr<OwningOpRef<ModuleOp>>
importOnnxModel(MLIRContext *context, StringRef path, StringRef contents,
                const OnnxImportOptions &options);

/// Parses `name=value,name=value` into `dims`. Returns an error message on
/// malformed input.
std::string parseDimBindings(StringRef spec, llvm::StringMap<int64_t> &dims);

/// The operators the importer supports, as "domain:OpType" ("" for the
/// default ONNX domain), sorted.
std::vector<std::string> getSupportedOnnxOperators();

/// Registers the dialects the importer produces.
void registerOnnxImportDialects(DialectRegistry &registry);

} // namespace mlir::slim

#endif // SLIM_LIB_IMPORT_ONNX_ONNXIMPORTER_H
