//===- DiagnosticPrinter.h - "file: error: message" diagnostics -*- C++ -*-===//
//
// Part of the Slim project, under the Apache License v2.0 with LLVM Exceptions.
// SPDX-License-Identifier: Apache-2.0 WITH LLVM-exception
//
//===----------------------------------------------------------------------===//
//
// Prints diagnostics of model-file tools as `<file>: error: <message>`: the
// locations of imported models point at files without line numbers, so the
// usual `file:line:col` form would only add noise.
//
//===----------------------------------------------------------------------===//

#ifndef SLIM_LIB_IMPORT_ONNX_DIAGNOSTICPRINTER_H
#define SLIM_LIB_IMPORT_ONNX_DIAGNOSTICPRINTER_H

#include "mlir/IR/Diagnostics.h"
#include "mlir/IR/MLIRContext.h"

namespace mlir::slim {

class FileDiagnosticPrinter : public ScopedDiagnosticHandler {
public:
  explicit FileDiagnosticPrinter(MLIRContext *ctx);
  /// True once an error has been printed.
  bool sawError() const { return errors; }

private:
  bool errors = false;
};

} // namespace mlir::slim

#endif // SLIM_LIB_IMPORT_ONNX_DIAGNOSTICPRINTER_H
