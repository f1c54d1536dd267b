#!/usr/bin/env python3
# Part of the Slim project, under the Apache License v2.0 with LLVM Exceptions.
# SPDX-License-Identifier: Apache-2.0 WITH LLVM-exception
"""Writes the ONNX models embedded in a lit test as binary .onnx files.

A test embeds models in ONNX's textual syntax (onnx.parser) between

    // ONNX: <name>
    // <ir_version: 9, opset_import: ["" : 18]>
    // g (float[N, 4] x) => (float[N, 4] y) { y = Relu(x) }
    // END

and runs `onnx_text.py %s %t` to get %t/<name>.onnx for each one. Inside a
block, `INIT <name> <numpy dtype> <d0,d1,...> <random|zeros|arange>` adds an
initializer too large to spell out (seeded, so the files are reproducible).
"""

import os
import sys

import ml_dtypes
import numpy as np
import onnx
import onnx.parser
from onnx import numpy_helper


def main():
    src, out = sys.argv[1], sys.argv[2]
    os.makedirs(out, exist_ok=True)
    name, text, inits = None, [], []
    rng = np.random.default_rng(0)
    for line in open(src):
        body = line.strip()
        body = body[2:].strip() if body.startswith("//") else body
        if body.startswith("ONNX:"):
            name, text, inits = body.split(":", 1)[1].strip(), [], []
        elif body.startswith("INIT ") and name:
            _, iname, dtype, dims, kind = body.split()
            shape = tuple(int(d) for d in dims.split(",") if d)
            dt = np.dtype(getattr(ml_dtypes, dtype)) if dtype in ("int4", "uint4") else np.dtype(dtype)
            if kind == "zeros":
                a = np.zeros(shape, dt)
            elif kind == "arange":
                a = np.arange(int(np.prod(shape))).reshape(shape).astype(dt)
            elif dt.kind == "f":
                a = rng.normal(size=shape).astype(dt)
            else:
                info = ml_dtypes.iinfo(dt) if dtype in ("int4", "uint4") else np.iinfo(dt)
                a = rng.integers(int(info.min), int(info.max) + 1, size=shape).astype(dt)
            inits.append(numpy_helper.from_array(a, iname))
        elif body == "END" and name:
            model = onnx.parser.parse_model("\n".join(text))
            model.graph.initializer.extend(inits)
            onnx.save_model(model, os.path.join(out, name + ".onnx"))
            name = None
        elif name:
            text.append(body)
    return 0


if __name__ == "__main__":
    sys.exit(main())
