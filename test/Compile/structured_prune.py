#!/usr/bin/env python3
# Part of the Slim project, under the Apache License v2.0 with LLVM Exceptions.
# SPDX-License-Identifier: Apache-2.0 WITH LLVM-exception
"""End to end: structured pruning (`slimc --prune pattern=heads|channels|structured`) of tiny generated
LLaMA decoders, grouped-query (4 query heads on 2 key/value heads) and multi-head (4 on 4).

1. Exactness: the weights of some units are zeroed in the ONNX model first (the output projection's rows
   of half the key/value head groups, half the down projection's rows), so that magnitude pruning with a
   uniform allocation removes exactly those; the pruned model, compiled and run by slim-run with the KV
   cache of the kept heads, must give onnxruntime's logits and KV cache (kept heads) of the unpruned
   model. The pruned model's inputs and outputs must have the kept number of heads.
2. FLAP with calibration statistics (signed means) on a GPT-2 MLP whose c_fc gives a quarter of its
   channels constant activations (zero weights, non-zero bias): FLAP removes exactly those (zero
   fluctuation), the c_fc bias constant is sliced along, and the bias compensation keeps the logits
   exact where the same pruning without it does not.

Usage: structured_prune.py --work DIR --tokenizer tokenizer.json --calibration-text F --heldout-text F
                           [--slimc PATH] [--slim-run PATH]
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
HIDDEN, HEADS, INTER, LAYERS = 32, 4, 64, 2
DIM = HIDDEN // HEADS


def sh(*cmd):
    cmd = (TOOLS.get(cmd[0], cmd[0]),) + cmd[1:]
    r = subprocess.run(cmd, text=True, capture_output=True)
    if r.returncode != 0:
        sys.exit(f"FAILED: {' '.join(cmd)}\n{r.stdout}\n{r.stderr}")
    return r.stdout + r.stderr


def ort_run(model, feeds):
    o = ort.SessionOptions()
    o.graph_optimization_level = ort.GraphOptimizationLevel.ORT_DISABLE_ALL
    s = ort.InferenceSession(model.SerializeToString(), o, providers=["CPUExecutionProvider"])
    return [o.name for o in s.get_outputs()], s.run(None, feeds)


def write_case(d, inputs, outputs):
    os.makedirs(d, exist_ok=True)
    for f in os.listdir(d):
        os.remove(os.path.join(d, f))
    for i, (name, v) in enumerate(inputs):
        with open(os.path.join(d, f"input_{i}.pb"), "wb") as f:
            f.write(numpy_helper.from_array(v, name).SerializeToString())
    for i, (name, v) in enumerate(outputs):
        with open(os.path.join(d, f"output_{i}.pb"), "wb") as f:
            f.write(numpy_helper.from_array(v, name).SerializeToString())


def feeds(model, kv_heads, rng, past=3, seq=2):
    f = {"input_ids": rng.integers(0, 256, (1, seq)).astype(np.int64),
         "position_ids": (past + np.arange(seq, dtype=np.int64))[None]}
    for i in model.graph.input:
        if i.name.startswith("past_key_values"):
            f[i.name] = rng.normal(size=(1, kv_heads, past, DIM)).astype(np.float32)
    return f


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

    rng = np.random.default_rng(0)
    for kv in (2, 4):
        tag = "gqa" if kv < HEADS else "mha"
        rep = HEADS // kv
        model = llm_graphs.build("llama", "decode", LAYERS, HIDDEN, HEADS, kv, INTER, 256, 64, False, 3)
        # 1. Zero the output-projection rows of the second half of the key/value groups and half of
        # the down projection's rows in every layer: magnitude scores them 0.
        drop_groups = range(kv // 2, kv)
        drop_channels = {}
        for init in model.graph.initializer:
            t = numpy_helper.to_array(init).copy()
            if init.name.endswith("o_proj.weight"):
                t[drop_groups[0] * rep * DIM:] = 0
            elif init.name.endswith("down_proj.weight"):
                drop = np.sort(rng.choice(INTER, INTER // 2, replace=False))
                drop_channels[init.name] = drop
                t[drop] = 0
            else:
                continue
            init.CopyFrom(numpy_helper.from_array(t, init.name))
        onnx.save(model, w(f"{tag}.onnx"))
        build = w(f"{tag}-pruned")
        report = w(f"{tag}-report.json")
        sh("slimc", w(f"{tag}.onnx"), "-o", build, "--opt-level", "0", "--prune",
           f"pattern=structured method=magnitude allocation=uniform sparsity=0.5 report={report}")
        groups = json.load(open(report))["layers"]
        kept_groups = [u for u in range(kv) if u not in drop_groups]
        for g in groups:
            if g["kind"] == "heads":
                assert g["units"] == kv and g["channels_per_unit"] == rep * DIM, g
                assert g["kept_units"] == kept_groups, g
            else:
                dropped = drop_channels[g["group"]]
                assert g["kept_units"] == [c for c in range(INTER) if c not in dropped], g
        assert sorted(g["kind"] for g in groups) == ["channels"] * LAYERS + ["heads"] * LAYERS, groups
        meta = json.load(open(os.path.join(build, "model.json")))
        kept_kv = len(kept_groups)
        shapes = [i["dims"] for i in meta["inputs"] if i["name"].startswith("past_key_values")]
        assert shapes and all(s[1] == kept_kv for s in shapes), shapes

        f = feeds(model, kv, rng)
        names, outs = ort_run(model, f)
        inputs = [(k, v[:, kept_groups] if k.startswith("past") else v) for k, v in f.items()]
        outputs = [(n, v[:, kept_groups] if n.startswith("present") else v) for n, v in zip(names, outs)]
        write_case(w(f"{tag}-case"), inputs, outputs)
        out = sh("slim-run", build, "--test-data", w(f"{tag}-case"), "--rtol", "1e-4", "--atol", "1e-5")
        assert "FAIL" not in out, out
        print(f"{tag}: zeroed units removed, {kv} -> {kept_kv} key/value heads, "
              f"{INTER} -> {INTER // 2} channels: logits and KV cache = onnxruntime: PASS")

    # 2. FLAP's bias compensation, on a GPT-2 MLP (linear layers with biases): a quarter of the
    # c_fc channels get zero weights and a non-zero bias, so their activations are constant. Their
    # fluctuation is 0, FLAP removes exactly them, and the compensation (their constant activation
    # times the c_proj rows) keeps the output exact; without it the output moves.
    model = llm_graphs.build("gpt2", "prefill", LAYERS, HIDDEN, HEADS, HEADS, INTER, 50257, 64, False, 5)
    constant = {}
    inits = {i.name: i for i in model.graph.initializer}
    for l in range(LAYERS):
        name = f"transformer.h.{l}.mlp.c_fc"
        wt = numpy_helper.to_array(inits[name + ".weight"]).copy()
        b = numpy_helper.to_array(inits[name + ".bias"]).copy()
        drop = np.sort(rng.choice(INTER, INTER // 4, replace=False))
        constant[f"transformer.h.{l}.mlp.c_proj.weight"] = drop
        wt[:, drop] = 0
        b[drop] = rng.uniform(0.5, 1.5, drop.size)
        inits[name + ".weight"].CopyFrom(numpy_helper.from_array(wt, name + ".weight"))
        inits[name + ".bias"].CopyFrom(numpy_helper.from_array(b, name + ".bias"))
    onnx.save(model, w("flap.onnx"))
    sh("slimc", w("flap.onnx"), "--calibration", "-o", w("calib"), "--opt-level", "0")
    sh("slim-run", w("calib"), "--calibrate", w("calib.stats"), "--calibration-text", a.calibration_text,
       "--tokenizer", a.tokenizer, "--context", "16", "--samples", "8")
    f = {"input_ids": rng.integers(0, 50257, (1, 7)).astype(np.int64)}
    names, outs = ort_run(model, f)
    dense = outs[names.index("logits")]
    errors = {}
    for variant, extra in (("flap", ""), ("flap-nobias", " bias-compensation=0")):
        report = w(f"{variant}.json")
        sh("slimc", w("flap.onnx"), "-o", w(variant), "--opt-level", "0", "--prune",
           f"pattern=channels method=flap sparsity=0.25 stats={w('calib.stats')} report={report}" + extra)
        r = json.load(open(report))
        assert abs(1 - r["params_after"] / r["params_before"] - 0.25) < 1e-9, r
        for g in r["layers"]:
            assert g["kept_units"] == [c for c in range(INTER) if c not in constant[g["group"]]], g
        write_case(w(f"{variant}-case"), list(f.items()), [])
        sh("slim-run", w(variant), "--test-data", w(f"{variant}-case"), "--save-outputs", w(f"{variant}-out"))
        logits = numpy_helper.to_array(onnx.load_tensor(w(f"{variant}-out", f"output_{names.index('logits')}.pb")))
        errors[variant] = float(np.linalg.norm(logits - dense) / np.linalg.norm(dense))
    assert errors["flap"] < 1e-5 and errors["flap-nobias"] > 100 * max(errors["flap"], 1e-7), errors
    print(f"flap: constant channels removed, logits rel err {errors['flap']:.1e} with the bias "
          f"compensation, {errors['flap-nobias']:.1e} without: PASS")
    print("structured prune e2e: OK")


if __name__ == "__main__":
    main()
