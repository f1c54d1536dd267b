#!/usr/bin/env python3
# Part of the Slim project, under the Apache License v2.0 with LLVM Exceptions.
# SPDX-License-Identifier: Apache-2.0 WITH LLVM-exception
"""Reads and writes Slim calibration statistics files (lib/Compression/CalibrationStats.h).

    slim_stats.py FILE                 summary: source, tokens, one line per input
    slim_stats.py FILE --layer NAME    that layer's record: channels, rows, diagonal of X^T X

As a module: read(path) -> (header, {layer: (xtx, abs_mean, abs_max, rows, mean)}) with memory-mapped arrays
(mean is None in files written before the signed mean existed), and write(path, source, samples, tokens, inputs)
with inputs = [(layer_names, xtx, abs_mean, abs_max, rows[, mean])].
"""

import argparse
import json
import os
import struct
import sys

import numpy as np

MAGIC = b"SLIMSTAT"
ALIGN = 64


def read(path):
    with open(path, "rb") as f:
        prologue = f.read(24)
    if len(prologue) < 24 or prologue[:8] != MAGIC:
        raise ValueError(f"{path}: not a Slim statistics file")
    version, _, header_size = struct.unpack("<IIQ", prologue[8:])
    if version != 1:
        raise ValueError(f"{path}: unsupported version {version}")
    with open(path, "rb") as f:
        f.seek(24)
        header = json.loads(f.read(header_size))
    data = np.memmap(path, dtype=np.uint8, mode="r")
    records = []
    for rec in header["inputs"]:
        k = rec["channels"]
        arr = lambda off, n: np.frombuffer(data, dtype="<f4", count=n, offset=off)
        records.append((arr(rec["xtx"], k * k).reshape(k, k), arr(rec["abs_mean"], k),
                        arr(rec["abs_max"], k), rec["rows"], arr(rec["mean"], k) if "mean" in rec else None))
    layers = {name: records[i] for name, i in header["layers"].items()}
    return header, layers


def write(path, source, samples, tokens, inputs):
    """inputs: list of (layer_names, xtx [K,K] (mean X^T X), abs_mean [K], abs_max [K], rows[, mean [K]]);
    a mean of None leaves it out (as files written before it existed)."""
    align = lambda x: (x + ALIGN - 1) // ALIGN * ALIGN
    inputs = [tuple(i) + ((np.zeros(i[1].shape[0]),) if len(i) == 5 else ()) for i in inputs]
    offsets = [0] * (4 * len(inputs))
    for _ in range(8):
        header = json.dumps({
            "format": "slim-calibration-stats", "version": 1, "source": source,
            "samples": samples, "tokens": tokens,
            "inputs": [dict({"channels": int(x.shape[0]), "rows": int(rows), "xtx": offsets[4 * i],
                             "abs_mean": offsets[4 * i + 1], "abs_max": offsets[4 * i + 2]},
                            **({} if mean is None else {"mean": offsets[4 * i + 3]}))
                       for i, (_, x, _, _, rows, mean) in enumerate(inputs)],
            "layers": {name: i for i, (names, *_rest) in enumerate(inputs) for name in names},
        }).encode()
        at, new = align(24 + len(header)), []
        for _, x, _, _, _, _ in inputs:
            k = x.shape[0]
            for n in (k * k, k, k, k):
                new.append(at)
                at = align(at + 4 * n)
        if new == offsets:
            break
        offsets = new
    tmp = path + ".tmp"
    with open(tmp, "wb") as f:
        f.write(MAGIC + struct.pack("<IIQ", 1, 0, len(header)) + header)
        for i, (_, x, abs_mean, mx, _, mean) in enumerate(inputs):
            for j, a in enumerate((x, abs_mean, mx, mean)):
                if a is None:
                    continue
                f.write(b"\0" * (offsets[4 * i + j] - f.tell()))
                f.write(np.ascontiguousarray(a, dtype="<f4").tobytes())
    os.replace(tmp, path)


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("file")
    p.add_argument("--layer")
    args = p.parse_args()
    header, layers = read(args.file)
    if args.layer:
        if args.layer not in layers:
            sys.exit(f"{args.file}: no layer '{args.layer}'")
        xtx, mean, mx, rows, signed = layers[args.layer]
        print(f"{args.layer}: {xtx.shape[0]} channels, {rows} rows")
        print("diag(X^T X)[:8]:", np.diag(xtx)[:8])
        print("mean |x|[:8]:", mean[:8])
        print("max |x|[:8]:", mx[:8])
        print("mean x[:8]:", signed[:8] if signed is not None else "(not recorded)")
        return
    print(f"{args.file}: source {header['source']}, {header['samples']} samples, {header['tokens']} tokens, "
          f"{len(header['inputs'])} inputs, {len(header['layers'])} layers")
    for i, rec in enumerate(header["inputs"]):
        names = [n for n, j in header["layers"].items() if j == i]
        print(f"  input {i}: {rec['channels']} channels, {rec['rows']} rows: {', '.join(names)}")


if __name__ == "__main__":
    main()
