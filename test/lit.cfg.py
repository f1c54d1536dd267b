# -*- Python -*-
# Part of the Slim project, under the Apache License v2.0 with LLVM Exceptions.
# SPDX-License-Identifier: Apache-2.0 WITH LLVM-exception
"""lit configuration of Slim's IR, tool and end-to-end tests."""

import os

import lit.formats
from lit.llvm import llvm_config

config.name = "Slim"
config.test_format = lit.formats.ShTest(not llvm_config.use_lit_shell)
config.suffixes = [".mlir", ".test"]
config.test_source_root = os.path.dirname(__file__)
config.test_exec_root = os.path.join(config.slim_obj_root, "test")
config.excludes = ["unit", "Inputs", "CMakeLists.txt", "lit.cfg.py", "lit.site.cfg.py"]

llvm_config.use_default_substitutions()
llvm_config.with_environment("PATH", config.llvm_tools_dir, append_path=True)

tool_dirs = [os.path.join(config.slim_obj_root, "bin"), config.llvm_tools_dir]
# Tools missing from this build (a sanitizer build makes only some) come
# from the build named by SLIM_FALLBACK_TOOLS_DIR (scripts/test-sanitizers.sh).
if os.environ.get("SLIM_FALLBACK_TOOLS_DIR"):
    tool_dirs.insert(1, os.environ["SLIM_FALLBACK_TOOLS_DIR"])
fuzzers = ["onnx-import-fuzzer", "tensor-file-fuzzer", "stats-fuzzer", "tokenizer-fuzzer",
           "model-folder-fuzzer", "pass-options-fuzzer"]
llvm_config.add_tool_substitutions(["slim-opt", "slim-import-onnx", "slimc", "slim-run", "mlir-opt", "mlir-runner"]
                                   + fuzzers, tool_dirs)
# Not a ToolSubst: that would resolve the venv's python symlink to the system
# interpreter and lose the venv's packages.
config.substitutions.append(("%slim_python", config.python_executable))
config.substitutions.append(
    ("%slim_plugin", os.path.join(config.slim_obj_root, "lib", "SlimPlugin.so")))
config.substitutions.append(("%mlir_lib_dir", config.llvm_lib_dir))
config.substitutions.append(("%slim_src_root", config.slim_src_root))
config.substitutions.append(("%slim_obj_root", config.slim_obj_root))
# Sanitizer builds (scripts/test-sanitizers.sh): programs a test links
# against Slim's libraries need the sanitizer runtimes too; the sanitizers'
# settings pass through.
config.substitutions.append(
    ("%sanitize_ldflags", "-fsanitize=address,undefined" if config.slim_sanitize else ""))
if config.slim_sanitize:
    config.available_features.add("sanitize")
llvm_config.with_system_environment(["ASAN_OPTIONS", "UBSAN_OPTIONS", "LSAN_OPTIONS"])
config.substitutions.append(("%onnx_node_tests", "/usr/share/libonnx-testdata/data/node"))
