#!/usr/bin/env python3
# Part of the Slim project, under the Apache License v2.0 with LLVM Exceptions.
# SPDX-License-Identifier: Apache-2.0 WITH LLVM-exception
"""scripts/slim_to_gguf.py: a model Slim quantized, written as GGUF from Slim's own codes.

A small LLaMA GGUF (random weights, a byte-level vocabulary) stands for a llama.cpp model:
scripts/smollm2_to_onnx.py converts it, slimc quantizes it and exports ONNX, slim_to_gguf.py
writes the GGUF. Checked: the tensor types (Q4_0, Q8_0; F16 with a warning, or refused with
--exact, for formats GGUF has no exact type for); every tensor the gguf package dequantizes equals
Slim's dequantized weight exactly (after llama.cpp's Q/K row permutation); the GGUF converted back
to ONNX gives onnxruntime the logits of Slim's ONNX export, also with --keep-quantized (Q4_0/Q8_0
layers as MatMulNBits, compiled by slimc at the size of Slim's own compressed model); the tensors Slim left alone are the
template's bytes; bad input is refused with a message and no file.

Usage: gguf_export.py --work DIR [--slimc PATH]
"""

import argparse
import os
import subprocess
import sys

import numpy as np
import onnx
import onnxruntime as ort

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
SCRIPTS = os.path.join(ROOT, "scripts")
sys.path.insert(0, SCRIPTS)
import slim_to_gguf  # noqa: E402

LAYERS, HIDDEN, HEADS, KV, FFN, VOCAB = 2, 64, 4, 2, 192, 258
MERGES = ["h e", "Ġ t"]  # two merges, their results the last two tokens


def sh(*cmd, ok=True):
    r = subprocess.run(cmd, text=True, capture_output=True)
    if ok and r.returncode != 0:
        sys.exit(f"FAILED: {' '.join(cmd)}\n{r.stdout}\n{r.stderr}")
    return r


def byte_tokens():
    """GPT-2's byte-to-unicode table: the 256 single-byte tokens of a byte-level BPE."""
    bs = list(range(ord("!"), ord("~") + 1)) + list(range(ord("¡"), ord("¬") + 1)) + \
        list(range(ord("®"), ord("ÿ") + 1))
    cs, n = bs[:], 0
    for b in range(256):
        if b not in bs:
            bs.append(b)
            cs.append(256 + n)
            n += 1
    return [chr(c) for _, c in sorted(zip(bs, cs))]


def vocabulary():
    return byte_tokens() + [m.replace(" ", "") for m in MERGES]


def make_template(path):
    import gguf

    rng = np.random.default_rng(0)
    w = gguf.GGUFWriter(path, "llama")
    w.add_block_count(LAYERS)
    w.add_context_length(256)
    w.add_embedding_length(HIDDEN)
    w.add_feed_forward_length(FFN)
    w.add_head_count(HEADS)
    w.add_head_count_kv(KV)
    w.add_rope_freq_base(10000.0)
    w.add_layer_norm_rms_eps(1e-5)
    w.add_vocab_size(VOCAB)
    w.add_tokenizer_model("gpt2")
    w.add_token_list(vocabulary())
    w.add_token_types([1] * VOCAB)
    w.add_token_merges(MERGES)
    t = lambda *shape, s=0.08: (rng.standard_normal(shape) * s).astype(np.float32)
    w.add_tensor("token_embd.weight", t(VOCAB, HIDDEN, s=0.5))
    w.add_tensor("output_norm.weight", 1 + t(HIDDEN, s=0.05))
    head = HIDDEN // HEADS
    for i in range(LAYERS):
        b = f"blk.{i}."
        w.add_tensor(b + "attn_norm.weight", 1 + t(HIDDEN, s=0.05))
        w.add_tensor(b + "ffn_norm.weight", 1 + t(HIDDEN, s=0.05))
        w.add_tensor(b + "attn_q.weight", t(HIDDEN, HIDDEN))
        w.add_tensor(b + "attn_k.weight", t(KV * head, HIDDEN))
        w.add_tensor(b + "attn_v.weight", t(KV * head, HIDDEN))
        w.add_tensor(b + "attn_output.weight", t(HIDDEN, HIDDEN))
        w.add_tensor(b + "ffn_gate.weight", t(FFN, HIDDEN))
        w.add_tensor(b + "ffn_up.weight", t(FFN, HIDDEN))
        w.add_tensor(b + "ffn_down.weight", t(HIDDEN, FFN))
    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_tensors_to_file()
    w.close()


