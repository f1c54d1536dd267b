#!/usr/bin/env python3
# Part of the Slim project, under the Apache License v2.0 with LLVM Exceptions.
# SPDX-License-Identifier: Apache-2.0 WITH LLVM-exception
"""Peer measurement: llmcompressor SparseGPT / Wanda pruning of SmolLM2-135M on CPU.

What it does
------------
1. Reads the project's fp32 ONNX export of SmolLM2-135M(-Instruct) (LLaMA
   architecture, ``input_ids`` + ``position_ids`` -> ``logits``) and derives
   the model hyper-parameters from the graph itself: layer count and widths
   from the initializer shapes, head_dim from the RoPE cos/sin caches,
   rope_theta by fitting the cos cache, RMSNorm epsilon from the constant
   added after the first ``ReduceMean``, and the rotary layout (half rotation,
   HF "rotate_half", vs interleaved) from the Slice/Neg/Concat pattern.
2. Builds a Hugging Face ``LlamaForCausalLM`` with that config and loads the
   ONNX initializers (ONNX MatMul weights are [in, out]; torch Linear is
   [out, in], so they are transposed; the LM head is tied to the embedding).
3. Verifies the conversion against onnxruntime on a 64-token input
   (max |logits_hf - logits_ort| / max |logits_ort| must be < 1e-3) and
   aborts otherwise.
4. Measures perplexity with the project's protocol: tokenize with
   ``tokenizers.Tokenizer.from_file(tokenizer.json).encode(text).ids``, keep
   the first ``--eval-tokens`` ids, score non-overlapping ``--context``-token
   windows each run alone from position 0, predicting token t+1 from tokens
   <= t, ppl = exp(sum NLL / count) (count = 4088 for 4096/512).
5. Calibration set: consecutive non-overlapping ``--context``-token windows of
   the tokenized calibration text, the first ``--samples`` of them, passed to
   ``llmcompressor.oneshot`` as a ``datasets.Dataset`` (input_ids +
   attention_mask, no shuffling).
6. For each requested run, starts from a fresh copy of the dense model, runs
   ``oneshot`` with a single SparseGPTModifier or WandaPruningModifier that
   targets the decoder's Linear layers only (q/k/v/o/gate/up/down of every
   layer; ``lm_head`` ignored, embeddings are never pruned), checks the
   achieved sparsity (fraction of exact zeros in the targeted weights) and,
   for 2:4 runs, that every group of 4 consecutive input weights has >= 2
   zeros, then measures both perplexities in fp32.

Each row is printed as one JSON line:
  {"name", "tool", "sotu-1990-97", "austen", "sparsity", "pipeline", "seconds", ...}
``seconds`` is the wall time of the ``oneshot`` call (pruning only).

Run
---
  bash bench/setup-quality-peers.sh        # .venv-llmc: llmcompressor, torch, transformers (pinned)
  .venv-llmc/bin/python bench/llmcompressor_peer.py \\
      --onnx build/bench-quality/smollm2/smollm2-135m-prefill.onnx \\
      --tokenizer build/bench-quality/smollm2/tokenizer.json \\
      --data-dir data/text --out build/bench-quality/llmcompressor.jsonl

``oneshot`` re-reads the model config from ``model.config.name_or_path``, so
the converted dense model is also saved once to ``--work-dir`` (~540 MB).
Library logs go to stderr; stdout carries only the JSON rows.

``--runs`` selects rows (comma list of: dense, sparsegpt-50, sparsegpt-2of4,
wanda-50, wanda-2of4). Runs on CPU; about 1-3 minutes per pruning run on two
cores for this 135M model.
"""

from __future__ import annotations

import argparse
import copy
import json
import math
import os
import sys
import time

import numpy as np

RUNS = ("dense", "sparsegpt-50", "sparsegpt-2of4", "wanda-50", "wanda-2of4")
LINEAR_NAMES = ("q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj")


# --------------------------------------------------------------------------
# ONNX -> Hugging Face conversion
# --------------------------------------------------------------------------

def _const(inits, name):
    from onnx import numpy_helper

    return numpy_helper.to_array(inits[name]) if name in inits else None


