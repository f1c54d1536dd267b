//===- Version.cpp - What --version prints
//----------------------------------===//
//
// Part of the Slim project, under the Apache License v2.0 with LLVM Exceptions.
// SPDX-License-Identifier: Apache-2.0 WITH LLVM-exception
//
//===----------------------------------------------------------------------===//

#include "lib/Support/Version.h"

#include "lib/Support/Version.inc"

#include "llvm/Config/llvm-config.h"
#include "llvm/Support/CommandLine.h"
#include "llvm/Support/PrettyStackTrace.h"
#include "llvm/Support/raw_ostream.h"

#include <string>

const char *mlir::slim::getVersion() { return SLIM_VERSION; }
const char *mlir::slim::getCommit() { return SLIM_COMMIT; }

void mlir::slim::initTool(const char *name) {
  static std::string tool = name;
  llvm::cl::SetVersionPrinter([](llvm::raw_ostream &os) {
    os << tool << " (Slim " << SLIM_VERSION << ", commit " << SLIM_COMMIT
       << ")\n  built with LLVM/MLIR " << LLVM_VERSION_STRING << "\n";
  });
  static std::string banner =
      "PLEASE report this crash to the Slim project (Slim " +
      std::string(SLIM_VERSION) + ", commit " + SLIM_COMMIT +
      ") with the command line above and, if you can, the model or a "
      "smaller one that shows it.\n";
  llvm::setBugReportMsg(banner.c_str());
}
