#!/usr/bin/env python3
# Part of the Slim project, under the Apache License v2.0 with LLVM Exceptions.
# SPDX-License-Identifier: Apache-2.0 WITH LLVM-exception
"""End-to-end check of Slim's reference semantics against numpy.

For each case this script builds compressed storage (packed codes, scales,
zero points, sparsity metadata, factors) with numpy, following the encoding
documentation independently of Slim's C++ code, writes an MLIR program that
assembles it and runs slim.matmul / slim.dequantize / slim.quantize_activation,
lowers it with `slim-opt --slim-cpu-reference-pipeline`, runs it with
`mlir-runner` on the CPU and compares the printed result with numpy's.
"""

import argparse
import os
import re
import subprocess
import sys

import ml_dtypes
import numpy as np

RNG = np.random.default_rng(1234)

NF4 = np.array([
    -1.0, -0.6961928009986877, -0.5250730514526367, -0.39491748809814453,
    -0.28444138169288635, -0.18477343022823334, -0.09105003625154495, 0.0,
    0.07958029955625534, 0.16093020141124725, 0.24611230194568634,
    0.33791524171829224, 0.44070982933044434, 0.5626170039176941,
    0.7229568362236023, 1.0], dtype=np.float32)


def code_table(fmt):
    """Value of every code of a fixed-table format (ml_dtypes decodes FP8/FP4)."""
    if fmt == "nf4":
        return NF4
    if fmt == "e2m1":
        return np.arange(16, dtype=np.uint8).view(ml_dtypes.float4_e2m1fn).astype(np.float32)
    if fmt == "e4m3":
        return np.arange(256, dtype=np.uint8).view(ml_dtypes.float8_e4m3fn).astype(np.float32)
    if fmt == "e5m2":
        return np.arange(256, dtype=np.uint8).view(ml_dtypes.float8_e5m2).astype(np.float32)
    raise ValueError(fmt)


