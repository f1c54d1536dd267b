#!/usr/bin/env python3
# Part of the Slim project, under the Apache License v2.0 with LLVM Exceptions.
# SPDX-License-Identifier: Apache-2.0 WITH LLVM-exception
"""Generators of LLM-shaped ONNX decoder graphs with the `onnx` package.

Two families, each as a prefill graph (no cache inputs) or a decode graph
(a KV cache per layer as inputs and outputs), with dynamic batch, sequence
and past-sequence dimensions:

* gpt2:  learned positions, LayerNormalization, fused QKV projection with
         bias, tanh-GELU written out as torch exports it, tied LM head (opset 17).
* llama: RMSNorm, rotary embeddings from cos/sin caches gathered by
         position_ids, grouped-query attention, SwiGLU MLP (opset 18, so
         ReduceMean takes its axes as an input). With --fused, the norms and
         rotary embeddings are onnxruntime's contrib ops instead
         (SimplifiedLayerNormalization, SkipSimplifiedLayerNormalization,
         RotaryEmbedding), as onnxruntime's transformer optimizer writes them.

Weights are random (seeded) but the graphs are complete, checked by
onnx.checker and runnable by onnxruntime (--check runs them once).

    python llm_graphs.py llama --mode decode --layers 2 -o model.onnx [--external-data]
"""

import argparse
import math
import os
import sys

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper


class Graph:
    """A small builder: unique names, initializers, nodes. With `external`
    (an open binary file and its name), large weights are streamed into that
    file as they are made, so multi-GB models never sit in memory."""

    def __init__(self, seed=0, external=None, weights=None):
        self.nodes, self.inits, self.counter = [], [], 0
        self.rng = np.random.default_rng(seed)
        self.external = external
        # Real weights by name (e.g. from a checkpoint); random ones otherwise.
        self.weights = weights or {}

    def name(self, base):
        self.counter += 1
        return f"{base}_{self.counter}"

    def op(self, op_type, inputs, n_out=1, name=None, domain="", **attrs):
        name = name or self.name(op_type)
        outs = [f"{name}_out{i}" if n_out > 1 else f"{name}_out" for i in range(n_out)]
        self.nodes.append(helper.make_node(op_type, inputs, outs, name=name, domain=domain, **attrs))
        return outs if n_out > 1 else outs[0]

    def const(self, array, name=None):
        name = name or self.name("const")
        array = np.asarray(array)
        if self.external is not None and array.nbytes >= 4096:
            f, location = self.external
            pad = (-f.tell()) % 64
            f.write(b"\0" * pad)
            offset = f.tell()
            f.write(np.ascontiguousarray(array).tobytes())
            t = onnx.TensorProto()
            t.name = name
            t.data_type = onnx.helper.np_dtype_to_tensor_dtype(array.dtype)
            t.dims.extend(array.shape)
            t.data_location = onnx.TensorProto.EXTERNAL
            for k, v in (("location", location), ("offset", str(offset)), ("length", str(array.nbytes))):
                e = t.external_data.add()
                e.key, e.value = k, v
            self.inits.append(t)
            return name
        self.inits.append(numpy_helper.from_array(array, name))
        return name

    def weight(self, shape, name, std=0.02):
        if name in self.weights:
            w = np.asarray(self.weights[name], dtype=np.float32)
            assert w.shape == tuple(shape), f"{name}: {w.shape} != {tuple(shape)}"
            return self.const(w, name)
        w = self.rng.standard_normal(size=shape, dtype=np.float32)
        w *= np.float32(std)
        return self.const(w, name)

    def param(self, name, default):
        """A named parameter (norm scales): provided, else `default`."""
        if name in self.weights:
            return self.const(np.asarray(self.weights[name], dtype=np.float32), name)
        return self.const(default, name)

    def i64(self, values, name=None):
        return self.const(np.array(values, dtype=np.int64), name)


def linear(g, x, k, n, name, bias=False):
    y = g.op("MatMul", [x, g.weight((k, n), f"{name}.weight")], name=f"{name}/MatMul")
    if bias:
        y = g.op("Add", [y, g.const(np.zeros(n, np.float32), f"{name}.bias")], name=f"{name}/Add")
    return y


def rms_norm(g, x, hidden, name, eps=1e-5, fused=False, opset=18):
    w = g.param(f"{name}.weight", np.ones(hidden, np.float32))
    if fused:
        return g.op("SimplifiedLayerNormalization", [x, w], name=name, axis=-1, epsilon=eps)
    sq = g.op("Pow", [x, g.const(np.array(2.0, np.float32))])
    mean = g.op("ReduceMean", [sq, g.i64([-1])], keepdims=1) if opset >= 18 else \
        g.op("ReduceMean", [sq], axes=[-1], keepdims=1)
    rstd = g.op("Sqrt", [g.op("Add", [mean, g.const(np.array(eps, np.float32))])])
    return g.op("Mul", [g.op("Div", [x, rstd]), w])


