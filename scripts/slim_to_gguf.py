#!/usr/bin/env python3
# Part of the Slim project, under the Apache License v2.0 with LLVM Exceptions.
# SPDX-License-Identifier: Apache-2.0 WITH LLVM-exception
"""A model Slim quantized, as a GGUF file llama.cpp runs.

Reads the ONNX file `slimc --emit-onnx` wrote (quantized layers as MatMulNBits, a quantized
embedding as DequantizeLinear) and the LLaMA GGUF the model came from (scripts/smollm2_to_onnx.py
converts such a GGUF to the ONNX slimc reads): the GGUF's metadata, tokenizer and the tensors Slim
left alone are copied as they are; every tensor Slim quantized is written from Slim's own codes and
scales, without requantizing:

  symmetric 4-bit codes, groups a multiple of 32, f16 scales  -> Q4_0  (d = scale, q = code + 8)
  symmetric 8-bit codes, groups a multiple of 32, f16 scales  -> Q8_0  (d = scale, q = code)

both exact (a group of 64 or 128 is 2 or 4 blocks with its scale repeated; one scale per row is
every block of the row; 2-3-bit codes are Q4_0 values, 5-7-bit codes Q8_0 values, as the ONNX
export already stores them in 4 or 8 bits). Other Slim formats (zero points, groups that are not
multiples of 32, f32 scales that f16 cannot hold) have no exact GGUF type: they are written as
F16 values of Slim's dequantized weights with a warning, or refused with --exact. The rows of
attn_q/attn_k get llama.cpp's rotary permutation back (scripts/smollm2_to_onnx.py undoes it).

    scripts/slim_to_gguf.py --onnx model-w4.onnx --template source.gguf -o model-w4.gguf [--exact]
"""

import argparse
import os
import sys
import tempfile

import numpy as np


def fail(message):
    sys.exit(f"slim_to_gguf: error: {message}")


