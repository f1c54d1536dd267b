//===- Version.h - Slim's version, commit and tool setup --------*- C++ -*-===//
//
// Part of the Slim project, under the Apache License v2.0 with LLVM Exceptions.
// SPDX-License-Identifier: Apache-2.0 WITH LLVM-exception
//
//===----------------------------------------------------------------------===//

#ifndef SLIM_LIB_SUPPORT_VERSION_H
#define SLIM_LIB_SUPPORT_VERSION_H

namespace mlir::slim {

/// "0.1.0".
const char *getVersion();
/// The commit the tools were built from (`git describe --always --dirty`).
const char *getCommit();
/// Makes `--version` print the tool's name, Slim's version and commit and
/// LLVM's version, and the crash banner point at Slim (not at LLVM's bug
/// tracker). Call first thing in main.
void initTool(const char *name);

} // namespace mlir::slim

#endif // SLIM_LIB_SUPPORT_VERSION_H
