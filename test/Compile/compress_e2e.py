#!/usr/bin/env python3
# Part of the Slim project, under the Apache License v2.0 with LLVM Exceptions.
# SPDX-License-Identifier: Apache-2.0 WITH LLVM-exception
"""End to end: prune, factorize and quantize a tiny generated LLaMA with `slimc --prune / --factorize /
--quantize`, run it with slim-run.

1. Magnitude 2:4 and 50 % unstructured through slimc + slim-run against an independent numpy
   pruning of the same weights run by onnxruntime.
2. Wanda and SparseGPT at 50 % unstructured and 2:4 with calibration statistics: SparseGPT's
   per-layer output errors are below magnitude's in every layer and its held-out logits closer to
   the fp32 model's.
3. SparseGPT 2:4 with int4 values quantized in the same sweep: the CPU kernels (sparse + quant) give
   the reference lowering's logits for 1, 5, 48 and 80 rows; the weights file holds what the report
   counts.
4. Composition: the MLP layers pruned 2:4 + int4, the attention layers GPTQ int4, in one slimc call;
   and 2:4 + int4 + a low-rank residual on one weight, on the kernels against the reference lowering.
5. Low rank: SVD and SVD-LLM at half the parameters (SVD-LLM's held-out logits closer to fp32's and
   its per-layer output errors lower in every layer); the factors as two thin products against the
   reference lowering; int4 + a rank-8 SVD-LLM residual below int4 alone on the calibration output
   error of every layer, its quantized part on the kernels.

Usage: compress_e2e.py --work DIR --tokenizer tokenizer.json --calibration-text F --heldout-text F
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

    # 4b. All three on one weight: 2:4 + int4 + a rank-8 residual of what they lost; its parts on
    # the kernels (sparse quantized product, two thin products) against the reference lowering,
    # and closer to fp32 than 2:4 + int4 alone.
    composed = f"{joint} residual-rank=8"
    sh("slimc", w("lm.onnx"), "-o", w("composed"), "--opt-level", "0", "--keep-intermediates", "--prune",
       f"{composed} report={w('composed.json')}")
    sh("slimc", w("lm.onnx"), "-o", w("composed-reference"), "--opt-level", "0", "--prune", composed,
       "--pipeline=quantized-kernels=false split-low-rank=false")
    assert "call void @slim_rt_qmatmul_sparse_zp_f16(" in open(w("composed", "model.ll")).read()
    for data in (td, w("heldout1"), w("heldout5")):
        got, ref = logits_of("composed", data), logits_of("composed-reference", data)
        assert rel(got, ref) < 1e-4, (data, rel(got, ref))
    composed_err = rel(logits_of("composed"), fp32)
    with_residual = {l["layer"]: l for l in json.load(open(w("composed.json")))["layers"]}
    without = {l["layer"]: l for l in json.load(open(w("joint.json")))["layers"]}
    lower = sum(with_residual[n]["output_rel_error"] < without[n]["output_rel_error"] for n in layers)
    assert lower == len(layers) and composed_err < joint_err, (lower, composed_err, joint_err)
    print(f"sparsegpt 2:4 + int4 + rank-8 residual: kernels = reference lowering within 1e-4 (1, 5 and 48 "
          f"rows); held-out logits rel err {composed_err:.4f} against {joint_err:.4f} without the residual; "
          f"calibration output error lower in {lower} of {len(layers)} layers")

    # 5. Low rank.
    errors, reports = {}, {}
    for method in ("svd", "svd-llm"):
        report = w(f"{method}.json")
        sh("slimc", w("lm.onnx"), "-o", w(method), "--opt-level", "0", "--factorize",
           f"method={method} ratio=0.5 stats={w('calib.stats')} report={report}")
        errors[method] = rel(logits_of(method), fp32)
        reports[method] = {l["layer"]: l for l in json.load(open(report))["layers"]}
        assert not any(l["kept_dense"] for l in reports[method].values()), method
    better = sum(reports["svd-llm"][n]["output_rel_error"] < reports["svd"][n]["output_rel_error"]
                 for n in layers)
    assert better == len(layers) and errors["svd-llm"] < errors["svd"], (better, errors)
    sh("slimc", w("lm.onnx"), "-o", w("svd-llm-reference"), "--opt-level", "0", "--factorize",
       f"method=svd-llm ratio=0.5 stats={w('calib.stats')}", "--pipeline=split-low-rank=false")
    for data in (td, w("heldout1"), w("heldout5")):
        got, ref = logits_of("svd-llm", data), logits_of("svd-llm-reference", data)
        assert rel(got, ref) < 1e-4, (data, rel(got, ref))
    print(f"low rank at half the parameters: held-out logits rel err svd {errors['svd']:.4f}, svd-llm "
          f"{errors['svd-llm']:.4f}; svd-llm's calibration output error is lower in {better} of {len(layers)} "
          "layers; split factors = reference lowering within 1e-4 (1, 5 and 48 rows)")
    for name, options in (("int4", f"--quantize=method=rtn bits=4 group-size=32 report={w('int4.json')}"),
                          ("int4-lorc", f"--factorize=method=svd-llm rank=8 residual=1 bits=4 group-size=32 "
                                        f"stats={w('calib.stats')} report={w('int4-lorc.json')}")):
        sh("slimc", w("lm.onnx"), "-o", w(name), "--opt-level", "0", "--keep-intermediates", options)
    ll = open(w("int4-lorc", "model.ll")).read()
    assert "call void @slim_rt_qmatmul_zp_f16(" in ll, "the quantized part is not on the kernels"
    plain = {l["layer"]: l for l in json.load(open(w("int4.json")))["layers"]}
    lorc = {l["layer"]: l for l in json.load(open(w("int4-lorc.json")))["layers"]}
    # (the plain int4 report has no statistics: compare weight errors, and the logits)
    fewer = sum(lorc[n]["weight_rel_error"] < plain[n]["weight_rel_error"] for n in layers)
    e_plain, e_lorc = rel(logits_of("int4"), fp32), rel(logits_of("int4-lorc"), fp32)
    assert fewer == len(layers) and e_lorc < e_plain, (fewer, e_plain, e_lorc)
    print(f"int4 g32 + rank-8 svd-llm residual: held-out logits rel err {e_lorc:.4f} against int4 alone "
          f"{e_plain:.4f}; weight error lower in {fewer} of {len(layers)} layers")
    print("compress e2e: OK")


if __name__ == "__main__":
    main()