def inspect_onnx(path):
    """Return (weights, hparams) read from the ONNX graph."""
    import onnx
    from onnx import numpy_helper

    model = onnx.load(path)  # loads the .onnx.data external weights too
    g = model.graph
    inits = {i.name: i for i in g.initializer}
    producers = {o: n for n in g.node for o in n.output}
    weights = {
        name: numpy_helper.to_array(t)
        for name, t in inits.items()
        if name.startswith("model.") or name in ("cos_cache", "sin_cache")
    }

    emb = weights["model.embed_tokens.weight"]
    vocab, hidden = emb.shape
    layers = sorted({int(n.split(".")[2]) for n in weights if n.startswith("model.layers.")})
    n_layers = len(layers)
    assert layers == list(range(n_layers))
    inter = weights["model.layers.0.mlp.gate_proj.weight"].shape[1]
    kv_dim = weights["model.layers.0.self_attn.k_proj.weight"].shape[1]
    cos = weights["cos_cache"].astype(np.float64)
    sin = weights["sin_cache"].astype(np.float64)
    half = cos.shape[1]
    head_dim = 2 * half
    n_heads = hidden // head_dim
    n_kv = kv_dim // head_dim

    # rope_theta: inv_freq[i] = theta ** (-2i/head_dim); fit from the cos/sin cache at position 1
    ang = np.arctan2(sin[1], cos[1])
    i = np.arange(1, half)
    theta_fit = float(np.median(np.exp(-np.log(ang[1:]) * head_dim / (2 * i))))
    theta = float(round(theta_fit)) if abs(theta_fit - round(theta_fit)) / theta_fit < 1e-4 else theta_fit
    inv = theta ** (-np.arange(0, head_dim, 2) / head_dim)
    pos = np.arange(cos.shape[0])[:, None]
    rope_err = max(np.abs(np.cos(pos * inv) - cos).max(), np.abs(np.sin(pos * inv) - sin).max())

    # RMSNorm epsilon: the Add right after the first ReduceMean
    eps = None
    for n in g.node:
        if n.op_type == "Add" and n.input[0] in producers and producers[n.input[0]].op_type == "ReduceMean":
            eps = float(f"{float(_const(inits, n.input[1])):.6g}")  # fp32 1e-5 -> 1e-05
            break

    # Rotary layout: HF rotate_half = Concat(Neg(x[..., half:]), x[..., :half]) and
    # cos/sin = Concat(cache, cache). Interleaved RoPE would look different.
    rotate_half = False
    for n in g.node:
        if n.op_type == "Concat" and len(n.input) == 2 and n.input[0] in producers:
            neg = producers[n.input[0]]
            if neg.op_type != "Neg":
                continue
            s_hi = producers[neg.input[0]]
            s_lo = producers.get(n.input[1])
            if s_hi.op_type == "Slice" and s_lo is not None and s_lo.op_type == "Slice":
                hi_start = int(_const(inits, s_hi.input[1]).reshape(-1)[0])
                lo_start = int(_const(inits, s_lo.input[1]).reshape(-1)[0])
                lo_end = int(_const(inits, s_lo.input[2]).reshape(-1)[0])
                rotate_half = (hi_start == half and lo_start == 0 and lo_end == half)
            break
    cos_concat = any(
        n.op_type == "Concat" and list(n.input) == [producers[n.input[0]].output[0]] * 2
        and producers[n.input[0]].op_type == "Gather" and producers[n.input[0]].input[0] == "cos_cache"
        for n in g.node if n.op_type == "Concat" and n.input and n.input[0] in producers
    )
    tied = any(
        n.op_type == "Transpose" and n.input[0] == "model.embed_tokens.weight" for n in g.node
    ) and "lm_head.weight" not in inits

    hp = dict(
        vocab_size=int(vocab), hidden_size=int(hidden), intermediate_size=int(inter),
        num_hidden_layers=n_layers, num_attention_heads=int(n_heads),
        num_key_value_heads=int(n_kv), head_dim=int(head_dim), rms_norm_eps=eps,
        rope_theta=theta, rope_theta_fit=theta_fit, rope_cache_max_err=float(rope_err),
        max_position_embeddings=int(cos.shape[0]), rotate_half=rotate_half,
        cos_cache_concat=cos_concat, tied_embeddings=tied,
    )
    return weights, hp


