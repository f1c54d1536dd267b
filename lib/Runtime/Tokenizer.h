//===- Tokenizer.h - Byte-level BPE tokenizer -------------------*- C++ -*-===//
//
// Part of the Slim project, under the Apache License v2.0 with LLVM Exceptions.
// SPDX-License-Identifier: Apache-2.0 WITH LLVM-exception
//
//===----------------------------------------------------------------------===//
//
// The byte-level BPE of GPT-2 and its descendants (LLaMA 3, SmolLM, Qwen...)
// read from a Hugging Face `tokenizer.json` (model.type "BPE", a ByteLevel
// pre-tokenizer/decoder): text -> token ids for perplexity, ids -> text for
// generation.
//
//===----------------------------------------------------------------------===//

#ifndef SLIM_LIB_RUNTIME_TOKENIZER_H
#define SLIM_LIB_RUNTIME_TOKENIZER_H

#include "llvm/ADT/DenseMap.h"
#include "llvm/ADT/StringMap.h"
#include "llvm/ADT/StringRef.h"

#include <cstdint>
#include <string>
#include <vector>

namespace mlir::slim {

class Tokenizer {
public:
  /// Loads `path`; on failure returns false and sets `error`.
  bool load(llvm::StringRef path, std::string &error);

  std::vector<int32_t> encode(llvm::StringRef text) const;
  std::string decode(const std::vector<int32_t> &ids) const;
  size_t getVocabSize() const { return idToToken.size(); }
  /// The id of a token such as "<|endoftext|>", or -1.
  int32_t getTokenId(llvm::StringRef token) const;

private:
  /// Byte-pair merges of one pre-tokenized word (in byte-level characters).
  void bpe(const std::string &word, std::vector<int32_t> &out) const;

  llvm::StringMap<int32_t> vocab;
  std::vector<std::string> idToToken;
  /// Merge rank of the pair "a b" (lower merges first).
  llvm::StringMap<int32_t> mergeRanks;
  /// Byte -> UTF-8 of its byte-level character, and back.
  std::string byteToUnicode[256];
  llvm::StringMap<uint8_t> unicodeToByte;
};

} // namespace mlir::slim

#endif // SLIM_LIB_RUNTIME_TOKENIZER_H
