# Part of the Slim project, under the Apache License v2.0 with LLVM Exceptions.
# SPDX-License-Identifier: Apache-2.0 WITH LLVM-exception
"""One model per ONNX element type that can be a constant: Y = X op C with C an
initializer large enough for the weights file (600 elements) and a small
Constant node kept in the code, plus test data computed with numpy.

    make_const_models.py OUT_DIR    -> OUT_DIR/<dtype>/model.onnx, test_data_set_0/
"""

import os
import sys

import ml_dtypes
import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

TYPES = {
    "bool": (TensorProto.BOOL, np.bool_),
    "int8": (TensorProto.INT8, np.int8),
    "int16": (TensorProto.INT16, np.int16),
    "int32": (TensorProto.INT32, np.int32),
    "int64": (TensorProto.INT64, np.int64),
    "uint8": (TensorProto.UINT8, np.uint8),
    "float16": (TensorProto.FLOAT16, np.float16),
    "bfloat16": (TensorProto.BFLOAT16, ml_dtypes.bfloat16),
    "float32": (TensorProto.FLOAT, np.float32),
    "float64": (TensorProto.DOUBLE, np.float64),
}
N = 600


def tensor(name, array, elem):
    if elem == TensorProto.BFLOAT16:
        t = helper.make_tensor(name, elem, array.shape, array.view(np.uint16).tobytes(), raw=True)
        return t
    return numpy_helper.from_array(array, name)


def values(np_type, rng, n):
    if np_type is np.bool_:
        return rng.integers(0, 2, n).astype(np.bool_)
    if np.issubdtype(np.dtype(np_type), np.integer):
        info = np.iinfo(np_type)
        lo, hi = max(info.min // 4, -1000), min(info.max // 4, 1000)
        return rng.integers(lo, hi + 1, n).astype(np_type)
    return rng.normal(size=n).astype(np.float32).astype(np_type)


def main():
    out = sys.argv[1]
    rng = np.random.default_rng(0)
    for name, (elem, np_type) in TYPES.items():
        big = values(np_type, rng, N)
        small = values(np_type, rng, 1)
        x = values(np_type, rng, N)
        op = "Xor" if np_type is np.bool_ else "Add"
        nodes = [
            helper.make_node("Constant", [], ["small"], value=tensor("small_value", small, elem)),
            helper.make_node(op, ["X", "big"], ["t"]),
            helper.make_node(op, ["t", "small"], ["Y"]),
        ]
        graph = helper.make_graph(nodes, f"const_{name}",
                                  [helper.make_tensor_value_info("X", elem, [N])],
                                  [helper.make_tensor_value_info("Y", elem, [N])],
                                  [tensor("big", big, elem)])
        model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
        model.ir_version = 9
        d = os.path.join(out, name)
        os.makedirs(os.path.join(d, "test_data_set_0"), exist_ok=True)
        onnx.save_model(model, os.path.join(d, "model.onnx"))
        if np_type is np.bool_:
            y = np.logical_xor(np.logical_xor(x, big), small)
        else:
            y = ((x.astype(np.float64) + big.astype(np.float64)) + small.astype(np.float64)) \
                if np.issubdtype(np.dtype(np_type), np.floating) or np_type is ml_dtypes.bfloat16 else (x + big) + small
            y = np.asarray(y).astype(np_type)
        for i, (a, n) in enumerate(((x, "X"), (y, "Y"))):
            path = os.path.join(d, "test_data_set_0", f"{'input' if n == 'X' else 'output'}_0.pb")
            with open(path, "wb") as f:
                f.write(tensor(n, a, elem).SerializeToString())


if __name__ == "__main__":
    main()
