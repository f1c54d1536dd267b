#!/usr/bin/env python3
# Part of the Slim project, under the Apache License v2.0 with LLVM Exceptions.
# SPDX-License-Identifier: Apache-2.0 WITH LLVM-exception
"""End to end: `--slim-quantize embeddings=int8|int6|int4` on a tiny LLaMA whose LM head is tied to the
embedding table (as SmolLM2's): the gather and the LM head read one quantized table.

For each format, the compiled model's logits for a 1-token and a 20-token prompt against
onnxruntime running the same graph with the table replaced by an independent numpy RTN of it
(symmetric, f16 scales, round half to even; int8 one scale per row, int6 and int4 groups of 32),
through the quantized kernels (f32 and int8 activations) and through the reference lowering. Also: the report's entry, the weights
file shrinking by the table's fp32 bytes less its codes and scales, the rotary caches (gathered
too) left dense, and a bad embedding-tables pattern refused.

Usage: embedding_quant.py --work DIR [--slimc PATH] [--slim-run PATH]
"""

import argparse
import json
import os
import subprocess
import sys

import numpy as np
import onnx
import onnxruntime as ort
from onnx import numpy_helper

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "models"))
TOOLS = {}
VOCAB, HIDDEN = 1024, 64


def sh(*cmd, ok=True):
    cmd = (TOOLS.get(cmd[0], cmd[0]),) + cmd[1:]
    r = subprocess.run(cmd, text=True, capture_output=True)
    if ok and r.returncode != 0:
        sys.exit(f"FAILED: {' '.join(cmd)}\n{r.stdout}\n{r.stderr}")
    return r