def shape_dim(g, x, index):
    """Scalar int64 dimension `index` of x, through Shape -> Gather."""
    return g.op("Gather", [g.op("Shape", [x]), g.i64(index)], axis=0)


def unsq(g, x, axes):
    return g.op("Unsqueeze", [x, g.i64(axes)])


def causal_mask(g, seq, past):
    """[S, T] additive mask: 0 where key position <= query position."""
    total = g.op("Add", [seq, past])
    q_pos = g.op("Range", [past, total, g.i64(1)])
    k_pos = g.op("Range", [g.i64(0), total, g.i64(1)])
    allowed = g.op("LessOrEqual", [unsq(g, k_pos, [0]), unsq(g, q_pos, [1])])
    return g.op("Where", [allowed, g.const(np.array(0.0, np.float32)),
                          g.const(np.array(-1e9, np.float32))])


def split_heads(g, x, heads, dim):
    """[B, S, heads*dim] -> [B, heads, S, dim]."""
    r = g.op("Reshape", [x, g.i64([0, 0, heads, dim])])
    return g.op("Transpose", [r], perm=[0, 2, 1, 3])


def merge_heads(g, x, hidden):
    t = g.op("Transpose", [x], perm=[0, 2, 1, 3])
    return g.op("Reshape", [t, g.i64([0, 0, hidden])])


def rotate_half(g, x, dim):
    half = dim // 2
    x1 = g.op("Slice", [x, g.i64([0]), g.i64([half]), g.i64([-1])])
    x2 = g.op("Slice", [x, g.i64([half]), g.i64([dim]), g.i64([-1])])
    return g.op("Concat", [g.op("Neg", [x2]), x1], axis=-1)


def attention(g, q, k, v, mask, heads, dim):
    kt = g.op("Transpose", [k], perm=[0, 1, 3, 2])
    scores = g.op("Div", [g.op("MatMul", [q, kt]), g.const(np.array(math.sqrt(dim), np.float32))])
    probs = g.op("Softmax", [g.op("Add", [scores, mask])], axis=-1)
    return g.op("MatMul", [probs, v])


