#!/usr/bin/env bash
# Bench-only peer: llama.cpp's command-line tools (llama-quantize, llama-imatrix,
# llama-perplexity), which the llama-cpp-python wheel does not install. The
# source is the llama.cpp that PyPI's llama-cpp-python 0.3.36 sdist vendors
# (pinned, ~75 MB download), built with CMake for this CPU (GGML_NATIVE) into
# $SLIM_LLAMA_CPP (default <repo>/build/peers/llama.cpp). Never needed by the
# build or the tests. Takes ~10 minutes on 2 cores.
#
#   bash bench/setup-llama-cpp.sh     # then: bench/quality.py --llama-cpp build/peers/llama.cpp/bin
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
DEST="${SLIM_LLAMA_CPP:-$ROOT/build/peers/llama.cpp}"
VERSION=0.3.36
if [[ -x "$DEST/bin/llama-quantize" && -x "$DEST/bin/llama-imatrix" ]]; then
  echo "setup-llama-cpp: $DEST/bin ready"
  exit 0
fi
bash "$ROOT/scripts/setup.sh"
SRC="$DEST/src"
mkdir -p "$SRC"
if [[ ! -f "$SRC/llama_cpp_python-$VERSION/vendor/llama.cpp/CMakeLists.txt" ]]; then
  "$ROOT/.venv/bin/python" -m pip download -q --no-deps --no-binary :all: \
    "llama-cpp-python==$VERSION" -d "$SRC"
  tar xzf "$SRC/llama_cpp_python-$VERSION.tar.gz" -C "$SRC"
fi
LLAMA="$SRC/llama_cpp_python-$VERSION/vendor/llama.cpp"
cmake -S "$LLAMA" -B "$DEST/build" -G Ninja -DCMAKE_BUILD_TYPE=Release -DGGML_NATIVE=ON \
  -DLLAMA_CURL=OFF -DLLAMA_BUILD_TESTS=OFF -DLLAMA_BUILD_EXAMPLES=OFF -DLLAMA_BUILD_SERVER=OFF \
  -DCMAKE_RUNTIME_OUTPUT_DIRECTORY="$DEST/bin" -DCMAKE_LIBRARY_OUTPUT_DIRECTORY="$DEST/bin" >/dev/null
ninja -C "$DEST/build" llama-quantize llama-imatrix llama-perplexity
echo "setup-llama-cpp: $DEST/bin ready"
