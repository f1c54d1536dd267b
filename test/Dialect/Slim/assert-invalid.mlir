// RUN: slim-opt %s --split-input-file --verify-diagnostics

func.func @missing_value(%ok: i1, %v: i64) {
  // expected-error @+1 {{'slim.assert' op message refers to value {1}, but the op has 1 values}}
  slim.assert %ok, "bad {1}" (%v : i64)
  return
}

// -----

func.func @too_many(%ok: i1, %v: i64) {
  // expected-error @+1 {{'slim.assert' op takes at most two values, got 3}}
  slim.assert %ok, "three" (%v, %v, %v : i64, i64, i64)
  return
}
