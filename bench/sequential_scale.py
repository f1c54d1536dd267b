#!/usr/bin/env python3
# Part of the Slim project, under the Apache License v2.0 with LLVM Exceptions.
# SPDX-License-Identifier: Apache-2.0 WITH LLVM-exception
"""Time and memory of sequential calibration (slimc --calibration-text) on generated LLaMAs.

For each --layers count, a LLaMA of TinyLlama's shape (hidden 2048, 32 heads / 4 KV heads,
intermediate 5632; vocabulary 49152 so that SmolLM2's tokenizer fits; random weights, streamed
into external data by test/models/llm_graphs.py --stream-weights) goes through sequential GPTQ
W4 g128 on --samples sequences of --context tokens of data/text/sotu-calibration-pre1990.txt.
Reported per model: wall time, peak RSS of slimc (from wait4), the peak anonymous and file-backed
resident sizes (sampled from /proc every 0.2 s; the model's weights are mapped from its files and
count in the second), the largest anonymous size during calibration (slimc's progress lines),
and the time per part.

    .venv/bin/python bench/sequential_scale.py --layers 8,16,22 [--samples 32] [--context 512]

22 layers is 1.17 B parameters (4.4 GiB of fp32 weights). The random weights make the
compressed models meaningless: this measures cost, not quality.
"""

import argparse
import os
import re
import subprocess
import sys
import threading
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BIN = os.path.join(ROOT, "build", "bin")
CALIB = os.path.join(ROOT, "data", "text", "sotu-calibration-pre1990.txt")


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--layers", default="8,16,22")
    p.add_argument("--samples", type=int, default=32)
    p.add_argument("--context", type=int, default=512)
    p.add_argument("--work", default=os.path.join(ROOT, "build", "bench-scale"))
    p.add_argument("--tokenizer", default=os.path.join(ROOT, "build", "bench-quality", "smollm2", "tokenizer.json"),
                   help="SmolLM2's tokenizer.json (bench/quality.py fetches it)")
    p.add_argument("--quantize", default="method=gptq bits=4 group-size=128")
    p.add_argument("--keep", action="store_true", help="keep the compiled models")
    a = p.parse_args()
    os.makedirs(a.work, exist_ok=True)
    rows = []
    for layers in [int(x) for x in a.layers.split(",")]:
        onnx_path = os.path.join(a.work, f"llama-{layers}l.onnx")
        if not os.path.exists(onnx_path):
            subprocess.run([sys.executable, os.path.join(ROOT, "test", "models", "llm_graphs.py"), "llama",
                            "--layers", str(layers), "--hidden", "2048", "--heads", "32", "--kv-heads", "4",
                            "--intermediate", "5632", "--vocab", "49152", "--max-positions", "2048",
                            "--stream-weights", "-o", onnx_path], check=True)
        out = os.path.join(a.work, f"out-{layers}l")
        log_path = os.path.join(a.work, f"slimc-{layers}l.log")
        cmd = [os.path.join(BIN, "slimc"), onnx_path, "-o", out, "--quantize", a.quantize,
               "--calibration-text", CALIB, "--tokenizer", a.tokenizer, "--samples", str(a.samples),
               "--context", str(a.context)]
        print("$ " + " ".join(cmd), flush=True)
        start = time.time()
        peaks = {"RssAnon": 0, "RssFile": 0}

        def sample(pid):
            # /proc/PID/status every 0.2 s: the largest anonymous and file-backed resident sizes.
            while True:
                try:
                    with open(f"/proc/{pid}/status") as f:
                        for line in f:
                            key = line.split(":")[0]
                            if key in peaks:
                                peaks[key] = max(peaks[key], int(line.split()[1]))
                except (OSError, ValueError):
                    return
                time.sleep(0.2)

        with open(log_path, "w") as log:
            proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT)
            sampler = threading.Thread(target=sample, args=(proc.pid,), daemon=True)
            sampler.start()
            _, status, usage = os.wait4(proc.pid, 0)
        seconds = time.time() - start
        text = open(log_path).read()
        if status != 0:
            sys.exit(f"slimc failed ({status}), see {log_path}:\n{text[-2000:]}")
        anon = [float(x) for x in re.findall(r"GB, ([0-9.]+) GB not file-backed", text)]
        parts = re.findall(r"part \d+/(\d+)", text)
        calib = re.search(r"sequential calibration: ([0-9.]+) s", text)
        compress = re.search(r"slimc: compression: ([0-9.]+) s", text)
        row = {"layers": layers, "parts": int(parts[-1]) if parts else 0, "seconds": seconds,
               "calibration_seconds": float(calib.group(1)) if calib else None,
               "compression_seconds": float(compress.group(1)) if compress else None,
               "peak_rss_gb": usage.ru_maxrss / 2**20,
               "peak_anon_gb": peaks["RssAnon"] / 2**20, "peak_file_gb": peaks["RssFile"] / 2**20,
               "calibration_max_anon_gb": max(anon) if anon else None}
        rows.append(row)
        print(row, flush=True)
        if not a.keep:
            subprocess.run(["rm", "-rf", out])
    print(f"\nsequential {a.quantize}, {a.samples} x {a.context} tokens\n")
    print("| layers | parts | wall s | calibration s | s per part | final compression s | peak RSS GB | "
          "peak anonymous GB (whole run / calibration) | peak file-backed GB |")
    print("|---|---|---|---|---|---|---|---|---|")
    for r in rows:
        per_part = r["calibration_seconds"] / r["parts"] if r["parts"] and r["calibration_seconds"] else 0
        print(f"| {r['layers']} | {r['parts']} | {r['seconds']:.0f} | {r['calibration_seconds']:.0f} | "
              f"{per_part:.1f} | {r['compression_seconds']:.0f} | {r['peak_rss_gb']:.2f} | "
              f"{r['peak_anon_gb']:.2f} / {r['calibration_max_anon_gb']:.2f} | {r['peak_file_gb']:.2f} |")


if __name__ == "__main__":
    main()
