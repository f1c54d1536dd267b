#!/usr/bin/env python3
# Part of the Slim project, under the Apache License v2.0 with LLVM Exceptions.
# SPDX-License-Identifier: Apache-2.0 WITH LLVM-exception
"""Latency of weight-quantized matmuls: Slim against onnxruntime's `MatMulNBits` on the same ONNX
file, and against Slim's own f32 code for the same weights dequantized, in one run.

Each case is a chain of `--layers` products by 4-bit (`--bits`) weights in blocks of `--block`
inputs (no zero points: code 8 is zero, as MatMulNBits defines it), alternating between the
shape's two directions (K x N, then N x K) so that the chain closes, at M = 1, 8, 32 and 128 rows.
Prints the median latencies (the median of `--rounds` rounds of `--repeat` runs each, the systems
measured in turn), Slim / onnxruntime, Slim W4 / Slim f32, and the weight bytes Slim streams per
second against the read bandwidth measured in the same run (the larger of what numpy reads with
`--threads` threads and the rate Slim's memory-bound f32 GEMV chains stream their weights at, M = 1,
counting only chains of at least 256 MiB of f32 weights: a smaller chain stays in the last-level
cache and its rate is not a memory bandwidth), and that as a fraction of it (ORT's too; for a
chain that fits in the cache the fraction is above what memory allows).

    .venv/bin/python bench/qmatmul_latency.py [--shapes 4096x4096,576x1536] [--m 1,8] [--threads 2]
"""

import argparse
import os
import re
import statistics
import subprocess
import sys
import time

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def quantized_weights(rng, k, n, bits, block):
    """Random MatMulNBits storage for a [K, N] weight: codes [N, K/block, block*bits/8], f32 scales
    [N * K/block], and the dequantized [K, N] f32 weight."""
    blocks = (k + block - 1) // block
    codes = rng.integers(0, 1 << bits, size=(n, blocks * block), dtype=np.uint8)
    codes[:, k:] = 0
    scales = ((rng.random((n, blocks)) + 0.5) * (2.0 / (np.sqrt(k) * (1 << bits)))).astype(np.float32)
    zp = 1 << (bits - 1)
    w = ((codes[:, :k].astype(np.float32) - np.float32(zp)) *
         np.repeat(scales, block, axis=1)[:, :k]).T.astype(np.float32).copy()
    per_byte = 8 // bits
    packed = np.zeros((n, blocks * block // per_byte), dtype=np.uint8)
    for j in range(per_byte):
        packed |= (codes[:, j::per_byte] << (bits * j)).astype(np.uint8)
    return packed.reshape(n, blocks, block * bits // 8), scales.reshape(-1).astype(np.float32), w


def make_models(path_q, path_f, shape, layers, bits, block, accuracy_level, seed=0):
    k0, n0 = shape
    rng = np.random.default_rng(seed)
    nodes_q, nodes_f, inits_q, inits_f = [], [], [], []
    cur = "x"
    for i in range(layers):
        k, n = (k0, n0) if i % 2 == 0 else (n0, k0)
        b, s, w = quantized_weights(rng, k, n, bits, block)
        out = "y" if i == layers - 1 else f"h{i}"
        inits_q += [numpy_helper.from_array(b, f"b{i}"), numpy_helper.from_array(s, f"s{i}")]
        nodes_q.append(helper.make_node("MatMulNBits", [cur, f"b{i}", f"s{i}"], [out], domain="com.microsoft",
                                        K=k, N=n, bits=bits, block_size=block,
                                        accuracy_level=accuracy_level))
        inits_f.append(numpy_helper.from_array(w, f"w{i}"))
        nodes_f.append(helper.make_node("MatMul", [cur, f"w{i}"], [out]))
        cur = out
    k_last = k0 if layers % 2 == 0 else n0
    for nodes, inits, path, extra in ((nodes_q, inits_q, path_q, [helper.make_opsetid("com.microsoft", 1)]),
                                      (nodes_f, inits_f, path_f, [])):
        graph = helper.make_graph(
            nodes, "chain", [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["batch", k0])],
            [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["batch", k_last])], inits)
        model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)] + extra, ir_version=8)
        onnx.save(model, path, save_as_external_data=True, location=os.path.basename(path) + ".data")
    weight_bytes = sum(b.nbytes for b in (numpy_helper.to_array(t) for t in inits_q))
    return weight_bytes


def slim_latency(slim_run, out, m, threads, warmup, repeat):
    r = subprocess.run([slim_run, out, "--bench", f"--dims=batch={m}", f"--num-threads={threads}",
                        f"--warmup={warmup}", f"--repeat={repeat}"], capture_output=True, text=True, check=True)
    return float(re.search(r"median ([\d.]+) ms", r.stdout).group(1))


_SESSIONS = {}


def ort_latency(path, k, m, threads, warmup, repeat):
    import onnxruntime as ort
    if path not in _SESSIONS:
        so = ort.SessionOptions()
        so.intra_op_num_threads = threads
        so.inter_op_num_threads = 1
        _SESSIONS[path] = ort.InferenceSession(path, so, providers=["CPUExecutionProvider"])
    sess = _SESSIONS[path]
    x = np.random.default_rng(1).normal(size=(m, k)).astype(np.float32)
    for _ in range(warmup):
        sess.run(None, {"x": x})
    times = []
    for _ in range(repeat):
        t = time.perf_counter()
        sess.run(None, {"x": x})
        times.append((time.perf_counter() - t) * 1e3)
    return statistics.median(times)


