#!/usr/bin/env bash
# Fuzzes the ONNX importer with libFuzzer (not part of the test suite).
#   scripts/fuzz-import.sh [SECONDS]   default 120
# Builds Slim with clang-22 and ASan/UBSan into build-fuzz/, seeds the corpus
# with the ONNX node tests and the regression inputs, and runs. Crashers land
# in build-fuzz/artifacts/; copy each into test/Import/fuzz-regressions/ (the
# lit suite imports every file there and expects a clean error or module).
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
SECONDS_TO_RUN="${1:-120}"
BUILD="$ROOT/build-fuzz"

bash "$ROOT/scripts/setup.sh"
for p in clang-22 libclang-rt-22-dev; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" ||
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$p"
done
if [[ ! -f "$BUILD/build.ninja" ]]; then
  cmake -G Ninja -S "$ROOT" -B "$BUILD" -DCMAKE_BUILD_TYPE=RelWithDebInfo \
    -DCMAKE_C_COMPILER=clang-22 -DCMAKE_CXX_COMPILER=clang++-22 \
    -DMLIR_DIR=/usr/lib/llvm-22/lib/cmake/mlir -DSLIM_BUILD_FUZZERS=ON \
    -DSLIM_BUILD_TESTS=OFF -DSLIM_PYTHON="$ROOT/.venv/bin/python"
fi
cmake --build "$BUILD" --target onnx-import-fuzzer

CORPUS="$BUILD/corpus"
mkdir -p "$CORPUS" "$BUILD/artifacts"
for d in /usr/share/libonnx-testdata/data/node/*/; do
  cp -n "$d/model.onnx" "$CORPUS/$(basename "$d").onnx" 2>/dev/null || true
done
cp -n "$ROOT"/test/Import/fuzz-regressions/* "$CORPUS/" 2>/dev/null || true
ASAN_OPTIONS=detect_leaks=0 "$BUILD/bin/onnx-import-fuzzer" "$CORPUS" \
  -max_total_time="$SECONDS_TO_RUN" -max_len=65536 -rss_limit_mb=4096 \
  -timeout=20 -artifact_prefix="$BUILD/artifacts/" -print_final_stats=1
