// RUN: slim-opt %s --slim-approximate-math | FileCheck %s

// f32 exp, tanh and erf become polynomials of plain arithmetic (no libm
// call, no math.fma: a contractable multiply and add); f64 and the
// functions without an approximation (sqrt) are kept.
// CHECK-LABEL: func.func @f32
// CHECK-NOT: math.exp
// CHECK-NOT: math.tanh
// CHECK-NOT: math.erf
// CHECK-NOT: math.fma
// CHECK: arith.mulf {{.*}} fastmath<contract>
// CHECK: arith.addf {{.*}} fastmath<contract>
// CHECK: math.sqrt
// CHECK: return
func.func @f32(%x: f32) -> (f32, f32, f32, f32) {
  %e = math.exp %x : f32
  %t = math.tanh %x : f32
  %r = math.erf %x : f32
  %s = math.sqrt %x : f32
  return %e, %t, %r, %s : f32, f32, f32, f32
}

// CHECK-LABEL: func.func @f64
// CHECK: math.exp %{{.*}} : f64
func.func @f64(%x: f64) -> f64 {
  %e = math.exp %x : f64
  return %e : f64
}
