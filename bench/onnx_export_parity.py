#!/usr/bin/env python3
# Part of the Slim project, under the Apache License v2.0 with LLVM Exceptions.
# SPDX-License-Identifier: Apache-2.0 WITH LLVM-exception
"""A model exported by `slimc --emit-onnx` against the same recipe compiled by slimc, on the real
SmolLM2-135M decoder: logits of one prompt run by onnxruntime and by slim-run, their relative
difference, argmax agreement and the perplexity of the prompt under each.

  build/bin/slimc models/smollm2-135m-decode.onnx -o /tmp/q4 --emit-onnx /tmp/q4.onnx \\
      --quantize="method=rtn bits=4 group-size=128 ragged-groups=1 symmetric=1 embeddings=int8"
  .venv/bin/python bench/onnx_export_parity.py /tmp/q4.onnx /tmp/q4
"""

import argparse
import os
import subprocess
import tempfile
import time

import numpy as np
import onnx
import onnxruntime as ort
from onnx import numpy_helper
from tokenizers import Tokenizer

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def main():
    p = argparse.ArgumentParser()
    p.add_argument("onnx")
    p.add_argument("slim_dir")
    p.add_argument("--tokenizer", default=os.path.join(ROOT, "models", "tokenizer.json"))
    p.add_argument("--text", default=os.path.join(ROOT, "data", "text", "sotu-heldout-1990-1997.txt"))
    p.add_argument("--tokens", type=int, default=128)
    p.add_argument("--slim-run", default=os.path.join(ROOT, "build", "bin", "slim-run"))
    a = p.parse_args()
    tok = Tokenizer.from_file(a.tokenizer)
    ids = np.array([tok.encode(open(a.text, encoding="utf-8").read()[:20000]).ids[:a.tokens]], np.int64)
    n = ids.shape[1]
    o = ort.SessionOptions()
    o.log_severity_level = 3
    o.intra_op_num_threads = 2
    t = time.time()
    session = ort.InferenceSession(a.onnx, o, providers=["CPUExecutionProvider"])
    load = time.time() - t
    feeds = {"input_ids": ids, "position_ids": np.arange(n, dtype=np.int64)[None]}
    for i in session.get_inputs():
        if i.name.startswith("past_key_values"):
            shape = [1 if d == "batch" else 0 if isinstance(d, str) else d for d in i.shape]
            feeds[i.name] = np.zeros(shape, np.float32)
    got = session.run(["logits"], feeds)[0]
    with tempfile.TemporaryDirectory() as tmp:
        for k, i in enumerate(session.get_inputs()):
            with open(os.path.join(tmp, f"input_{k}.pb"), "wb") as f:
                f.write(numpy_helper.from_array(feeds[i.name], i.name).SerializeToString())
        subprocess.run([a.slim_run, a.slim_dir, "--test-data", tmp, "--save-outputs", tmp + "/out"],
                       check=True, capture_output=True)
        want = numpy_helper.to_array(onnx.load_tensor(os.path.join(tmp, "out", "output_0.pb")))

    def ppl(logits):
        lg = logits[0, :-1].astype(np.float64)
        lg -= lg.max(-1, keepdims=True)
        lp = lg - np.log(np.exp(lg).sum(-1, keepdims=True))
        return float(np.exp(-lp[np.arange(n - 1), ids[0, 1:]].mean()))

    err = np.linalg.norm(got - want) / np.linalg.norm(want)
    agree = float(np.mean(got.argmax(-1) == want.argmax(-1)))
    print(f"{os.path.basename(a.onnx)}: {n} tokens; onnxruntime session {load:.2f} s; logits rel diff "
          f"onnxruntime vs Slim {err:.2e}; argmax agreement {agree:.4f}; perplexity onnxruntime "
          f"{ppl(got):.3f}, Slim {ppl(want):.3f}")


if __name__ == "__main__":
    main()
