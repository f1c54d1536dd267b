#!/usr/bin/env python3
# Part of the Slim project, under the Apache License v2.0 with LLVM Exceptions.
# SPDX-License-Identifier: Apache-2.0 WITH LLVM-exception
"""Writes a model of com.microsoft.MatMulNBits layers on [batch, sequence, K] activations (4-bit
with packed zero points, 4-bit without, 8-bit with, in a chain) and onnxruntime's outputs for
several (batch, sequence) shapes as test-data folders: decoding rows for the quantized GEMV
kernel, longer prompts for the dequantized-tile GEMM."""

import argparse
import os

import numpy as np
import onnx
import onnxruntime as ort
from onnx import TensorProto, helper, numpy_helper


def layer(rng, name, x, k, n, bits, block, zero_points):
    blocks = k // block
    codes = rng.integers(0, 1 << bits, size=(n, blocks * block), dtype=np.uint8)
    per_byte = 8 // bits
    packed = np.zeros((n, blocks * block // per_byte), dtype=np.uint8)
    for j in range(per_byte):
        packed |= (codes[:, j::per_byte] << (bits * j)).astype(np.uint8)
    scales = ((rng.random((n, blocks)) + 0.5) * (2.0 / (np.sqrt(k) * (1 << bits)))).astype(np.float32)
    inits = [numpy_helper.from_array(packed.reshape(n, blocks, block * bits // 8), f"{name}_b"),
             numpy_helper.from_array(scales.reshape(-1), f"{name}_s")]
    inputs = [x, f"{name}_b", f"{name}_s"]
    if zero_points:
        zp = rng.integers(0, 1 << bits, size=(n, blocks), dtype=np.uint8)
        if bits == 4:
            padded = np.zeros((n, (blocks + 1) // 2 * 2), dtype=np.uint8)
            padded[:, :blocks] = zp
            zp = (padded[:, 0::2] | (padded[:, 1::2] << 4)).astype(np.uint8)
        inits.append(numpy_helper.from_array(zp.reshape(-1), f"{name}_zp"))
        inputs.append(f"{name}_zp")
    node = helper.make_node("MatMulNBits", inputs, [f"{name}_y"], domain="com.microsoft", K=k, N=n,
                            bits=bits, block_size=block)
    return node, inits, f"{name}_y"


def main():
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("-o", "--output", required=True)
    p.add_argument("--test-data", required=True)
    p.add_argument("--shapes", default="1x1,2x3,1x40,2x37")
    a = p.parse_args()
    rng = np.random.default_rng(4)
    nodes, inits, cur = [], [], "x"
    for name, k, n, bits, block, zp in (("q4zp", 96, 64, 4, 32, True), ("q4", 64, 80, 4, 16, False),
                                        ("q8zp", 80, 48, 8, 16, True)):
        node, init, cur = layer(rng, name, cur, k, n, bits, block, zp)
        nodes.append(node)
        inits += init
    graph = helper.make_graph(nodes, "matmulnbits",
                              [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["batch", "sequence", 96])],
                              [helper.make_tensor_value_info(cur, TensorProto.FLOAT, ["batch", "sequence", 48])],
                              inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17),
                                                    helper.make_opsetid("com.microsoft", 1)], ir_version=8)
    onnx.save(model, a.output)
    sess = ort.InferenceSession(a.output, providers=["CPUExecutionProvider"])
    for i, shape in enumerate(a.shapes.split(",")):
        b, s = (int(v) for v in shape.split("x"))
        x = rng.normal(size=(b, s, 96)).astype(np.float32)
        y = sess.run(None, {"x": x})[0]
        d = os.path.join(a.test_data, f"test_data_set_{i}")
        os.makedirs(d, exist_ok=True)
        with open(os.path.join(d, "input_0.pb"), "wb") as f:
            f.write(numpy_helper.from_array(x, "x").SerializeToString())
        with open(os.path.join(d, "output_0.pb"), "wb") as f:
            f.write(numpy_helper.from_array(y, cur).SerializeToString())


if __name__ == "__main__":
    main()
