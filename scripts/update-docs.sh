#!/usr/bin/env bash
# Regenerates the op, attribute and pass references from ODS into docs/reference.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
BUILD="${SLIM_BUILD_DIR:-$ROOT/build}"
cmake --build "$BUILD" --target mlir-doc > /dev/null
mkdir -p "$ROOT/docs/reference"
cp "$BUILD"/docs/Slim/*.md "$ROOT/docs/reference/"
echo "updated: $(ls "$ROOT/docs/reference" | tr '\n' ' ')"
