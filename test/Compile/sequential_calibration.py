#!/usr/bin/env python3
# Part of the Slim project, under the Apache License v2.0 with LLVM Exceptions.
# SPDX-License-Identifier: Apache-2.0 WITH LLVM-exception
"""End-to-end checks of `slimc --calibration-text` (sequential calibration) on a generated
3-layer LLaMA:

1. RTN W4 g32, sequential: every part's statistics equal the inputs onnxruntime computes for
   that part's layers in a model whose *earlier* parts hold the RTN-dequantized weights (numpy
   RTN) and whose part and later parts are fp32 -- the definition of sequential calibration.
2. One-shot (`--sequential=0`): the statistics equal those of `slim-run --calibrate`.
3. GPTQ W3 g32: sequential gives lower held-out logit error than one-shot, and the compiled
   model's weights equal those of a compilation from the saved statistics file.
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
from tokenizers import Tokenizer

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "models"))
sys.path.insert(0, os.path.join(HERE, "..", "..", "scripts"))
sys.path.insert(0, HERE)
import slim_stats  # noqa: E402
from quantize_e2e import feeds_for, ort_session, rtn_reference  # noqa: E402

CONTEXT, SAMPLES = 32, 6
TOOLS = {}


def sh(*cmd):
    cmd = (TOOLS.get(cmd[0], cmd[0]),) + cmd[1:]
    r = subprocess.run(cmd, text=True, capture_output=True)
    if r.returncode != 0:
        sys.exit(f"FAILED: {' '.join(cmd)}\n{r.stdout}\n{r.stderr}")
    return r.stdout + r.stderr


def layer_inputs(model, layers, windows):
    """{layer: [rows, K] float64} of the MatMul inputs of `layers`, from onnxruntime."""
    inputs = {n.input[1]: n.input[0] for n in model.graph.node if n.op_type == "MatMul"}
    probe = onnx.ModelProto()
    probe.CopyFrom(model)
    names = sorted({inputs[l] for l in layers})
    for t in names:
        probe.graph.output.append(onnx.helper.make_tensor_value_info(t, onnx.TensorProto.FLOAT, None))
    session = ort_session(probe)
    outs = [o.name for o in session.get_outputs()]
    xs = {}
    for ids in windows:
        for name, v in zip(outs, session.run(None, feeds_for(ids))):
            xs.setdefault(name, []).append(v.reshape(-1, v.shape[-1]).astype(np.float64))
    return {l: np.concatenate(xs[inputs[l]]) for l in layers}


def stats_error(record, x):
    xtx, mean, mx, rows, signed = record
    ref = x.T @ x / x.shape[0]
    assert rows == x.shape[0], (rows, x.shape)
    return max(np.abs(xtx - ref).max() / np.abs(ref).max(),
               np.abs(mean - np.abs(x).mean(0)).max() / np.abs(x).mean(0).max(),
               np.abs(mx - np.abs(x).max(0)).max() / np.abs(x).max(),
               np.abs(signed - x.mean(0)).max() / np.abs(x).mean(0).max())


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--work", required=True)
    p.add_argument("--tokenizer", required=True)
    p.add_argument("--calibration-text", required=True)
    p.add_argument("--heldout-text", required=True)
    p.add_argument("--slimc", default="slimc")
    p.add_argument("--slim-run", default="slim-run")
    a = p.parse_args()
    TOOLS.update({"slimc": a.slimc, "slim-run": a.slim_run})
    os.makedirs(a.work, exist_ok=True)
    w = lambda *n: os.path.join(a.work, *n)
    import llm_graphs

    model = llm_graphs.build("llama", "prefill", 3, 64, 4, 2, 192, 50257, 256, False, 11)
    onnx.save(model, w("lm.onnx"))
    tok = Tokenizer.from_file(a.tokenizer)
    ids = tok.encode(open(a.calibration_text, encoding="utf-8").read()).ids
    windows = [ids[s * CONTEXT:(s + 1) * CONTEXT] for s in range(SAMPLES)]
    calib = ["--calibration-text", a.calibration_text, "--tokenizer", a.tokenizer,
             "--context", str(CONTEXT), "--samples", str(SAMPLES), "--opt-level", "1"]

    # 1. Sequential RTN: each part's statistics against onnxruntime with the parts before it
    #    quantized.
    log = sh("slimc", w("lm.onnx"), "-o", w("rtn"), "--quantize", "method=rtn bits=4 group-size=32",
             "--save-stats", w("rtn.stats"), *calib)
    header, layers = slim_stats.read(w("rtn.stats"))
    parts = header["calibration"]["parts"]
    assert header["calibration"]["sequential"] is True and header["samples"] == SAMPLES, header
    # q/k/v (with the embedding), o_proj, MLP; then attention and MLP per layer; the head
    assert len(parts) == 3 + 2 * 2 + 1, parts
    assert parts[0] == [f"model.layers.0.self_attn.{p}_proj.weight" for p in "qkv"], parts[0]
    assert parts[-1] == ["lm_head.weight"], parts[-1]
    print(f"sequential: {len(parts)} parts, {sum(map(len, parts))} layers; progress lines: "
          f"{sum(l.startswith('slimc: part ') for l in log.splitlines())}")
    weights = {i.name: numpy_helper.to_array(i) for i in model.graph.initializer}
    worst = 0.0
    for index, part in enumerate(parts):
        ref = onnx.ModelProto()
        ref.CopyFrom(model)
        before = {l for q in parts[:index] for l in q}
        for init in ref.graph.initializer:
            if init.name in before:
                init.CopyFrom(numpy_helper.from_array(rtn_reference(weights[init.name], 4, 32), init.name))
        xs = layer_inputs(ref, part, windows)
        for layer in part:
            worst = max(worst, stats_error(layers[layer], xs[layer]))
    assert worst < 2e-5, worst
    print(f"sequential statistics match onnxruntime on the RTN prefix for every part (max rel err {worst:.1e})")
    # The same statistics are not the one-shot ones: the prefix was quantized.
    fp32_inputs = layer_inputs(model, ["lm_head.weight"], windows)
    drift = stats_error(layers["lm_head.weight"], fp32_inputs["lm_head.weight"])
    assert drift > 1e-3, drift
    print(f"lm_head statistics differ from the fp32 model's by {drift:.1e}")

    # Hidden states spilled to memory-mapped files (a budget of one byte): the same statistics.
    log = sh("slimc", w("lm.onnx"), "-o", w("rtn-spill"), "--quantize", "method=rtn bits=4 group-size=32",
             "--save-stats", w("rtn-spill.stats"), "--calibration-memory", "1", *calib)
    assert "MB on disk)" in log, log
    _, spilled = slim_stats.read(w("rtn-spill.stats"))
    assert all(np.array_equal(spilled[l][0], layers[l][0]) and np.array_equal(spilled[l][2], layers[l][2])
               for l in layers)
    print("with --calibration-memory=1 the hidden states go to disk and the statistics are the same")

    # 2. One-shot: slimc's statistics equal slim-run --calibrate's.
    sh("slimc", w("lm.onnx"), "-o", w("oneshot"), "--quantize", "method=rtn bits=4 group-size=32",
       "--save-stats", w("oneshot.stats"), "--sequential=0", *calib)
    sh("slimc", w("lm.onnx"), "--calibration", "-o", w("calib"), "--opt-level", "1")
    sh("slim-run", w("calib"), "--calibrate", w("calib.stats"), "--calibration-text", a.calibration_text,
       "--tokenizer", a.tokenizer, "--context", str(CONTEXT), "--samples", str(SAMPLES))
    h1, one = slim_stats.read(w("oneshot.stats"))
    _, run = slim_stats.read(w("calib.stats"))
    h2, _ = slim_stats.read(w("calib.stats"))
    assert h1["calibration"]["sequential"] is False and set(one) == set(run), (set(one) ^ set(run))
    # Both record the weights' hashes, the same ones.
    assert h1["weight_hashes"] == h2["weight_hashes"] and set(h2["weight_hashes"]) == set(run), h2
    assert header["weight_hashes"] == h2["weight_hashes"]
    diff = max(float(np.abs(one[l][0] - run[l][0]).max() / np.abs(run[l][0]).max()) for l in run)
    assert diff < 1e-6, diff
    print(f"one-shot statistics equal slim-run --calibrate's ({len(run)} layers, max rel diff {diff:.1e})")

    # 3. GPTQ W3: sequential beats one-shot on held-out logits; the saved statistics reproduce
    #    the model.
    heldout = tok.encode(open(a.heldout_text, encoding="utf-8").read()).ids[:96]
    td = w("heldout")
    os.makedirs(td, exist_ok=True)
    for i, (name, v) in enumerate(feeds_for(heldout).items()):
        with open(os.path.join(td, f"input_{i}.pb"), "wb") as f:
            f.write(numpy_helper.from_array(v, name).SerializeToString())
    fp32 = ort_session(model).run(["logits"], feeds_for(heldout))[0]
    logits_index = [o.name for o in model.graph.output].index("logits")
    errors = {}
    gptq = "method=gptq bits=3 group-size=32"
    for mode in ("1", "0"):
        out = w(f"gptq-seq{mode}")
        sh("slimc", w("lm.onnx"), "-o", out, "--quantize", gptq, f"--sequential={mode}",
           "--save-stats", out + ".stats", *calib)
        sh("slim-run", out, "--test-data", td, "--save-outputs", out + "-out")
        logits = numpy_helper.to_array(onnx.load_tensor(os.path.join(out + "-out", f"output_{logits_index}.pb")))
        errors[mode] = float(np.linalg.norm(logits - fp32) / np.linalg.norm(fp32))
    assert errors["1"] < errors["0"], errors
    print(f"gptq w3 g32 held-out logits rel err: sequential {errors['1']:.4f} < one-shot {errors['0']:.4f}")
    sh("slimc", w("lm.onnx"), "-o", w("gptq-replay"), "--opt-level", "1", "--quantize",
       f"{gptq} stats={w('gptq-seq1.stats')}")
    same = open(w("gptq-replay", "model.weights"), "rb").read() == open(w("gptq-seq1", "model.weights"), "rb").read()
    assert same
    print("compiling again from the saved statistics gives the same weights")


if __name__ == "__main__":
    main()
