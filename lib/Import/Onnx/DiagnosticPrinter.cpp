//===- DiagnosticPrinter.cpp - "file: error: message" diagnostics ---------===//
//
// Part of the Slim project, under the Apache License v2.0 with LLVM Exceptions.
// SPDX-License-Identifier: Apache-2.0 WITH LLVM-exception
//
//===----------------------------------------------------------------------===//

#include "lib/Import/Onnx/DiagnosticPrinter.h"

#include "mlir/IR/BuiltinAttributes.h"
#include "mlir/IR/Location.h"
#include "llvm/Support/WithColor.h"
#include "llvm/Support/raw_ostream.h"

using namespace mlir;

/// The file a location refers to, looking through names and fusions.
static std::string fileOf(Location loc) {
  if (auto f = dyn_cast<FileLineColLoc>(loc)) {
    std::string file = f.getFilename().str();
    if (f.getLine() != 0)
      file += ":" + std::to_string(f.getLine()) + ":" +
              std::to_string(f.getColumn());
    return file;
  }
  if (auto n = dyn_cast<NameLoc>(loc))
    return fileOf(n.getChildLoc());
  if (auto f = dyn_cast<FusedLoc>(loc))
    for (Location l : f.getLocations())
      if (std::string s = fileOf(l); !s.empty())
        return s;
  return {};
}

slim::FileDiagnosticPrinter::FileDiagnosticPrinter(MLIRContext *ctx)
    : ScopedDiagnosticHandler(ctx) {
  setHandler([this](Diagnostic &diag) {
    std::string file = fileOf(diag.getLocation());
    auto &os = llvm::errs();
    if (!file.empty())
      os << file << ": ";
    if (diag.getSeverity() == DiagnosticSeverity::Error) {
      llvm::WithColor::error(os, "", /*DisableColors=*/false);
      errors = true;
    } else if (diag.getSeverity() == DiagnosticSeverity::Warning) {
      llvm::WithColor::warning(os, "", false);
    } else {
      llvm::WithColor::note(os, "", false);
    }
    os << diag << "\n";
    for (const Diagnostic &note : diag.getNotes())
      os << "  note: " << note << "\n";
    return success();
  });
}
