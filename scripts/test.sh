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
status=0
/usr/lib/llvm-22/bin/lit -sv -o "$RESULTS" "$BUILD/test" "$BUILD/test/unit" || status=$?

# One closing line a person (and CI) can read: "N passed, N failed".
"$ROOT/.venv/bin/python" - "$RESULTS" <<'PY'
import json, sys
results = json.load(open(sys.argv[1]))["tests"]
good = {"PASS", "XFAIL"}
passed = sum(r["code"] in good for r in results)
skipped = sum(r["code"] in {"UNSUPPORTED", "SKIPPED", "EXCLUDED"} for r in results)
failed = len(results) - passed - skipped
print(f"slim tests: {passed} passed, {failed} failed, {skipped} skipped")
PY
exit $status
