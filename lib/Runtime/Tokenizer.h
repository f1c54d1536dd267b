//===- Tokenizer.h - Byte-level BPE tokenizer -------------------*- C++ -*-===//
//
// Part of the Slim project, under the Apache License v2.0 with LLVM Exceptions.
// SPDX-License-Identifier: Apache-2.0 WITH LLVM-exception
//
//===----------------------------------------------------------------------===//
//
// The byte-level BPE of GPT-2 and its descendants (LLaMA 3, SmolLM, Qwen...)
// read from a Hugging Face `tokenizer.json`: text -> token ids for perplexity
// and calibration, ids -> text for generation. What it implements, exactly
// as the `tokenizers` library does:
//
//  * added tokens (`added_tokens`: <|im_start|>, <|endoftext|>, ...) are
//    found in the text first and become their ids, so chat templates work;
//  * the pre-tokenizer: `ByteLevel` (its GPT-2 split pattern when
//    `use_regex`, `add_prefix_space`) or a `Sequence` of `Split` (the file's
//    own regular expression, run by PCRE2 with Unicode properties) and
//    `ByteLevel` without regex;
//  * the `BPE` model (merges by rank; `ignore_merges` as the file says).
//
// Anything else (a normalizer, other pre-tokenizers or models, byte
// fallback, dropout, added tokens with lstrip/rstrip/single_word) is refused
// when loading, naming the setting: silently different ids would make
// perplexities and calibration wrong without a sign.
//
//===----------------------------------------------------------------------===//

#ifndef SLIM_LIB_RUNTIME_TOKENIZER_H
#define SLIM_LIB_RUNTIME_TOKENIZER_H

#include "llvm/ADT/DenseMap.h"
#include "llvm/ADT/StringMap.h"
#include "llvm/ADT/StringRef.h"
#include "llvm/Support/Error.h"

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

namespace mlir::slim {

class Tokenizer {
public:
  Tokenizer();
  ~Tokenizer();
  Tokenizer(Tokenizer &&);
  Tokenizer &operator=(Tokenizer &&);

  /// Loads `path`; on failure returns false and sets `error`.
  bool load(llvm::StringRef path, std::string &error);
  /// Loads the JSON `text` of a tokenizer.json; `path` names it in errors.
  bool loadFromBuffer(llvm::StringRef text, llvm::StringRef path,
                      std::string &error);

  /// The ids of `text`; an error if the pre-tokenizer's pattern fails on it
  /// (PCRE2's match or depth limit), rather than ids of a wrong split.
  llvm::Expected<std::vector<int32_t>> encode(llvm::StringRef text) const;
  std::string decode(const std::vector<int32_t> &ids) const;
  /// One more than the largest id (vocabulary and added tokens).
  size_t getVocabSize() const { return idToToken.size(); }
  /// The id of a token such as "<|endoftext|>", or -1.
  int32_t getTokenId(llvm::StringRef token) const;
  /// Whether `id` is an added token marked `special` (end of text, chat
  /// markers).
  bool isSpecial(int32_t id) const;

private:
  /// Byte-pair merges of one pre-tokenized word (in byte-level characters).
  void bpe(const std::string &word, std::vector<int32_t> &out) const;
  /// Pre-tokenizes and merges a stretch of text without added tokens.
  llvm::Error encodeOrdinary(llvm::StringRef text,
                             std::vector<int32_t> &ids) const;

  llvm::StringMap<int32_t> vocab;
  std::vector<std::string> idToToken;
  /// Merge rank of the pair "a b" (lower merges first).
  llvm::StringMap<int32_t> mergeRanks;
  /// Byte -> UTF-8 of its byte-level character, and back.
  std::string byteToUnicode[256];
  llvm::StringMap<uint8_t> unicodeToByte;
  /// Added tokens, longest first (matched before pre-tokenization).
  struct AddedToken {
    std::string content;
    int32_t id;
    bool special;
  };
  std::vector<AddedToken> added;
  bool ignoreMerges = false;
  bool addPrefixSpace = false;
  /// The compiled split pattern (PCRE2); opaque here.
  struct Pattern;
  std::unique_ptr<Pattern> pattern;
};

} // namespace mlir::slim

#endif // SLIM_LIB_RUNTIME_TOKENIZER_H
