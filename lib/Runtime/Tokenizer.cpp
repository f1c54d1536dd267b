//===- Tokenizer.cpp - Byte-level BPE tokenizer ---------------------------===//
//
// Part of the Slim project, under the Apache License v2.0 with LLVM Exceptions.
// SPDX-License-Identifier: Apache-2.0 WITH LLVM-exception
//
//===----------------------------------------------------------------------===//

#include "lib/Runtime/Tokenizer.h"

#include "llvm/Support/ConvertUTF.h"
#include "llvm/Support/JSON.h"
#include "llvm/Support/MemoryBuffer.h"

#include <climits>
#include <cstring>

using namespace mlir::slim;

namespace {

std::string utf8(uint32_t cp) {
  std::string s;
  if (cp < 0x80) {
    s += static_cast<char>(cp);
  } else if (cp < 0x800) {
    s += static_cast<char>(0xC0 | (cp >> 6));
    s += static_cast<char>(0x80 | (cp & 0x3F));
  } else if (cp < 0x10000) {
    s += static_cast<char>(0xE0 | (cp >> 12));
    s += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
    s += static_cast<char>(0x80 | (cp & 0x3F));
  } else {
    s += static_cast<char>(0xF0 | (cp >> 18));
    s += static_cast<char>(0x80 | ((cp >> 12) & 0x3F));
    s += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
    s += static_cast<char>(0x80 | (cp & 0x3F));
  }
  return s;
}

/// Decodes one code point at `i` of UTF-8 `s`; advances `i`. Invalid bytes
/// decode as themselves (they are still tokenized byte by byte).
uint32_t nextCodePoint(llvm::StringRef s, size_t &i) {
  unsigned char c = s[i];
  int len = c < 0x80 ? 1 : (c >> 5) == 6 ? 2 : (c >> 4) == 14 ? 3 : (c >> 3) == 30 ? 4 : 1;
  if (i + len > s.size())
    len = 1;
  uint32_t cp = len == 1 ? c : len == 2 ? (c & 0x1F) : len == 3 ? (c & 0x0F) : (c & 0x07);
  for (int k = 1; k < len; ++k)
    cp = (cp << 6) | (static_cast<unsigned char>(s[i + k]) & 0x3F);
  i += len;
  return cp;
}

enum class Kind { Letter, Number, Space, Other };

/// Character classes of GPT-2's pre-tokenization pattern. ASCII is exact;
/// beyond ASCII, code points are letters unless they are common spaces or
/// punctuation (an approximation of \p{L} that fits English-centric text).
Kind classify(uint32_t cp) {
  if (cp < 0x80) {
    if ((cp >= 'a' && cp <= 'z') || (cp >= 'A' && cp <= 'Z'))
      return Kind::Letter;
    if (cp >= '0' && cp <= '9')
      return Kind::Number;
    if (cp == ' ' || cp == '\t' || cp == '\n' || cp == '\r' || cp == '\v' || cp == '\f')
      return Kind::Space;
    return Kind::Other;
  }
  if (cp == 0xA0 || cp == 0x85 || (cp >= 0x2000 && cp <= 0x200A) || cp == 0x2028 ||
      cp == 0x2029 || cp == 0x202F || cp == 0x205F || cp == 0x3000)
    return Kind::Space;
  if ((cp >= 0x2010 && cp <= 0x2027) || (cp >= 0x2030 && cp <= 0x205E) ||
      (cp >= 0xA1 && cp <= 0xBF && cp != 0xAA && cp != 0xB5 && cp != 0xBA) || cp == 0xD7 ||
      cp == 0xF7)
    return Kind::Other;
  return Kind::Letter;
}

/// GPT-2's pattern: 's|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+|
/// ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+
std::vector<std::string> preTokenize(llvm::StringRef text) {
  std::vector<uint32_t> cps;
  std::vector<size_t> starts;
  for (size_t i = 0; i < text.size();) {
    starts.push_back(i);
    cps.push_back(nextCodePoint(text, i));
  }
  starts.push_back(text.size());
  std::vector<std::string> words;
  size_t n = cps.size(), i = 0;
  auto emit = [&](size_t b, size_t e) {
    words.push_back(text.substr(starts[b], starts[e] - starts[b]).str());
  };
  while (i < n) {
    // Contractions.
    if (cps[i] == '\'' && i + 1 < n) {
      static const char *suffixes[] = {"s", "t", "re", "ve", "m", "ll", "d"};
      bool matched = false;
      for (const char *suf : suffixes) {
        size_t len = std::strlen(suf), k = 0;
        while (k < len && i + 1 + k < n && cps[i + 1 + k] == static_cast<uint32_t>(suf[k]))
          ++k;
        if (k == len) {
          emit(i, i + 1 + len);
          i += 1 + len;
          matched = true;
          break;
        }
      }
      if (matched)
        continue;
    }
    Kind k = classify(cps[i]);
    size_t j = i;
    // An optional leading space before letters, numbers or other symbols.
    if (cps[i] == ' ' && i + 1 < n && classify(cps[i + 1]) != Kind::Space) {
      k = classify(cps[i + 1]);
      j = i + 1;
    }
    if (k == Kind::Letter || k == Kind::Number || k == Kind::Other) {
      size_t e = j + 1;
      while (e < n && classify(cps[e]) == k)
        ++e;
      emit(i, e);
      i = e;
      continue;
    }
    // Whitespace: a run, leaving its last space to the next word if a
    // non-space follows (\s+(?!\S)).
    size_t e = i;
    while (e < n && classify(cps[e]) == Kind::Space)
      ++e;
    if (e < n && e - i > 1)
      --e;
    emit(i, e);
    i = e;
  }
  return words;
}

} // namespace

