#!/usr/bin/env python3
# Part of the Slim project, under the Apache License v2.0 with LLVM Exceptions.
# SPDX-License-Identifier: Apache-2.0 WITH LLVM-exception
"""Writes test-data directories with inputs a compiled LLaMA decode graph must
reject: DIR/<case>/input_K.pb for the cases below."""
import os
import sys

import numpy as np
import onnx
from onnx import numpy_helper


def write(d, arrays):
    os.makedirs(d, exist_ok=True)
    for k, a in enumerate(arrays):
        onnx.save_tensor(numpy_helper.from_array(a), os.path.join(d, f"input_{k}.pb"))


def main():
    out = sys.argv[1]
    ids = np.zeros((2, 3), np.int64)
    pos = np.zeros((2, 3), np.int64)
    cache = [np.zeros((2, 2, 4, 16), np.float32)] * 4
    write(os.path.join(out, "dtype"), [ids.astype(np.float32), pos] + cache)
    write(os.path.join(out, "rank"), [ids[0], pos] + cache)
    write(os.path.join(out, "static_dim"), [ids, pos] + [np.zeros((2, 3, 4, 16), np.float32)] * 4)
    write(os.path.join(out, "symbolic_dim"), [ids, np.zeros((3, 3), np.int64)] + cache)
    # Values the compiled code checks (vocabulary 256, 128 positions).
    write(os.path.join(out, "token_range"), [np.array([[1, 2, 256], [0, 0, 0]], np.int64), pos] + cache)
    write(os.path.join(out, "token_negative"), [np.array([[1, -300, 2], [0, 0, 0]], np.int64), pos] + cache)
    write(os.path.join(out, "token_wraps"), [np.array([[1, -1, 2], [0, -256, 0]], np.int64), pos] + cache)
    write(os.path.join(out, "position_range"), [ids, np.array([[0, 1, 2], [3, 4, 1 << 40]], np.int64)] + cache)
    return 0


if __name__ == "__main__":
    sys.exit(main())