def build_hf_model(weights, hp):
    import torch
    from transformers import LlamaConfig, LlamaForCausalLM

    if not (hp["rotate_half"] and hp["cos_cache_concat"]):
        raise SystemExit(f"unexpected RoPE layout in the ONNX graph: {hp}")
    if not hp["tied_embeddings"]:
        raise SystemExit("expected an LM head tied to the embedding")
    cfg = LlamaConfig(
        vocab_size=hp["vocab_size"], hidden_size=hp["hidden_size"],
        intermediate_size=hp["intermediate_size"], num_hidden_layers=hp["num_hidden_layers"],
        num_attention_heads=hp["num_attention_heads"], num_key_value_heads=hp["num_key_value_heads"],
        head_dim=hp["head_dim"], hidden_act="silu", rms_norm_eps=hp["rms_norm_eps"],
        max_position_embeddings=hp["max_position_embeddings"],
        rope_parameters={"rope_type": "default", "rope_theta": hp["rope_theta"]},
        tie_word_embeddings=True, attention_bias=False, mlp_bias=False,
        bos_token_id=1, eos_token_id=2, use_cache=False,
    )
    cfg._attn_implementation = "eager"
    torch.manual_seed(0)
    model = LlamaForCausalLM(cfg).to(torch.float32).eval()

    sd = {}
    for name, arr in weights.items():
        if name in ("cos_cache", "sin_cache"):
            continue
        t = torch.from_numpy(np.array(arr, dtype=np.float32, copy=True))
        if name.endswith("_proj.weight"):
            t = t.t().contiguous()  # ONNX MatMul [in, out] -> Linear [out, in]
        sd[name] = t
    missing, unexpected = model.load_state_dict(sd, strict=False)
    missing = [m for m in missing if m != "lm_head.weight"]
    if missing or unexpected:
        raise SystemExit(f"state_dict mismatch: missing={missing} unexpected={unexpected}")
    model.tie_weights()
    assert model.lm_head.weight.data_ptr() == model.model.embed_tokens.weight.data_ptr()
    return model


def verify_against_ort(model, onnx_path, ids):
    import onnxruntime as ort
    import torch

    sess = ort.InferenceSession(onnx_path, providers=["CPUExecutionProvider"])
    x = np.asarray(ids, dtype=np.int64)[None, :]
    pos = np.arange(x.shape[1], dtype=np.int64)[None, :]
    ref = sess.run(["logits"], {"input_ids": x, "position_ids": pos})[0]
    with torch.no_grad():
        out = model(input_ids=torch.from_numpy(x)).logits.numpy()
    diff = np.abs(out - ref)
    return dict(
        max_abs=float(diff.max()),
        max_rel=float(diff.max() / np.abs(ref).max()),
        max_rel_elementwise=float((diff / np.maximum(np.abs(ref), 1e-3)).max()),
        argmax_agree=float((out.argmax(-1) == ref.argmax(-1)).mean()),
    )


# --------------------------------------------------------------------------
# Data and perplexity
# --------------------------------------------------------------------------

def tokenize(tokenizer_path, text_path):
    from tokenizers import Tokenizer

    tok = Tokenizer.from_file(tokenizer_path)
    with open(text_path, encoding="utf-8") as f:
        return tok.encode(f.read()).ids


def perplexity(model, ids, context):
    import torch
    import torch.nn.functional as F

    nll, count = 0.0, 0
    with torch.no_grad():
        for start in range(0, len(ids), context):
            win = ids[start:start + context]
            if len(win) < 2:
                break
            x = torch.tensor(win, dtype=torch.long)[None, :]
            logits = model(input_ids=x).logits[0, :-1].to(torch.float64)
            nll += F.cross_entropy(logits, x[0, 1:], reduction="sum").item()
            count += len(win) - 1
    return math.exp(nll / count), count


def calibration_dataset(ids, samples, context):
    from datasets import Dataset

    n = len(ids) // context
    if n < samples:
        raise SystemExit(f"calibration text has only {n} windows of {context} tokens, need {samples}")
    wins = [ids[s * context:(s + 1) * context] for s in range(samples)]
    return Dataset.from_dict({"input_ids": wins, "attention_mask": [[1] * context for _ in wins]})


# --------------------------------------------------------------------------
# Pruning
# --------------------------------------------------------------------------

def make_modifier(run):
    from llmcompressor.modifiers.pruning import SparseGPTModifier, WandaPruningModifier

    algo, kind = run.split("-")
    common = dict(
        sparsity=0.5,
        mask_structure="2:4" if kind == "2of4" else "0:0",
        targets=[f"re:.*layers\\.\\d+\\..*{n}$" for n in LINEAR_NAMES],
        ignore=["re:.*lm_head"],
    )
    if algo == "sparsegpt":
        return SparseGPTModifier(**common)  # block_size / dampening_frac left at defaults
    if algo == "wanda":
        return WandaPruningModifier(**common)
    raise ValueError(run)


