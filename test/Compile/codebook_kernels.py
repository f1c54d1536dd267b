#!/usr/bin/env python3
# Part of the Slim project, under the Apache License v2.0 with LLVM Exceptions.
# SPDX-License-Identifier: Apache-2.0 WITH LLVM-exception
"""Weights in code-book formats (nf4, e2m1, e4m3, e5m2, lutN), odd integer widths and N:M sparse
quantized weights (2:4 int4, 4:8 uint3 with zero points, 2:4 nf4, 2:4 int4 with int8 activations per row)
through the compiled CPU kernels, against numpy.

Writes one MLIR model whose products by N x K weights (used transposed, as imported linear layers
are) read storage built with numpy as the encoding documents it (test/e2e/reference_numerics.py's
builder), compiles it with slimc twice (the kernels, and --pipeline=quantized-kernels=false: the
reference lowering) and runs both with slim-run on 1, 3, 9 and 40 rows (the GEMV kernels; the
dequantized tiles with a GEMV for the channels past the last whole panel) against numpy's products
of the exact weights, with every kernel variant this CPU has forced in turn.
"""

import argparse
import os
import subprocess
import sys

import ml_dtypes
import numpy as np
from onnx import numpy_helper

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "e2e"))
import reference_numerics as rn  # noqa: E402

K, N = 72, 40  # groups of 32 with a ragged last one; two panels of 16 and 8 channels more
FORMATS = [
    ("nf4", dict(fmt="nf4", bits=4, signed=False, gran=("group", 1, 32))),
    ("e2m1", dict(fmt="e2m1", bits=4, signed=False, gran=("group", 1, 32),
                  scale_dtype=ml_dtypes.bfloat16)),
    ("e4m3", dict(fmt="e4m3", bits=8, signed=False, gran=("channel", 0), scale_dtype=np.float32)),
    ("e5m2", dict(fmt="e5m2", bits=8, signed=False, gran=("group", 1, 64))),
    ("lut3", dict(fmt="lut", bits=3, signed=False, gran=("channel", 0), scale_dtype=np.float32)),
    ("lut6", dict(fmt="lut", bits=6, signed=False, gran=("group", 1, 16))),
    ("int3", dict(fmt="int", bits=3, signed=True, gran=("group", 1, 32), zero_point=True)),
    ("uint6", dict(fmt="int", bits=6, signed=False, gran=("channel", 0),
                   scale_dtype=ml_dtypes.bfloat16)),
    # N:M sparse along K, the kept values quantized (groups count kept values).
    ("sparse24_int4", dict(fmt="int", bits=4, signed=True, gran=("group", 1, 16)), (2, 4)),
    ("sparse48_uint3_zp", dict(fmt="int", bits=3, signed=False, gran=("channel", 0),
                               scale_dtype=np.float32, zero_point=True), (4, 8)),
    ("sparse24_nf4", dict(fmt="nf4", bits=4, signed=False, gran=("group", 1, 16)), (2, 4)),
    # W4A8 of a 2:4 weight: the activation quantized to int8 per row first (SmoothQuant's form).
    ("sparse24_int4_a8", dict(fmt="int", bits=4, signed=True, gran=("group", 1, 32)), (2, 4), "a8"),
]
A8 = "#slim.quant<i8, channel = 0>"


def int8_rows(x):
    """slim.quantize_activation to int8 per row, dequantized: scale max|x| / 127, round half even."""
    s = (np.max(np.abs(x), axis=1, keepdims=True) / np.float32(127)).astype(np.float32)
    s[s == 0] = 1
    return (np.clip(np.rint(x / s), -128, 127) * s).astype(np.float32)


def sh(*cmd, env=None):
    r = subprocess.run(cmd, capture_output=True, text=True, env=env)
    if r.returncode != 0:
        raise SystemExit(f"{' '.join(cmd)} failed ({r.returncode}):\n{r.stdout}\n{r.stderr}")
    return r.stdout + r.stderr


