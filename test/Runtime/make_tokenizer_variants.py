#!/usr/bin/env python3
# Part of the Slim project, under the Apache License v2.0 with LLVM Exceptions.
# SPDX-License-Identifier: Apache-2.0 WITH LLVM-exception
"""Variants of a GPT-2 tokenizer.json for the tokenizer tests, each loadable by
Hugging Face `tokenizers` (the oracle):

  chat.json       + added special tokens <|im_start|>, <|im_end|> (chat templates)
  llama3.json     a Sequence pre-tokenizer: LLaMA 3's Split regex, then ByteLevel
                  without regex; ignore_merges (as LLaMA 3's file has it)
  prefix.json     ByteLevel with add_prefix_space
and files Slim must refuse:
  nfc.json        an NFC normalizer
  metaspace.json  a Metaspace pre-tokenizer (SentencePiece-style)
  fallback.json   BPE byte_fallback
  lstrip.json     an added token with lstrip

    make_tokenizer_variants.py GPT2_TOKENIZER_JSON OUT_DIR
"""
import copy
import json
import os
import sys

from tokenizers import AddedToken, Tokenizer

LLAMA3 = (r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*"
          r"|\s*[\r\n]+|\s+(?!\S)|\s+")


def main():
    src, out = sys.argv[1], sys.argv[2]
    os.makedirs(out, exist_ok=True)
    base = json.load(open(src))

    def save(name, j, check=True):
        path = os.path.join(out, name)
        with open(path, "w") as f:
            json.dump(j, f)
        if check:
            Tokenizer.from_file(path)  # the oracle must accept it

    tok = Tokenizer.from_file(src)
    tok.add_special_tokens([AddedToken("<|im_start|>", special=True, normalized=False),
                            AddedToken("<|im_end|>", special=True, normalized=False)])
    tok.save(os.path.join(out, "chat.json"))
    chat = json.load(open(os.path.join(out, "chat.json")))

    llama3 = copy.deepcopy(chat)
    llama3["pre_tokenizer"] = {"type": "Sequence", "pretokenizers": [
        {"type": "Split", "pattern": {"Regex": LLAMA3}, "behavior": "Isolated", "invert": False},
        {"type": "ByteLevel", "add_prefix_space": False, "trim_offsets": True, "use_regex": False}]}
    llama3["model"]["ignore_merges"] = True
    save("llama3.json", llama3)

    prefix = copy.deepcopy(base)
    prefix["pre_tokenizer"]["add_prefix_space"] = True
    save("prefix.json", prefix)

    nfc = copy.deepcopy(base)
    nfc["normalizer"] = {"type": "NFC"}
    save("nfc.json", nfc)
    meta = copy.deepcopy(base)
    meta["pre_tokenizer"] = {"type": "Metaspace", "replacement": "\u2581", "prepend_scheme": "always",
                             "split": True}
    save("metaspace.json", meta)
    fallback = copy.deepcopy(base)
    fallback["model"]["byte_fallback"] = True
    save("fallback.json", fallback)
    lstrip = copy.deepcopy(chat)
    lstrip["added_tokens"][-1]["lstrip"] = True
    save("lstrip.json", lstrip)
    return 0


if __name__ == "__main__":
    sys.exit(main())
