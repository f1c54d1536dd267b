#!/usr/bin/env python3
# Part of the Slim project, under the Apache License v2.0 with LLVM Exceptions.
# SPDX-License-Identifier: Apache-2.0 WITH LLVM-exception
"""onnxruntime's argmax of the last logits row for the tokens run-model.c feeds (1 2 3 4)."""
import sys

import numpy as np
import onnxruntime as ort

s = ort.InferenceSession(sys.argv[1], providers=["CPUExecutionProvider"])
ids = np.array([[1, 2, 3, 4]], np.int64)
logits = s.run(["logits"], {"input_ids": ids, "position_ids": np.arange(4, dtype=np.int64)[None]})[0]
print(f"onnxruntime argmax {int(logits[0, 3].argmax())}")
