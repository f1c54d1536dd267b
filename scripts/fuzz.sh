#!/usr/bin/env bash
# Fuzzes one input surface with libFuzzer, ASan and UBSan (docs/Fuzzing.md).
#   scripts/fuzz.sh TARGET [RUNS] [libFuzzer flags...]    RUNS default 1000000
#   scripts/fuzz.sh all [RUNS]                            every target in turn
# TARGET: onnx-import, tensor-file, stats, tokenizer, model-folder,
# pass-options. Builds Slim with clang-22 into build-fuzz/ (Slim's code
# instrumented, the LLVM/MLIR libraries as Debian ships them), seeds the
# corpus build-fuzz/corpus/TARGET from test/Fuzz/TARGET (seeds and crash
# regressions; ONNX: Debian's node tests and test/Import/fuzz-regressions),
# runs RUNS inputs on one core and appends a line with the runs, time,
# coverage and crashes to build-fuzz/results.txt. Crashers land in
# build-fuzz/artifacts/TARGET/; copy each into test/Fuzz/TARGET/regressions/
# (test/Import/fuzz-regressions/ for ONNX) so the test suite replays it.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
TARGETS=(onnx-import tensor-file stats tokenizer model-folder pass-options)
TARGET="${1:-}"
RUNS="${2:-1000000}"
shift $(( $# > 2 ? 2 : $# ))
if [[ "$TARGET" == all ]]; then
  failed=0
  for t in "${TARGETS[@]}"; do "$0" "$t" "$RUNS" "$@" || failed=1; done
  exit "$failed"
fi
if [[ ! " ${TARGETS[*]} " =~ " $TARGET " ]]; then
  echo "usage: scripts/fuzz.sh TARGET|all [RUNS] [libFuzzer flags]" >&2
  echo "targets: ${TARGETS[*]}" >&2
  exit 2
fi
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
cmake --build "$BUILD" --target "$TARGET-fuzzer"

CORPUS="$BUILD/corpus/$TARGET"
ARTIFACTS="$BUILD/artifacts/$TARGET"
mkdir -p "$CORPUS" "$ARTIFACTS"
SEEDS=()
case "$TARGET" in
  onnx-import)
    for d in /usr/share/libonnx-testdata/data/node/*/; do
      cp -n "$d/model.onnx" "$CORPUS/$(basename "$d").onnx" 2>/dev/null || true
    done
    SEEDS+=("$ROOT/test/Import/fuzz-regressions") ;;
  model-folder)
    # A compiled model (the normal build's slimc) whose model.json is the
    # seed; the target writes its inputs as that folder's description.
    bash "$ROOT/scripts/build.sh" >/dev/null
    MODEL="$BUILD/model-folder-model"
    if [[ ! -f "$MODEL/model.so" ]]; then
      "$ROOT/.venv/bin/python" "$ROOT/test/models/llm_graphs.py" llama --mode decode \
        -o "$BUILD/model-folder.onnx"
      "$ROOT/build/bin/slimc" "$BUILD/model-folder.onnx" -o "$MODEL" 2>/dev/null
    fi
    cp "$MODEL/model.json" "$CORPUS/model.json"
    export SLIM_FUZZ_MODEL="$MODEL"
    SEEDS+=("$ROOT/test/Fuzz/$TARGET") ;;
  *)
    SEEDS+=("$ROOT/test/Fuzz/$TARGET") ;;
esac

LOG="$BUILD/$TARGET.log"
echo "fuzzing $TARGET: $RUNS runs, log in $LOG"
start=$(date +%s)
status=0
UBSAN_OPTIONS=print_stacktrace=1 \
  ASAN_OPTIONS=detect_leaks=0:allocator_may_return_null=1:allow_user_poisoning=0 \
  "$BUILD/bin/$TARGET-fuzzer" "$CORPUS" "${SEEDS[@]}" -runs="$RUNS" \
  -max_len=65536 -rss_limit_mb=4096 -timeout=20 -artifact_prefix="$ARTIFACTS/" \
  -print_final_stats=1 "$@" >"$LOG" 2>&1 || status=$?
grep -aE "^#[0-9]+.*DONE|ERROR: |SUMMARY: " "$LOG" || true
seconds=$(( $(date +%s) - start ))
runs=$(grep -ao 'stat::number_of_executed_units: [0-9]*' "$LOG" | awk '{print $2}' | tail -1)
cov=$(grep -ao 'cov: [0-9]*' "$LOG" | tail -1 | awk '{print $2}')
crashes=$(find "$ARTIFACTS" -type f | wc -l)
line="$(date -u +%F) $TARGET: ${runs:-?} runs in ${seconds} s, coverage ${cov:-?} edges, corpus $(ls "$CORPUS" | wc -l) files, ${crashes} crash/leak/timeout artifacts, exit ${status} ($(git -C "$ROOT" rev-parse --short HEAD))"
echo "$line" | tee -a "$BUILD/results.txt"
exit "$status"
