#!/usr/bin/env bash
# Builds Slim with AddressSanitizer + UndefinedBehaviorSanitizer (GCC, the
# default compiler) into build-asan/ and runs tests with it (docs/Fuzzing.md).
#   scripts/test-sanitizers.sh          CI subset: the unit tests, every fuzz
#                                       target's replay, the importer's and the
#                                       runtime's lit tests (Import, Runtime,
#                                       Fuzz, Compile/runtime-errors)
#   scripts/test-sanitizers.sh --full   everything built and every lit test run
# The subset builds only the libraries and tools those tests exercise
# (importer, dialect, compression, kernels, runtime, slim-run,
# slim-import-onnx); tools it does not build (slimc, slim-opt) come from the
# normal build (scripts/build.sh), so models are compiled as users compile
# them and then loaded and run by sanitized code. A sanitizer report fails
# the test that triggered it.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
BUILD="${SLIM_ASAN_BUILD_DIR:-$ROOT/build-asan}"
LLVM_ROOT=/usr/lib/llvm-22
FULL=0
[[ "${1:-}" == --full ]] && FULL=1

bash "$ROOT/scripts/setup.sh"
bash "$ROOT/scripts/build.sh"
export CCACHE_BASEDIR="$ROOT"
if [[ ! -f "$BUILD/build.ninja" ]]; then
  # -O1 -g1: quicker to build, still fast enough to run, and reports name
  # file and line.
  cmake -G Ninja -S "$ROOT" -B "$BUILD" -DCMAKE_BUILD_TYPE=RelWithDebInfo \
    -DCMAKE_C_FLAGS_RELWITHDEBINFO="-O1 -g1" \
    -DCMAKE_CXX_FLAGS_RELWITHDEBINFO="-O1 -g1" \
    -DMLIR_DIR="$LLVM_ROOT/lib/cmake/mlir" \
    -DLLVM_EXTERNAL_LIT="$LLVM_ROOT/bin/lit" \
    -DSLIM_PYTHON="$ROOT/.venv/bin/python" -DSLIM_SANITIZE=ON
fi

# allow_user_poisoning=0: LLVM's BumpPtrAllocator, inlined into Slim's
# instrumented code, poisons slabs that the uninstrumented libMLIR then
# allocates from without unpoisoning (false use-after-poison reports).
export ASAN_OPTIONS="detect_leaks=1:abort_on_error=1:allow_user_poisoning=0"
export UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1"
# LLVM's and MLIR's own allocations that live until exit are not Slim's.
export LSAN_OPTIONS="suppressions=$ROOT/scripts/lsan.supp:print_suppressions=0"
LIT="$LLVM_ROOT/bin/lit"
if [[ $FULL == 1 ]]; then
  cmake --build "$BUILD"
  cmake --build "$BUILD" --target mlir-doc > /dev/null
  exec "$LIT" -sv "$BUILD/test" "$BUILD/test/unit"
fi
cmake --build "$BUILD" --target SlimUnitTests slim-run slim-import-onnx \
  onnx-import-fuzzer tensor-file-fuzzer stats-fuzzer tokenizer-fuzzer \
  model-folder-fuzzer
export SLIM_FALLBACK_TOOLS_DIR="${SLIM_BUILD_DIR:-$ROOT/build}/bin"
# Tools the subset does not build must come from the normal build, not from
# an older --full run left in $BUILD/bin (lit would find those first).
rm -f "$BUILD/bin/slimc" "$BUILD/bin/slim-opt" "$BUILD/bin/pass-options-fuzzer"
# The option fuzzer needs the passes, which the subset does not build.
exec "$LIT" -sv --filter-out 'pass-options' "$BUILD/test/unit" \
  "$BUILD/test/Import" "$BUILD/test/Runtime" "$BUILD/test/Fuzz" \
  "$BUILD/test/Compile/runtime-errors.test"
