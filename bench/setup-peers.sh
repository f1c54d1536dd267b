#!/usr/bin/env bash
# Bench-only peers, never needed by the build or the tests: a separate
# virtual environment ($SLIM_BENCH_VENV, default <repo>/.venv-bench) with
# llama.cpp (PyPI llama-cpp-python, built from source by pip for this CPU)
# and IREE (PyPI iree-base-compiler + iree-base-runtime, the MLIR compiler to
# beat) next to the project's pinned packages. Takes ~10 minutes on 2 cores.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VENV="${SLIM_BENCH_VENV:-$ROOT/.venv-bench}"
bash "$ROOT/scripts/setup.sh"
if [[ ! -x "$VENV/bin/python" ]]; then
  /usr/bin/python3 -m venv "$VENV"
fi
"$VENV/bin/python" -m pip install -q --upgrade pip==24.3.1
"$VENV/bin/python" -m pip install -q -r "$ROOT/scripts/requirements.txt"
# llama.cpp's own CPU build (GGML_NATIVE: the ISA of this machine).
CMAKE_ARGS="-DGGML_NATIVE=ON -DLLAMA_CURL=OFF" \
  "$VENV/bin/python" -m pip install -q --no-cache-dir llama-cpp-python==0.3.36
# IREE's ONNX importer, compiler and runtime (prebuilt wheels).
"$VENV/bin/python" -m pip install -q iree-base-compiler==3.13.0 iree-base-runtime==3.13.0
echo "setup-peers: $VENV ready"
