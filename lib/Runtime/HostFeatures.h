//===- HostFeatures.h - The CPU's instruction-set features ------*- C++ -*-===//
//
// Part of the Slim project, under the Apache License v2.0 with LLVM Exceptions.
// SPDX-License-Identifier: Apache-2.0 WITH LLVM-exception
//
//===----------------------------------------------------------------------===//

#ifndef SLIM_LIB_RUNTIME_HOSTFEATURES_H
#define SLIM_LIB_RUNTIME_HOSTFEATURES_H

namespace slim_rt {

enum class HostFeature { Present, Absent, Unknown };

/// Whether this CPU (and OS, for register state) has the x86 feature `name`
/// as LLVM spells it ("avx2", "avx512vnni", "sse4.1", ...). Unknown for
/// names the table does not hold (and on other architectures).
HostFeature queryHostFeature(const char *name);

} // namespace slim_rt

#endif // SLIM_LIB_RUNTIME_HOSTFEATURES_H
