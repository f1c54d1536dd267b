//===- OpsElementwise.cpp - Elementwise ONNX operators --------------------===//
//
// Part of the Slim project, under the Apache License v2.0 with LLVM Exceptions.
// SPDX-License-Identifier: Apache-2.0 WITH LLVM-exception
//
//===----------------------------------------------------------------------===//
//
// Unary and broadcasting n-ary operators as linalg.generic, plus folding of
// the same operators on small integer tensors (shape arithmetic).
//
//===----------------------------------------------------------------------===//

#include "lib/Import/Onnx/GraphImporter.h"

#include "onnx/onnx.pb.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Linalg/IR/Linalg.h"
#include "mlir/Dialect/Math/IR/Math.h"

#include <cmath>

using namespace mlir;
using namespace mlir::slim::onnx_import;

namespace {

using ScalarFn = std::function<Value(OpBuilder &, Location, ValueRange)>;

/// Shape arithmetic: applies `fold` elementwise (with broadcasting of
/// one-element operands) to inputs whose elements are known or symbolic.
using IntFoldFn =
    std::function<IntElem(OpBuilder &, Location, ArrayRef<IntElem>)>;

std::optional<TensorValue> foldInts(NodeImporter &n, int32_t resultDType,
                                    const IntFoldFn &fold) {
  if (!fold)
    return std::nullopt;
  SmallVector<SmallVector<IntElem>> args;
  size_t len = 1;
  int64_t rank = 0;
  for (unsigned i = 0; i < n.getNumInputs(); ++i) {
    auto elems = n.getIntElements(i);
    if (!elems)
      return std::nullopt;
    rank = std::max(rank, n.input(i).getType().getRank());
    if (elems->size() != 1) {
      if (len != 1 && len != elems->size())
        return std::nullopt;
      len = elems->size();
    }
    args.push_back(std::move(*elems));
  }
  SmallVector<IntElem> out;
  for (size_t k = 0; k < len; ++k) {
    SmallVector<IntElem> xs;
    for (auto &a : args)
      xs.push_back(a.size() == 1 ? a[0] : a[k]);
    out.push_back(fold(n.b, n.loc, xs));
  }
  TensorValue v = makeIntTensor(n.b, n.loc, out, /*scalar=*/rank == 0);
  if (resultDType != kInt64) {
    v.value = castTensor(n.b, n.loc, v.value, kInt64, resultDType);
    v.constant = {};
    v.dtype = resultDType;
  }
  return v;
}

/// An IntFoldFn from a constant folder and an arith builder on i64.
IntFoldFn intFold(std::function<std::optional<int64_t>(ArrayRef<int64_t>)> c,
                  std::function<Value(OpBuilder &, Location, ValueRange)> dyn) {
  return [c, dyn](OpBuilder &b, Location loc, ArrayRef<IntElem> xs) {
    bool allConst =
        llvm::all_of(xs, [](const IntElem &e) { return e.isConst(); });
    if (allConst) {
      SmallVector<int64_t> vs;
      for (const IntElem &e : xs)
        vs.push_back(e.value);
      if (std::optional<int64_t> r = c(vs))
        return IntElem::of(*r);
    }
    SmallVector<Value> vals;
    for (const IntElem &e : xs)
      vals.push_back(toI64(b, loc, e));
    Value r = dyn(b, loc, vals);
    if (r.getType() != b.getI64Type())
      r = arith::ExtUIOp::create(b, loc, b.getI64Type(), r);
    return IntElem{0, r};
  };
}

/// Registers an n-ary elementwise op. `resultDType(inputDType)` gives the
/// result type; `body` builds the scalar computation on values of the inputs'
/// element type.
void addElementwise(
    OpRegistry &r, StringRef op, unsigned minInputs, unsigned maxInputs,
    std::function<int32_t(int32_t)> resultDType,
    std::function<FailureOr<ScalarFn>(NodeImporter &, int32_t)> makeBody,
    IntFoldFn fold = {}) {
  r.add("", op, [=](NodeImporter &n) -> LogicalResult {
    if (failed(n.expectInputs(minInputs, maxInputs)) ||
        failed(n.expectNoMissingInputs()))
      return failure();
    int32_t dtype = n.input(0).dtype;
    for (unsigned i = 1; i < n.getNumInputs(); ++i) {
      if (op == "Pow" || op == "Where")
        break;
      if (n.input(i).dtype != dtype)
        return n.emitError()
               << "input #" << i << " is " << getDTypeName(n.input(i).dtype)
               << " but input #0 is " << getDTypeName(dtype);
    }
    if (op == "Where")
      dtype = n.input(1).dtype;
    int32_t outDType = resultDType(dtype);
    if (auto folded = foldInts(n, outDType, fold)) {
      n.setOutput(0, std::move(*folded));
      return success();
    }
    FailureOr<ScalarFn> body = makeBody(n, dtype);
    if (failed(body))
      return failure();
    SmallVector<Value> operands;
    for (unsigned i = 0; i < n.getNumInputs(); ++i)
      operands.push_back(n.operand(i));
    FailureOr<Value> result =
        buildElementwise(n, operands, getElementType(n.getContext(), outDType),
                         [&](OpBuilder &b, Location loc, ValueRange xs) {
                           return (*body)(b, loc, xs);
                         });
    if (failed(result))
      return failure();
    n.setOutput(0, *result, outDType);
    return success();
  });
}

int32_t same(int32_t t) { return t; }
int32_t boolean(int32_t) { return kBool; }

/// A body valid only for floating-point inputs.
std::function<FailureOr<ScalarFn>(NodeImporter &, int32_t)>
floatOnly(ScalarFn fn) {
  return [fn](NodeImporter &n, int32_t dtype) -> FailureOr<ScalarFn> {
    if (!isFloatDType(dtype))
      return n.emitError() << "expected a floating-point input, got "
                           << getDTypeName(dtype);
    return fn;
  };
}

/// A body choosing between float, signed and unsigned integer builders.
template <typename FOp, typename SOp, typename UOp>
std::function<FailureOr<ScalarFn>(NodeImporter &, int32_t)> arithBinary() {
  return [](NodeImporter &n, int32_t dtype) -> FailureOr<ScalarFn> {
    if (isFloatDType(dtype))
      return ScalarFn([](OpBuilder &b, Location l, ValueRange x) -> Value {
        return FOp::create(b, l, x[0], x[1]);
      });
    if (dtype == kBool)
      return n.emitError() << "expected a numeric input, got bool";
    if (isUnsignedDType(dtype))
      return ScalarFn([](OpBuilder &b, Location l, ValueRange x) -> Value {
        return UOp::create(b, l, x[0], x[1]);
      });
    return ScalarFn([](OpBuilder &b, Location l, ValueRange x) -> Value {
      return SOp::create(b, l, x[0], x[1]);
    });
  };
}

std::function<FailureOr<ScalarFn>(NodeImporter &, int32_t)>
compare(arith::CmpFPredicate f, arith::CmpIPredicate s,
        arith::CmpIPredicate u) {
  return [=](NodeImporter &, int32_t dtype) -> FailureOr<ScalarFn> {
    if (isFloatDType(dtype))
      return ScalarFn([=](OpBuilder &b, Location l, ValueRange x) -> Value {
        return arith::CmpFOp::create(b, l, f, x[0], x[1]);
      });
    auto pred = (isUnsignedDType(dtype) || dtype == kBool) ? u : s;
    return ScalarFn([=](OpBuilder &b, Location l, ValueRange x) -> Value {
      return arith::CmpIOp::create(b, l, pred, x[0], x[1]);
    });
  };
}

std::function<FailureOr<ScalarFn>(NodeImporter &, int32_t)>
logical(std::function<Value(OpBuilder &, Location, ValueRange)> fn) {
  return [fn](NodeImporter &n, int32_t dtype) -> FailureOr<ScalarFn> {
    if (dtype != kBool)
      return n.emitError() << "expected bool inputs, got "
                           << getDTypeName(dtype);
    return ScalarFn(fn);
  };
}

Value one(OpBuilder &b, Location l, Type t) {
  return createScalar(b, l, t, 1.0);
}

Value erfGelu(OpBuilder &b, Location l, Value x) {
  // 0.5 * x * (1 + erf(x / sqrt(2)))
  Type t = x.getType();
  Value e = math::ErfOp::create(
      b, l, arith::MulFOp::create(b, l, x, createScalar(b, l, t, M_SQRT1_2)));
  Value s = arith::AddFOp::create(b, l, one(b, l, t), e);
  return arith::MulFOp::create(
      b, l, arith::MulFOp::create(b, l, x, createScalar(b, l, t, 0.5)), s);
}

Value tanhGelu(OpBuilder &b, Location l, Value x) {
  // 0.5 * x * (1 + tanh(sqrt(2/pi) * (x + 0.044715 x^3)))
  Type t = x.getType();
  Value x3 = arith::MulFOp::create(b, l, arith::MulFOp::create(b, l, x, x), x);
  Value inner = arith::AddFOp::create(
      b, l, x,
      arith::MulFOp::create(b, l, createScalar(b, l, t, 0.044715), x3));
  Value th = math::TanhOp::create(
      b, l,
      arith::MulFOp::create(b, l, createScalar(b, l, t, std::sqrt(2.0 / M_PI)),
                            inner));
  Value s = arith::AddFOp::create(b, l, one(b, l, t), th);
  return arith::MulFOp::create(
      b, l, arith::MulFOp::create(b, l, x, createScalar(b, l, t, 0.5)), s);
}

LogicalResult importPow(NodeImporter &n) {
  if (failed(n.expectInputs(2, 2)))
    return failure();
  int32_t base = n.input(0).dtype, exp = n.input(1).dtype;
  if (base == kBool || exp == kBool)
    return n.emitError() << "expected numeric inputs";
  Value x = n.operand(0), y = n.operand(1);
  // x^2 and x^0.5 appear in every normalization an exporter decomposes.
  std::optional<double> c = n.getConstFloat(1);
  FailureOr<Value> r;
  if (isFloatDType(base)) {
    Type et = getElementType(n.getContext(), base);
    if (!isFloatDType(exp))
      y = castTensor(n.b, n.loc, y, exp, base);
    else if (exp != base)
      y = castTensor(n.b, n.loc, y, exp, base);
    if (c && *c == 2.0) {
      r = buildElementwise(n, {x}, et,
                           [](OpBuilder &b, Location l, ValueRange v) -> Value {
                             return arith::MulFOp::create(b, l, v[0], v[0]);
                           });
    } else if (c && *c == 0.5) {
      r = buildElementwise(n, {x}, et,
                           [](OpBuilder &b, Location l, ValueRange v) -> Value {
                             return math::SqrtOp::create(b, l, v[0]);
                           });
    } else {
      r = buildElementwise(n, {x, y}, et,
                           [](OpBuilder &b, Location l, ValueRange v) -> Value {
                             return math::PowFOp::create(b, l, v[0], v[1]);
                           });
    }
  } else {
    // Integer base: compute in f64 and truncate, as the ONNX reference does.
    Type et = getElementType(n.getContext(), base);
    Value xf = castTensor(n.b, n.loc, x, base, kDouble);
    Value yf = castTensor(n.b, n.loc, y, exp, kDouble);
    r = buildElementwise(n, {xf, yf}, et,
                         [&](OpBuilder &b, Location l, ValueRange v) -> Value {
                           Value p = math::PowFOp::create(b, l, v[0], v[1]);
                           return castScalar(b, l, p, kDouble, base);
                         });
  }
  if (failed(r))
    return failure();
  n.setOutput(0, *r, base);
  return success();
}

LogicalResult importCast(NodeImporter &n) {
  if (failed(n.expectInputs(1, 1)))
    return failure();
  int32_t to = n.getInt("to", 0);
  const TensorValue &in = n.input(0);
  if (!getElementType(n.getContext(), to))
    return n.emitError() << "unsupported target type " << getDTypeName(to);
  if (in.ints && isIntegerDType(to) && isIntegerDType(in.dtype)) {
    TensorValue v = in;
    v.value = castTensor(n.b, n.loc, in.value, in.dtype, to);
    v.dtype = to;
    v.constant = {};
    n.setOutput(0, std::move(v));
    return success();
  }
  n.setOutput(0, castTensor(n.b, n.loc, in.value, in.dtype, to), to);
  return success();
}

LogicalResult importIdentity(NodeImporter &n) {
  if (failed(n.expectInputs(1, 1)))
    return failure();
  n.setOutput(0, n.input(0));
  return success();
}

/// Max and Min: variadic with broadcasting.
void addMinMax(OpRegistry &r, StringRef op, bool isMax) {
  addElementwise(
      r, op, 1, 64, same,
      [isMax](NodeImporter &n, int32_t dtype) -> FailureOr<ScalarFn> {
        if (dtype == kBool)
          return n.emitError() << "expected numeric inputs, got bool";
        bool isFloat = isFloatDType(dtype), isUnsigned = isUnsignedDType(dtype);
        return ScalarFn([=](OpBuilder &b, Location l, ValueRange x) -> Value {
          Value acc = x[0];
          for (Value v : x.drop_front()) {
            if (isFloat)
              acc = isMax ? Value(arith::MaximumFOp::create(b, l, acc, v))
                          : Value(arith::MinimumFOp::create(b, l, acc, v));
            else if (isUnsigned)
              acc = isMax ? Value(arith::MaxUIOp::create(b, l, acc, v))
                          : Value(arith::MinUIOp::create(b, l, acc, v));
            else
              acc = isMax ? Value(arith::MaxSIOp::create(b, l, acc, v))
                          : Value(arith::MinSIOp::create(b, l, acc, v));
          }
          return acc;
        });
      },
      intFold(
          [isMax](ArrayRef<int64_t> v) -> std::optional<int64_t> {
            return isMax ? *llvm::max_element(v) : *llvm::min_element(v);
          },
          [isMax](OpBuilder &b, Location l, ValueRange v) -> Value {
            Value acc = v[0];
            for (Value x : v.drop_front())
              acc = isMax ? Value(arith::MaxSIOp::create(b, l, acc, x))
                          : Value(arith::MinSIOp::create(b, l, acc, x));
            return acc;
          }));
}

} // namespace

