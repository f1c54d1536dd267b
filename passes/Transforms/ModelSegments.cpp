//===- ModelSegments.cpp - Cut a model into consecutive runnable parts ----===//
//
// Part of the Slim project, under the Apache License v2.0 with LLVM Exceptions.
// SPDX-License-Identifier: Apache-2.0 WITH LLVM-exception
//
//===----------------------------------------------------------------------===//

#include "passes/Transforms/ModelSegments.h"
#include "passes/Transforms/LinearLayers.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Tensor/IR/Tensor.h"
#include "mlir/IR/Builders.h"
#include "mlir/IR/IRMapping.h"
#include "mlir/Interfaces/SideEffectInterfaces.h"
#include "mlir/Transforms/RegionUtils.h"

#include "llvm/ADT/DenseMap.h"
#include "llvm/ADT/DenseSet.h"
#include "llvm/ADT/SetVector.h"

using namespace mlir;
using namespace mlir::slim;

namespace {

/// The values `op` reads: its operands and the values its regions capture.
llvm::SetVector<Value> getUsedValues(Operation *op) {
  llvm::SetVector<Value> used(op->operand_begin(), op->operand_end());
  getUsedValuesDefinedAbove(op->getRegions(), used);
  return used;
}

/// What the planner knows of the entry block.
struct BlockFacts {
  llvm::DenseMap<Operation *, size_t> index;
  /// Ops computed from constants alone, cloned wherever they are needed.
  llvm::DenseSet<Operation *> remat;
  /// Values that depend on a linear layer's result.
  llvm::DenseSet<Value> stream;
  /// Index of the last non-terminator op reading each value (absent: none).
  llvm::DenseMap<Value, size_t> lastUse;
};

/// Whether `v` is defined by a rematerializable op.
bool isRematValue(const BlockFacts &facts, Value v) {
  Operation *def = v.getDefiningOp();
  return def && facts.remat.contains(def);
}

/// The position of `v`'s definition: its op's index, or -1 for arguments.
int64_t defIndex(const BlockFacts &facts, Value v) {
  if (Operation *def = v.getDefiningOp())
    return static_cast<int64_t>(facts.index.lookup(def));
  return -1;
}

} // namespace

RankedTensorType mlir::slim::getCrossingType(Value value) {
  if (auto t = dyn_cast<RankedTensorType>(value.getType()))
    return t;
  Type element = value.getType();
  if (element.isIndex())
    element = IntegerType::get(value.getContext(), 64);
  return RankedTensorType::get({}, element);
}

FailureOr<SegmentPlan> mlir::slim::planSegments(func::FuncOp func, bool cut) {
  if (!func.getBody().hasOneBlock())
    return func.emitError("sequential calibration: @")
           << func.getSymName() << " must have one block";
  SegmentPlan plan;
  plan.func = func;
  Block &block = func.getBody().front();
  for (Operation &op : block.without_terminator())
    plan.ops.push_back(&op);

  llvm::DenseMap<Operation *, std::string> linear;
  for (LinearLayer &layer : findLinearLayers(func))
    if (layer.op->getBlock() == &block)
      linear[layer.op] = layer.name;
  if (linear.empty())
    return func.emitError("sequential calibration: @")
           << func.getSymName() << " has no linear layer to calibrate";

  BlockFacts facts;
  size_t n = plan.ops.size();
  for (auto [i, op] : llvm::enumerate(plan.ops)) {
    facts.index[op] = i;
    llvm::SetVector<Value> used = getUsedValues(op);
    bool remat =
        op->getNumRegions() == 0 && op->getNumResults() > 0 &&
        isMemoryEffectFree(op) &&
        llvm::all_of(used, [&](Value v) { return isRematValue(facts, v); });
    if (remat)
      facts.remat.insert(op);
    bool stream = linear.contains(op) || llvm::any_of(used, [&](Value v) {
                    return facts.stream.contains(v);
                  });
    for (Value r : op->getResults()) {
      if (stream)
        facts.stream.insert(r);
    }
    for (Value v : used)
      facts.lastUse[v] = i;
  }

  // Stream tensors live at each point p (before op p): defined at j < p,
  // read at or after p.
  std::vector<int64_t> delta(n + 2, 0);
  for (auto &[v, last] : facts.lastUse) {
    if (!facts.stream.contains(v) || !isa<RankedTensorType>(v.getType()))
      continue;
    int64_t def = defIndex(facts, v);
    if (static_cast<int64_t>(last) <= def)
      continue;
    delta[def + 1] += 1;
    delta[last + 1] -= 1;
  }
  // Whether the first linear layer at or after each point reads the
  // stream: a cut must not separate layers that read the same non-stream
  // value (the first block's q/k/v read the embedding's normalization).
  std::vector<bool> nextReadsStream(n + 1, false);
  for (size_t p = n; p-- > 0;) {
    nextReadsStream[p] = nextReadsStream[p + 1];
    if (auto matmul = dyn_cast<linalg::MatmulOp>(plan.ops[p]);
        matmul && linear.contains(matmul))
      nextReadsStream[p] = facts.stream.contains(matmul.getInputs()[0]);
  }
  SmallVector<size_t> cuts{0};
  if (cut) {
    int64_t live = 0;
    bool layerSinceCut = false;
    for (size_t p = 0; p < n; ++p) {
      live += delta[p];
      if (p > 0 && linear.contains(plan.ops[p - 1]))
        layerSinceCut = true;
      if (p > 0 && layerSinceCut && live <= 1 && nextReadsStream[p]) {
        cuts.push_back(p);
        layerSinceCut = false;
      }
    }
    // Nothing after the last cut but ops without layers: fold them into
    // the segment before.
    bool tailHasLayer = false;
    for (size_t i = cuts.back(); i < n; ++i)
      tailHasLayer |= linear.contains(plan.ops[i]);
    if (!tailHasLayer && cuts.size() > 1)
      cuts.pop_back();
  }
  cuts.push_back(n);

  for (size_t s = 0; s + 1 < cuts.size(); ++s) {
    ModelSegment seg;
    seg.begin = cuts[s];
    seg.end = cuts[s + 1];
    llvm::SetVector<Value> inputs, outputs;
    for (size_t i = seg.begin; i < seg.end; ++i) {
      Operation *op = plan.ops[i];
      if (auto it = linear.find(op); it != linear.end())
        seg.layers.push_back(it->second);
      for (Value v : getUsedValues(op))
        if (!isRematValue(facts, v) &&
            defIndex(facts, v) < static_cast<int64_t>(seg.begin))
          inputs.insert(v);
      if (facts.remat.contains(op) || !cut)
        continue;
      for (Value r : op->getResults())
        if (auto it = facts.lastUse.find(r);
            it != facts.lastUse.end() && it->second >= seg.end)
          outputs.insert(r);
    }
    seg.inputs.assign(inputs.begin(), inputs.end());
    seg.outputs.assign(outputs.begin(), outputs.end());
    plan.segments.push_back(std::move(seg));
  }
  return plan;
}

