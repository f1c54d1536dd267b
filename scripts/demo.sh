#!/usr/bin/env bash
# The main job from a clean clone: installs what is missing, builds Slim, and
# runs the demo (scripts/demo.py): an int4-quantized linear layer expressed
# in the slim dialect, lowered by Slim's reference pipeline and run on the CPU.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
BUILD="${SLIM_BUILD_DIR:-$ROOT/build}"

bash "$ROOT/scripts/setup.sh"
bash "$ROOT/scripts/build.sh"
exec "$ROOT/.venv/bin/python" "$ROOT/scripts/demo.py" \
  --slim-opt "$BUILD/bin/slim-opt" \
  --mlir-runner /usr/lib/llvm-22/bin/mlir-runner \
  --lib-dir /usr/lib/llvm-22/lib \
  --work "$BUILD/demo"
