// RUN: slim-opt %s --convert-slim-to-linalg --split-input-file | FileCheck %s
// RUN: slim-opt %s --convert-slim-to-linalg="checks=abort" --split-input-file | FileCheck %s --check-prefix=ABORT
// RUN: slim-opt %s --convert-slim-to-linalg="checks=none" --split-input-file | FileCheck %s --check-prefix=NONE
// RUN: not slim-opt %s --convert-slim-to-linalg="checks=maybe" --split-input-file 2>&1 | FileCheck %s --check-prefix=OPTION

// Run-time checks become calls of the model-support function on the failed
// condition, numbered in module order; their messages go to one global.

// CHECK-DAG: llvm.mlir.global external constant @slim_check_messages("first {0} of {1}\00second\00\00")
// CHECK-DAG: llvm.mlir.global external constant @slim_check_messages_size(25 : i64)
// CHECK-DAG: func.func private @slim_rt_check_failed(i64, i64, i64)
// CHECK-LABEL: func.func @two(
// CHECK-SAME: %[[OK:.*]]: i1, %[[I:.*]]: index, %[[J:.*]]: i32
// CHECK: %[[FAILED:.*]] = arith.xori %[[OK]], %true
// CHECK: scf.if %[[FAILED]] {
// CHECK-DAG: %[[I64:.*]] = arith.index_cast %[[I]] : index to i64
// CHECK-DAG: %[[J64:.*]] = arith.extsi %[[J]] : i32 to i64
// CHECK: func.call @slim_rt_check_failed(%c0_i64, %[[I64]], %[[J64]])
// CHECK: scf.if
// CHECK: func.call @slim_rt_check_failed(%c1_i64, %c0_i64{{.*}}, %c0_i64{{.*}})

// ABORT-LABEL: func.func @two(
// ABORT: cf.assert %{{.*}}, "first {0} of {1}"
// ABORT: cf.assert %{{.*}}, "second"
// ABORT-NOT: slim_check_messages

// NONE-NOT: slim_rt_check_failed
// NONE-NOT: cf.assert

// OPTION: checks must be 'runtime', 'abort' or 'none', got 'maybe'
func.func @two(%ok: i1, %i: index, %j: i32) {
  slim.assert %ok, "first {0} of {1}" (%i, %j : index, i32)
  slim.assert %ok, "second"
  return
}

// -----

// Without checks, nothing is added.
// CHECK-NOT: slim_check_messages
// CHECK-LABEL: func.func @none
func.func @none() {
  return
}
