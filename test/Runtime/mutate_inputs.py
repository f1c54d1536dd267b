#!/usr/bin/env python3
# Part of the Slim project, under the Apache License v2.0 with LLVM Exceptions.
# SPDX-License-Identifier: Apache-2.0 WITH LLVM-exception
"""Seeded mutation smoke test of the files users hand to the tools (a cheap,
always-run companion of the libFuzzer targets): damaged copies of a compiled
model's model.json, of a tokenizer.json and of a statistics file must give an
error or a result, never a crash (signal) or a hang.

    mutate_inputs.py MODEL_DIR TOKENIZER STATS TEXT WORK [--runs N] [--seed S]

Prints one line per surface: runs, how many were refused with an error, and
exits 1 listing the crashing inputs (kept under WORK) if any.
"""
import argparse
import json
import os
import random
import shutil
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def mutate_json(value, rng):
    """One structural change somewhere in a JSON value."""
    if isinstance(value, dict) and value:
        key = rng.choice(sorted(value))
        r = rng.random()
        if r < 0.15:
            del value[key]
        elif r < 0.3:
            value[key] = rng.choice([None, -1, 0, 2**62, -2**63, "", "x" * 300, [], {}, 1.5, True])
        else:
            value[key] = mutate_json(value[key], rng)
        return value
    if isinstance(value, list) and value:
        i = rng.randrange(len(value))
        r = rng.random()
        if r < 0.2:
            del value[i]
        elif r < 0.35:
            value.append(value[i])
        else:
            value[i] = mutate_json(value[i], rng)
        return value
    return rng.choice([None, -1, 0, 1, 7, 2**31, 2**62, -2**62, "", "a", [], {}, 0.5, False])


def mutate_bytes(data, rng):
    data = bytearray(data)
    for _ in range(rng.randint(1, 8)):
        r = rng.random()
        if r < 0.5 and data:
            data[rng.randrange(len(data))] = rng.randrange(256)
        elif r < 0.7 and data:
            del data[rng.randrange(len(data)):][: rng.randint(1, 64)]
        elif r < 0.85:
            at = rng.randrange(len(data) + 1)
            data[at:at] = bytes(rng.randrange(256) for _ in range(rng.randint(1, 16)))
        else:
            data = data[: rng.randrange(len(data) + 1)]
    return bytes(data)


def run(cmd, timeout=60):
    try:
        p = subprocess.run(cmd, capture_output=True, timeout=timeout)
        return p.returncode
    except subprocess.TimeoutExpired:
        return "timeout"


def main():
    p = argparse.ArgumentParser()
    p.add_argument("model")
    p.add_argument("tokenizer")
    p.add_argument("stats")
    p.add_argument("text")
    p.add_argument("work")
    p.add_argument("--runs", type=int, default=60)
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--bin", default=os.path.join(ROOT, "build", "bin"))
    a = p.parse_args()
    rng = random.Random(a.seed)
    os.makedirs(a.work, exist_ok=True)
    slim_run, slim_opt = os.path.join(a.bin, "slim-run"), os.path.join(a.bin, "slim-opt")
    bad = []

    def record(surface, path, rc, refused):
        if rc == "timeout" or (isinstance(rc, int) and rc < 0):
            keep = os.path.join(a.work, f"crash-{surface}-{len(bad)}")
            shutil.copytree(path, keep) if os.path.isdir(path) else shutil.copy(path, keep)
            bad.append(f"{surface}: {rc} ({keep})")
        elif rc != 0:
            refused[0] += 1

    # model.json of a compiled folder (structural JSON mutations).
    base = json.load(open(os.path.join(a.model, "model.json")))
    folder = os.path.join(a.work, "model")
    refused = [0]
    for i in range(a.runs):
        shutil.rmtree(folder, ignore_errors=True)
        shutil.copytree(a.model, folder)
        doc = json.loads(json.dumps(base))
        for _ in range(rng.randint(1, 3)):
            doc = mutate_json(doc, rng)
        with open(os.path.join(folder, "model.json"), "w") as f:
            json.dump(doc, f)
        record("model.json", folder, run([slim_run, folder, "--bench", "--bind-dims",
                                          "batch=1,sequence=3,past_sequence=2", "--repeat", "1",
                                          "--warmup", "0"]), refused)
    print(f"model.json: {a.runs} runs, {refused[0]} refused")

    # tokenizer.json (JSON mutations), encoding a text.
    base = json.load(open(a.tokenizer))
    refused = [0]
    path = os.path.join(a.work, "tokenizer.json")
    for i in range(a.runs):
        doc = json.loads(json.dumps(base))
        # Mutate the small parts (the vocabulary is 50 k entries).
        part = rng.choice(["pre_tokenizer", "model", "added_tokens", "decoder", "normalizer", "root"])
        if part == "root":
            doc = mutate_json(doc, rng)
        elif part == "model":
            doc["model"] = {k: v for k, v in doc["model"].items()}
            key = rng.choice(sorted(doc["model"]))
            if key in ("vocab", "merges"):
                items = doc["model"][key]
                if isinstance(items, dict):
                    k = rng.choice(sorted(items))
                    items[k] = rng.choice([-1, 2**40, "x", None, items[k]])
                else:
                    items[rng.randrange(len(items))] = rng.choice(["", "a", ["a"], 5, None])
            else:
                doc["model"] = mutate_json(doc["model"], rng)
        else:
            doc[part] = mutate_json(doc.get(part) or {"type": "ByteLevel"}, rng)
        with open(path, "w") as f:
            json.dump(doc, f)
        record("tokenizer.json", path, run([slim_run, "--tokenizer", path, "--encode-file", a.text]), refused)
    print(f"tokenizer.json: {a.runs} runs, {refused[0]} refused")

    # The statistics file (byte mutations of header and arrays), read by GPTQ.
    data = open(a.stats, "rb").read()
    refused = [0]
    path = os.path.join(a.work, "mutated.stats")
    mlir = os.path.join(a.work, "mlp.mlir")
    shutil.copy(os.path.join(ROOT, "test", "Transforms", "Inputs", "mlp.mlir"), mlir)
    for i in range(a.runs):
        with open(path, "wb") as f:
            f.write(mutate_bytes(data, rng))
        record("stats", path, run([slim_opt, mlir, "-o", os.devnull,
                                   f"--slim-quantize=method=gptq group-size=4 stats={path}"]), refused)
    print(f"statistics: {a.runs} runs, {refused[0]} refused")

    if bad:
        print("CRASHES:\n  " + "\n  ".join(bad))
        return 1
    print("no crash")
    return 0


if __name__ == "__main__":
    sys.exit(main())