def pack(codes, bits):
    """LSB-first bit stream of `bits`-wide codes along the last axis."""
    n = codes.shape[-1]
    nbytes = (n * bits + 7) // 8
    flat = codes.reshape(-1, n).astype(np.uint32) & ((1 << bits) - 1)
    out = np.zeros((flat.shape[0], nbytes), np.uint32)
    for j in range(n):
        off = j * bits
        word = flat[:, j] << (off % 8)
        out[:, off // 8] |= word & 0xFF
        if off % 8 + bits > 8:
            out[:, off // 8 + 1] |= word >> 8
    return out.astype(np.uint8).reshape(codes.shape[:-1] + (nbytes,))


def scale_shape(shape, gran):
    kind = gran[0]
    if kind == "tensor":
        return tuple(1 for _ in shape)
    if kind == "channel":
        return tuple(s if d == gran[1] else 1 for d, s in enumerate(shape))
    axis, g = gran[1], gran[2]
    return tuple(-(-s // g) if d == axis else s for d, s in enumerate(shape))


def broadcast_blocks(t, shape, gran):
    """Expands a scale-shaped tensor to `shape` following the granularity."""
    if gran[0] == "group":
        # The last group is shorter when the group size does not divide.
        return np.take(np.repeat(t, gran[2], axis=gran[1]), range(shape[gran[1]]), axis=gran[1])
    return np.broadcast_to(t, shape)


def gran_attr(gran):
    if gran[0] == "tensor":
        return ""
    if gran[0] == "channel":
        return f", channel = {gran[1]}"
    return f", group = {gran[2]}, axis = {gran[1]}"


MLIR_TYPES = {np.dtype(np.int8): "i8", np.dtype(np.uint8): "i8",
              np.dtype(np.float32): "f32", np.dtype(np.float16): "f16",
              np.dtype(ml_dtypes.bfloat16): "bf16", np.dtype(np.int32): "i32"}


def tensor_type(a):
    dims = "x".join(str(d) for d in a.shape)
    return f"tensor<{dims}x{MLIR_TYPES[a.dtype]}>" if dims else f"tensor<{MLIR_TYPES[a.dtype]}>"


def constant(name, a):
    """An arith.constant holding `a` exactly, as a hex blob."""
    return f'    %{name} = arith.constant dense<"0x{np.ascontiguousarray(a).tobytes().hex().upper()}"> : {tensor_type(a)}\n'


class Case:
    def __init__(self, name):
        self.name = name
        self.consts = []
        self.body = []

    def const(self, name, a):
        self.consts.append(constant(name, a))
        return f"%{name}", tensor_type(a)


def quant_storage(case, w, fmt, bits, signed, gran, scale_dtype=np.float16,
                  zero_point=False, prefix="w"):
    """Quantizes `w` as the encoding documents it; returns (storage SSA names,
    their types, the encoding attribute text, dequantized reference)."""
    shape = w.shape
    sshape = scale_shape(shape, gran)
    names, types = [], []
    zp = None
    if fmt == "int":
        qmin, qmax = (-(1 << (bits - 1)), (1 << (bits - 1)) - 1) if signed else (0, (1 << bits) - 1)
        codes = RNG.integers(qmin, qmax + 1, size=shape)
        if zero_point:
            zp = RNG.integers(qmin, qmax + 1, size=sshape)
            zfull = broadcast_blocks(zp, shape, gran)
        else:
            zfull = 0 if signed else (1 << (bits - 1))
        values = (codes - zfull).astype(np.float32)
        raw = codes & ((1 << bits) - 1)
        name = f"{'i' if signed else 'ui'}{bits}"
    else:
        if fmt == "lut":
            table = np.sort(RNG.normal(size=1 << bits)).astype(np.float32)
            name = f"lut{bits}"
        else:
            table = code_table(fmt)
            name = fmt
        finite = np.flatnonzero(np.isfinite(table))
        raw = RNG.choice(finite, size=shape)
        values = table[raw]
    scales = (RNG.uniform(0.01, 0.1, size=sshape)).astype(scale_dtype)
    ref = values * broadcast_blocks(scales.astype(np.float32), shape, gran)
    for label, arr in (("codes", pack(raw.astype(np.uint8), bits).view(np.int8)),
                       ("scales", scales)):
        n, t = case.const(f"{prefix}_{label}", arr)
        names.append(n)
        types.append(t)
    if zero_point:
        n, t = case.const(f"{prefix}_zp", (zp & 0xFF).astype(np.uint8).view(np.int8))
        names.append(n)
        types.append(t)
    if fmt == "lut":
        n, t = case.const(f"{prefix}_codebook", table)
        names.append(n)
        types.append(t)
    scale_name = {np.float16: "f16", np.float32: "f32", ml_dtypes.bfloat16: "bf16"}[scale_dtype]
    attr = f"#slim.quant<{name}{gran_attr(gran)}"
    if scale_name != "f32":
        attr += f", scale = {scale_name}"
    if zero_point:
        attr += ", zero_point"
    attr += ">"
    return names, types, attr, ref.astype(np.float32)


def emit_program(case, result_type_shape):
    out = ["func.func private @printMemrefF32(memref<*xf32>) attributes {llvm.emit_c_interface}\n",
           "func.func @main() {\n"]
    out += case.consts
    out += case.body
    dims = "x".join(str(d) for d in result_type_shape)
    out.append(f"    %print_buf = bufferization.to_buffer %result : tensor<{dims}xf32> to memref<{dims}xf32>\n")
    out.append(f"    %print_any = memref.cast %print_buf : memref<{dims}xf32> to memref<*xf32>\n")
    out.append("    call @printMemrefF32(%print_any) : (memref<*xf32>) -> ()\n")
    out.append("    return\n}\n")
    return "".join(out)


def matmul_case(name, x, storage, attr, w_ref, k, n):
    case = Case(name)
    names, types, enc_attr = storage(case)
    xname, xtype = case.const("x", x)
    wtype = f"tensor<{k}x{n}xf32, {enc_attr}>"
    out_shape = x.shape[:-1] + (n,)
    out_type = "tensor<" + "x".join(str(d) for d in out_shape) + "xf32>"
    case.body.append(f"    %w = slim.assemble {', '.join(names)} : {', '.join(types)} -> {wtype}\n")
    case.body.append(f"    %result = slim.matmul {xname}, %w : {xtype}, {wtype} -> {out_type}\n")
    return case, out_shape


def run(case, out_shape, args, workdir, passes=()):
    """Lowers the case with the reference pipeline (after `passes`, slim-opt flags), runs it."""
    src = os.path.join(workdir, case.name + ".mlir")
    with open(src, "w") as f:
        f.write(emit_program(case, out_shape))
    lowered = subprocess.run([args.slim_opt, *passes, "--slim-cpu-reference-pipeline", src],
                             capture_output=True, text=True)
    if lowered.returncode != 0:
        raise RuntimeError(f"{case.name}: slim-opt failed:\n{lowered.stderr}")
    libs = ",".join(os.path.join(args.lib_dir, l) for l in
                    ("libmlir_runner_utils.so", "libmlir_c_runner_utils.so"))
    ran = subprocess.run([args.mlir_runner, "-e", "main", "-entry-point-result=void",
                          f"-shared-libs={libs}"], input=lowered.stdout,
                         capture_output=True, text=True)
    if ran.returncode != 0:
        raise RuntimeError(f"{case.name}: mlir-runner failed:\n{ran.stderr}")
    data = ran.stdout.split("data =", 1)[1]
    nums = re.findall(r"[-+]?(?:\d+\.?\d*(?:[eE][-+]?\d+)?|inf|nan)", data)
    return np.array([float(v) for v in nums], dtype=np.float32).reshape(out_shape)


def check(name, actual, expected, failures):
    scale = max(float(np.max(np.abs(expected))), 1e-6)
    err = float(np.max(np.abs(actual - expected)))
    ok = err <= 2e-5 * scale
    print(f"{'PASS' if ok else 'FAIL'} {name}: max|err| = {err:.3g} (max|ref| = {scale:.3g})")
    if not ok:
        failures.append(name)


def main():
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--slim-opt", required=True)
    p.add_argument("--mlir-runner", required=True)
    p.add_argument("--lib-dir", required=True)
    p.add_argument("--work", required=True)
    args = p.parse_args()
    os.makedirs(args.work, exist_ok=True)
    failures = []

    k, n = 64, 48
    x = RNG.normal(size=(2, 3, k)).astype(np.float32)

    # Weight-quantized matmuls over every code format and granularity.
    configs = [
        ("int4_group32_f16", dict(fmt="int", bits=4, signed=True, gran=("group", 0, 32))),
        ("uint4_group16_zp", dict(fmt="int", bits=4, signed=False, gran=("group", 0, 16), zero_point=True)),
        ("uint4_ragged_group24_zp", dict(fmt="int", bits=4, signed=False, gran=("group", 0, 24), zero_point=True)),
        ("uint4_symmetric_channel", dict(fmt="int", bits=4, signed=False, gran=("channel", 1))),
        ("int3_channel", dict(fmt="int", bits=3, signed=True, gran=("channel", 1), scale_dtype=np.float32)),
        ("int5_group32_bf16_zp", dict(fmt="int", bits=5, signed=True, gran=("group", 0, 32), scale_dtype=ml_dtypes.bfloat16, zero_point=True)),
        ("int2_group16_zp", dict(fmt="int", bits=2, signed=False, gran=("group", 0, 16), zero_point=True)),
        ("int8_tensor", dict(fmt="int", bits=8, signed=True, gran=("tensor",), scale_dtype=np.float32)),
        ("int7_group_axis1", dict(fmt="int", bits=7, signed=True, gran=("group", 1, 16))),
        ("nf4_group32", dict(fmt="nf4", bits=4, signed=False, gran=("group", 0, 32))),
        ("e4m3_channel", dict(fmt="e4m3", bits=8, signed=False, gran=("channel", 1))),
        ("e5m2_channel", dict(fmt="e5m2", bits=8, signed=False, gran=("channel", 1))),
        ("e2m1_group32", dict(fmt="e2m1", bits=4, signed=False, gran=("group", 0, 32))),
        ("lut3_channel", dict(fmt="lut", bits=3, signed=False, gran=("channel", 1))),
    ]
    for name, cfg in configs:
        holder = {}

        def storage(case, cfg=cfg):
            names, types, attr, ref = quant_storage(case, np.zeros((k, n), np.float32), **cfg)
            holder["ref"] = ref
            return names, types, attr

        case, out_shape = matmul_case(name, x, storage, None, None, k, n)
        actual = run(case, out_shape, args, args.work)
        check(name, actual, x @ holder["ref"], failures)

    # MatMulNBits layout: an N x K weight, groups along K, used transposed.
    case = Case("uint4_transposed_group32_zp")
    names, types, tattr, tref = quant_storage(case, np.zeros((n, k), np.float32), "int", 4, False,
                                              ("group", 1, 32), zero_point=True)
    xname, xtype = case.const("x", x)
    ttype = f"tensor<{n}x{k}xf32, {tattr}>"
    case.body += [f"    %w = slim.assemble {', '.join(names)} : {', '.join(types)} -> {ttype}\n",
                  f"    %result = slim.matmul {xname}, %w transpose_rhs : {xtype}, {ttype} -> tensor<2x3x{n}xf32>\n"]
    check(case.name, run(case, (2, 3, n), args, args.work), x @ tref.T, failures)

    # 2:4 sparse along K, int4 group-16 values, rank-4 f16 residual.
    def sparse_quant_lowrank(case):
        runs = k // 4
        pos = np.stack([np.sort(RNG.choice(4, size=2, replace=False)) for _ in range(runs * n)])
        pos = pos.reshape(runs, n, 2).transpose(0, 2, 1).reshape(runs * 2, n)
        names, types, qattr, values = quant_storage(
            case, np.zeros((k // 2, n), np.float32), "int", 4, True, ("group", 0, 16), prefix="v")
        dense = np.zeros((k, n), np.float32)
        for r in range(runs):
            for t in range(2):
                dense[r * 4 + pos[r * 2 + t], np.arange(n)] = values[r * 2 + t]
        u = RNG.normal(size=(k, 4)).astype(np.float16)
        v = RNG.normal(size=(4, n)).astype(np.float16)
        dense += u.astype(np.float32) @ v.astype(np.float32)
        holder["ref"] = dense
        extra = [case.const("indices", pos.astype(np.int8)), case.const("u", u), case.const("v", v)]
        attr = (f"#slim.compressed<[#slim.sparse<2:4, axis = 0>, {qattr}], "
                f"residual = #slim.lowrank<rank = 4, factor = f16>>")
        return names + [e[0] for e in extra], types + [e[1] for e in extra], attr

    holder = {}
    case, out_shape = matmul_case("sparse24_int4_lowrank", x, sparse_quant_lowrank, None, None, k, n)
    check(case.name, run(case, out_shape, args, args.work), x @ holder["ref"], failures)
    # --slim-split-low-rank (the CPU pipeline's): the sparse int4 part alone, then (x U) V.
    check(case.name + " split", run(case, out_shape, args, args.work, ["--slim-split-low-rank"]),
          x @ holder["ref"], failures)

    # MatMulNBits-like 4-bit N x K weight with zero points, used transposed, plus a rank-8 f16
    # residual (low-rank compensation): reference, and split into x Q^T + (x V^T) U^T.
    case = Case("uint4_transposed_lowrank_residual")
    names, types, qattr, qref = quant_storage(case, np.zeros((n, k), np.float32), "int", 4, False,
                                              ("group", 1, 32), zero_point=True)
    u = RNG.normal(size=(n, 8)).astype(np.float16)
    v = RNG.normal(size=(8, k)).astype(np.float16)
    extra = [case.const("u", u), case.const("v", v)]
    wref = qref + u.astype(np.float32) @ v.astype(np.float32)
    xname, xtype = case.const("x", x)
    ttype = (f"tensor<{n}x{k}xf32, #slim.compressed<[{qattr}], "
             f"residual = #slim.lowrank<rank = 8, factor = f16>>>")
    storage_names = names + [e[0] for e in extra]
    storage_types = types + [e[1] for e in extra]
    case.body += [f"    %w = slim.assemble {', '.join(storage_names)} : {', '.join(storage_types)} -> {ttype}\n",
                  f"    %result = slim.matmul {xname}, %w transpose_rhs : {xtype}, {ttype} -> tensor<2x3x{n}xf32>\n"]
    check(case.name, run(case, (2, 3, n), args, args.work), x @ wref.T, failures)
    check(case.name + " split", run(case, (2, 3, n), args, args.work, ["--slim-split-low-rank"]),
          x @ wref.T, failures)

    # Unstructured CSR sparsity.
    def csr(case):
        dense = RNG.normal(size=(k, n)).astype(np.float32)
        dense[RNG.uniform(size=(k, n)) < 0.7] = 0.0
        rows, cols = np.nonzero(dense)
        row_ptr = np.concatenate([[0], np.cumsum(np.bincount(rows, minlength=k))]).astype(np.int32)
        holder["ref"] = dense
        parts = [case.const("values", dense[rows, cols]), case.const("row_ptr", row_ptr),
                 case.const("col_idx", cols.astype(np.int32))]
        return [p[0] for p in parts], [p[1] for p in parts], "#slim.sparse<unstructured, density = 0.3>"

    holder = {}
    case, out_shape = matmul_case("csr_unstructured", x, csr, None, None, k, n)
    check(case.name, run(case, out_shape, args, args.work), x @ holder["ref"], failures)

    # Pure low-rank factorization with bf16 factors.
    def lowrank(case):
        u = RNG.normal(size=(k, 8)).astype(ml_dtypes.bfloat16)
        v = RNG.normal(size=(8, n)).astype(ml_dtypes.bfloat16)
        holder["ref"] = u.astype(np.float32) @ v.astype(np.float32)
        parts = [case.const("u", u), case.const("v", v)]
        return [p[0] for p in parts], [p[1] for p in parts], "#slim.lowrank<rank = 8, factor = bf16>"

    holder = {}
    case, out_shape = matmul_case("lowrank_bf16", x, lowrank, None, None, k, n)
    check(case.name, run(case, out_shape, args, args.work), x @ holder["ref"], failures)
    check(case.name + " split", run(case, out_shape, args, args.work, ["--slim-split-low-rank"]),
          x @ holder["ref"], failures)

    # W8A8: dynamic per-token int8 activations times a per-channel int8 weight.
    case = Case("w8a8_per_token")
    x2 = (RNG.normal(size=(5, k)) * RNG.uniform(0.1, 4.0, size=(5, 1))).astype(np.float32)
    names, types, wattr, wref = quant_storage(case, np.zeros((k, n), np.float32), "int", 8, True,
                                              ("channel", 1), scale_dtype=np.float32)
    xname, xtype = case.const("x", x2)
    qtype = f"tensor<5x{k}xf32, #slim.quant<i8, channel = 0>>"
    wtype = f"tensor<{k}x{n}xf32, {wattr}>"
    case.body += [f"    %w = slim.assemble {', '.join(names)} : {', '.join(types)} -> {wtype}\n",
                  f"    %q = slim.quantize_activation {xname} : {xtype} -> {qtype}\n",
                  f"    %result = slim.matmul %q, %w : {qtype}, {wtype} -> tensor<5x{n}xf32>\n"]
    s = (np.max(np.abs(x2), axis=1, keepdims=True) / np.float32(127)).astype(np.float32)
    xq = np.clip(np.rint(x2 / s), -128, 127).astype(np.float32) * s
    check(case.name, run(case, (5, n), args, args.work), xq @ wref, failures)

    # Asymmetric 4-bit per-token groups, dequantized.
    case = Case("a4_group_asymmetric")
    x3 = RNG.normal(size=(3, k)).astype(np.float32) + 0.5
    xname, xtype = case.const("x", x3)
    qtype = f"tensor<3x{k}xf32, #slim.quant<ui4, group = 16, axis = 1, zero_point>>"
    case.body += [f"    %q = slim.quantize_activation {xname} : {xtype} -> {qtype}\n",
                  f"    %result = slim.dequantize %q : {qtype} -> tensor<3x{k}xf32>\n"]
    blocks = x3.reshape(3, k // 16, 16)
    lo = np.minimum(blocks.min(axis=2, keepdims=True), 0).astype(np.float32)
    hi = np.maximum(blocks.max(axis=2, keepdims=True), 0).astype(np.float32)
    s = ((hi - lo) / np.float32(15)).astype(np.float32)
    s[s == 0] = 1
    zp = np.clip(0 - np.rint(lo / s), 0, 15)
    q = np.clip(np.rint(blocks / s) + zp, 0, 15)
    check(case.name, run(case, (3, k), args, args.work), ((q - zp) * s).reshape(3, k), failures)

    total = len(configs) + 10
    print(f"reference numerics: {total - len(failures)} passed, {len(failures)} failed")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
