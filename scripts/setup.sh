#!/usr/bin/env bash
# Installs everything a fresh Debian 12 machine lacks to build and test Slim.
# Idempotent: re-running only checks that what is needed is present.
#   - Debian packages (LLVM/MLIR 22, protobuf, ONNX test data, GoogleTest, ...)
#   - a Python virtual environment at $SLIM_VENV (default: <repo>/.venv) with
#     the pinned packages from scripts/requirements.txt
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VENV="${SLIM_VENV:-$ROOT/.venv}"

APT_PACKAGES=(
  cmake ninja-build gcc g++ ccache pkg-config
  llvm-22-dev llvm-22-tools libmlir-22-dev mlir-22-tools
  libprotobuf-dev protobuf-compiler libonnx-testdata
  libgtest-dev libgmock-dev libbenchmark-dev
  libopenblas-dev liblapacke-dev libdnnl-dev libpcre2-dev
  nlohmann-json3-dev libxxhash-dev chromium-headless-shell
  python3 python3-venv python3-dev
)

missing=()
for p in "${APT_PACKAGES[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done
if ((${#missing[@]})); then
  echo "setup: installing Debian packages: ${missing[*]}"
  SUDO=""
  if [[ $(id -u) -ne 0 ]]; then SUDO=sudo; fi
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
else
  echo "setup: Debian packages present"
fi

# Debian's python3 (not whatever python3 is first on PATH) so the venv is
# reproducible on a fresh machine.
PY=/usr/bin/python3
REQ="$ROOT/scripts/requirements.txt"
STAMP="$VENV/.slim-requirements"
if [[ ! -x "$VENV/bin/python" ]]; then
  echo "setup: creating Python virtual environment $VENV"
  "$PY" -m venv "$VENV"
fi
if ! cmp -s "$REQ" "$STAMP"; then
  echo "setup: installing pinned Python packages into $VENV"
  "$VENV/bin/python" -m pip install -q --upgrade pip==24.3.1
  "$VENV/bin/python" -m pip install -q -r "$REQ"
  cp "$REQ" "$STAMP"
else
  echo "setup: Python packages present"
fi
