# Part of the Slim project, under the Apache License v2.0 with LLVM Exceptions.
# SPDX-License-Identifier: Apache-2.0 WITH LLVM-exception
"""Runs a model compiled for another CPU: it must be refused with the list of
missing features when /proc/cpuinfo lacks any it requires, and run otherwise.
Prints 'target check: ok' when the runtime behaved so."""

import json
import os
import subprocess
import sys

slim_run, model, data = sys.argv[1], sys.argv[2], sys.argv[3]
required = json.load(open(os.path.join(model, "model.json")))["target"]["required_features"]
flags = set()
for line in open("/proc/cpuinfo"):
    if line.startswith("flags"):
        flags = set(line.split(":", 1)[1].split())
        break
# LLVM and Linux spell a few features differently; these are the ones whose
# absence is unambiguous on x86 machines.
probe = {"amx-tile": "amx_tile", "avx512fp16": "avx512_fp16", "avx512f": "avx512f"}
lacking = [f for f, linux in probe.items() if f in required and linux not in flags]
r = subprocess.run([slim_run, model, "--test-data", data, "--rtol", "1e-4", "--atol", "1e-5"],
                   capture_output=True, text=True)
if lacking:
    msg = r.stderr
    ok = (r.returncode != 0 and "needs CPU features this machine lacks" in msg
          and all(f in msg for f in lacking))
else:
    ok = r.returncode == 0 and "FAIL" not in r.stdout
print("target check:", "ok" if ok else f"unexpected (rc {r.returncode}): {r.stdout}{r.stderr}")
