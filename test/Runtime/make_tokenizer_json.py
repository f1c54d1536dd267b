#!/usr/bin/env python3
# Part of the Slim project, under the Apache License v2.0 with LLVM Exceptions.
# SPDX-License-Identifier: Apache-2.0 WITH LLVM-exception
"""Builds a Hugging Face tokenizer.json for GPT-2 from encoder.json and
vocab.bpe with the `tokenizers` library (the format and oracle slim-run's C++
tokenizer is tested against)."""
import sys

from tokenizers import Tokenizer, decoders, models, pre_tokenizers

encoder, merges, out = sys.argv[1:4]
tok = Tokenizer(models.BPE.from_file(encoder, merges))
tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
tok.decoder = decoders.ByteLevel()
tok.save(out)