bool Tokenizer::load(llvm::StringRef path, std::string &error) {
  auto buffer = llvm::MemoryBuffer::getFile(path);
  if (!buffer) {
    error = "cannot read " + path.str() + ": " + buffer.getError().message();
    return false;
  }
  llvm::Expected<llvm::json::Value> json = llvm::json::parse((*buffer)->getBuffer());
  if (!json) {
    error = path.str() + ": " + llvm::toString(json.takeError());
    return false;
  }
  const llvm::json::Object *root = json->getAsObject();
  const llvm::json::Object *model = root ? root->getObject("model") : nullptr;
  if (!model || model->getString("type") != "BPE") {
    error = path.str() + ": expected a tokenizer.json with a BPE model";
    return false;
  }
  const llvm::json::Object *v = model->getObject("vocab");
  const llvm::json::Array *merges = model->getArray("merges");
  if (!v || !merges) {
    error = path.str() + ": the BPE model has no vocab or merges";
    return false;
  }
  for (const auto &kv : *v) {
    std::optional<int64_t> id = kv.second.getAsInteger();
    if (!id || *id < 0 || *id > INT32_MAX) {
      error = path.str() + ": bad id for token '" + kv.first.str() + "'";
      return false;
    }
    vocab[kv.first.str()] = static_cast<int32_t>(*id);
    if (static_cast<size_t>(*id) >= idToToken.size())
      idToToken.resize(*id + 1);
    idToToken[*id] = kv.first.str();
  }
  if (const llvm::json::Array *added = root->getArray("added_tokens")) {
    for (const llvm::json::Value &t : *added) {
      const llvm::json::Object *o = t.getAsObject();
      if (!o)
        continue;
      std::optional<llvm::StringRef> content = o->getString("content");
      std::optional<int64_t> id = o->getInteger("id");
      if (content && id && *id >= 0) {
        vocab[*content] = static_cast<int32_t>(*id);
        if (static_cast<size_t>(*id) >= idToToken.size())
          idToToken.resize(*id + 1);
        idToToken[*id] = content->str();
      }
    }
  }
  int32_t rank = 0;
  for (const llvm::json::Value &m : *merges) {
    // "a b" (older files) or ["a", "b"] (newer ones).
    std::string key;
    if (std::optional<llvm::StringRef> s = m.getAsString()) {
      key = s->str();
    } else if (const llvm::json::Array *pair = m.getAsArray();
               pair && pair->size() == 2 && (*pair)[0].getAsString() &&
               (*pair)[1].getAsString()) {
      key = (*(*pair)[0].getAsString() + " " + *(*pair)[1].getAsString()).str();
    } else {
      error = path.str() + ": malformed merge #" + std::to_string(rank);
      return false;
    }
    mergeRanks.try_emplace(key, rank++);
  }
  // GPT-2's reversible byte -> printable character map.
  int extra = 0;
  for (int b = 0; b < 256; ++b) {
    bool printable = (b >= '!' && b <= '~') || (b >= 0xA1 && b <= 0xAC) || (b >= 0xAE && b <= 0xFF);
    uint32_t cp = printable ? b : 256 + extra++;
    byteToUnicode[b] = utf8(cp);
    unicodeToByte[byteToUnicode[b]] = static_cast<uint8_t>(b);
  }
  return true;
}

