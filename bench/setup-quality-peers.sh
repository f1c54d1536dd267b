#!/usr/bin/env bash
# Bench-only quality peer, never needed by the build or the tests: a separate
# virtual environment ($SLIM_LLMC_VENV, default <repo>/.venv-llmc) with PyPI
# llmcompressor and the torch / transformers it runs on (CPU here; PyPI's
# torch wheel carries CUDA libraries: about 6 GB), for
# bench/llmcompressor_peer.py. Versions pinned to those measured in
# docs/Pruning.md.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VENV="${SLIM_LLMC_VENV:-$ROOT/.venv-llmc}"
if [[ ! -x "$VENV/bin/python" ]]; then
  /usr/bin/python3 -m venv "$VENV"
fi
"$VENV/bin/python" -m pip install -q --upgrade pip==24.3.1
"$VENV/bin/python" -m pip install -q llmcompressor==0.14.0.1 \
  compressed-tensors==0.19.0 torch==2.14.0 transformers==5.17.0 \
  datasets==5.2.0 tokenizers==0.23.3 onnx==1.23.2 onnxruntime==1.32.0 \
  numpy==2.4.6
echo "setup-quality-peers: $VENV ready"