def rtn_symmetric(w, bits, group):
    """numpy RTN of a [V, H] table as slim-quantize does it (symmetric: the largest-magnitude
    value of each group lands on code -2^(bits-1); f16 scales)."""
    v, h = w.shape
    group = group or h
    lo, hi = -(1 << (bits - 1)), (1 << (bits - 1)) - 1
    out = np.empty_like(w)
    for g0 in range(0, h, group):
        blk = w[:, g0:g0 + group].astype(np.float32)
        extreme = blk[np.arange(v), np.abs(blk).argmax(1)].astype(np.float64)
        scale = (extreme / -float(1 << (bits - 1))).astype(np.float32)
        scale[scale == 0] = 1
        scale = scale.astype(np.float16).astype(np.float32)
        q = np.clip(np.round(blk / scale[:, None]), lo, hi)
        out[:, g0:g0 + group] = q * scale[:, None]
    return out


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--work", required=True)
    p.add_argument("--slimc", default="slimc")
    p.add_argument("--slim-run", default="slim-run")
    a = p.parse_args()
    TOOLS.update({"slimc": a.slimc, "slim-run": a.slim_run})
    os.makedirs(a.work, exist_ok=True)
    w = lambda *n: os.path.join(a.work, *n)
    import llm_graphs

    model = llm_graphs.build("llama", "prefill", 2, HIDDEN, 4, 2, 192, VOCAB, 256, False, 7,
                             tied_embeddings=True)
    onnx.save(model, w("lm.onnx"))
    table_name = "model.embed_tokens.weight"
    table = next(numpy_helper.to_array(i) for i in model.graph.initializer if i.name == table_name)
    rng = np.random.default_rng(3)
    prompts = {"one": rng.integers(0, VOCAB, (1, 1)), "twenty": rng.integers(0, VOCAB, (1, 20))}

    sh("slimc", w("lm.onnx"), "-o", w("fp32"), "--opt-level", "0")
    fp32_bytes = os.path.getsize(w("fp32", "model.weights"))
    for fmt, bits, group in (("int8", 8, 0), ("int6", 6, 32), ("int4", 4, 32)):
        ref_model = onnx.ModelProto()
        ref_model.CopyFrom(model)
        for init in ref_model.graph.initializer:
            if init.name == table_name:
                init.CopyFrom(numpy_helper.from_array(rtn_symmetric(table, bits, group), table_name))
        o = ort.SessionOptions()
        o.graph_optimization_level = ort.GraphOptimizationLevel.ORT_DISABLE_ALL
        session = ort.InferenceSession(ref_model.SerializeToString(), o, providers=["CPUExecutionProvider"])
        for name, ids in prompts.items():
            d = w(f"{fmt}-{name}")
            os.makedirs(d, exist_ok=True)
            feeds = {"input_ids": ids.astype(np.int64),
                     "position_ids": np.arange(ids.shape[1], dtype=np.int64)[None]}
            for i, (k, v) in enumerate(feeds.items()):
                with open(os.path.join(d, f"input_{i}.pb"), "wb") as f:
                    f.write(numpy_helper.from_array(v, k).SerializeToString())
            for i, (out, v) in enumerate(zip(session.get_outputs(), session.run(None, feeds))):
                with open(os.path.join(d, f"output_{i}.pb"), "wb") as f:
                    f.write(numpy_helper.from_array(v, out.name).SerializeToString())
        report = w(f"{fmt}.json")
        for variant, pipeline in (("kernel", []), ("reference", ["--pipeline=quantized-kernels=false"])):
            out = w(f"{fmt}-{variant}")
            r = sh("slimc", w("lm.onnx"), "-o", out, "--opt-level", "0", *pipeline, "--quantize",
                   f"method=rtn layers=^$ embeddings={fmt} progress=1 report={report}")
            assert f"embedding {table_name} {VOCAB}x{HIDDEN}" in r.stderr, r.stderr
            for name in prompts:
                res = sh("slim-run", out, "--test-data", w(f"{fmt}-{name}"), "--rtol", "1e-3", "--atol", "1e-4")
                assert "FAIL" not in res.stdout and "PASS output 'logits'" in res.stdout, res.stdout
            print(f"{fmt} embeddings, {variant}: logits of 1 and 20 tokens = onnxruntime on the numpy "
                  f"RTN table")
        # The int8-activation path (the LM head's product by the table rounds its input to int8 per
        # block of 32): close to onnxruntime's logits, not equal (the path ran).
        out = w(f"{fmt}-int8")
        sh("slimc", w("lm.onnx"), "-o", out, "--opt-level", "0", "--pipeline=quantized-activations=int8",
           "--quantize", f"method=rtn layers=^$ embeddings={fmt}")
        for name in prompts:
            d = w(f"{fmt}-{name}")
            # Compared by hand below (the run's own check is onnxruntime's tolerance).
            sh("slim-run", out, "--test-data", d, "--save-outputs", w(f"{fmt}-int8-{name}"), ok=False)
            want = numpy_helper.to_array(onnx.load_tensor(os.path.join(d, "output_0.pb")))
            got = numpy_helper.to_array(onnx.load_tensor(w(f"{fmt}-int8-{name}", "output_0.pb")))
            err = float(np.linalg.norm(got - want) / np.linalg.norm(want))
            assert 1e-7 < err < 2e-2, (fmt, name, err)
        print(f"{fmt} embeddings, int8 activations: logits of 1 and 20 tokens close to onnxruntime")
        entries = [e for e in json.load(open(report))["layers"] if e.get("kind") == "embedding"]
        assert len(entries) == 1, entries
        e = entries[0]
        assert (e["layer"], e["gathers"], e["tied_heads"], e["bits"]) == (table_name, 1, 1, bits), e
        size = os.path.getsize(w(f"{fmt}-kernel", "model.weights"))
        saved = table.nbytes - e["bytes_after"]
        assert abs((fp32_bytes - size) - saved) <= 4096, (fp32_bytes, size, saved)
        print(f"{fmt}: weights file {fp32_bytes} -> {size} bytes (table {table.nbytes} -> "
              f"{e['bytes_after']}); rotary caches left dense")

    r = sh("slimc", w("lm.onnx"), "-o", w("bad"), "--quantize", "layers=^$ embeddings=int8 embedding-tables=(",
           ok=False)
    assert r.returncode != 0 and "invalid slim-quantize embedding-tables pattern" in r.stderr, r.stderr
    assert not os.path.exists(w("bad")), "a failed compile left output"
    print("bad embedding-tables pattern: refused")
    print("embedding quantization e2e: OK")


if __name__ == "__main__":
    main()