def pruned_linears(model):
    import torch

    return {
        n: m for n, m in model.named_modules()
        if isinstance(m, torch.nn.Linear) and n.split(".")[-1] in LINEAR_NAMES
    }


def sparsity_report(model, two_four):
    lin = pruned_linears(model)
    zeros = total = 0
    per_layer = []
    ok24 = True
    for name, m in lin.items():
        w = m.weight.detach()
        z = int((w == 0).sum())
        zeros += z
        total += w.numel()
        per_layer.append(z / w.numel())
        if two_four:
            g = (w.reshape(w.shape[0], -1, 4) == 0).sum(-1)
            ok24 = ok24 and bool((g >= 2).all())
    emb = model.model.embed_tokens.weight.detach()
    return dict(
        sparsity=zeros / total,
        sparsity_min_layer=min(per_layer),
        sparsity_max_layer=max(per_layer),
        n_linears=len(lin),
        embed_zeros=int((emb == 0).sum()),
        two_four_ok=ok24 if two_four else None,
    )


def run_oneshot(dense, run, dataset, processor, samples, context):
    from llmcompressor import oneshot

    model = copy.deepcopy(dense)
    modifier = make_modifier(run)
    t0 = time.time()
    model = oneshot(
        model=model,
        processor=processor,
        recipe=[modifier],
        dataset=dataset,
        num_calibration_samples=samples,
        max_seq_length=context,
        shuffle_calibration_samples=False,
        batch_size=1,
        # pipeline left at its default ("independent"), which picks the
        # per-modifier pipeline; it is logged and recorded below.
    )
    seconds = time.time() - t0
    defaults = {
        k: getattr(modifier, k) for k in
        ("sparsity", "mask_structure", "block_size", "dampening_frac", "preserve_sparsity_mask", "targets", "ignore")
        if hasattr(modifier, k)
    }
    return model, seconds, defaults


# --------------------------------------------------------------------------

