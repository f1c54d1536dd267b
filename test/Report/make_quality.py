#!/usr/bin/env python3
# Part of the Slim project, under the Apache License v2.0 with LLVM Exceptions.
# SPDX-License-Identifier: Apache-2.0 WITH LLVM-exception
"""A small results.json in bench/quality.py's format (four rows, two tools)."""
import json
import sys

rows = [{"name": "fp32", "tool": "slim", "bytes": 538584320, "sotu": [26.17, 4088]},
        {"name": "gptq W4 g32", "tool": "slim", "bytes": 176900000, "sotu": [28.23, 4088]},
        {"name": "Q4_0", "tool": "llama.cpp", "bytes": 89900000, "sotu": [31.08, 4088]},
        {"name": "rtn W3 g128", "tool": "slim", "bytes": 156400000, "sotu": [51.9, 4088]}]
json.dump({"meta": {"heldout": {"sotu": "test"}}, "rows": rows}, open(sys.argv[1], "w"))
