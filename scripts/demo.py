#!/usr/bin/env python3
# Part of the Slim project, under the Apache License v2.0 with LLVM Exceptions.
# SPDX-License-Identifier: Apache-2.0 WITH LLVM-exception
"""Slim's demo until the model pipeline lands: one linear layer, compressed.

A 512x512 fp32 weight (normal, with a few outlier input channels, as in LLM
projections) is round-to-nearest quantized to int4 with one f16 scale per 64
input channels, packed into Slim's storage and assembled into a
`#slim.quant` tensor. `slim.matmul` of a batch of activations by it is
lowered with `slim-opt --slim-cpu-reference-pipeline` and run with
`mlir-runner`; the result is compared with numpy.
"""

import argparse
import os
import sys
import time

import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "test", "e2e"))
import reference_numerics as ref  # noqa: E402


def main():
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--slim-opt", required=True)
    p.add_argument("--mlir-runner", required=True)
    p.add_argument("--lib-dir", required=True)
    p.add_argument("--work", required=True)
    args = p.parse_args()
    os.makedirs(args.work, exist_ok=True)
    rng = np.random.default_rng(0)

    k, n, m, g = 512, 512, 8, 64
    w = rng.normal(scale=0.02, size=(k, n)).astype(np.float32)
    w[rng.choice(k, 4, replace=False)] *= 8.0  # outlier input channels
    x = rng.normal(size=(m, k)).astype(np.float32)

    # Round-to-nearest int4, symmetric, one scale per (group of 64 rows, column).
    blocks = w.reshape(k // g, g, n)
    scales = (np.abs(blocks).max(axis=1) / 7.0).astype(np.float16)
    s32 = scales.astype(np.float32)[:, None, :]
    codes = np.clip(np.rint(blocks / s32), -8, 7).astype(np.int8).reshape(k, n)
    w_deq = (codes.reshape(k // g, g, n) * s32).reshape(k, n)
    packed = ref.pack(codes.astype(np.uint8), 4).view(np.int8)

    case = ref.Case("demo_int4_linear")
    cname, ctype = case.const("codes", packed)
    sname, stype = case.const("scales", scales)
    xname, xtype = case.const("x", x)
    enc = f"#slim.quant<i4, group = {g}, axis = 0, scale = f16>"
    wtype = f"tensor<{k}x{n}xf32, {enc}>"
    assemble = f"    %w = slim.assemble {cname}, {sname} : {ctype}, {stype} -> {wtype}\n"
    matmul = f"    %result = slim.matmul {xname}, %w : {xtype}, {wtype} -> tensor<{m}x{n}xf32>\n"
    case.body += [assemble, matmul]

    dense_bytes = w.nbytes
    packed_bytes = packed.nbytes + scales.nbytes
    print(f"Slim demo: int4 weight-only quantization of a {k}x{n} linear layer")
    print(f"  dense f32 weight        {dense_bytes:>9,} bytes")
    print(f"  {enc}")
    print(f"    codes {packed.nbytes:,} B + scales {scales.nbytes:,} B = {packed_bytes:,} bytes "
          f"({dense_bytes / packed_bytes:.2f}x smaller)")
    print("\nSlim IR (weights as constants):")
    print(assemble.rstrip())
    print(matmul.rstrip())

    start = time.time()
    y = ref.run(case, (m, n), args, args.work)
    elapsed = time.time() - start
    expected = x @ w_deq
    exact = x @ w
    sem_err = float(np.max(np.abs(y - expected)) / np.max(np.abs(expected)))
    q_err = float(np.linalg.norm(y - exact) / np.linalg.norm(exact))
    print(f"\nLowered by slim-opt --slim-cpu-reference-pipeline and run by mlir-runner ({elapsed:.1f} s)")
    print(f"  reference semantics vs numpy:   max rel. difference {sem_err:.2e}")
    print(f"  int4 layer vs fp32 layer:       ||y_q - y|| / ||y|| = {q_err:.4f}")
    print("    (round-to-nearest; outlier channels inflate their groups' scales,\n"
          "     the error calibration-aware methods such as GPTQ and AWQ reduce)")
    ok = sem_err < 1e-5 and q_err < 0.3
    print("demo: " + ("OK" if ok else "MISMATCH"))
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
