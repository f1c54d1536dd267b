//===- CalibrationData.cpp - Calibration texts into token windows ---------===//
//
// Part of the Slim project, under the Apache License v2.0 with LLVM Exceptions.
// SPDX-License-Identifier: Apache-2.0 WITH LLVM-exception
//
//===----------------------------------------------------------------------===//

#include "lib/Runtime/CalibrationData.h"

#include "llvm/ADT/StringExtras.h"
#include "llvm/Support/JSON.h"
#include "llvm/Support/MemoryBuffer.h"

#include <algorithm>
#include <numeric>
#include <random>

using namespace mlir::slim;

static llvm::Error fail(const llvm::Twine &message) {
  return llvm::createStringError(message.str());
}

llvm::Expected<CalibrationWindows> mlir::slim::loadCalibrationWindows(
    llvm::ArrayRef<std::string> files, const Tokenizer &tokenizer,
    size_t samples, size_t context, std::optional<uint64_t> seed) {
  if (files.empty())
    return fail("no calibration text");
  if (context < 2)
    return fail("the calibration context must be at least 2 tokens");
  CalibrationWindows result;
  std::vector<int32_t> ids;
  for (const std::string &path : files) {
    llvm::ErrorOr<std::unique_ptr<llvm::MemoryBuffer>> buffer =
        llvm::MemoryBuffer::getFile(path, /*IsText=*/false,
                                    /*RequiresNullTerminator=*/false);
    if (!buffer)
      return fail("cannot read calibration text '" + path +
                  "': " + buffer.getError().message());
    llvm::StringRef data = (*buffer)->getBuffer();
    size_t before = ids.size();
    if (llvm::StringRef(path).ends_with(".jsonl")) {
      llvm::SmallVector<llvm::StringRef> lines;
      data.split(lines, '\n');
      for (auto [i, line] : llvm::enumerate(lines)) {
        if (line.trim().empty())
          continue;
        std::string where = path + ":" + std::to_string(i + 1);
        llvm::Expected<llvm::json::Value> value = llvm::json::parse(line);
        if (!value)
          return fail(where +
                      ": not JSON: " + llvm::toString(value.takeError()));
        const llvm::json::Object *object = value->getAsObject();
        std::optional<llvm::StringRef> text =
            object ? object->getString("text") : std::nullopt;
        if (!text)
          return fail(where + ": expected an object with a string \"text\"");
        auto doc = tokenizer.encode(*text);
        if (!doc)
          return fail(where + ": " + llvm::toString(doc.takeError()));
        ids.insert(ids.end(), doc->begin(), doc->end());
        ++result.documents;
      }
    } else {
      auto doc = tokenizer.encode(data);
      if (!doc)
        return fail(path + ": " + llvm::toString(doc.takeError()));
      ids.insert(ids.end(), doc->begin(), doc->end());
      ++result.documents;
    }
    if (ids.size() == before)
      return fail("calibration text '" + path + "' holds no tokens");
  }
  result.source = llvm::join(files, ", ");
  result.totalTokens = ids.size();
  size_t slots = ids.size() / context;
  if (slots == 0)
    return fail(result.source + ": " + std::to_string(ids.size()) +
                " tokens, fewer than one sequence of " +
                std::to_string(context) + " tokens");
  std::vector<size_t> chosen(slots);
  std::iota(chosen.begin(), chosen.end(), size_t(0));
  if (seed) {
    // Fisher-Yates with the generator's raw output, so that a seed picks
    // the same windows with every standard library.
    std::mt19937_64 rng(*seed);
    for (size_t i = slots; i > 1; --i)
      std::swap(chosen[i - 1], chosen[rng() % i]);
  }
  chosen.resize(std::min(samples, slots));
  std::sort(chosen.begin(), chosen.end());
  for (size_t slot : chosen)
    result.windows.emplace_back(ids.begin() + slot * context,
                                ids.begin() + (slot + 1) * context);
  return result;
}
