//===- Calibrate.cpp - Observation points on linear-layer inputs ----------===//
//
// Part of the Slim project, under the Apache License v2.0 with LLVM Exceptions.
// SPDX-License-Identifier: Apache-2.0 WITH LLVM-exception
//
//===----------------------------------------------------------------------===//

#include "passes/Transforms/LinearLayers.h"
#include "passes/Transforms/Passes.h"
#include "passes/Transforms/Utils.h"

#include "mlir/Dialect/Tensor/IR/Tensor.h"
#include "llvm/ADT/MapVector.h"

namespace mlir::slim {
#define GEN_PASS_DEF_SLIMCALIBRATEPASS
#include "passes/Transforms/Passes.h.inc"
} // namespace mlir::slim

using namespace mlir;
using namespace mlir::slim;

namespace {

constexpr StringLiteral kObserve = "slim_rt_observe";

MemRefType anyStrided2D(MLIRContext *ctx, ArrayRef<int64_t> shape) {
  int64_t dyn = ShapedType::kDynamic;
  return MemRefType::get(shape, Float32Type::get(ctx),
                         StridedLayoutAttr::get(ctx, dyn, {dyn, dyn}));
}

/// The activation a layer reads, looking through the collapse of leading
/// dimensions the importer puts before every linear layer, so that layers
/// fed by one value share one point.
Value getSharedInput(Value input) {
  if (auto collapse = input.getDefiningOp<tensor::CollapseShapeOp>())
    return collapse.getSrc();
  return input;
}

struct SlimCalibratePass
    : slim::impl::SlimCalibratePassBase<SlimCalibratePass> {
  using Base::Base;

  void runOnOperation() override {
    ModuleOp module = getOperation();
    MLIRContext *ctx = &getContext();
    FailureOr<llvm::Regex> include =
        compileLayerPattern(layers, "slim-calibrate layers", module);
    FailureOr<llvm::Regex> skip =
        compileLayerPattern(exclude, "slim-calibrate exclude", module);
    if (failed(include) || failed(skip))
      return signalPassFailure();
    if (module->hasAttr("slim.observation_points")) {
      module.emitError() << "slim-calibrate: the module is already "
                            "instrumented";
      return signalPassFailure();
    }

    // One point per shared input; the first layer reading it (in program
    // order) is where the observation goes.
    llvm::MapVector<Value, SmallVector<LinearLayer>> points;
    for (LinearLayer &layer : findLinearLayers(module))
      if (include->match(layer.name) && !skip->match(layer.name))
        points[getSharedInput(layer.input)].push_back(std::move(layer));

    OpBuilder b(ctx);
    MemRefType argType = anyStrided2D(
        ctx, {ShapedType::kDynamic, ShapedType::kDynamic});
    func::FuncOp callee;
    if (!points.empty())
      callee = slim::getOrDeclareRuntimeFunction(
          module, kObserve, b.getFunctionType({b.getI64Type(), argType}, {}));
    SmallVector<Attribute> names;
    int64_t id = 0;
    for (auto &[shared, group] : points) {
      LinearLayer &first = group.front();
      b.setInsertionPoint(first.op);
      Location loc = first.op.getLoc();
      auto inType = cast<RankedTensorType>(first.input.getType());
      Value buffer = bufferization::ToBufferOp::create(
          b, loc, anyStrided2D(ctx, inType.getShape()), first.input,
          /*read_only=*/true);
      Value cast = memref::CastOp::create(b, loc, argType, buffer);
      Value point = arith::ConstantIntOp::create(b, loc, id++, 64);
      func::CallOp::create(b, loc, callee, ValueRange{point, cast});
      SmallVector<Attribute> layerNames, hashes;
      for (const LinearLayer &layer : group) {
        layerNames.push_back(b.getStringAttr(layer.name));
        hashes.push_back(b.getStringAttr(layer.getWeightHash()));
      }
      names.push_back(b.getDictionaryAttr(
          {b.getNamedAttr("channels", b.getI64IntegerAttr(first.inChannels)),
           b.getNamedAttr("layers", b.getArrayAttr(layerNames)),
           b.getNamedAttr("weight_hashes", b.getArrayAttr(hashes))}));
    }
    module->setAttr("slim.observation_points", b.getArrayAttr(names));
  }
};

} // namespace
