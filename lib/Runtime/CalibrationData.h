//===- CalibrationData.h - Calibration texts into token windows -----------===//
//
// Part of the Slim project, under the Apache License v2.0 with LLVM Exceptions.
// SPDX-License-Identifier: Apache-2.0 WITH LLVM-exception
//
//===----------------------------------------------------------------------===//
//
// The calibration data of slimc and slim-run: text files (read whole) or
// JSON Lines files (`.jsonl`, one object per line with a string field
// "text"), each document tokenized on its own and the tokens concatenated,
// then cut into `samples` windows of `context` tokens: the first ones in
// order, or, with a seed, windows drawn at random (without overlap) from
// all of the text.
//
//===----------------------------------------------------------------------===//

#ifndef SLIM_LIB_RUNTIME_CALIBRATIONDATA_H
#define SLIM_LIB_RUNTIME_CALIBRATIONDATA_H

#include "lib/Runtime/Tokenizer.h"

#include "llvm/ADT/ArrayRef.h"
#include "llvm/Support/Error.h"

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace mlir::slim {

struct CalibrationWindows {
  /// samples x context token ids.
  std::vector<std::vector<int32_t>> windows;
  /// Tokens in all of the text.
  size_t totalTokens = 0;
  /// Documents read (one per text file, one per JSONL record).
  size_t documents = 0;
  /// "a.txt, b.jsonl"
  std::string source;
};

/// Reads, tokenizes and cuts the calibration files. Fails, naming the file
/// (and line), when one cannot be read, a JSONL line is not an object with
/// a string "text", or the text holds fewer than one window. Fewer windows
/// than asked for are not an error (`windows.size()` says how many).
llvm::Expected<CalibrationWindows>
loadCalibrationWindows(llvm::ArrayRef<std::string> files,
                       const Tokenizer &tokenizer, size_t samples,
                       size_t context, std::optional<uint64_t> seed);

} // namespace mlir::slim

#endif // SLIM_LIB_RUNTIME_CALIBRATIONDATA_H
