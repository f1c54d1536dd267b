#!/usr/bin/env python3
# Part of the Slim project, under the Apache License v2.0 with LLVM Exceptions.
# SPDX-License-Identifier: Apache-2.0 WITH LLVM-exception
"""Latency of a LLaMA-style decoder: Slim (slimc + slim-run --bench) against
onnxruntime on the same graph and thread count, in one run.

Prefill: batch 1, 128 tokens. Decode: batch 1, one token, KV cache of 128.
The default model is SmolLM2-135M-shaped (hidden 576, 9 heads / 3 KV heads,
intermediate 1536, vocabulary 49152) with --layers layers and random weights.
Prints the median latencies and the ratio Slim / onnxruntime (goal: <= 1.2).
"""

import argparse
import os
import re
import statistics
import subprocess
import sys
import time

import numpy as np

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "test", "models"))
import llm_graphs  # noqa: E402


def ort_latency(path, feeds, threads, warmup, repeat):
    import onnxruntime as ort
    so = ort.SessionOptions()
    so.intra_op_num_threads = threads
    so.inter_op_num_threads = 1
    sess = ort.InferenceSession(path, so, providers=["CPUExecutionProvider"])
    for _ in range(warmup):
        sess.run(None, feeds)
    times = []
    for _ in range(repeat):
        t = time.perf_counter()
        sess.run(None, feeds)
        times.append((time.perf_counter() - t) * 1e3)
    return statistics.median(times), min(times), max(times)


def slim_latency(slim_run, out_dir, dims, threads, warmup, repeat):
    r = subprocess.run([slim_run, out_dir, "--bench", f"--dims={dims}", f"--num-threads={threads}",
                        f"--warmup={warmup}", f"--repeat={repeat}"], capture_output=True, text=True, check=True)
    m = re.search(r"median ([\d.]+) ms, min ([\d.]+) ms, p90 [\d.]+ ms, max ([\d.]+) ms", r.stdout)
    return float(m.group(1)), float(m.group(2)), float(m.group(3))


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--build", default=os.path.join(ROOT, "build"))
    p.add_argument("--work", default=None)
    p.add_argument("--layers", type=int, default=8)
    p.add_argument("--hidden", type=int, default=576)
    p.add_argument("--heads", type=int, default=9)
    p.add_argument("--kv-heads", type=int, default=3)
    p.add_argument("--intermediate", type=int, default=1536)
    p.add_argument("--vocab", type=int, default=49152)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--warmup", type=int, default=3)
    p.add_argument("--repeat", type=int, default=20)
    a = p.parse_args()
    work = a.work or os.path.join(a.build, "bench")
    os.makedirs(work, exist_ok=True)
    slimc = os.path.join(a.build, "bin", "slimc")
    slim_run = os.path.join(a.build, "bin", "slim-run")

    rows = []
    for mode, batch, seq, past in (("prefill", 1, 128, 0), ("decode", 1, 1, 128)):
        path = os.path.join(work, f"llama-{mode}.onnx")
        model = llm_graphs.build("llama", mode, a.layers, a.hidden, a.heads, a.kv_heads, a.intermediate,
                                 a.vocab, 2048, False, 0)
        import onnx
        onnx.save_model(model, path, save_as_external_data=True, location=os.path.basename(path) + ".data",
                        size_threshold=1024)
        out = os.path.join(work, f"llama-{mode}.slim")
        subprocess.run([slimc, path, "-o", out], check=True)
        feeds = llm_graphs.feeds(model, batch=batch, seq=seq, past=past)
        dims = f"batch={batch},sequence={seq}" + (f",past_sequence={past}" if mode == "decode" else "")
        o = ort_latency(path, feeds, a.threads, a.warmup, a.repeat)
        s = slim_latency(slim_run, out, dims, a.threads, a.warmup, a.repeat)
        rows.append((mode, s, o))

    params = (a.vocab * a.hidden * 2 + a.layers * (a.hidden * a.hidden * 2 + 2 * a.hidden * (a.hidden // a.heads) * a.kv_heads
                                                   + 3 * a.hidden * a.intermediate)) / 1e6
    print(f"LLaMA-style decoder: {a.layers} layers, hidden {a.hidden}, heads {a.heads}/{a.kv_heads}, "
          f"intermediate {a.intermediate}, vocabulary {a.vocab} ({params:.0f} M parameters), fp32, {a.threads} threads")
    print(f"{'case':28s} {'Slim ms':>10s} {'onnxruntime ms':>15s} {'ratio':>7s}")
    for mode, s, o in rows:
        case = "prefill b1 s128" if mode == "prefill" else "decode b1 s1 kv128"
        print(f"{case:28s} {s[0]:10.2f} {o[0]:15.2f} {s[0] / o[0]:7.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
