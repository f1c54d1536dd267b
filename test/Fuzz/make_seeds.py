#!/usr/bin/env python3
# Part of the Slim project, under the Apache License v2.0 with LLVM Exceptions.
# SPDX-License-Identifier: Apache-2.0 WITH LLVM-exception
"""Writes the seed corpora of the fuzz targets (tools/fuzzers, docs/Fuzzing.md):
small valid inputs of each surface and a few refused ones, for libFuzzer to
mutate and for the test suite to replay. Deterministic; the checked-in seeds
under test/Fuzz/<target>/seeds were written by it.

    make_seeds.py OUT_DIR     writes OUT_DIR/<target>/seeds/...

model-folder-fuzzer's seed is the model.json of a compiled model and is made
where the model is compiled (test/Fuzz/model-folder.test, scripts/fuzz.sh).
"""
import json
import os
import subprocess
import sys

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "..", "scripts"))
import slim_stats  # noqa: E402

out = sys.argv[1]


def target(name):
    d = os.path.join(out, name, "seeds")
    os.makedirs(d, exist_ok=True)
    return d


# Statistics files (safetensors, format 2): two inputs (one shared by two
# layers), without the signed mean (older files), with a NaN (refused), and
# truncated. v1-two-inputs.stats, a format-1 (SLIMSTAT) file kept from before,
# is not written here.
d = target("stats")
rng = np.random.default_rng(7)


def stats_inputs(ks, mean=True):
    res = []
    for i, k in enumerate(ks):
        x = rng.normal(size=(16, k))
        names = [f"layers.{i}.q", f"layers.{i}.k"] if i == 0 else [f"layers.{i}.down"]
        res.append((names, x.T @ x / 16, np.abs(x).mean(0), np.abs(x).max(0), 16,
                    x.mean(0) if mean else None))
    return res


slim_stats.write(os.path.join(d, "two-inputs.stats"), "seed", 2, 16, stats_inputs([4, 3]))
slim_stats.write(os.path.join(d, "no-mean.stats"), "seed", 1, 16, stats_inputs([2], mean=False))
nan = stats_inputs([3])
nan[0][3][1] = np.nan
slim_stats.write(os.path.join(d, "nan.stats"), "seed", 1, 16, nan)
data = open(os.path.join(d, "two-inputs.stats"), "rb").read()
open(os.path.join(d, "truncated.stats"), "wb").write(data[: len(data) - 40])

# Tokenizers: a byte-level BPE with GPT-2's byte alphabet and a few merges,
# then the variants of test/Runtime/make_tokenizer_variants.py.
d = target("tokenizer")
bs = list(range(ord("!"), ord("~") + 1)) + list(range(0xA1, 0xAD)) + list(range(0xAE, 0x100))
cs, n = bs[:], 0
for b in range(256):
    if b not in bs:
        bs.append(b)
        cs.append(256 + n)
        n += 1
alphabet = [chr(c) for c in cs]
vocab = {ch: i for i, ch in enumerate(alphabet)}
merges = []
for a, b in [("Ġ", "t"), ("h", "e"), ("Ġt", "he"), ("i", "n"), ("Ġ", "a"), ("e", "r"),
             ("o", "n"), ("Ġ", "s"), ("r", "e"), ("Ġ", "b"), ("o", "w"), ("Ġb", "r"),
             ("Ġbr", "ow"), ("Ġbrow", "n"), ("q", "u"), ("Ġ", "qu")]:
    merges.append(f"{a} {b}")
    vocab.setdefault(a + b, len(vocab))
tok = {
    "version": "1.0", "truncation": None, "padding": None,
    "added_tokens": [{"id": len(vocab), "content": "<|endoftext|>", "single_word": False,
                      "lstrip": False, "rstrip": False, "normalized": False, "special": True}],
    "normalizer": None,
    "pre_tokenizer": {"type": "ByteLevel", "add_prefix_space": False, "trim_offsets": True,
                      "use_regex": True},
    "post_processor": None,
    "decoder": {"type": "ByteLevel", "add_prefix_space": True, "trim_offsets": True,
                "use_regex": True},
    "model": {"type": "BPE", "dropout": None, "unk_token": None,
              "continuing_subword_prefix": None, "end_of_word_suffix": None,
              "fuse_unk": False, "byte_fallback": False, "ignore_merges": False,
              "vocab": vocab, "merges": merges},
}
base = os.path.join(d, "base.json")
json.dump(tok, open(base, "w"), ensure_ascii=False)
subprocess.run([sys.executable, os.path.join(HERE, "..", "Runtime", "make_tokenizer_variants.py"),
                base, d], check=True, stdout=subprocess.DEVNULL)
