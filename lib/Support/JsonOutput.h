//===- JsonOutput.h - JSON for people and scripts ---------------*- C++ -*-===//
//
// Part of the Slim project, under the Apache License v2.0 with LLVM Exceptions.
// SPDX-License-Identifier: Apache-2.0 WITH LLVM-exception
//
//===----------------------------------------------------------------------===//
//
// llvm::json prints every double with 17 significant digits (1.5479 as
// 1.5478870000000001), which makes reports and `--json` output hard to read
// and diff. This printer writes the same JSON with doubles at 6 significant
// digits (integers stay exact; NaN and infinities, which JSON lacks, become
// null) and keys in sorted order, indented.
//
//===----------------------------------------------------------------------===//

#ifndef SLIM_LIB_SUPPORT_JSONOUTPUT_H
#define SLIM_LIB_SUPPORT_JSONOUTPUT_H

#include "llvm/Support/JSON.h"
#include "llvm/Support/raw_ostream.h"

namespace mlir::slim {

/// Writes `value` to `os`, indented by `indent` spaces per level (0: one
/// line), doubles with `digits` significant digits.
void printJson(llvm::raw_ostream &os, const llvm::json::Value &value,
               unsigned indent = 2, unsigned digits = 6);

} // namespace mlir::slim

#endif // SLIM_LIB_SUPPORT_JSONOUTPUT_H
