# -*- Python -*-
# Part of the Slim project, under the Apache License v2.0 with LLVM Exceptions.
# SPDX-License-Identifier: Apache-2.0 WITH LLVM-exception
"""lit configuration that runs Slim's GoogleTest binaries, one lit test per
gtest case."""

import os

import lit.formats

config.name = "Slim-Unit"
config.test_format = lit.formats.GoogleTest(".", "Tests")
config.test_source_root = os.path.join(config.slim_obj_root, "test", "unit")
config.test_exec_root = config.test_source_root
