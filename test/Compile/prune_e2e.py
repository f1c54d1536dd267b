#!/usr/bin/env python3
# Part of the Slim project, under the Apache License v2.0 with LLVM Exceptions.
# SPDX-License-Identifier: Apache-2.0 WITH LLVM-exception
"""End to end: prune (and prune + quantize) a tiny generated LLaMA with `slimc --prune`, run it.

1. Magnitude 2:4 and 50 % unstructured through slimc + slim-run against an independent numpy
   pruning of the same weights run by onnxruntime.
2. Wanda and SparseGPT at 50 % unstructured and 2:4 with calibration statistics: SparseGPT's
   per-layer output errors are below magnitude's in every layer and its held-out logits closer to
   the fp32 model's.
3. SparseGPT 2:4 with int4 values quantized in the same sweep: the CPU kernels (sparse + quant) give
   the reference lowering's logits for 1, 5, 48 and 80 rows; the weights file holds what the report
   counts.
4. Composition: the MLP layers pruned 2:4 + int4, the attention layers GPTQ int4, in one slimc call.

Usage: prune_e2e.py --work DIR --tokenizer tokenizer.json --calibration-text F --heldout-text F
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
from tokenizers import Tokenizer

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "models"))

CONTEXT, SAMPLES = 32, 8
TOOLS = {}


def sh(*cmd, env=None):
    cmd = (TOOLS.get(cmd[0], cmd[0]),) + cmd[1:]
    r = subprocess.run(cmd, text=True, capture_output=True, env=env)
    if r.returncode != 0:
        sys.exit(f"FAILED: {' '.join(cmd)}\n{r.stdout}\n{r.stderr}")
    return r.stdout


def ort_session(model):
    o = ort.SessionOptions()
    o.graph_optimization_level = ort.GraphOptimizationLevel.ORT_DISABLE_ALL
    return ort.InferenceSession(model.SerializeToString(), o, providers=["CPUExecutionProvider"])


def feeds_for(ids):
    ids = np.array([ids], np.int64)
    return {"input_ids": ids, "position_ids": np.arange(ids.shape[1], dtype=np.int64)[None]}


def write_inputs(d, ids):
    os.makedirs(d, exist_ok=True)
    for i, (name, v) in enumerate(feeds_for(ids).items()):
        with open(os.path.join(d, f"input_{i}.pb"), "wb") as f:
            f.write(numpy_helper.from_array(v, name).SerializeToString())


def clear_outputs(d):
    for f in os.listdir(d):
        if f.startswith("output_"):
            os.remove(os.path.join(d, f))


def magnitude_nm(w_kn, n, m):
    """Keeps the n largest |w| of every m consecutive inputs of each output channel (ties: the lower
    input), as numpy sees it; w is [K, N]."""
    w = w_kn.T.copy()  # [N, K]
    runs = w.reshape(w.shape[0], -1, m)
    order = np.argsort(-np.abs(runs), axis=2, kind="stable")
    keep = np.zeros_like(runs, dtype=bool)
    np.put_along_axis(keep, order[:, :, :n], True, axis=2)
    return (runs * keep).reshape(w.shape).T


def magnitude_unstructured(w_kn, sparsity):
    """Removes the int(sparsity * size) smallest |w| of the whole layer."""
    flat = np.abs(w_kn).ravel()
    count = int(sparsity * flat.size)
    order = np.argsort(flat, kind="stable")
    out = w_kn.copy().ravel()
    out[order[:count]] = 0
    return out.reshape(w_kn.shape)


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

    model = llm_graphs.build("llama", "prefill", 2, 64, 4, 2, 192, 50257, 256, False, 7)
    onnx.save(model, w("lm.onnx"))
    tok = Tokenizer.from_file(a.tokenizer)
    layers = sorted({n.input[1] for n in model.graph.node
                     if n.op_type == "MatMul" and n.input[1].endswith("_proj.weight")})
    logits_index = [o.name for o in model.graph.output].index("logits")
    sh("slimc", w("lm.onnx"), "--calibration", "-o", w("calib"), "--opt-level", "0")
    sh("slim-run", w("calib"), "--calibrate", w("calib.stats"), "--calibration-text", a.calibration_text,
       "--tokenizer", a.tokenizer, "--context", str(CONTEXT), "--samples", str(SAMPLES))

    long_ids = tok.encode(open(a.heldout_text, encoding="utf-8").read()).ids[:80]
    td = w("heldout")
    write_inputs(td, long_ids[:48])
    fp32 = ort_session(model).run(["logits"], feeds_for(long_ids[:48]))[0]

    def logits_of(build, data=td, env=None):
        out = w(f"{build}-out")
        sh("slim-run", w(build), "--test-data", data, "--save-outputs", out, env=env)
        return numpy_helper.to_array(onnx.load_tensor(os.path.join(out, f"output_{logits_index}.pb")))

    def rel(x, y):
        return float(np.linalg.norm(x - y) / np.linalg.norm(y))

    # 1. Magnitude pruning against numpy + onnxruntime.
    for tag, options, prune in (("2:4", "pattern=2:4", lambda t: magnitude_nm(t, 2, 4)),
                                ("50% unstructured", "sparsity=0.5",
                                 lambda t: magnitude_unstructured(t, 0.5))):
        ref_model = onnx.ModelProto()
        ref_model.CopyFrom(model)
        for init in ref_model.graph.initializer:
            if init.name in layers:
                init.CopyFrom(numpy_helper.from_array(prune(numpy_helper.to_array(init)), init.name))
        ref_session = ort_session(ref_model)
        for i, (o, v) in enumerate(zip(ref_session.get_outputs(), ref_session.run(None, feeds_for(long_ids[:48])))):
            with open(os.path.join(td, f"output_{i}.pb"), "wb") as f:
                f.write(numpy_helper.from_array(v, o.name).SerializeToString())
        build = "mag-" + tag.split()[0].replace(":", "-").replace("%", "")
        sh("slimc", w("lm.onnx"), "-o", w(build), "--opt-level", "0", "--prune", options)
        out = sh("slim-run", w(build), "--test-data", td, "--rtol", "1e-3", "--atol", "1e-4")
        assert "FAIL" not in out, out
        print(f"magnitude {tag} vs numpy + onnxruntime:", out.strip())
        clear_outputs(td)

    # 2. The criteria against each other with calibration statistics.
    for pattern, options in (("50% unstructured", "sparsity=0.5"), ("2:4", "pattern=2:4")):
        errors, reports = {}, {}
        for method in ("magnitude", "wanda", "sparsegpt"):
            build = f"{method}-{pattern.split()[0].replace(':', '-').replace('%', '')}"
            report = w(f"{build}.json")
            sh("slimc", w("lm.onnx"), "-o", w(build), "--opt-level", "0", "--prune",
               f"method={method} {options} stats={w('calib.stats')} report={report}")
            errors[method] = rel(logits_of(build), fp32)
            reports[method] = {l["layer"]: l for l in json.load(open(report))["layers"]}
            assert set(reports[method]) == set(layers), sorted(reports[method])
            for l in reports[method].values():
                assert abs(l["sparsity"] - 0.5) < 0.01, l
        better = sum(reports["sparsegpt"][n]["output_rel_error"] < reports["magnitude"][n]["output_rel_error"]
                     for n in layers)
        assert better == len(layers), (pattern, better)
        assert errors["sparsegpt"] < errors["magnitude"], (pattern, errors)
        print(f"{pattern}: held-out logits rel err magnitude {errors['magnitude']:.4f}, wanda "
              f"{errors['wanda']:.4f}, sparsegpt {errors['sparsegpt']:.4f}; sparsegpt's calibration output "
              f"error is below magnitude's in {better} of {len(layers)} layers")

    # 3. SparseGPT 2:4 + int4 (joint): kernels against the reference lowering.
    joint = f"method=sparsegpt pattern=2:4 bits=4 group-size=32 stats={w('calib.stats')}"
    sh("slimc", w("lm.onnx"), "-o", w("joint"), "--opt-level", "0", "--keep-intermediates", "--prune",
       f"{joint} report={w('joint.json')}")
    sh("slimc", w("lm.onnx"), "-o", w("joint-reference"), "--opt-level", "0", "--prune", joint,
       "--pipeline=quantized-kernels=false")
    calls = open(w("joint", "model.ll")).read().count("call void @slim_rt_qmatmul_sparse_zp_f16(")
    assert calls > 0, "the sparse quantized kernel is not called"
    for n_tokens in (1, 5, 80):
        write_inputs(w(f"heldout{n_tokens}"), long_ids[:n_tokens])
    for data in (td, w("heldout1"), w("heldout5"), w("heldout80")):
        ref = logits_of("joint-reference", data)
        for isa in ("", "generic", "avx2"):
            got = logits_of("joint", data, env=dict(os.environ, SLIM_KERNELS=isa))
            assert rel(got, ref) < 1e-4, (data, isa, rel(got, ref))
    joint_err = rel(logits_of("joint"), fp32)
    rep = json.load(open(w("joint.json")))
    fp32_size = os.path.getsize(w("calib", "model.weights"))
    size = os.path.getsize(w("joint", "model.weights"))
    expected = fp32_size - rep["total_bytes_before"] + rep["total_bytes_after"]
    # (small tensors stay inline in the code; each piece is 64-byte aligned)
    assert expected - 4096 * len(rep["layers"]) <= size <= expected + 4 * 64 * len(rep["layers"]), (size, expected)
    print(f"sparsegpt 2:4 + int4 g32: kernel ({calls} calls) = reference lowering within 1e-4 (1, 5, 48 and "
          f"80 rows, every kernel variant); held-out logits rel err {joint_err:.4f}; weights file {fp32_size} "
          f"-> {size} bytes")

    # 4. Prune the MLP, quantize the attention, in one call.
    sh("slimc", w("lm.onnx"), "-o", w("mixed"), "--opt-level", "0", "--keep-intermediates",
       "--prune", f"method=sparsegpt pattern=2:4 bits=4 group-size=32 layers=mlp stats={w('calib.stats')}",
       "--quantize", f"method=gptq bits=4 group-size=32 layers=self_attn stats={w('calib.stats')}")
    ll = open(w("mixed", "model.ll")).read()
    assert "call void @slim_rt_qmatmul_sparse_zp_f16(" in ll and "call void @slim_rt_qmatmul_zp_f16(" in ll
    mixed_err = rel(logits_of("mixed"), fp32)
    assert mixed_err < 1.0, mixed_err
    print(f"mlp sparsegpt 2:4 + int4, attention gptq int4: held-out logits rel err {mixed_err:.4f}")
    print("prune e2e: OK")


if __name__ == "__main__":
    main()