OwningOpRef<ModuleOp> mlir::slim::buildSegmentModule(const SegmentPlan &plan,
                                                     size_t index,
                                                     bool withOutputs) {
  const ModelSegment &seg = plan.segments[index];
  func::FuncOp source = plan.func;
  MLIRContext *ctx = source.getContext();
  Location loc = source.getLoc();
  OwningOpRef<ModuleOp> module = ModuleOp::create(loc);
  OpBuilder b(ctx);
  b.setInsertionPointToEnd(module->getBody());

  SmallVector<Type> argTypes, resultTypes;
  for (Value v : seg.inputs)
    argTypes.push_back(getCrossingType(v));
  if (withOutputs)
    for (Value v : seg.outputs)
      resultTypes.push_back(getCrossingType(v));
  auto func = func::FuncOp::create(b, loc, source.getSymName(),
                                   b.getFunctionType(argTypes, resultTypes));
  // Names of the crossings, for messages and model.json.
  for (auto [i, v] : llvm::enumerate(seg.inputs)) {
    if (auto arg = dyn_cast<BlockArgument>(v)) {
      if (DictionaryAttr attrs = source.getArgAttrDict(arg.getArgNumber()))
        func.setArgAttrs(i, attrs);
      continue;
    }
    func.setArgAttr(i, "onnx.name",
                    b.getStringAttr("cut." + std::to_string(i)));
  }
  for (size_t i = 0; i < resultTypes.size(); ++i)
    func.setResultAttr(i, "onnx.name",
                       b.getStringAttr("cut." + std::to_string(i)));

  Block *body = func.addEntryBlock();
  b.setInsertionPointToStart(body);
  IRMapping map;
  for (auto [v, arg] : llvm::zip(seg.inputs, body->getArguments())) {
    if (isa<RankedTensorType>(v.getType())) {
      map.map(v, arg);
      continue;
    }
    Value scalar = tensor::ExtractOp::create(b, loc, arg, ValueRange{});
    if (v.getType().isIndex())
      scalar = arith::IndexCastOp::create(b, loc, b.getIndexType(), scalar);
    map.map(v, scalar);
  }
  // Clones the rematerializable definitions `op` needs, then `op`.
  std::function<void(Operation *)> cloneWithDeps = [&](Operation *op) {
    llvm::SetVector<Value> used(op->operand_begin(), op->operand_end());
    getUsedValuesDefinedAbove(op->getRegions(), used);
    for (Value v : used)
      if (!map.contains(v))
        if (Operation *def = v.getDefiningOp())
          cloneWithDeps(def);
    if (!llvm::all_of(op->getResults(),
                      [&](Value r) { return map.contains(r); }))
      b.clone(*op, map);
  };
  for (size_t i = seg.begin; i < seg.end; ++i) {
    Operation *op = plan.ops[i];
    // Constants are cloned where they are used: the importer puts all of
    // the weights first, in the first part's range.
    if (op->getNumOperands() == 0 && op->getNumRegions() == 0 &&
        isMemoryEffectFree(op))
      continue;
    cloneWithDeps(op);
  }

  SmallVector<Value> results;
  if (withOutputs) {
    for (Value v : seg.outputs) {
      Value mapped = map.lookup(v);
      if (!isa<RankedTensorType>(v.getType())) {
        if (v.getType().isIndex())
          mapped = arith::IndexCastOp::create(b, loc, b.getI64Type(), mapped);
        mapped = tensor::FromElementsOp::create(b, loc, getCrossingType(v),
                                                ValueRange{mapped});
      }
      results.push_back(mapped);
    }
  }
  func::ReturnOp::create(b, loc, results);
  return module;
}