pairs = dict(tok, model=dict(tok["model"], merges=[m.split(" ") for m in merges]))
json.dump(pairs, open(os.path.join(d, "merge-pairs.json"), "w"), ensure_ascii=False)

# Tensor files (input_N.pb): raw and typed-field data of each supported type,
# 4-bit, scalars and empty tensors; external data and strings are refused.
d = target("tensor-file")
arrays = {
    "f32": np.arange(6, dtype=np.float32).reshape(2, 3) / 7,
    "i64": np.array([[1, -2, 3]], dtype=np.int64),
    "f16": np.array([1.5, -0.25], dtype=np.float16),
    "u8": np.array([0, 255, 7], dtype=np.uint8),
    "bool": np.array([True, False]),
    "f64": np.array([3.25], dtype=np.float64),
    "scalar": np.array(2.0, dtype=np.float32),
    "empty": np.zeros((0, 4), dtype=np.int32),
}
for name, a in arrays.items():
    open(os.path.join(d, name + ".pb"), "wb").write(
        numpy_helper.from_array(a, name).SerializeToString())
typed = helper.make_tensor("typed", TensorProto.FLOAT, [2, 2], [1.0, 2.0, 3.0, 4.0])
open(os.path.join(d, "typed-f32.pb"), "wb").write(typed.SerializeToString())
typed64 = helper.make_tensor("typed64", TensorProto.INT64, [3], [5, -6, 7])
open(os.path.join(d, "typed-i64.pb"), "wb").write(typed64.SerializeToString())
# 4-bit data must be raw (two per byte, low nibble first): 1, -2, 7.
int4 = helper.make_tensor("int4", TensorProto.INT4, [3], bytes([0xE1, 0x07]), raw=True)
open(os.path.join(d, "int4.pb"), "wb").write(int4.SerializeToString())
int4 = helper.make_tensor("int4", TensorProto.INT4, [3], [1, -2, 7])
open(os.path.join(d, "int4-typed.pb"), "wb").write(int4.SerializeToString())
ext = numpy_helper.from_array(np.ones(4, np.float32), "ext")
ext.ClearField("raw_data")
ext.data_location = TensorProto.EXTERNAL
ext.external_data.add(key="location", value="weights.bin")
open(os.path.join(d, "external.pb"), "wb").write(ext.SerializeToString())
strings = helper.make_tensor("s", TensorProto.STRING, [1], [b"x"])
open(os.path.join(d, "string.pb"), "wb").write(strings.SerializeToString())

# Option strings: the first byte picks quantize (0), prune (1), factorize (2)
# or the CPU pipeline (3).
d = target("pass-options")
options = [
    b"\x00method=rtn bits=4 group-size=4",
    b"\x00bits=8 group-size=0 symmetric=1 scale-type=f32",
    b"\x00bits=2 group-size=4 scale-type=bf16 clip-search=1",
    b"\x00method=gptq bits=3 group-size=4",
    b"\x00embeddings=int8 layers=layers exclude=lm_head",
    b"\x00group-size=3 ragged-groups=1 layers='up|mid' allow-empty=1",
    b"\x01pattern=2:4 method=magnitude",
    b"\x01pattern=unstructured sparsity=0.5",
    b"\x01pattern=2:4 bits=4 group-size=2",
    b"\x01pattern=channels sparsity=0.25 channel-multiple=2",
    b"\x01pattern=heads method=wanda",
    b"\x02method=svd rank=2",
    b"\x02method=svd ratio=0.5 residual=1 bits=4 group-size=4",
    b"\x02energy=0.9 layers=mid",
    b"\x03weights-file=w.bin weights-min-bytes=64 runtime-checks=0",
    b"\x03pack-weights=1 parallel=0 quantized-kernels=1 fuse=0",
]
for i, o in enumerate(options):
    open(os.path.join(d, f"options-{i:02d}"), "wb").write(o)
