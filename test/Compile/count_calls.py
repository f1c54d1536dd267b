#!/usr/bin/env python3
# Part of the Slim project, under the Apache License v2.0 with LLVM Exceptions.
# SPDX-License-Identifier: Apache-2.0 WITH LLVM-exception
"""Counts the call sites of functions whose names contain PREFIX in two LLVM IR files and says
whether the first has fewer (and at least one).

    count_calls.py A.ll B.ll PREFIX
"""
import re
import sys


def calls(path, prefix):
    pattern = re.compile(r"\bcall void @[A-Za-z_0-9]*" + re.escape(prefix))
    return len(pattern.findall(open(path).read()))


a, b = calls(sys.argv[1], sys.argv[3]), calls(sys.argv[2], sys.argv[3])
print(f"{sys.argv[3]} calls: {a} against {b}")
print(f"fewer calls: {0 < a < b}")
