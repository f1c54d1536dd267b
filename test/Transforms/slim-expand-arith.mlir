// RUN: slim-opt %s --slim-expand-arith | FileCheck %s

// Ceil division and bf16 conversions are expanded; maximumf and minimumf
// stay for --convert-arith-to-llvm (llvm.maximum, which LLVM vectorizes in
// reductions).
// CHECK-LABEL: func.func @f
// CHECK-NOT: arith.ceildivsi
// CHECK-NOT: arith.extf
// CHECK: arith.bitcast
// CHECK: arith.maximumf %{{.*}}, %{{.*}} : f32
// CHECK: arith.minimumf %{{.*}}, %{{.*}} : f32
func.func @f(%a: index, %b: index, %h: bf16, %x: f32, %y: f32) -> (index, f32, f32, f32) {
  %q = arith.ceildivsi %a, %b : index
  %e = arith.extf %h : bf16 to f32
  %m = arith.maximumf %x, %y : f32
  %n = arith.minimumf %x, %y : f32
  return %q, %e, %m, %n : index, f32, f32, f32
}