def build(family, mode, layers, hidden, heads, kv_heads, inter, vocab, max_pos, fused, seed,
          external=None, weights=None, rope_theta=10000.0, rms_eps=1e-5, tied_embeddings=False):
    g = Graph(seed, external, weights)
    dim = hidden // heads
    opset = 17 if family == "gpt2" else 18
    inputs = [helper.make_tensor_value_info("input_ids", TensorProto.INT64, ["batch", "sequence"])]
    outputs = [helper.make_tensor_value_info("logits", TensorProto.FLOAT, ["batch", "sequence", vocab])]
    decode = mode == "decode"
    cache_heads = heads if family == "gpt2" else kv_heads
    if family == "llama":
        inputs.append(helper.make_tensor_value_info("position_ids", TensorProto.INT64, ["batch", "sequence"]))
    for i in range(layers):
        for kind in ("key", "value"):
            if decode:
                inputs.append(helper.make_tensor_value_info(
                    f"past_key_values.{i}.{kind}", TensorProto.FLOAT,
                    ["batch", cache_heads, "past_sequence", dim]))
            outputs.append(helper.make_tensor_value_info(
                f"present.{i}.{kind}", TensorProto.FLOAT,
                ["batch", cache_heads, "total_sequence", dim]))

    ids = "input_ids"
    seq = unsq(g, shape_dim(g, ids, 1), [0])
    seq = g.op("Squeeze", [seq, g.i64([0])])
    past = shape_dim(g, "past_key_values.0.key", 2) if decode else g.const(np.array(0, np.int64))
    mask = causal_mask(g, seq, past)

    if family == "gpt2":
        wte = g.weight((vocab, hidden), "transformer.wte.weight")
        wpe = g.weight((max_pos, hidden), "transformer.wpe.weight")
        pos = g.op("Range", [past, g.op("Add", [past, seq]), g.i64(1)])
        x = g.op("Add", [g.op("Gather", [wte, ids], axis=0), g.op("Gather", [wpe, pos], axis=0)])
        for i in range(layers):
            p = f"transformer.h.{i}"
            ln1 = g.op("LayerNormalization", [x, g.const(np.ones(hidden, np.float32), f"{p}.ln_1.weight"),
                                              g.const(np.zeros(hidden, np.float32), f"{p}.ln_1.bias")],
                       name=f"{p}/ln_1", axis=-1, epsilon=1e-5)
            qkv = linear(g, ln1, hidden, 3 * hidden, f"{p}.attn.c_attn", bias=True)
            q, k, v = g.op("Split", [qkv, g.i64([hidden] * 3)], n_out=3, axis=-1)
            q, k, v = (split_heads(g, t, heads, dim) for t in (q, k, v))
            if decode:
                k = g.op("Concat", [f"past_key_values.{i}.key", k], axis=2)
                v = g.op("Concat", [f"past_key_values.{i}.value", v], axis=2)
            g.nodes.append(helper.make_node("Identity", [k], [f"present.{i}.key"]))
            g.nodes.append(helper.make_node("Identity", [v], [f"present.{i}.value"]))
            a = merge_heads(g, attention(g, q, k, v, mask, heads, dim), hidden)
            x = g.op("Add", [x, linear(g, a, hidden, hidden, f"{p}.attn.c_proj", bias=True)])
            ln2 = g.op("LayerNormalization", [x, g.const(np.ones(hidden, np.float32), f"{p}.ln_2.weight"),
                                              g.const(np.zeros(hidden, np.float32), f"{p}.ln_2.bias")],
                       name=f"{p}/ln_2", axis=-1, epsilon=1e-5)
            h = linear(g, ln2, hidden, inter, f"{p}.mlp.c_fc", bias=True)
            # tanh GELU as torch exports it.
            cube = g.op("Pow", [h, g.const(np.array(3.0, np.float32))])
            inner = g.op("Mul", [g.op("Add", [h, g.op("Mul", [cube, g.const(np.array(0.044715, np.float32))])]),
                                 g.const(np.array(math.sqrt(2 / math.pi), np.float32))])
            gelu = g.op("Mul", [g.op("Mul", [h, g.const(np.array(0.5, np.float32))]),
                                g.op("Add", [g.op("Tanh", [inner]), g.const(np.array(1.0, np.float32))])])
            x = g.op("Add", [x, linear(g, gelu, inter, hidden, f"{p}.mlp.c_proj", bias=True)])
        x = g.op("LayerNormalization", [x, g.const(np.ones(hidden, np.float32), "transformer.ln_f.weight"),
                                        g.const(np.zeros(hidden, np.float32), "transformer.ln_f.bias")],
                 name="transformer/ln_f", axis=-1, epsilon=1e-5)
        # Tied LM head: logits = x @ wte^T.
        logits = g.op("MatMul", [x, g.op("Transpose", [wte], perm=[1, 0])], name="lm_head/MatMul")
    else:
        inv = 1.0 / (rope_theta ** (np.arange(0, dim, 2) / dim))
        freqs = np.outer(np.arange(max_pos), inv)
        cos_cache = g.const(np.cos(freqs).astype(np.float32), "cos_cache")
        sin_cache = g.const(np.sin(freqs).astype(np.float32), "sin_cache")
        x = g.op("Gather", [g.weight((vocab, hidden), "model.embed_tokens.weight"), ids], axis=0)
        if not fused:
            # [B, S, dim/2] -> [B, 1, S, dim] (both halves share the angles).
            def table(cache):
                t = g.op("Gather", [cache, "position_ids"], axis=0)
                return unsq(g, g.op("Concat", [t, t], axis=-1), [1])
            cos, sin = table(cos_cache), table(sin_cache)
        residual = None
        h = rms_norm(g, x, hidden, "model.layers.0.input_layernorm", eps=rms_eps, fused=fused, opset=opset)
        for i in range(layers):
            p = f"model.layers.{i}"
            q = linear(g, h, hidden, heads * dim, f"{p}.self_attn.q_proj")
            k = linear(g, h, hidden, kv_heads * dim, f"{p}.self_attn.k_proj")
            v = linear(g, h, hidden, kv_heads * dim, f"{p}.self_attn.v_proj")
            if fused:
                q = g.op("RotaryEmbedding", [q, "position_ids", cos_cache, sin_cache], domain="com.microsoft",
                         num_heads=heads)
                k = g.op("RotaryEmbedding", [k, "position_ids", cos_cache, sin_cache], domain="com.microsoft",
                         num_heads=kv_heads)
                q, k = split_heads(g, q, heads, dim), split_heads(g, k, kv_heads, dim)
            else:
                q, k = split_heads(g, q, heads, dim), split_heads(g, k, kv_heads, dim)
                q = g.op("Add", [g.op("Mul", [q, cos]), g.op("Mul", [rotate_half(g, q, dim), sin])])
                k = g.op("Add", [g.op("Mul", [k, cos]), g.op("Mul", [rotate_half(g, k, dim), sin])])
            v = split_heads(g, v, kv_heads, dim)
            if decode:
                k = g.op("Concat", [f"past_key_values.{i}.key", k], axis=2)
                v = g.op("Concat", [f"past_key_values.{i}.value", v], axis=2)
            g.nodes.append(helper.make_node("Identity", [k], [f"present.{i}.key"]))
            g.nodes.append(helper.make_node("Identity", [v], [f"present.{i}.value"]))
            if heads != kv_heads:
                # Grouped-query attention: repeat each KV head heads/kv_heads times.
                rep = heads // kv_heads

                def repeat(t):
                    e = unsq(g, t, [2])
                    shape = g.op("Shape", [e])
                    target = g.op("Concat", [g.op("Slice", [shape, g.i64([0]), g.i64([2])]), g.i64([rep]),
                                             g.op("Slice", [shape, g.i64([3]), g.i64([5])])], axis=0)
                    ex = g.op("Expand", [e, target])
                    return g.op("Reshape", [ex, g.i64([0, heads, -1, dim])])
                k, v = repeat(k), repeat(v)
            a = merge_heads(g, attention(g, q, k, v, mask, heads, dim), hidden)
            o = linear(g, a, heads * dim, hidden, f"{p}.self_attn.o_proj")
            if fused:
                post_w = g.const(np.ones(hidden, np.float32), f"{p}.post_attention_layernorm.weight")
                base = x if residual is None else residual
                # Outputs: normalized, (mean), (inv_std_var), input + skip.
                h2, residual = f"{p}/post_ln_out", f"{p}/post_ln_sum"
                g.nodes.append(helper.make_node(
                    "SkipSimplifiedLayerNormalization", [o, base, post_w], [h2, "", "", residual],
                    name=f"{p}/post_attention_layernorm", domain="com.microsoft", epsilon=1e-5))
                x = residual
            else:
                x = g.op("Add", [x, o])
                h2 = rms_norm(g, x, hidden, f"{p}.post_attention_layernorm", eps=rms_eps, opset=opset)
            gate = linear(g, h2, hidden, inter, f"{p}.mlp.gate_proj")
            up = linear(g, h2, hidden, inter, f"{p}.mlp.up_proj")
            act = g.op("Mul", [g.op("Mul", [gate, g.op("Sigmoid", [gate])]), up])
            down = linear(g, act, inter, hidden, f"{p}.mlp.down_proj")
            x = g.op("Add", [x, down])
            if i + 1 < layers:
                h = rms_norm(g, x, hidden, f"model.layers.{i + 1}.input_layernorm", eps=rms_eps, fused=fused,
                             opset=opset)
        x = rms_norm(g, x, hidden, "model.norm", eps=rms_eps, fused=fused, opset=opset)
        if tied_embeddings:
            # The LM head is the embedding matrix, transposed (one copy of it).
            logits = g.op("MatMul", [x, g.op("Transpose", ["model.embed_tokens.weight"], perm=[1, 0])],
                          name="lm_head/MatMul")
        else:
            logits = linear(g, x, hidden, vocab, "lm_head")
    g.nodes.append(helper.make_node("Identity", [logits], ["logits"]))

    graph = helper.make_graph(g.nodes, f"{family}_{mode}", inputs, outputs, g.inits)
    opsets = [helper.make_opsetid("", opset)]
    if fused:
        opsets.append(helper.make_opsetid("com.microsoft", 1))
    model = helper.make_model(graph, opset_imports=opsets, producer_name="slim-test-generator")
    model.ir_version = 9
    return model