void mlir::slim::onnx_import::registerElementwiseOps(OpRegistry &r) {
  auto unary = [&](StringRef op,
                   std::function<Value(OpBuilder &, Location, Value)> f) {
    addElementwise(r, op, 1, 1, same,
                   floatOnly([f](OpBuilder &b, Location l, ValueRange x) {
                     return f(b, l, x[0]);
                   }));
  };
  unary("Sqrt", [](OpBuilder &b, Location l, Value x) -> Value {
    return math::SqrtOp::create(b, l, x);
  });
  unary("Exp", [](OpBuilder &b, Location l, Value x) -> Value {
    return math::ExpOp::create(b, l, x);
  });
  unary("Log", [](OpBuilder &b, Location l, Value x) -> Value {
    return math::LogOp::create(b, l, x);
  });
  unary("Tanh", [](OpBuilder &b, Location l, Value x) -> Value {
    return math::TanhOp::create(b, l, x);
  });
  unary("Erf", [](OpBuilder &b, Location l, Value x) -> Value {
    return math::ErfOp::create(b, l, x);
  });
  unary("Cos", [](OpBuilder &b, Location l, Value x) -> Value {
    return math::CosOp::create(b, l, x);
  });
  unary("Sin", [](OpBuilder &b, Location l, Value x) -> Value {
    return math::SinOp::create(b, l, x);
  });
  unary("Floor", [](OpBuilder &b, Location l, Value x) -> Value {
    return math::FloorOp::create(b, l, x);
  });
  unary("Ceil", [](OpBuilder &b, Location l, Value x) -> Value {
    return math::CeilOp::create(b, l, x);
  });
  unary("Round", [](OpBuilder &b, Location l, Value x) -> Value {
    return math::RoundEvenOp::create(b, l, x); // halves to even, as ONNX
  });
  unary("Reciprocal", [](OpBuilder &b, Location l, Value x) -> Value {
    return arith::DivFOp::create(b, l, one(b, l, x.getType()), x);
  });
  unary("Sigmoid", [](OpBuilder &b, Location l, Value x) -> Value {
    // 1 / (1 + exp(-x))
    Value e = math::ExpOp::create(b, l, arith::NegFOp::create(b, l, x));
    Type t = x.getType();
    return arith::DivFOp::create(b, l, one(b, l, t),
                                 arith::AddFOp::create(b, l, one(b, l, t), e));
  });
  r.add("", "Gelu", [](NodeImporter &n) -> LogicalResult {
    if (failed(n.expectInputs(1, 1)))
      return failure();
    std::string approx = n.getString("approximate", "none");
    if (approx != "none" && approx != "tanh")
      return n.emitError() << "unsupported approximate='" << approx << "'";
    if (!isFloatDType(n.input(0).dtype))
      return n.emitError() << "expected a floating-point input";
    bool tanh = approx == "tanh";
    FailureOr<Value> v = buildElementwise(
        n, {n.operand(0)}, n.input(0).getType().getElementType(),
        [tanh](OpBuilder &b, Location l, ValueRange x) {
          return tanh ? tanhGelu(b, l, x[0]) : erfGelu(b, l, x[0]);
        });
    if (failed(v))
      return failure();
    n.setOutput(0, *v, n.input(0).dtype);
    return success();
  });

  // Neg, Abs and Relu also accept signed integers.
  addElementwise(
      r, "Neg", 1, 1, same,
      [](NodeImporter &n, int32_t dt) -> FailureOr<ScalarFn> {
        if (isFloatDType(dt))
          return ScalarFn([](OpBuilder &b, Location l, ValueRange x) -> Value {
            return arith::NegFOp::create(b, l, x[0]);
          });
        if (dt == kBool || isUnsignedDType(dt))
          return n.emitError()
                 << "expected a signed input, got " << getDTypeName(dt);
        return ScalarFn([](OpBuilder &b, Location l, ValueRange x) -> Value {
          return arith::SubIOp::create(
              b, l, createScalar(b, l, x[0].getType(), 0), x[0]);
        });
      },
      intFold(
          [](ArrayRef<int64_t> v) -> std::optional<int64_t> { return -v[0]; },
          [](OpBuilder &b, Location l, ValueRange v) -> Value {
            return arith::SubIOp::create(
                b, l, createScalar(b, l, v[0].getType(), 0), v[0]);
          }));
  addElementwise(
      r, "Abs", 1, 1, same,
      [](NodeImporter &n, int32_t dt) -> FailureOr<ScalarFn> {
        if (isFloatDType(dt))
          return ScalarFn([](OpBuilder &b, Location l, ValueRange x) -> Value {
            return math::AbsFOp::create(b, l, x[0]);
          });
        if (dt == kBool)
          return n.emitError() << "expected a numeric input";
        if (isUnsignedDType(dt))
          return ScalarFn([](OpBuilder &, Location, ValueRange x) -> Value {
            return x[0];
          });
        return ScalarFn([](OpBuilder &b, Location l, ValueRange x) -> Value {
          return math::AbsIOp::create(b, l, x[0]);
        });
      });
  addElementwise(
      r, "Relu", 1, 1, same,
      [](NodeImporter &n, int32_t dt) -> FailureOr<ScalarFn> {
        if (isFloatDType(dt))
          return ScalarFn([](OpBuilder &b, Location l, ValueRange x) -> Value {
            return arith::MaximumFOp::create(
                b, l, x[0], createScalar(b, l, x[0].getType(), 0));
          });
        if (dt == kBool)
          return n.emitError() << "expected a numeric input";
        return ScalarFn([](OpBuilder &b, Location l, ValueRange x) -> Value {
          return arith::MaxSIOp::create(b, l, x[0],
                                        createScalar(b, l, x[0].getType(), 0));
        });
      });
  addElementwise(r, "Not", 1, 1, same,
                 logical([](OpBuilder &b, Location l, ValueRange x) -> Value {
                   return arith::XOrIOp::create(
                       b, l, x[0], createScalar(b, l, x[0].getType(), 1));
                 }));
  // Not has had one semantics since opset 1.
  r.minOpsets["|Not"] = 1;

  addElementwise(r, "Add", 2, 2, same,
                 arithBinary<arith::AddFOp, arith::AddIOp, arith::AddIOp>(),
                 intFold([](ArrayRef<int64_t> v)
                             -> std::optional<int64_t> { return v[0] + v[1]; },
                         [](OpBuilder &b, Location l, ValueRange v) -> Value {
                           return arith::AddIOp::create(b, l, v[0], v[1]);
                         }));
  addElementwise(r, "Sub", 2, 2, same,
                 arithBinary<arith::SubFOp, arith::SubIOp, arith::SubIOp>(),
                 intFold([](ArrayRef<int64_t> v)
                             -> std::optional<int64_t> { return v[0] - v[1]; },
                         [](OpBuilder &b, Location l, ValueRange v) -> Value {
                           return arith::SubIOp::create(b, l, v[0], v[1]);
                         }));
  addElementwise(r, "Mul", 2, 2, same,
                 arithBinary<arith::MulFOp, arith::MulIOp, arith::MulIOp>(),
                 intFold([](ArrayRef<int64_t> v)
                             -> std::optional<int64_t> { return v[0] * v[1]; },
                         [](OpBuilder &b, Location l, ValueRange v) -> Value {
                           return arith::MulIOp::create(b, l, v[0], v[1]);
                         }));
  addElementwise(r, "Div", 2, 2, same,
                 arithBinary<arith::DivFOp, arith::DivSIOp, arith::DivUIOp>(),
                 intFold(
                     [](ArrayRef<int64_t> v) -> std::optional<int64_t> {
                       if (v[1] == 0)
                         return std::nullopt;
                       return v[0] / v[1];
                     },
                     [](OpBuilder &b, Location l, ValueRange v) -> Value {
                       return arith::DivSIOp::create(b, l, v[0], v[1]);
                     }));
  r.add("", "Pow", importPow);
  addMinMax(r, "Max", true);
  addMinMax(r, "Min", false);

  auto cmpFold = [](arith::CmpIPredicate p,
                    std::function<bool(int64_t, int64_t)> f) {
    return intFold(
        [f](ArrayRef<int64_t> v) -> std::optional<int64_t> {
          return f(v[0], v[1]) ? 1 : 0;
        },
        [p](OpBuilder &b, Location l, ValueRange v) -> Value {
          return arith::CmpIOp::create(b, l, p, v[0], v[1]);
        });
  };
  using P = arith::CmpIPredicate;
  using F = arith::CmpFPredicate;
  addElementwise(r, "Equal", 2, 2, boolean, compare(F::OEQ, P::eq, P::eq),
                 cmpFold(P::eq, [](int64_t a, int64_t b) { return a == b; }));
  addElementwise(r, "Less", 2, 2, boolean, compare(F::OLT, P::slt, P::ult),
                 cmpFold(P::slt, [](int64_t a, int64_t b) { return a < b; }));
  addElementwise(r, "LessOrEqual", 2, 2, boolean,
                 compare(F::OLE, P::sle, P::ule),
                 cmpFold(P::sle, [](int64_t a, int64_t b) { return a <= b; }));
  addElementwise(r, "Greater", 2, 2, boolean, compare(F::OGT, P::sgt, P::ugt),
                 cmpFold(P::sgt, [](int64_t a, int64_t b) { return a > b; }));
  addElementwise(r, "GreaterOrEqual", 2, 2, boolean,
                 compare(F::OGE, P::sge, P::uge),
                 cmpFold(P::sge, [](int64_t a, int64_t b) { return a >= b; }));
  addElementwise(r, "And", 2, 2, boolean,
                 logical([](OpBuilder &b, Location l, ValueRange x) -> Value {
                   return arith::AndIOp::create(b, l, x[0], x[1]);
                 }));
  addElementwise(r, "Or", 2, 2, boolean,
                 logical([](OpBuilder &b, Location l, ValueRange x) -> Value {
                   return arith::OrIOp::create(b, l, x[0], x[1]);
                 }));
  addElementwise(r, "Xor", 2, 2, boolean,
                 logical([](OpBuilder &b, Location l, ValueRange x) -> Value {
                   return arith::XOrIOp::create(b, l, x[0], x[1]);
                 }));
  addElementwise(
      r, "Where", 3, 3, same,
      [](NodeImporter &n, int32_t) -> FailureOr<ScalarFn> {
        if (n.input(0).dtype != kBool)
          return n.emitError() << "expected a bool condition, got "
                               << getDTypeName(n.input(0).dtype);
        if (n.input(1).dtype != n.input(2).dtype)
          return n.emitError() << "expected inputs #1 and #2 of one type, got "
                               << getDTypeName(n.input(1).dtype) << " and "
                               << getDTypeName(n.input(2).dtype);
        return ScalarFn([](OpBuilder &b, Location l, ValueRange x) -> Value {
          return arith::SelectOp::create(b, l, x[0], x[1], x[2]);
        });
      },
      intFold(
          [](ArrayRef<int64_t> v) -> std::optional<int64_t> {
            return v[0] ? v[1] : v[2];
          },
          [](OpBuilder &b, Location l, ValueRange v) -> Value {
            Value c =
                arith::CmpIOp::create(b, l, arith::CmpIPredicate::ne, v[0],
                                      createScalar(b, l, v[0].getType(), 0));
            return arith::SelectOp::create(b, l, c, v[1], v[2]);
          }));
  r.add("", "Cast", importCast);
  r.add("", "Identity", importIdentity);
}