def main():
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--work", required=True)
    p.add_argument("--slimc", default="slimc")
    p.add_argument("--slim-run", default="slim-run")
    a = p.parse_args()
    os.makedirs(a.work, exist_ok=True)
    w = lambda *parts: os.path.join(a.work, *parts)  # noqa: E731

    case = rn.Case("codebooks")
    refs, results = [], []
    draw = np.random.default_rng(11)  # sparse positions
    quantized_rows = []
    for i, (name, cfg, *rest) in enumerate(FORMATS):
        sparse = rest[:1]
        quantized_rows.append("a8" in rest)
        if not sparse:
            names, types, attr, ref = rn.quant_storage(case, np.zeros((N, K), np.float32),
                                                       prefix=f"w{i}", **cfg)
            refs.append(ref)
        else:
            # The kept values as a quantized [N, K n/m] tensor; each run's positions drawn
            # without repetition; the dense reference scattered from them.
            n, m = sparse[0]
            names, types, qattr, values = rn.quant_storage(
                case, np.zeros((N, K // m * n), np.float32), prefix=f"w{i}", **cfg)
            pos = np.stack([np.stack([draw.permutation(m)[:n] for _ in range(K // m)]) for _ in range(N)])
            indices = pos.reshape(N, K // m * n).astype(np.int8)
            dense = np.zeros((N, K), np.float32)
            for r in range(N):
                for j in range(K // m * n):
                    dense[r, j // n * m + indices[r, j]] = values[r, j]
            iname, itype = case.const(f"w{i}_indices", indices)
            names, types = names + [iname], types + [itype]
            attr = f"#slim.compressed<[#slim.sparse<{n}:{m}, axis = 1>, {qattr}]>"
            refs.append(dense)
        wtype = f"tensor<{N}x{K}xf32, {attr}>"
        case.body.append(f"    %w{i} = slim.assemble {', '.join(names)} : {', '.join(types)} -> {wtype}\n")
        lhs, ltype = "%x", f"tensor<?x{K}xf32>"
        if quantized_rows[-1]:
            lhs, ltype = f"%q{i}", f"tensor<?x{K}xf32, {A8}>"
            case.body.append(f"    {lhs} = slim.quantize_activation %x : tensor<?x{K}xf32> -> {ltype}\n")
        case.body.append(f"    %y{i} = slim.matmul {lhs}, %w{i} transpose_rhs : {ltype}, {wtype} "
                         f"-> tensor<?x{N}xf32>\n")
        results.append(f"%y{i}")
    outs = ", ".join([f"tensor<?x{N}xf32>"] * len(FORMATS))
    with open(w("model.mlir"), "w") as f:
        f.write(f"func.func @main(%x: tensor<?x{K}xf32>) -> ({outs}) {{\n")
        f.writelines(case.consts + case.body)
        f.write(f"    return {', '.join(results)} : {outs}\n}}\n")

    for variant, extra in (("kernel", []), ("reference", ["--pipeline=quantized-kernels=false"])):
        sh(a.slimc, w("model.mlir"), "-o", w(variant), "--opt-level", "1", "--keep-intermediates",
           "--quiet", *extra)
    ll = open(w("kernel", "model.ll")).read()
    calls = {name: ll.count(f"call void @slim_rt_qmatmul_{name}(")
             for name in ("lut_f16", "lut_f32", "lut_bf16", "zp_f16", "bf16", "sparse_f16",
                          "sparse_zp_f32", "sparse_lut_f16")}
    print("kernel calls: " + ", ".join(f"{k} {v}" for k, v in calls.items()))
    assert "slim_rt_qmatmul" not in open(w("reference", "model.ll")).read()

    rng = np.random.default_rng(7)
    for m in (1, 3, 9, 40):
        d = w(f"rows{m}")
        os.makedirs(d, exist_ok=True)
        x = rng.normal(size=(m, K)).astype(np.float32)
        with open(os.path.join(d, "input_0.pb"), "wb") as f:
            f.write(numpy_helper.from_array(x, "input0").SerializeToString())
        for i, ref in enumerate(refs):
            xi = int8_rows(x) if quantized_rows[i] else x
            y = (xi.astype(np.float64) @ ref.astype(np.float64).T).astype(np.float32)
            with open(os.path.join(d, f"output_{i}.pb"), "wb") as f:
                f.write(numpy_helper.from_array(y, f"output{i}").SerializeToString())
        for variant, isa in (("kernel", ""), ("kernel", "generic"), ("kernel", "avx2"),
                             ("kernel", "avx512"), ("reference", "")):
            env = dict(os.environ, SLIM_KERNELS=isa)
            # f32 sums against float64 ones: e5m2's range (up to 57344) leaves a few 1e-4
            # of cancellation error; a wrong decoding is off by far more.
            out = sh(a.slim_run, w(variant), "--test-data", d, "--rtol", "5e-4", "--atol", "1e-5",
                     env=env)
            passed = out.count("PASS output")
            assert "FAIL" not in out and passed == len(FORMATS), out
        print(f"{m} rows: {len(FORMATS)} formats match numpy (kernels: best, generic, avx2, avx512; "
              "reference lowering)")
    print("codebook kernels: OK")


if __name__ == "__main__":
    main()
