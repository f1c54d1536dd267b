# Part of the Slim project, under the Apache License v2.0 with LLVM Exceptions.
# SPDX-License-Identifier: Apache-2.0 WITH LLVM-exception
"""Runs the importer on every file of a directory; fails on anything but a
clean exit (0) or a reported error (1)."""
import os
import subprocess
import sys

importer, folder = sys.argv[1], sys.argv[2]
crashes = 0
files = sorted(os.listdir(folder))
for name in files:
    r = subprocess.run([importer, os.path.join(folder, name), "--no-output"],
                       capture_output=True, text=True, timeout=60)
    if r.returncode not in (0, 1) or (r.returncode == 1 and "error" not in r.stderr):
        crashes += 1
        print(f"CRASH {name}: status {r.returncode}\n{r.stderr[-2000:]}")
print(f"fuzz regressions: {len(files)} inputs, {crashes} crashes")
sys.exit(1 if crashes else 0)
