#!/usr/bin/env bash
# The whole test suite from a clean clone: installs what is missing, builds,
# then runs every lit suite (IR, conversion, plugin, numerical end-to-end)
# and the GoogleTest unit tests through lit. Exits non-zero on any failure.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
BUILD="${SLIM_BUILD_DIR:-$ROOT/build}"

bash "$ROOT/scripts/setup.sh"
bash "$ROOT/scripts/build.sh"

RESULTS="$BUILD/test-results.json"
SUMMARY="$BUILD/test-summary.txt"
status=0
/usr/lib/llvm-22/bin/lit -sv -o "$RESULTS" "$BUILD/test" "$BUILD/test/unit" 2>&1 | tee "$SUMMARY" \
  || status=$?

# One closing line a person (and CI) can read: "N passed, N failed". lit's
# JSON leaves out the tests it skipped (GoogleTest cases that skip themselves,
# e.g. AVX-512 kernels on a CPU without it), so those come from its summary.
"$ROOT/.venv/bin/python" - "$RESULTS" "$SUMMARY" <<'PY'
import json, re, sys
results = json.load(open(sys.argv[1]))["tests"]
good = {"PASS", "XFAIL"}
passed = sum(r["code"] in good for r in results)
skipped = sum(r["code"] in {"UNSUPPORTED", "SKIPPED", "EXCLUDED"} for r in results)
failed = len(results) - passed - skipped
m = re.search(r"^\s*Skipped\s*:\s*(\d+)", open(sys.argv[2]).read(), re.M)
if m and skipped == 0:
    skipped = int(m.group(1))
print(f"slim tests: {passed} passed, {failed} failed, {skipped} skipped")
PY
exit $status
