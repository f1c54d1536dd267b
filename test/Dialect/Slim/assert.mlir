// RUN: slim-opt %s --canonicalize | FileCheck %s

// A check that holds at compile time folds away; others stay.
// CHECK-LABEL: func.func @fold
// CHECK-NOT: "never"
// CHECK: slim.assert %{{.*}}, "kept {0}"(%{{.*}} : i64)
func.func @fold(%ok: i1, %v: i64) {
  %true = arith.constant true
  slim.assert %true, "never"
  slim.assert %ok, "kept {0}" (%v : i64)
  return
}
