#!/usr/bin/env python3
# Part of the Slim project, under the Apache License v2.0 with LLVM Exceptions.
# SPDX-License-Identifier: Apache-2.0 WITH LLVM-exception
"""Imports the ONNX backend node tests whose operators Slim supports.

Selects every node test (Debian's libonnx-testdata) all of whose operators
`slim-import-onnx --list-operators` names, imports it, and prints one line per
test, a per-operator table and a closing summary. Tests listed in
known-failures.txt must fail (with the recorded reason); any other failure,
or a known failure that now passes, fails the run.
"""

import argparse
import collections
import os
import subprocess
import sys

import onnx


def main():
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--importer", required=True)
    p.add_argument("--data", default="/usr/share/libonnx-testdata/data/node")
    p.add_argument("--known-failures",
                   default=os.path.join(os.path.dirname(__file__), "known-failures.txt"))
    p.add_argument("--work", required=True)
    p.add_argument("--verbose", action="store_true")
    args = p.parse_args()
    os.makedirs(args.work, exist_ok=True)

    supported = set(subprocess.run([args.importer, "--list-operators"], check=True,
                                   capture_output=True, text=True).stdout.split())
    known = {}
    with open(args.known_failures) as f:
        for line in f:
            line = line.strip()
            if line and not line.startswith("#"):
                name, _, reason = line.partition(" ")
                known[name] = reason.strip()

    per_op = collections.defaultdict(lambda: [0, 0])
    unexpected, fixed, selected = [], [], 0
    for test in sorted(os.listdir(args.data)):
        model_path = os.path.join(args.data, test, "model.onnx")
        if not os.path.exists(model_path):
            continue
        model = onnx.load(model_path, load_external_data=False)
        ops = {f"{'' if n.domain in ('', 'ai.onnx') else n.domain}:{n.op_type}"
               for n in model.graph.node}
        if not ops or not ops <= supported:
            continue
        selected += 1
        out = os.path.join(args.work, test + ".mlir")
        r = subprocess.run([args.importer, model_path, "-o", out],
                           capture_output=True, text=True)
        ok = r.returncode == 0
        for op in ops:
            per_op[op][0 if ok else 1] += 1
        reason = r.stderr.strip().splitlines()[0] if r.stderr.strip() else ""
        if ok and test in known:
            fixed.append(test)
        elif not ok and test not in known:
            unexpected.append((test, reason))
        if args.verbose or (not ok and test not in known):
            print(f"{'PASS' if ok else 'FAIL'} {test} {reason}")
        if ok and os.path.exists(out) and r.returncode != 0:
            unexpected.append((test, "output left behind after failure"))

    print("\nper operator (imported / failed):")
    for op in sorted(per_op):
        good, bad = per_op[op]
        print(f"  {op:40s} {good:4d} {bad:4d}")
    for test in fixed:
        print(f"FIXED {test}: remove it from known-failures.txt")
    passed = selected - sum(1 for t in known if os.path.isdir(os.path.join(args.data, t))) + len(fixed)
    print(f"\nnode tests selected: {selected}, known failures: {len(known)}")
    print(f"onnx node import: {selected - len(unexpected) - (len(known) - len(fixed))} passed, "
          f"{len(unexpected)} failed, {len(known) - len(fixed)} known failures")
    return 1 if unexpected or fixed else 0


if __name__ == "__main__":
    sys.exit(main())
