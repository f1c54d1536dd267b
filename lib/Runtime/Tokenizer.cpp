//===- Tokenizer.cpp - Byte-level BPE tokenizer ---------------------------===//
//
// Part of the Slim project, under the Apache License v2.0 with LLVM Exceptions.
// SPDX-License-Identifier: Apache-2.0 WITH LLVM-exception
//
//===----------------------------------------------------------------------===//

#include "lib/Runtime/Tokenizer.h"

#include "lib/Support/Files.h"

#include "llvm/Support/ConvertUTF.h"
#include "llvm/Support/JSON.h"
#include "llvm/Support/MemoryBuffer.h"

#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>

#include <algorithm>
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
  int len = c < 0x80         ? 1
            : (c >> 5) == 6  ? 2
            : (c >> 4) == 14 ? 3
            : (c >> 3) == 30 ? 4
                             : 1;
  if (i + len > s.size())
    len = 1;
  uint32_t cp = len == 1   ? c
                : len == 2 ? (c & 0x1F)
                : len == 3 ? (c & 0x0F)
                           : (c & 0x07);
  for (int k = 1; k < len; ++k)
    cp = (cp << 6) | (static_cast<unsigned char>(s[i + k]) & 0x3F);
  i += len;
  return cp;
}

/// The split pattern of GPT-2's ByteLevel pre-tokenizer (`use_regex`).
constexpr const char *kGpt2Pattern =
    "'s|'t|'re|'ve|'m|'ll|'d| ?\\p{L}+| ?\\p{N}+| ?[^\\s\\p{L}\\p{N}]+|"
    "\\s+(?!\\S)|\\s+";

} // namespace

struct Tokenizer::Pattern {
  pcre2_code *code = nullptr;
  ~Pattern() { pcre2_code_free(code); }
};

Tokenizer::Tokenizer() = default;
Tokenizer::~Tokenizer() = default;
Tokenizer::Tokenizer(Tokenizer &&) = default;
Tokenizer &Tokenizer::operator=(Tokenizer &&) = default;

/// Ids index a table of token strings: a file naming id 2^31 must not make
/// it 64 GB. The largest vocabularies in use have about 2^18 tokens.
static constexpr int64_t kMaxTokenId = int64_t(1) << 22;

bool Tokenizer::load(llvm::StringRef path, std::string &error) {
  auto buffer = mlir::slim::readRegularFile(path);
  if (!buffer) {
    error =
        "cannot read " + path.str() + ": " + llvm::toString(buffer.takeError());
    return false;
  }
  return loadFromBuffer((*buffer)->getBuffer(), path, error);
}