def logits(path, ids):
    o = ort.SessionOptions()
    o.log_severity_level = 3
    s = ort.InferenceSession(path, o, providers=["CPUExecutionProvider"])
    return s.run(["logits"], {"input_ids": ids, "position_ids": np.arange(ids.shape[1], dtype=np.int64)[None]})[0]


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--work", required=True)
    p.add_argument("--slimc", default="slimc")
    a = p.parse_args()
    from gguf import GGMLQuantizationType as Q, GGUFReader
    from gguf.quants import dequantize

    w = lambda *n: os.path.join(a.work, *n)
    py = sys.executable
    make_template(w("t.gguf"))
    sh(py, os.path.join(SCRIPTS, "smollm2_to_onnx.py"), "--gguf", w("t.gguf"), "--out", w("onnx"), "--mode",
       "prefill")
    src = w("onnx", "smollm2-135m-prefill.onnx")
    ids = np.random.default_rng(1).integers(0, VOCAB, (1, 9)).astype(np.int64)
    template = {t.name: t for t in GGUFReader(w("t.gguf")).tensors}

    recipes = [
        ("w4-g32", "method=rtn bits=4 group-size=32 symmetric=1 embeddings=int8", {Q.Q4_0: 14, Q.Q8_0: 1}, ""),
        ("w8-channel", "method=rtn bits=8 group-size=0 symmetric=1", {Q.Q8_0: 14}, ""),
        ("w4-g128-ragged", "method=rtn bits=4 group-size=128 ragged-groups=1 symmetric=1", {Q.Q4_0: 14}, ""),
        ("w4-asym", "method=rtn bits=4 group-size=32", {Q.F16: 14}, "zero points"),
        ("w3", "method=rtn bits=3 group-size=32 symmetric=1", {Q.Q4_0: 14}, ""),  # 3-bit codes are Q4_0 values
    ]
    for name, options, types, warning in recipes:
        sh(a.slimc, src, "--quantize", options, "--emit-onnx", w(f"{name}.onnx"), "--quiet")
        r = sh(py, os.path.join(SCRIPTS, "slim_to_gguf.py"), "--onnx", w(f"{name}.onnx"), "--template",
               w("t.gguf"), "-o", w(f"{name}.gguf"))
        assert (warning in r.stderr) if warning else not r.stderr, r.stderr
        reader = GGUFReader(w(f"{name}.gguf"))
        got = {t.name: t for t in reader.tensors}
        assert reader.fields["tokenizer.ggml.tokens"].contents() == vocabulary()
        counts = {}
        for t in got.values():
            if t.name in template and t.tensor_type == template[t.name].tensor_type and \
                    np.array_equal(np.asarray(t.data), np.asarray(template[t.name].data)):
                continue
            counts[t.tensor_type] = counts.get(t.tensor_type, 0) + 1
        assert counts == types, (name, counts)
        # Exactly Slim's weights: the GGUF's dequantized tensors against Slim's.
        slim, _ = slim_to_gguf.read_slim_weights(w(f"{name}.onnx"))
        for hf, sw in slim.items():
            target = slim_to_gguf.hf_to_gguf(hf)
            t = got[target]
            value = np.asarray(dequantize(t.data, t.tensor_type), np.float32).reshape(
                [int(d) for d in reversed(t.shape)])
            want = sw.dequantized()
            if target.endswith(("attn_q.weight", "attn_k.weight")):
                want = slim_to_gguf.permute(want, HEADS if "attn_q" in target else KV)
            if t.tensor_type == Q.F16:
                want = want.astype(np.float16).astype(np.float32)
            assert np.array_equal(value, want), (name, target, np.abs(value - want).max())
        # Back to ONNX: the same model.
        sh(py, os.path.join(SCRIPTS, "smollm2_to_onnx.py"), "--gguf", w(f"{name}.gguf"), "--out",
           w(f"{name}-back"), "--mode", "prefill")
        back = logits(w(f"{name}-back", "smollm2-135m-prefill.onnx"), ids)
        exported = logits(w(f"{name}.onnx"), ids)
        err = float(np.linalg.norm(back - exported) / np.linalg.norm(exported))
        assert err < (1e-3 if warning else 1e-5), (name, err)
        kept = ""
        if not warning:
            # Back to ONNX with the Q4_0/Q8_0 layers kept: MatMulNBits, slimc compiles them quantized.
            sh(py, os.path.join(SCRIPTS, "smollm2_to_onnx.py"), "--gguf", w(f"{name}.gguf"), "--out",
               w(f"{name}-kept"), "--mode", "prefill", "--keep-quantized")
            kept_onnx = w(f"{name}-kept", "smollm2-135m-prefill.onnx")
            nbits = sum(n.op_type == "MatMulNBits" for n in onnx.load(kept_onnx).graph.node)
            assert nbits == 14, (name, nbits)
            err = float(np.linalg.norm(logits(kept_onnx, ids) - exported) / np.linalg.norm(exported))
            assert err < 1e-5, (name, err)
            sh(a.slimc, kept_onnx, "-o", w(f"{name}-kept.slim"), "-O0", "--quiet")
            sh(a.slimc, w(f"{name}.onnx"), "-o", w(f"{name}.slim"), "-O0", "--quiet")
            sizes = [os.path.getsize(w(f"{d}.slim", "model.weights")) for d in (name, f"{name}-kept")]
            # The embedding comes back fp32 (--keep-quantized keeps linear layers only).
            if "embeddings=" in options:
                assert sizes[0] < sizes[1] <= sizes[0] + VOCAB * HIDDEN * 4, (name, sizes)
            else:
                assert abs(sizes[0] - sizes[1]) <= 0.05 * sizes[0], (name, sizes)  # scales: f32, per 32
            kept = f"; imported back quantized (14 MatMulNBits, same logits, weights {sizes[1]} bytes)"
        kinds = ", ".join(f"{n} {Q(k).name}" for k, n in sorted(types.items()))
        print(f"{name}: {kinds}; dequantized = Slim's weights exactly; back to ONNX: same logits"
              + (f" (F16, warned: {warning})" if warning else "") + kept)

    # --exact refuses what has no exact type; bad input leaves no file.
    r = sh(py, os.path.join(SCRIPTS, "slim_to_gguf.py"), "--onnx", w("w4-asym.onnx"), "--template", w("t.gguf"),
           "-o", w("bad.gguf"), "--exact", ok=False)
    assert r.returncode != 0 and "has no exact GGUF type" in r.stderr, r.stderr
    r = sh(py, os.path.join(SCRIPTS, "slim_to_gguf.py"), "--onnx", src, "--template", w("t.gguf"),
           "-o", w("bad.gguf"), ok=False)
    assert r.returncode != 0 and "no weights quantized by Slim" in r.stderr, r.stderr
    r = sh(py, os.path.join(SCRIPTS, "slim_to_gguf.py"), "--onnx", w("w4-g32.onnx"), "--template", src,
           "-o", w("bad.gguf"), ok=False)
    assert r.returncode != 0 and "not a GGUF file" in r.stderr, r.stderr
    assert not os.path.exists(w("bad.gguf")) and not [f for f in os.listdir(a.work) if f.endswith(".tmp")]
    print("refused: inexact with --exact, an unquantized model, a template that is not GGUF; no file left")


if __name__ == "__main__":
    main()
