#!/usr/bin/env bash
# Configures and builds Slim (tools, plugin, unit tests, generated docs) in
# $SLIM_BUILD_DIR (default: <repo>/build). Run scripts/setup.sh first.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
BUILD="${SLIM_BUILD_DIR:-$ROOT/build}"
VENV="${SLIM_VENV:-$ROOT/.venv}"
LLVM_ROOT=/usr/lib/llvm-22

if [[ ! -f "$BUILD/build.ninja" ]]; then
  cmake -G Ninja -S "$ROOT" -B "$BUILD" -DCMAKE_BUILD_TYPE=Release \
    -DMLIR_DIR="$LLVM_ROOT/lib/cmake/mlir" \
    -DLLVM_EXTERNAL_LIT="$LLVM_ROOT/bin/lit" \
    -DSLIM_PYTHON="$VENV/bin/python"
fi
cmake --build "$BUILD"
cmake --build "$BUILD" --target mlir-doc > /dev/null
