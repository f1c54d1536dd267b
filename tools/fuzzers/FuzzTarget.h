//===- FuzzTarget.h - Shared by the fuzz targets ---------------*- C++ -*-===//
//
// Part of the Slim project, under the Apache License v2.0 with LLVM Exceptions.
// SPDX-License-Identifier: Apache-2.0 WITH LLVM-exception
//
//===----------------------------------------------------------------------===//

#ifndef SLIM_TOOLS_FUZZERS_FUZZTARGET_H
#define SLIM_TOOLS_FUZZERS_FUZZTARGET_H

#include <cstddef>

namespace slim_fuzz {
/// Inputs the target accepted (parsed, loaded, compiled) rather than
/// refused. FuzzerMain prints it, so a test can tell that its valid seeds
/// still get past the parser.
inline size_t accepted = 0;
} // namespace slim_fuzz

#endif // SLIM_TOOLS_FUZZERS_FUZZTARGET_H