def read_bandwidth(threads):
    """GB/s at which `threads` numpy threads read a 512 MiB array, each summing its own slice
    (numpy releases the GIL in the reduction), best of 5."""
    import threading
    a = np.ones(128 << 20, dtype=np.float32)
    parts = np.array_split(a, threads)
    best = 1e9
    for _ in range(5):
        workers = [threading.Thread(target=np.sum, args=(p,)) for p in parts]
        t = time.perf_counter()
        for w in workers:
            w.start()
        for w in workers:
            w.join()
        best = min(best, time.perf_counter() - t)
    return a.nbytes / best / 1e9


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--shapes", default="4096x4096,4096x11008,576x576,576x1536",
                   help="comma-separated KxN (each chain alternates KxN and NxK)")
    p.add_argument("--m", default="1,8,32,128", help="comma-separated row counts")
    p.add_argument("--layers", type=int, default=8)
    p.add_argument("--bits", type=int, default=4, choices=[4, 8])
    p.add_argument("--block", type=int, default=128)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--accuracy-level", type=int, default=0, choices=[0, 4],
                   help="0: f32 activations (onnxruntime's default; Slim's default "
                        "quantized-activations=f32); 4: int8 activations per block (onnxruntime's "
                        "accuracy_level=4; Slim compiled with --pipeline=quantized-activations=int8)")
    p.add_argument("--warmup", type=int, default=3)
    p.add_argument("--repeat", type=int, default=10)
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--build", default=os.path.join(ROOT, "build"))
    p.add_argument("--work", default=None)
    a = p.parse_args()
    work = a.work or os.path.join(a.build, "bench-qmatmul")
    os.makedirs(work, exist_ok=True)
    slimc = os.path.join(a.build, "bin", "slimc")
    slim_run = os.path.join(a.build, "bin", "slim-run")
    numpy_bandwidth = read_bandwidth(a.threads)
    f32_rate = 0.0
    rows = []
    for spec in a.shapes.split(","):
        k, n = (int(v) for v in spec.lower().split("x"))
        # Slim's importer takes MatMulNBits only without padded blocks: the largest of --block,
        # 64 and 32 that divides both widths (SmolLM2's 576 = 9 x 64).
        block = next((b for b in (a.block, 64, 32) if k % b == 0 and n % b == 0), None)
        if block is None:
            sys.exit(f"{k}x{n}: no block size of {a.block}, 64 or 32 divides both widths")
        base = os.path.join(work, f"w{a.bits}-{k}x{n}")
        q_onnx, f_onnx = base + "-q.onnx", base + "-f32.onnx"
        weight_bytes = make_models(q_onnx, f_onnx, (k, n), a.layers, a.bits, block, a.accuracy_level)
        int8 = ["--pipeline=quantized-activations=int8"] if a.accuracy_level == 4 else []
        for src, dst, extra in ((q_onnx, base + "-q", int8), (f_onnx, base + "-f32", [])):
            subprocess.run([slimc, src, "-o", dst, "--quiet", *extra], check=True)
        for m in (int(v) for v in a.m.split(",")):
            got = {"q": [], "f": [], "ort": []}
            for _ in range(max(1, a.rounds)):
                got["q"].append(slim_latency(slim_run, base + "-q", m, a.threads, a.warmup, a.repeat))
                got["f"].append(slim_latency(slim_run, base + "-f32", m, a.threads, a.warmup, a.repeat))
                got["ort"].append(ort_latency(q_onnx, k, m, a.threads, a.warmup, a.repeat))
            q, f, o = (statistics.median(got[x]) for x in ("q", "f", "ort"))
            gbs = weight_bytes / (q * 1e-3) / 1e9
            if m == 1 and k * n * 4 * a.layers >= 256 << 20:
                # Slim's f32 GEMV chain is memory-bound: the rate it streams the f32 weights at
                # is a read bandwidth measured in the same run too (where they cannot stay in
                # the cache: 576 x 576 chains ran at 54 GB/s from L3 on the AVX2 EPYC).
                f32_rate = max(f32_rate, k * n * 4 * a.layers / (f * 1e-3) / 1e9)
            rows.append((f"{k}x{n} g{block}", m, q, o, f, gbs))
            print(f"  {k}x{n} x{a.layers} M={m}: slim w{a.bits} {q:.3f} ms, onnxruntime {o:.3f} ms, "
                  f"slim f32 {f:.3f} ms", flush=True)
    print(f"\nW{a.bits} (block sizes in the shape column), chains of {a.layers} layers, {a.threads} threads, "
          f"accuracy level {a.accuracy_level} ({'int8' if a.accuracy_level == 4 else 'f32'} activations); "
          f"read bandwidth: {a.threads} numpy threads {numpy_bandwidth:.1f} GB/s, Slim's f32 GEMV chains "
          f"{f32_rate:.1f} GB/s; %bw is of the larger")
    bandwidth = max(numpy_bandwidth, f32_rate)
    print(f"{'shape':17s} {'M':>4s} {'Slim ms':>9s} {'ORT ms':>9s} {'Slim/ORT':>9s} {'f32 ms':>9s} "
          f"{'W4/f32':>7s} {'Slim GB/s':>10s} {'Slim %bw':>9s} {'ORT %bw':>8s}")
    for shape, m, q, o, f, gbs in rows:
        print(f"{shape:17s} {m:4d} {q:9.3f} {o:9.3f} {q / o:9.2f} {f:9.3f} {q / f:7.2f} {gbs:10.1f} "
              f"{100 * gbs / bandwidth:8.0f}% {100 * gbs * q / o / bandwidth:7.0f}%")
    return 0


if __name__ == "__main__":
    sys.exit(main())
