#!/usr/bin/env python3
# Part of the Slim project, under the Apache License v2.0 with LLVM Exceptions.
# SPDX-License-Identifier: Apache-2.0 WITH LLVM-exception
"""What slim-run --encode-file, --perplexity and --generate must print,
computed with `tokenizers` and onnxruntime (graph optimizations off).

  lm_oracle.py encode TOKENIZER FILE
  lm_oracle.py perplexity MODEL TOKENIZER FILE CONTEXT STRIDE
  lm_oracle.py generate MODEL TOKENIZER PROMPT N
"""
import math
import sys

import numpy as np
import onnxruntime as ort
from tokenizers import Tokenizer


def session(path):
    so = ort.SessionOptions()
    so.graph_optimization_level = ort.GraphOptimizationLevel.ORT_DISABLE_ALL
    return ort.InferenceSession(path, so, providers=["CPUExecutionProvider"])


def logits_of(sess, ids):
    feeds = {}
    for i in sess.get_inputs():
        if i.name == "input_ids":
            feeds[i.name] = np.array([ids], np.int64)
        elif i.name == "position_ids":
            feeds[i.name] = np.arange(len(ids), dtype=np.int64)[None]
        elif i.name.startswith("past_key_values."):
            feeds[i.name] = np.zeros((1, i.shape[1], 0, i.shape[3]), np.float32)
    return sess.run(["logits"], feeds)[0][0].astype(np.float64)


def main():
    mode = sys.argv[1]
    if mode == "encode":
        tok = Tokenizer.from_file(sys.argv[2])
        print(" ".join(str(i) for i in tok.encode(open(sys.argv[3], encoding="utf-8").read()).ids))
        return 0
    sess = session(sys.argv[2])
    tok = Tokenizer.from_file(sys.argv[3])
    if mode == "perplexity":
        ids = tok.encode(open(sys.argv[4], encoding="utf-8").read()).ids
        context, stride = int(sys.argv[5]), int(sys.argv[6])
        nll, count, prev_end = 0.0, 0, 0
        for begin in range(0, len(ids), stride):
            end = min(begin + context, len(ids))
            lg = logits_of(sess, ids[begin:end])
            for target in range(max(prev_end, begin + 1), end):
                row = lg[target - begin - 1]
                m = row.max()
                nll -= row[ids[target]] - m - math.log(np.exp(row - m).sum())
                count += 1
            prev_end = end
            if end == len(ids):
                break
        print(f"perplexity {math.exp(nll / count):.6f} tokens {count}")
        return 0
    ids = tok.encode(sys.argv[4]).ids
    out = []
    for _ in range(int(sys.argv[5])):
        nxt = int(np.argmax(logits_of(sess, ids)[-1]))
        out.append(nxt)
        ids.append(nxt)
    print("ids: " + " ".join(str(i) for i in out))
    return 0


if __name__ == "__main__":
    sys.exit(main())
