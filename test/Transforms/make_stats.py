#!/usr/bin/env python3
# Part of the Slim project, under the Apache License v2.0 with LLVM Exceptions.
# SPDX-License-Identifier: Apache-2.0 WITH LLVM-exception
"""Writes a statistics file with scripts/slim_stats.py for `layer:channels` specs, from random
correlated inputs (64 rows), so that pass tests do not need a calibration run.

    make_stats.py OUT layer:K [layer:K ...] [--no-mean]
"""
import os
import sys

import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "scripts"))
import slim_stats  # noqa: E402

rng = np.random.default_rng(1)
inputs = []
# --no-mean: a file as written before the signed means existed.
# --nan: the last input's absolute maximum of channel 1 is NaN.
specs = [a for a in sys.argv[2:] if a not in ("--no-mean", "--nan")]
for spec in specs:
    name, k = spec.rsplit(":", 1)
    k = int(k)
    x = rng.normal(size=(64, k)) @ rng.normal(size=(k, k))
    inputs.append(([name], x.T @ x / 64, np.abs(x).mean(0), np.abs(x).max(0), 64,
                   None if "--no-mean" in sys.argv else x.mean(0)))
if "--nan" in sys.argv:
    inputs[-1][3][1] = np.nan
slim_stats.write(sys.argv[1], "make_stats.py", 1, 64, inputs)