def permute(w, heads):
    """llama.cpp's convert permutation of Q/K rows: (head, 2, pair) -> (head, pair, 2)."""
    out = w.shape[0]
    return w.reshape(heads, 2, out // heads // 2, *w.shape[1:]).swapaxes(1, 2).reshape(w.shape)


def hf_to_gguf(name):
    """The GGUF tensor of an ONNX initializer name (scripts/smollm2_to_onnx.py's naming)."""
    fixed = {"model.embed_tokens.weight": "token_embd.weight", "model.norm.weight": "output_norm.weight",
             "lm_head.weight": "output.weight"}
    if name in fixed:
        return fixed[name]
    parts = name.split(".")
    if len(parts) == 6 and parts[:2] == ["model", "layers"]:
        layer, rest = parts[2], ".".join(parts[3:])
        table = {"self_attn.q_proj.weight": "attn_q", "self_attn.k_proj.weight": "attn_k",
                 "self_attn.v_proj.weight": "attn_v", "self_attn.o_proj.weight": "attn_output",
                 "mlp.gate_proj.weight": "ffn_gate", "mlp.up_proj.weight": "ffn_up",
                 "mlp.down_proj.weight": "ffn_down"}
        if rest in table:
            return f"blk.{layer}.{table[rest]}.weight"
    return None


class SlimWeight:
    """A weight as Slim stored it: integer levels [rows, cols] (value = level * scale), one f32
    scale per (row, group) and the group size."""

    def __init__(self, levels, scales, group, bits):
        self.levels, self.scales, self.group, self.bits = levels, scales, group, bits

    def dequantized(self):
        per_col = np.repeat(self.scales, self.group, axis=1)[:, :self.levels.shape[1]]
        return self.levels.astype(np.float32) * per_col


def unpack(data, bits, count):
    """Codes packed LSB first (MatMulNBits, and ONNX int4 for bits=4)."""
    data = np.asarray(data, dtype=np.uint8)
    if bits == 8:
        return data[..., :count].astype(np.int32)
    lo, hi = data & 0xF, data >> 4
    return np.stack([lo, hi], axis=-1).reshape(*data.shape[:-1], -1)[..., :count].astype(np.int32)


def read_slim_weights(onnx_path):
    import onnx
    from onnx import numpy_helper

    model = onnx.load(onnx_path)
    inits = {i.name: i for i in model.graph.initializer}
    array = lambda n: numpy_helper.to_array(inits[n])
    weights, zero_point_layers = {}, []
    for node in model.graph.node:
        attrs = {a.name: onnx.helper.get_attribute_value(a) for a in node.attribute}
        if node.op_type == "MatMulNBits" and node.input[1].endswith(".codes"):
            name = node.input[1][:-len(".codes")]
            k, n, bits, block = attrs["K"], attrs["N"], attrs["bits"], attrs["block_size"]
            blocks = (k + block - 1) // block
            codes = unpack(array(node.input[1]).reshape(n, blocks, -1), bits, block).reshape(n, -1)[:, :k]
            scales = array(node.input[2]).reshape(n, blocks).astype(np.float32)
            if len(node.input) > 3 and node.input[3]:
                zp_packed = array(node.input[3]).reshape(n, -1)
                zp = unpack(zp_packed, bits, blocks)
                zero_point_layers.append(name)
            else:
                zp = np.full((n, blocks), 1 << (bits - 1), np.int32)
            levels = codes - np.repeat(zp, block, axis=1)[:, :k]
            weights[name] = SlimWeight(levels, scales, block, bits)
        elif node.op_type == "DequantizeLinear" and node.input[0].endswith(".codes"):
            name = node.output[0]
            codes_t = inits[node.input[0]]
            rows, cols = codes_t.dims
            raw = np.frombuffer(codes_t.raw_data, np.uint8) if codes_t.raw_data else None
            if codes_t.data_type in (onnx.TensorProto.INT4, onnx.TensorProto.UINT4):
                signed = codes_t.data_type == onnx.TensorProto.INT4
                flat = unpack(raw, 4, rows * cols)
                if signed:
                    flat = np.where(flat >= 8, flat - 16, flat)
                codes, bits = flat.reshape(rows, cols), 4
            else:
                codes, bits = array(node.input[0]).astype(np.int32), 8
            scales = array(node.input[1]).astype(np.float32)
            zp_t = inits.get(node.input[2]) if len(node.input) > 2 else None
            if zp_t is not None:
                zraw = np.frombuffer(zp_t.raw_data, np.uint8) if zp_t.raw_data else None
                if zp_t.data_type in (onnx.TensorProto.INT4, onnx.TensorProto.UINT4):
                    zp = unpack(zraw, 4, int(np.prod(zp_t.dims)))
                    if zp_t.data_type == onnx.TensorProto.INT4:
                        zp = np.where(zp >= 8, zp - 16, zp)
                    zp = zp.reshape(scales.shape)
                else:
                    zp = array(node.input[2]).astype(np.int32)
            else:
                zp = np.zeros(scales.shape, np.int32)
            axis, block = attrs.get("axis", 1), attrs.get("block_size", 0)
            if block:  # blocked along `axis`
                if axis == 0:  # a MatMul weight [K, N]: Slim's rows are its columns
                    codes, scales, zp = codes.T, scales.T, zp.T
                group = block
            else:  # one scale per row
                if axis == 1:
                    codes = codes.T
                scales, zp, group = scales.reshape(-1, 1), zp.reshape(-1, 1), codes.shape[1]
            if np.any(zp):
                zero_point_layers.append(name)
            levels = codes - np.repeat(zp, group, axis=1)[:, :codes.shape[1]]
            weights[name] = SlimWeight(levels, scales, group, bits)
    return weights, set(zero_point_layers)


def gguf_blocks(w, bits):
    """Q4_0 (bits 4: f16 d, 16 bytes, element j in the low nibble and j+16 in the high one) or
    Q8_0 (bits 8: f16 d, 32 int8) blocks of `w`, rows of bytes; None where they are not exact."""
    rows, cols = w.levels.shape
    if cols % 32 or w.group % 32:
        return None
    lo, hi = (-8, 7) if bits == 4 else (-128, 127)
    if w.levels.min() < lo or w.levels.max() > hi:
        return None
    per_block = np.repeat(w.scales, w.group // 32, axis=1)[:, :cols // 32]
    d = per_block.astype(np.float16)
    if not np.array_equal(d.astype(np.float32), per_block):
        return None
    q = w.levels.reshape(rows, cols // 32, 32)
    if bits == 4:
        u = (q + 8).astype(np.uint8)
        packed = u[..., :16] | (u[..., 16:] << 4)
        body = packed
    else:
        body = q.astype(np.int8).view(np.uint8)
    out = np.concatenate([d.reshape(rows, cols // 32, 1).view(np.uint8).reshape(rows, cols // 32, 2), body],
                         axis=-1)
    return out.reshape(rows, -1)


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--onnx", required=True, help="the model slimc --emit-onnx wrote")
    p.add_argument("--template", required=True, help="the LLaMA GGUF the model was converted from")
    p.add_argument("-o", "--output", required=True)
    p.add_argument("--exact", action="store_true", help="refuse weights without an exact GGUF type")
    a = p.parse_args()
    try:
        import gguf
        from gguf import GGMLQuantizationType as Q, GGUFReader, GGUFValueType, GGUFWriter
    except ImportError:
        fail("the gguf package is missing (scripts/setup.sh installs it into .venv)")
    for path in (a.onnx, a.template):
        if not os.path.isfile(path):
            fail(f"{path}: no such file")
    try:
        weights, zero_points = read_slim_weights(a.onnx)
    except Exception as e:  # onnx's own errors name the problem
        fail(f"{a.onnx}: {e}")
    if not weights:
        fail(f"{a.onnx}: no weights quantized by Slim (export one with slimc --quantize ... --emit-onnx)")
    try:
        r = GGUFReader(a.template)
    except Exception as e:
        fail(f"{a.template}: not a GGUF file ({e})")
    arch = r.fields["general.architecture"].contents()
    if arch != "llama":
        fail(f"{a.template}: architecture '{arch}' (only llama)")
    heads = r.fields["llama.attention.head_count"].contents()
    kv_heads = r.fields["llama.attention.head_count_kv"].contents()
    template = {t.name: t for t in r.tensors}

    replaced, counts = {}, {"Q4_0": 0, "Q8_0": 0, "F16": 0}
    for name, w in weights.items():
        target = hf_to_gguf(name)
        if target is None or target not in template:
            fail(f"{a.onnx}: weight '{name}' has no tensor in {a.template}")
        shape = [int(d) for d in reversed(template[target].shape)]
        if list(w.levels.shape) != shape:
            fail(f"weight '{name}' is {w.levels.shape}, {target} in the template {shape}")
        if target.endswith("attn_q.weight") or target.endswith("attn_k.weight"):
            h = heads if target.endswith("attn_q.weight") else kv_heads
            w = SlimWeight(permute(w.levels, h), permute(w.scales, h), w.group, w.bits)
        blocks = gguf_blocks(w, w.bits) if name not in zero_points and w.bits in (4, 8) else None
        if blocks is not None:
            kind = "Q4_0" if w.bits == 4 else "Q8_0"
            replaced[target] = (blocks, Q.Q4_0 if w.bits == 4 else Q.Q8_0)
        else:
            why = "zero points" if name in zero_points else f"{w.bits}-bit codes, groups of {w.group}"
            if a.exact:
                fail(f"weight '{name}' ({why}) has no exact GGUF type (drop --exact for F16)")
            print(f"slim_to_gguf: warning: '{name}' ({why}) has no exact GGUF type: written as F16 values",
                  file=sys.stderr)
            kind = "F16"
            replaced[target] = (w.dequantized().astype(np.float16), Q.F16)
        counts[kind] += 1

    out_dir = os.path.dirname(os.path.abspath(a.output))
    fd, tmp = tempfile.mkstemp(prefix=".slim_to_gguf.", suffix=".tmp", dir=out_dir)
    os.close(fd)
    try:
        writer = GGUFWriter(tmp, arch)
        for key, field in r.fields.items():
            if key.startswith("GGUF.") or key == "general.architecture":
                continue
            if key == "general.file_type" and counts["Q4_0"]:
                writer.add_key_value(key, int(gguf.LlamaFileType.MOSTLY_Q4_0), GGUFValueType.UINT32)
                continue
            vtype = field.types[0]
            sub = field.types[1] if vtype == GGUFValueType.ARRAY else None
            writer.add_key_value(key, field.contents(), vtype, sub)
        for t in r.tensors:
            if t.name in replaced:
                data, qtype = replaced[t.name]
                writer.add_tensor(t.name, data, raw_dtype=qtype)
            else:
                writer.add_tensor(t.name, t.data, raw_dtype=t.tensor_type)
        writer.write_header_to_file()
        writer.write_kv_data_to_file()
        writer.write_tensors_to_file()
        writer.close()
        os.replace(tmp, a.output)
    finally:
        if os.path.exists(tmp):
            os.remove(tmp)
    print(f"slim_to_gguf: wrote {a.output} ({os.path.getsize(a.output)} bytes): "
          f"{counts['Q4_0']} Q4_0, {counts['Q8_0']} Q8_0, {counts['F16']} F16 tensors from Slim, "
          f"{len(r.tensors) - len(replaced)} copied from {os.path.basename(a.template)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
