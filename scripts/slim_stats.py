#!/usr/bin/env python3
# Part of the Slim project, under the Apache License v2.0 with LLVM Exceptions.
# SPDX-License-Identifier: Apache-2.0 WITH LLVM-exception
"""Reads and writes Slim calibration statistics files (lib/Compression/CalibrationStats.h).

    slim_stats.py FILE                 summary: source, tokens, one line per input
    slim_stats.py FILE --layer NAME    that layer's record: channels, rows, diagonal of X^T X

Since format 2 a statistics file is a safetensors file: tensors `input.<i>.xtx` [K, K],
`input.<i>.abs_mean`, `.abs_max`, `.mean` [K] (F32), and in its metadata `format`
("slim-calibration-stats"), `version`, `source`, `samples`, `tokens` and `slim`, the JSON of
the layer map (layer -> input), rows per input, weight hashes and how the statistics were made.
Any safetensors reader opens it; this module is a thin layer over the `safetensors` package
(format-1 SLIMSTAT files are still read).

As a module: read(path) -> (header, {layer: (xtx, abs_mean, abs_max, rows, mean)}) (header: the
`slim` JSON; mean is None in files written before the signed mean existed), and
write(path, source, samples, tokens, inputs) with inputs = [(layer_names, xtx, abs_mean, abs_max,
rows[, mean])].
"""

import argparse
import json
import os
import struct
import sys

import numpy as np

ARRAYS = ("xtx", "abs_mean", "abs_max", "mean")


def _read_v1(path):
    """Format 1: "SLIMSTAT", u32 version, u32 0, u64 header size, JSON header with array offsets."""
    with open(path, "rb") as f:
        prologue = f.read(24)
        version, _, header_size = struct.unpack("<IIQ", prologue[8:])
        if version != 1:
            raise ValueError(f"{path}: unsupported version {version}")
        header = json.loads(f.read(header_size))
    data = np.memmap(path, dtype=np.uint8, mode="r")
    arr = lambda off, n: np.frombuffer(data, dtype="<f4", count=n, offset=off)
    records = [(arr(r["xtx"], r["channels"] ** 2).reshape(r["channels"], -1), arr(r["abs_mean"], r["channels"]),
                arr(r["abs_max"], r["channels"]), r["rows"],
                arr(r["mean"], r["channels"]) if "mean" in r else None) for r in header["inputs"]]
    return header, records


def read(path):
    with open(path, "rb") as f:
        if f.read(8) == b"SLIMSTAT":
            header, records = _read_v1(path)
            return header, {name: records[i] for name, i in header["layers"].items()}
    from safetensors import safe_open

    try:
        with safe_open(path, framework="numpy") as f:
            meta = f.metadata() or {}
            if meta.get("format") != "slim-calibration-stats":
                raise ValueError(f"{path}: a safetensors file without Slim's calibration metadata")
            header = json.loads(meta["slim"])
            names = set(f.keys())
            get = lambda i, a: f.get_tensor(f"input.{i}.{a}") if f"input.{i}.{a}" in names else None
            records = [(get(i, "xtx"), get(i, "abs_mean"), get(i, "abs_max"), r["rows"], get(i, "mean"))
                       for i, r in enumerate(header["inputs"])]
    except Exception as e:
        if isinstance(e, ValueError) and str(e).startswith(path):
            raise
        raise ValueError(f"{path}: not a Slim statistics file ({e})") from None
    return header, {name: records[i] for name, i in header["layers"].items()}


def write(path, source, samples, tokens, inputs):
    """inputs: list of (layer_names, xtx [K,K] (mean X^T X), abs_mean [K], abs_max [K], rows[, mean [K]]);
    a mean of None leaves it out (as files written before it existed)."""
    from safetensors.numpy import save_file

    tensors = {}
    slim = {"format": "slim-calibration-stats", "version": 2, "source": source, "samples": samples,
            "tokens": tokens, "inputs": [], "layers": {}}
    for i, rec in enumerate(inputs):
        names, arrays, rows = rec[0], list(rec[1:4]) + [rec[5] if len(rec) > 5 else np.zeros(rec[1].shape[0])], rec[4]
        slim["inputs"].append({"channels": int(arrays[0].shape[0]), "rows": int(rows)})
        for name in names:
            slim["layers"][name] = i
        for a, value in zip(ARRAYS, arrays):
            if value is not None:
                tensors[f"input.{i}.{a}"] = np.ascontiguousarray(value, dtype="<f4")
    meta = {"format": "slim-calibration-stats", "version": "2", "source": source, "samples": str(samples),
            "tokens": str(tokens), "slim": json.dumps(slim)}
    tmp = path + ".tmp"
    save_file(tensors, tmp, metadata=meta)
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