bool Tokenizer::loadFromBuffer(llvm::StringRef text, llvm::StringRef path,
                               std::string &error) {
  llvm::Expected<llvm::json::Value> json = llvm::json::parse(text);
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
  auto unsupported = [&](const llvm::Twine &what) {
    error = (path + ": unsupported tokenizer setting: " + what +
             " (Slim implements byte-level BPE: no normalizer, a ByteLevel "
             "pre-tokenizer or a Split regex then ByteLevel)")
                .str();
    return false;
  };
  // Settings that would change the ids if ignored.
  auto isNullOr = [&](const llvm::json::Object *o, llvm::StringRef key,
                      auto ok) {
    const llvm::json::Value *v = o->get(key);
    return !v || v->kind() == llvm::json::Value::Null || ok(*v);
  };
  auto falsy = [](const llvm::json::Value &v) {
    return v.getAsBoolean() == std::optional<bool>(false);
  };
  auto emptyString = [](const llvm::json::Value &v) {
    return v.getAsString() && v.getAsString()->empty();
  };
  if (!isNullOr(root, "normalizer",
                [](const llvm::json::Value &) { return false; }))
    return unsupported("a normalizer");
  if (!isNullOr(model, "dropout",
                [](const llvm::json::Value &) { return false; }))
    return unsupported("BPE dropout");
  if (!isNullOr(model, "byte_fallback", falsy))
    return unsupported("BPE byte_fallback");
  if (!isNullOr(model, "fuse_unk", falsy))
    return unsupported("BPE fuse_unk");
  if (!isNullOr(model, "continuing_subword_prefix", emptyString) ||
      !isNullOr(model, "end_of_word_suffix", emptyString))
    return unsupported("a BPE subword prefix or suffix");
  ignoreMerges = model->getBoolean("ignore_merges").value_or(false);
  if (const llvm::json::Object *decoder = root->getObject("decoder"))
    if (decoder->getString("type") != "ByteLevel")
      return unsupported("decoder '" +
                         decoder->getString("type").value_or("?") + "'");

  // The pre-tokenizer: ByteLevel (with the GPT-2 pattern when use_regex),
  // or Split(regex, Isolated) then ByteLevel without regex.
  std::string regex;
  bool literal = false;
  auto byteLevel = [&](const llvm::json::Object &o, bool last) {
    addPrefixSpace = o.getBoolean("add_prefix_space").value_or(true);
    bool useRegex = o.getBoolean("use_regex").value_or(true);
    if (useRegex && regex.empty())
      regex = kGpt2Pattern;
    else if (useRegex)
      return unsupported("a ByteLevel pre-tokenizer with use_regex after a "
                         "Split");
    return last || unsupported("pre-tokenizers after ByteLevel");
  };
  const llvm::json::Object *pre = root->getObject("pre_tokenizer");
  if (!pre)
    return unsupported("no pre-tokenizer");
  std::vector<const llvm::json::Object *> steps;
  if (pre->getString("type") == "Sequence") {
    const llvm::json::Array *list = pre->getArray("pretokenizers");
    if (!list)
      return unsupported("a Sequence pre-tokenizer without pretokenizers");
    for (const llvm::json::Value &v : *list)
      if (const llvm::json::Object *o = v.getAsObject())
        steps.push_back(o);
  } else {
    steps.push_back(pre);
  }
  bool sawByteLevel = false;
  for (size_t i = 0; i < steps.size(); ++i) {
    const llvm::json::Object &o = *steps[i];
    llvm::StringRef type = o.getString("type").value_or("");
    if (type == "ByteLevel") {
      if (!byteLevel(o, i + 1 == steps.size()))
        return false;
      sawByteLevel = true;
    } else if (type == "Split" && regex.empty() && !sawByteLevel) {
      const llvm::json::Object *p = o.getObject("pattern");
      std::optional<llvm::StringRef> r =
          p ? p->getString("Regex") : std::nullopt;
      std::optional<llvm::StringRef> lit =
          p ? p->getString("String") : std::nullopt;
      if ((!r && !lit) || o.getString("behavior") != "Isolated" ||
          o.getBoolean("invert").value_or(false))
        return unsupported("a Split pre-tokenizer other than an Isolated, "
                           "non-inverted pattern");
      regex = r ? r->str() : lit->str();
      literal = !r;
    } else {
      return unsupported("pre-tokenizer '" + type + "'" +
                         (type == "Split" ? " in this position" : ""));
    }
  }
  if (!sawByteLevel)
    return unsupported("a pre-tokenizer sequence without ByteLevel");
  if (!regex.empty()) {
    int code;
    PCRE2_SIZE offset;
    pattern = std::make_unique<Pattern>();
    pattern->code =
        pcre2_compile(reinterpret_cast<PCRE2_SPTR>(regex.data()), regex.size(),
                      PCRE2_UTF | PCRE2_UCP | PCRE2_MATCH_INVALID_UTF |
                          (literal ? PCRE2_LITERAL : 0),
                      &code, &offset, nullptr);
    if (!pattern->code) {
      PCRE2_UCHAR message[256];
      pcre2_get_error_message(code, message, sizeof message);
      error = path.str() +
              ": the pre-tokenizer's pattern does not compile at "
              "offset " +
              std::to_string(offset) + ": " +
              reinterpret_cast<const char *>(message);
      return false;
    }
    pcre2_jit_compile(pattern->code, PCRE2_JIT_COMPLETE); // optional speed
  }
  const llvm::json::Object *v = model->getObject("vocab");
  const llvm::json::Array *merges = model->getArray("merges");
  if (!v || !merges) {
    error = path.str() + ": the BPE model has no vocab or merges";
    return false;
  }
  for (const auto &kv : *v) {
    std::optional<int64_t> id = kv.second.getAsInteger();
    if (!id || *id < 0 || *id >= kMaxTokenId) {
      error = path.str() + ": bad id for token '" + kv.first.str() +
              "' (expected 0 to " + std::to_string(kMaxTokenId - 1) + ")";
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
      if (!content || content->empty() || !id || *id < 0 ||
          *id >= kMaxTokenId) {
        error = path.str() +
                ": malformed added token (a non-empty content "
                "and an id from 0 to " +
                std::to_string(kMaxTokenId - 1) + " expected)";
        return false;
      }
      for (llvm::StringRef option : {"lstrip", "rstrip", "single_word"})
        if (o->getBoolean(option).value_or(false))
          return unsupported("added token '" + *content + "' with " + option);
      vocab[*content] = static_cast<int32_t>(*id);
      if (static_cast<size_t>(*id) >= idToToken.size())
        idToToken.resize(*id + 1);
      idToToken[*id] = content->str();
      this->added.push_back({content->str(), static_cast<int32_t>(*id),
                             o->getBoolean("special").value_or(false)});
    }
  }
  // Longest first: "<|im_start|>" before a shorter token it starts with.
  std::stable_sort(added.begin(), added.end(),
                   [](const AddedToken &a, const AddedToken &b) {
                     return a.content.size() > b.content.size();
                   });
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
    bool printable = (b >= '!' && b <= '~') || (b >= 0xA1 && b <= 0xAC) ||
                     (b >= 0xAE && b <= 0xFF);
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

bool Tokenizer::isSpecial(int32_t id) const {
  return llvm::any_of(
      added, [&](const AddedToken &t) { return t.id == id && t.special; });
}

void Tokenizer::bpe(const std::string &word, std::vector<int32_t> &out) const {
  // `ignore_merges`: a word in the vocabulary is its token (LLaMA 3);
  // otherwise the merges decide, as GPT-2 does.
  if (ignoreMerges) {
    if (auto it = vocab.find(word); it != vocab.end()) {
      out.push_back(it->second);
      return;
    }
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

llvm::Error Tokenizer::encodeOrdinary(llvm::StringRef text,
                                      std::vector<int32_t> &ids) const {
  if (text.empty())
    return llvm::Error::success();
  std::string prefixed;
  if (addPrefixSpace && !text.starts_with(" ")) {
    prefixed = " " + text.str();
    text = prefixed;
  }
  auto emit = [&](llvm::StringRef word) {
    if (word.empty())
      return;
    std::string mapped;
    for (unsigned char c : word)
      mapped += byteToUnicode[c];
    bpe(mapped, ids);
  };
  if (!pattern) {
    emit(text);
    return llvm::Error::success();
  }
  // Isolated split: every match is a word, and so is the text between
  // matches (bytes of invalid UTF-8 never match and land there).
  pcre2_match_data *match =
      pcre2_match_data_create_from_pattern(pattern->code, nullptr);
  auto subject = reinterpret_cast<PCRE2_SPTR>(text.data());
  size_t at = 0, gap = 0;
  while (at <= text.size()) {
    int rc =
        pcre2_match(pattern->code, subject, text.size(), at, 0, match, nullptr);
    if (rc == PCRE2_ERROR_NOMATCH)
      break;
    if (rc < 0) {
      PCRE2_UCHAR message[256];
      pcre2_get_error_message(rc, message, sizeof message);
      pcre2_match_data_free(match);
      return llvm::createStringError(
          "the tokenizer's pre-tokenizer pattern failed on the text at byte " +
          std::to_string(at) + ": " + reinterpret_cast<const char *>(message));
    }
    PCRE2_SIZE *ovector = pcre2_get_ovector_pointer(match);
    size_t begin = ovector[0], end = ovector[1];
    if (end == begin) {
      // An empty match: step over one character.
      at = begin + 1;
      while (at < text.size() &&
             (static_cast<unsigned char>(text[at]) & 0xC0) == 0x80)
        ++at;
      continue;
    }
    emit(text.slice(gap, begin));
    emit(text.slice(begin, end));
    gap = at = end;
  }
  emit(text.substr(gap));
  pcre2_match_data_free(match);
  return llvm::Error::success();
}

llvm::Expected<std::vector<int32_t>>
Tokenizer::encode(llvm::StringRef text) const {
  // Added tokens first: the text between them is encoded on its own.
  std::vector<int32_t> ids;
  size_t start = 0;
  for (size_t i = 0; i < text.size();) {
    const AddedToken *hit = nullptr;
    if (!added.empty())
      for (const AddedToken &t : added)
        if (text.substr(i).starts_with(t.content)) {
          hit = &t;
          break;
        }
    if (!hit) {
      ++i;
      continue;
    }
    if (llvm::Error e = encodeOrdinary(text.slice(start, i), ids))
      return std::move(e);
    ids.push_back(hit->id);
    i += hit->content.size();
    start = i;
  }
  if (llvm::Error e = encodeOrdinary(text.substr(start), ids))
    return std::move(e);
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
