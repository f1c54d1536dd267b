#!/usr/bin/env python3
# Part of the Slim project, under the Apache License v2.0 with LLVM Exceptions.
# SPDX-License-Identifier: Apache-2.0 WITH LLVM-exception
"""Writes malformed ONNX files for the importer's bad-input tests into DIR."""

import os
import sys

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper


def linear_model(weight):
    x = helper.make_tensor_value_info("x", TensorProto.FLOAT, ["n", 64])
    y = helper.make_tensor_value_info("y", TensorProto.FLOAT, ["n", 64])
    node = helper.make_node("MatMul", ["x", "w"], ["y"], name="proj")
    graph = helper.make_graph([node], "g", [x], [y], [weight])
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 18)])


def main():
    out = sys.argv[1]
    os.makedirs(out, exist_ok=True)
    w = numpy_helper.from_array(np.ones((64, 64), np.float32), "w")
    good = linear_model(w)
    onnx.save_model(good, os.path.join(out, "good.onnx"))
    data = open(os.path.join(out, "good.onnx"), "rb").read()
    # Cut inside the weight's raw data.
    open(os.path.join(out, "truncated.onnx"), "wb").write(data[: len(data) // 2])
    # Bytes that are not a protobuf message.
    open(os.path.join(out, "corrupt.onnx"), "wb").write(b"\xff\xff\xff\xff garbage \x00\x01")
    open(os.path.join(out, "empty.onnx"), "wb").write(b"")

    # Raw data of the wrong size.
    bad = numpy_helper.from_array(np.ones((64, 64), np.float32), "w")
    bad.raw_data = bad.raw_data[:100]
    onnx.save_model(linear_model(bad), os.path.join(out, "short_raw.onnx"))

    # External data: the file, then the same tensor pointing outside the
    # model's directory.
    ext = numpy_helper.from_array(np.ones((64, 64), np.float32), "w")
    model = linear_model(ext)
    onnx.save_model(model, os.path.join(out, "ext.onnx"), save_as_external_data=True,
                    location="ext.onnx.data", size_threshold=0)
    escape = onnx.load(os.path.join(out, "ext.onnx"), load_external_data=False)
    for e in escape.graph.initializer[0].external_data:
        if e.key == "location":
            e.value = "../secret.bin"
    onnx.save_model(escape, os.path.join(out, "escape.onnx"))
    return 0


if __name__ == "__main__":
    sys.exit(main())
