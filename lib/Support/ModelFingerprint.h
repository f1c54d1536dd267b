//===- ModelFingerprint.h - What ties a compiled model's files together -*- C++
//-*-===//
//
// Part of the Slim project, under the Apache License v2.0 with LLVM Exceptions.
// SPDX-License-Identifier: Apache-2.0 WITH LLVM-exception
//
//===----------------------------------------------------------------------===//
//
// slimc writes a model's interface twice: into model.json (for the runtime
// and for people) and, as this fingerprint, into model.so (the global
// `slim_model_fingerprint`). The runtime recomputes the fingerprint from
// model.json and refuses a folder where they differ: a model.json edited by
// hand or copied from another compilation would otherwise make the runtime
// pass buffers of the wrong shape, type or count to the code (a crash, or
// reads past them). The weights file's size is part of it.
//
//===----------------------------------------------------------------------===//

#ifndef SLIM_LIB_SUPPORT_MODELFINGERPRINT_H
#define SLIM_LIB_SUPPORT_MODELFINGERPRINT_H

#include "llvm/Support/FormatVariadic.h"
#include "llvm/Support/JSON.h"
#include "llvm/Support/xxhash.h"

#include <string>

namespace mlir::slim {

/// 16 hex digits: XXH3 of the canonical JSON (keys sorted) of the inputs,
/// outputs, weights argument and weights size as model.json records them.
inline std::string getModelFingerprint(const llvm::json::Value &inputs,
                                       const llvm::json::Value &outputs,
                                       bool weightsArgument,
                                       int64_t weightsBytes) {
  llvm::json::Object canonical{{"inputs", inputs},
                               {"outputs", outputs},
                               {"weights_argument", weightsArgument},
                               {"weights_bytes", weightsBytes}};
  std::string text;
  llvm::raw_string_ostream os(text);
  os << llvm::json::Value(std::move(canonical));
  os.flush();
  return llvm::formatv("{0:x-16}", llvm::xxh3_64bits(text)).str();
}

} // namespace mlir::slim

#endif // SLIM_LIB_SUPPORT_MODELFINGERPRINT_H
