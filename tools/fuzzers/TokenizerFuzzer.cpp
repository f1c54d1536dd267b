//===- TokenizerFuzzer.cpp - Fuzz target: tokenizer.json -----------------===//
//
// Part of the Slim project, under the Apache License v2.0 with LLVM Exceptions.
// SPDX-License-Identifier: Apache-2.0 WITH LLVM-exception
//
//===----------------------------------------------------------------------===//
//
// Feeds arbitrary bytes to the tokenizer as a tokenizer.json. A file is
// refused with an error, or it loads and then encodes a few fixed texts
// (ASCII, non-Latin script, chat markers, invalid UTF-8, empty) into ids the
// tokenizer knows, and decodes ids in and out of range without failing.
//
//===----------------------------------------------------------------------===//

#include "lib/Runtime/Tokenizer.h"
#include "tools/fuzzers/FuzzTarget.h"

#include "llvm/ADT/StringRef.h"

#include <cstdint>
#include <string>
#include <vector>

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  mlir::slim::Tokenizer tokenizer;
  std::string error;
  if (!tokenizer.loadFromBuffer(
          llvm::StringRef(reinterpret_cast<const char *>(data), size),
          "fuzz/tokenizer.json", error)) {
    if (error.empty())
      __builtin_trap(); // a refusal must say why
    return 0;
  }
  ++slim_fuzz::accepted;
  static const char *const texts[] = {
      "The quick brown fox jumps over the lazy dog. It's 2026, isn't it?",
      "  leading spaces\tand\ttabs\n\nnew lines  ",
      "\xce\xba\xce\xb1\xce\xbb\xce\xb7\xce\xbc\xce\xad\xcf\x81\xce\xb1 "
      "\xe4\xbd\xa0\xe5\xa5\xbd \xf0\x9f\x99\x82",
      "<|im_start|>user\nHi<|im_end|><|endoftext|><s></s>",
      "invalid \xff\xfe utf-8 \xc3 here \xe2\x82",
      "",
  };
  size_t vocab = tokenizer.getVocabSize();
  for (const char *text : texts) {
    llvm::Expected<std::vector<int32_t>> ids = tokenizer.encode(text);
    if (!ids) {
      llvm::consumeError(ids.takeError()); // a pattern over PCRE2's limits
      continue;
    }
    for (int32_t id : *ids)
      if (id < 0 || static_cast<size_t>(id) >= vocab)
        __builtin_trap();
    (void)tokenizer.decode(*ids);
  }
  (void)tokenizer.decode({-1, 0, 1, static_cast<int32_t>(vocab),
                          static_cast<int32_t>(vocab) + 7, INT32_MAX});
  (void)tokenizer.getTokenId("<|endoftext|>");
  (void)tokenizer.isSpecial(0);
  return 0;
}