int32_t Tokenizer::getTokenId(llvm::StringRef token) const {
  auto it = vocab.find(token);
  return it == vocab.end() ? -1 : it->second;
}

void Tokenizer::bpe(const std::string &word, std::vector<int32_t> &out) const {
  if (auto it = vocab.find(word); it != vocab.end()) {
    out.push_back(it->second);
    return;
  }
  // Symbols: the byte-level characters of the word.
  std::vector<std::string> parts;
  for (size_t i = 0; i < word.size();) {
    size_t start = i;
    nextCodePoint(word, i);
    parts.push_back(word.substr(start, i - start));
  }
  while (parts.size() > 1) {
    int32_t best = INT32_MAX;
    size_t at = 0;
    for (size_t i = 0; i + 1 < parts.size(); ++i) {
      auto it = mergeRanks.find(parts[i] + " " + parts[i + 1]);
      if (it != mergeRanks.end() && it->second < best) {
        best = it->second;
        at = i;
      }
    }
    if (best == INT32_MAX)
      break;
    // Merge every occurrence of the best pair, left to right.
    std::string a = parts[at], b = parts[at + 1];
    std::vector<std::string> merged;
    for (size_t i = 0; i < parts.size();) {
      if (i + 1 < parts.size() && parts[i] == a && parts[i + 1] == b) {
        merged.push_back(a + b);
        i += 2;
      } else {
        merged.push_back(parts[i++]);
      }
    }
    parts = std::move(merged);
  }
  for (const std::string &p : parts) {
    auto it = vocab.find(p);
    if (it != vocab.end())
      out.push_back(it->second);
  }
}

std::vector<int32_t> Tokenizer::encode(llvm::StringRef text) const {
  std::vector<int32_t> ids;
  for (const std::string &word : preTokenize(text)) {
    std::string mapped;
    for (unsigned char c : word)
      mapped += byteToUnicode[c];
    bpe(mapped, ids);
  }
  return ids;
}

std::string Tokenizer::decode(const std::vector<int32_t> &ids) const {
  std::string bytes;
  for (int32_t id : ids) {
    if (id < 0 || static_cast<size_t>(id) >= idToToken.size())
      continue;
    const std::string &token = idToToken[id];
    for (size_t i = 0; i < token.size();) {
      size_t start = i;
      nextCodePoint(token, i);
      auto it = unicodeToByte.find(token.substr(start, i - start));
      if (it != unicodeToByte.end())
        bytes += static_cast<char>(it->second);
      else
        bytes += token.substr(start, i - start); // added tokens are plain text
    }
  }
  return bytes;
}