def feeds(model, batch=2, seq=5, past=3, seed=0):
    """Random inputs for a generated model (for --check)."""
    rng = np.random.default_rng(seed)
    vocab = model.graph.output[0].type.tensor_type.shape.dim[2].dim_value
    out = {}
    for inp in model.graph.input:
        if inp.name == "input_ids":
            out[inp.name] = rng.integers(0, vocab, size=(batch, seq)).astype(np.int64)
        elif inp.name == "position_ids":
            out[inp.name] = np.tile(np.arange(past, past + seq, dtype=np.int64), (batch, 1))
        else:
            dims = [d.dim_value for d in inp.type.tensor_type.shape.dim]
            out[inp.name] = rng.normal(size=(batch, dims[1], past, dims[3])).astype(np.float32)
    if not any(i.name.startswith("past_") for i in model.graph.input) and "position_ids" in out:
        out["position_ids"] = np.tile(np.arange(seq, dtype=np.int64), (batch, 1))
    return out


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("family", choices=["gpt2", "llama"])
    p.add_argument("--mode", choices=["prefill", "decode"], default="prefill")
    p.add_argument("--layers", type=int, default=2)
    p.add_argument("--hidden", type=int, default=64)
    p.add_argument("--heads", type=int, default=4)
    p.add_argument("--kv-heads", type=int, default=2)
    p.add_argument("--intermediate", type=int, default=0, help="default: 4x hidden (gpt2), 8/3x (llama)")
    p.add_argument("--vocab", type=int, default=256)
    p.add_argument("--max-positions", type=int, default=128)
    p.add_argument("--fused", action="store_true", help="llama: onnxruntime contrib ops")
    p.add_argument("--external-data", action="store_true", help="weights in <output>.data")
    p.add_argument("--tied-embeddings", action="store_true",
                   help="llama: the LM head is the transposed embedding table (as SmolLM2)")
    p.add_argument("--stream-weights", action="store_true",
                   help="write weights straight to <output>.data while building (for large models)")
    p.add_argument("--check", action="store_true", help="run once with onnxruntime")
    p.add_argument("--write-test-data", metavar="DIR",
                   help="write test_data_set_N/{input,output}_K.pb (ONNX backend test layout) "
                        "with onnxruntime's outputs (graph optimizations off) for --test-sets")
    p.add_argument("--test-sets", default="1x1x4,2x5x3",
                   help="comma-separated BATCHxSEQxPAST sizes for --write-test-data")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("-o", "--output", required=True)
    a = p.parse_args()
    inter = a.intermediate or (4 * a.hidden if a.family == "gpt2" else (8 * a.hidden) // 3)
    kv = a.heads if a.family == "gpt2" else a.kv_heads
    if a.stream_weights:
        location = os.path.basename(a.output) + ".data"
        with open(a.output + ".data", "wb") as f:
            model = build(a.family, a.mode, a.layers, a.hidden, a.heads, kv, inter, a.vocab,
                          a.max_positions, a.fused, a.seed, external=(f, location),
                          tied_embeddings=a.tied_embeddings)
        onnx.save_model(model, a.output)
        params = sum(int(np.prod(t.dims)) for t in model.graph.initializer)
        print(f"{a.output}: {params / 1e9:.3f} B parameters, "
              f"{os.path.getsize(a.output + '.data') / 2**30:.2f} GiB of external data")
        return 0
    model = build(a.family, a.mode, a.layers, a.hidden, a.heads, kv, inter, a.vocab, a.max_positions,
                  a.fused, a.seed, tied_embeddings=a.tied_embeddings)
    if not a.fused:  # the checker does not know onnxruntime's ops
        onnx.checker.check_model(model)
    if a.external_data:
        location = os.path.basename(a.output) + ".data"
        onnx.save_model(model, a.output, save_as_external_data=True, all_tensors_to_one_file=True,
                        location=location, size_threshold=1024)
    else:
        onnx.save_model(model, a.output)
    if a.write_test_data:
        import onnxruntime as ort
        so = ort.SessionOptions()
        so.graph_optimization_level = ort.GraphOptimizationLevel.ORT_DISABLE_ALL
        sess = ort.InferenceSession(a.output, so, providers=["CPUExecutionProvider"])
        for n, spec in enumerate(a.test_sets.split(",")):
            batch, seq, past = (int(v) for v in spec.split("x"))
            f = feeds(model, batch=batch, seq=seq, past=past, seed=n)
            res = sess.run(None, f)
            d = os.path.join(a.write_test_data, f"test_data_set_{n}")
            os.makedirs(d, exist_ok=True)
            for k, inp in enumerate(model.graph.input):
                onnx.save_tensor(numpy_helper.from_array(f[inp.name], inp.name), os.path.join(d, f"input_{k}.pb"))
            for k, (out, r) in enumerate(zip(model.graph.output, res)):
                onnx.save_tensor(numpy_helper.from_array(r, out.name), os.path.join(d, f"output_{k}.pb"))
    if a.check:
        import onnxruntime as ort
        sess = ort.InferenceSession(a.output, providers=["CPUExecutionProvider"])
        res = sess.run(None, feeds(model))
        assert all(np.all(np.isfinite(r)) for r in res), "non-finite output"
        print(f"onnxruntime: {len(res)} outputs, logits {res[0].shape}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