def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--onnx", default="build/bench-quality/smollm2/smollm2-135m-prefill.onnx")
    ap.add_argument("--tokenizer", default="build/bench-quality/smollm2/tokenizer.json")
    ap.add_argument("--data-dir", default="data/text")
    ap.add_argument("--calib", default=None, help="calibration text (default DATA_DIR/sotu-calibration-pre1990.txt)")
    ap.add_argument("--sotu", default=None, help="held-out text (default DATA_DIR/sotu-heldout-1990-1997.txt)")
    ap.add_argument("--austen", default=None, help="held-out text (default DATA_DIR/austen-emma-heldout.txt)")
    ap.add_argument("--samples", type=int, default=32)
    ap.add_argument("--context", type=int, default=512)
    ap.add_argument("--eval-tokens", type=int, default=4096)
    ap.add_argument("--runs", default=",".join(RUNS))
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--verify-tokens", type=int, default=64)
    ap.add_argument("--work-dir", default="build/bench-quality/llmc-peer-hf",
                    help="where the converted dense HF checkpoint is written (oneshot needs one on disk)")
    ap.add_argument("--out", default=None, help="also append the JSON rows to this file")
    args = ap.parse_args()

    import torch
    import llmcompressor
    import transformers
    from transformers import PreTrainedTokenizerFast

    torch.set_num_threads(args.threads)

    # llmcompressor logs (loguru) to stdout; move them to stderr so that stdout
    # carries only the JSON rows, and record which calibration pipeline the
    # default ("independent") dispatcher picks for each modifier.
    from loguru import logger as _loguru

    pipelines_seen = []
    _loguru.remove()
    _loguru.add(sys.stderr, level="INFO",
                format="{time:HH:mm:ss} | {function} | {level} - {message}")
    _loguru.add(lambda msg: pipelines_seen.append(msg.record["message"]),
                filter=lambda r: r["message"].startswith("Inferred `"))
    calib_path = args.calib or os.path.join(args.data_dir, "sotu-calibration-pre1990.txt")
    texts = {
        "sotu-1990-97": args.sotu or os.path.join(args.data_dir, "sotu-heldout-1990-1997.txt"),
        "austen": args.austen or os.path.join(args.data_dir, "austen-emma-heldout.txt"),
    }
    runs = [r.strip() for r in args.runs.split(",") if r.strip()]
    for r in runs:
        if r not in RUNS:
            raise SystemExit(f"unknown run {r!r}; choose from {RUNS}")
    tool = f"llmcompressor {llmcompressor.__version__}"
    env = dict(torch=torch.__version__, transformers=transformers.__version__, llmcompressor=llmcompressor.__version__)

    def log(msg):
        print(msg, file=sys.stderr, flush=True)

    out_f = open(args.out, "a") if args.out else None

    def emit(row):
        line = json.dumps(row)
        print(line, flush=True)
        if out_f:
            out_f.write(line + "\n")
            out_f.flush()

    t0 = time.time()
    weights, hp = inspect_onnx(args.onnx)
    log(f"ONNX hyper-parameters: {json.dumps(hp)}")
    if hp["rms_norm_eps"] is None or hp["rope_cache_max_err"] > 1e-5:
        raise SystemExit("could not determine epsilon / rope_theta from the ONNX graph")
    dense = build_hf_model(weights, hp)
    del weights

    eval_ids = {k: tokenize(args.tokenizer, p)[: args.eval_tokens] for k, p in texts.items()}
    check = verify_against_ort(dense, args.onnx, eval_ids["sotu-1990-97"][: args.verify_tokens])
    log(f"HF vs onnxruntime on {args.verify_tokens} tokens: {json.dumps(check)}")
    if check["max_rel"] >= 1e-3:
        raise SystemExit("HF model does not match the ONNX model; stopping")
    log(f"conversion + verification: {time.time() - t0:.1f}s")

    def evaluate(model):
        res = {}
        for k, ids in eval_ids.items():
            ppl, count = perplexity(model, ids, args.context)
            res[k] = round(ppl, 4)
            res[f"{k}-count"] = count
        return res

    calib_ids = tokenize(args.tokenizer, calib_path)
    dataset = calibration_dataset(calib_ids, args.samples, args.context)
    processor = PreTrainedTokenizerFast(tokenizer_file=args.tokenizer)

    # oneshot() re-reads the model's config from model.config.name_or_path
    # (to refuse already-quantized checkpoints), so the converted dense model
    # is saved once as an ordinary HF checkpoint and the in-memory model
    # points at it.
    os.makedirs(args.work_dir, exist_ok=True)
    dense.save_pretrained(args.work_dir)
    processor.save_pretrained(args.work_dir)
    dense.config._name_or_path = os.path.abspath(args.work_dir)

    for run in runs:
        if run == "dense":
            t1 = time.time()
            row = dict(name="dense fp32", tool=tool, **evaluate(dense), sparsity=sparsity_report(dense, False)["sparsity"],
                       pipeline=None, seconds=None, eval_seconds=round(time.time() - t1, 1),
                       verify=check, hparams={k: hp[k] for k in ("rms_norm_eps", "rope_theta", "head_dim")}, env=env)
            emit(row)
            continue
        two_four = run.endswith("2of4")
        pipelines_seen.clear()
        model, seconds, mod_args = run_oneshot(dense, run, dataset, processor, args.samples, args.context)
        rep = sparsity_report(model, two_four)
        rep["embed_unchanged"] = bool(torch.equal(model.model.embed_tokens.weight, dense.model.embed_tokens.weight))
        rep["lm_head_tied"] = model.lm_head.weight.data_ptr() == model.model.embed_tokens.weight.data_ptr()
        if two_four and not rep["two_four_ok"]:
            log(f"WARNING: {run}: 2:4 pattern does not hold")
        t1 = time.time()
        ppl = evaluate(model)
        name = {"sparsegpt-50": "SparseGPT 50% unstructured", "sparsegpt-2of4": "SparseGPT 2:4",
                "wanda-50": "Wanda 50% unstructured", "wanda-2of4": "Wanda 2:4"}[run]
        row = dict(name=name, tool=tool, **ppl, sparsity=round(rep["sparsity"], 6),
                   pipeline="independent (default) -> " + "; ".join(pipelines_seen), seconds=round(seconds, 1),
                   eval_seconds=round(time.time() - t1, 1), sparsity_detail=rep,
                   modifier_args=mod_args, calib=dict(samples=args.samples, context=args.context), env=env)
        emit(row)
        del model

    if out_f:
        out_f.close()


if __name__ == "__main__":
    main()
