#!/usr/bin/env python3
# Part of the Slim project, under the Apache License v2.0 with LLVM Exceptions.
# SPDX-License-Identifier: Apache-2.0 WITH LLVM-exception
"""`slim-run --json`: every mode prints one JSON object on stdout (text on stderr) that scripts
can read: describe, test data (with and without expected outputs), bench, perplexity, generate,
calibrate, encode, and errors (`"ok": false` with the message, exit 1).

Usage: run_json.py --work DIR --tokenizer tokenizer.json --text F
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


def run(*args, rc=0):
    r = subprocess.run((TOOLS["slim-run"],) + args + ("--json",), text=True, capture_output=True)
    assert r.returncode == rc, (args, r.returncode, r.stdout, r.stderr)
    out = json.loads(r.stdout)  # stdout is exactly one JSON object
    assert out["tool"] == "slim-run" and out["version"] and out["commit"], out
    assert out["ok"] == (rc == 0), out
    return out, r.stderr


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--work", required=True)
    p.add_argument("--tokenizer", required=True)
    p.add_argument("--text", required=True)
    p.add_argument("--slimc", default="slimc")
    p.add_argument("--slim-run", default="slim-run")
    a = p.parse_args()
    TOOLS.update({"slim-run": a.slim_run})
    w = lambda *n: os.path.join(a.work, *n)
    import llm_graphs

    model = llm_graphs.build("llama", "decode", 1, 32, 2, 1, 64, 50257, 256, False, 3)
    onnx.save(model, w("lm.onnx"))
    subprocess.run([a.slimc, w("lm.onnx"), "-o", w("out"), "-O0", "--quiet"], check=True)
    subprocess.run([a.slimc, w("lm.onnx"), "--calibration", "-o", w("calib"), "-O0", "--quiet"], check=True)

    out, _ = run(w("out"))
    assert out["mode"] == "describe" and out["inputs"][0]["name"] == "input_ids", out
    assert out["inputs"][0]["dims"] == ["batch", "sequence"] and out["outputs"][0]["dtype"] == "float", out
    print("describe: inputs and outputs with dtypes and dims")

    feeds = llm_graphs.feeds(model, batch=1, seq=4, past=2)
    os.makedirs(w("data"), exist_ok=True)
    for i, inp in enumerate(model.graph.input):
        with open(w("data", f"input_{i}.pb"), "wb") as f:
            f.write(numpy_helper.from_array(feeds[inp.name], inp.name).SerializeToString())
    want = ort.InferenceSession(w("lm.onnx"), providers=["CPUExecutionProvider"]).run(None, feeds)
    for i, (o, v) in enumerate(zip(model.graph.output, want)):
        with open(w("data", f"output_{i}.pb"), "wb") as f:
            f.write(numpy_helper.from_array(v, o.name).SerializeToString())
    out, _ = run(w("out"), "--test-data", w("data"), "--rtol", "1e-4", "--bench", "--repeat", "3", "--warmup", "1")
    t, b = out["test"], out["bench"]
    assert out["mode"] == "test+bench" and t["passed"] and t["compared"], out
    assert [o["name"] for o in t["outputs"]] == [o.name for o in model.graph.output], t
    assert all(o["passed"] and o["max_abs_err"] <= 1e-4 for o in t["outputs"]), t
    assert b["runs"] == 3 and b["warmup"] == 1 and 0 < b["min_ms"] <= b["median_ms"] <= b["max_ms"], b
    # A wrong expectation: exit 1, "passed": false, the bad output named.
    bad = np.array(want[0]) + 1
    with open(w("data", "output_0.pb"), "wb") as f:
        f.write(numpy_helper.from_array(bad, "logits").SerializeToString())
    out, _ = run(w("out"), "--test-data", w("data"), rc=1)
    assert not out["test"]["passed"] and not out["test"]["outputs"][0]["passed"], out
    assert out["test"]["outputs"][0]["outside_tolerance"] > 0 and "error" not in out, out
    print("test data + bench: per-output errors, timings; a mismatch gives passed=false and exit 1")

    out, _ = run(w("out"), "--perplexity", a.text, "--tokenizer", a.tokenizer, "--context", "32",
                 "--max-tokens", "200")
    assert out["mode"] == "perplexity" and out["tokens"] == 199 and out["perplexity"] > 1, out
    assert abs(np.exp(out["mean_nll"]) - out["perplexity"]) < 1e-3 * out["perplexity"], out
    out, err = run(w("out"), "--generate", "Call me Ishmael.", "-n", "5", "--ignore-eos",
                   "--tokenizer", a.tokenizer)
    g = out["generate"]
    assert out["mode"] == "generate" and len(g["ids"]) == 5 and g["kv_cache"] and g["prompt_tokens"] == 6, out
    assert g["text"] and g["text"] in err, (g, err)  # the stream went to stderr
    print("perplexity and generate: numbers and generated ids/text; the stream on stderr")

    out, _ = run(w("calib"), "--calibrate", w("c.stats"), "--calibration-text", a.text, "--tokenizer",
                 a.tokenizer, "--context", "16", "--samples", "2")
    assert out["mode"] == "calibrate" and out["sequences"] == 2 and out["observation_points"] > 0, out
    # The statistics file slim-run wrote is a safetensors file any reader opens.
    from safetensors import safe_open
    with safe_open(w("c.stats"), framework="numpy") as f:
        meta = f.metadata()
        layout = json.loads(meta["slim"])
        assert meta["format"] == "slim-calibration-stats" and meta["version"] == "2", meta
        k = layout["inputs"][0]["channels"]
        assert f.get_tensor("input.0.xtx").shape == (k, k) and f.get_tensor("input.0.mean").shape == (k,)
        assert len(layout["layers"]) >= out["observation_points"] > 0, layout
    out, _ = run("--encode-file", a.text, "--tokenizer", a.tokenizer)
    assert out["mode"] == "encode" and len(out["ids"]) > 100, out
    print("calibrate (a safetensors file) and encode")

    out, _ = run(w("nothing"), rc=1)
    assert "nothing/model.json" in out["error"], out
    out, _ = run(w("out"), "--perplexity", a.text, rc=1)
    assert out["error"] == "--perplexity and --generate need --tokenizer", out
    print("errors: ok=false and the message, exit 1")


if __name__ == "__main__":
    main()
