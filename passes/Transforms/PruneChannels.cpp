//===- PruneChannels.cpp - Structured pruning of heads and channels -------===//
//
// Part of the Slim project, under the Apache License v2.0 with LLVM Exceptions.
// SPDX-License-Identifier: Apache-2.0 WITH LLVM-exception
//
//===----------------------------------------------------------------------===//
//
// `--slim-prune pattern=heads|channels|structured`: finds the channel
// groups (passes/Transforms/ChannelGroups), scores their units through the
// method registry, chooses the kept units across groups
// (lib/Compression/ChannelPruner), shrinks the IR and, with FLAP, adds the
// removed channels' mean contribution as a bias after each consumer.
//
//===----------------------------------------------------------------------===//

#include "passes/Transforms/PruneChannels.h"
#include "passes/Transforms/ChannelGroups.h"
#include "passes/Transforms/CompressedWeights.h"

#include "lib/Compression/ChannelPruner.h"
#include "lib/Compression/Methods.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Linalg/IR/Linalg.h"
#include "mlir/Dialect/Tensor/IR/Tensor.h"
#include "mlir/IR/AsmState.h"

#include "llvm/ADT/StringSet.h"
#include "llvm/Support/FormatVariadic.h"
#include "llvm/Support/JSON.h"
#include "llvm/Support/raw_ostream.h"

#include <chrono>
#include <numeric>

using namespace mlir;
using namespace mlir::slim;

namespace {

/// A group the pass prunes, with what it decided.
struct PlannedGroup {
  ChannelGroup group;
  std::string name;
  std::vector<int64_t> kept;
  /// Per consumer: the bias compensating the removed channels (FLAP).
  std::vector<std::vector<float>> bias;
};

/// `y + bias` after the consumer's product (a broadcast add on [M, N]).
void addBias(linalg::MatmulOp mm, ArrayRef<float> bias, StringRef name) {
  OpBuilder b(mm->getContext());
  b.setInsertionPointAfter(mm);
  Location loc = mm.getLoc();
  Value y = mm.getResult(0);
  auto type = cast<RankedTensorType>(y.getType());
  auto biasType = RankedTensorType::get({type.getDimSize(1)}, b.getF32Type());
  Value cst = arith::ConstantOp::create(
      b, loc,
      DenseResourceElementsAttr::get(
          biasType, (name + ".bias").str(),
          HeapAsmResourceBlob::allocateAndCopyWithAlign(
              ArrayRef<char>(reinterpret_cast<const char *>(bias.data()),
                             bias.size() * sizeof(float)),
              64)));
  SmallVector<Value> dyn;
  llvm::SmallPtrSet<Operation *, 2> readers;
  if (type.isDynamicDim(0)) {
    dyn.push_back(tensor::DimOp::create(b, loc, y, 0));
    readers.insert(dyn.back().getDefiningOp());
  }
  Value init = tensor::EmptyOp::create(b, loc, type, dyn);
  MLIRContext *ctx = b.getContext();
  AffineMap id = AffineMap::getMultiDimIdentityMap(2, ctx);
  AffineMap row = AffineMap::get(2, 0, {getAffineDimExpr(1, ctx)}, ctx);
  auto add = linalg::GenericOp::create(
      b, loc, TypeRange{type}, ValueRange{y, cst}, ValueRange{init},
      ArrayRef<AffineMap>{id, row, id},
      ArrayRef<utils::IteratorType>{utils::IteratorType::parallel,
                                    utils::IteratorType::parallel},
      [](OpBuilder &nb, Location l, ValueRange args) {
        linalg::YieldOp::create(
            nb, l, ValueRange{arith::AddFOp::create(nb, l, args[0], args[1])});
      });
  readers.insert(add);
  y.replaceAllUsesExcept(add.getResult(0), readers);
}

} // namespace

LogicalResult mlir::slim::pruneChannels(ModuleOp module,
                                        const ChannelPruneOptions &options) {
  auto start = std::chrono::steady_clock::now();
  const MethodInfo &method = *options.method;
  FailureOr<SelectedLayers> selection = selectLayers(
      module, {"slim-prune", options.layers, options.exclude, options.statsFile,
               /*statsRequired=*/method.needs != kNoStats, options.allowEmpty});
  if (failed(selection))
    return failure();
  const CalibrationStats *stats = selection->getStats();
  llvm::StringSet<> selected;
  for (const LinearLayer &l : selection->layers)
    selected.insert(l.name);
  SmallVector<LinearLayer> all = findLinearLayers(module);

  // Groups from every selected layer's output channels; a layer belongs to
  // at most one group as producer.
  std::vector<PlannedGroup> planned;
  llvm::DenseSet<Operation *> seen;
  std::vector<std::string> skipped;
  std::vector<std::pair<std::string, std::string>> unprunable;
  for (const LinearLayer &seed : selection->layers) {
    if (seen.contains(const_cast<LinearLayer &>(seed).op.getOperation()))
      continue;
    std::string why;
    FailureOr<ChannelGroup> group = findChannelGroup(seed, all, why);
    if (failed(group)) {
      // Residual-stream outputs and the LM head are never prunable; the
      // reason is worth seeing when a group was expected.
      if (options.progress)
        llvm::errs() << "slim-prune: outputs of '" << seed.name
                     << "' not prunable: " << why << "\n";
      unprunable.push_back({seed.name, why});
      continue;
    }
    bool inSelection = true;
    for (auto *list : {&group->producers, &group->consumers})
      for (auto &[layer, f] : *list)
        inSelection &= selected.contains(layer.name);
    // A consumer may produce the channels of another group (a chain of
    // linear layers): only producers are done with.
    for (auto &[layer, f] : group->producers)
      seen.insert(layer.op.getOperation());
    if (!(group->attention ? options.heads : options.channels))
      continue;
    PlannedGroup p;
    p.name = group->consumers.front().first.name;
    if (!inSelection) {
      skipped.push_back(p.name);
      continue;
    }
    p.group = std::move(*group);
    planned.push_back(std::move(p));
  }
  if (planned.empty()) {
    InFlightDiagnostic diag = module.emitError()
                              << "slim-prune: pattern=" << options.pattern
                              << ": no prunable "
                              << (options.heads && options.channels
                                      ? "attention heads or MLP "
                                        "channels"
                                  : options.heads ? "attention heads"
                                                  : "MLP channels")
                              << " among the selected layers (layers='"
                              << options.layers << "', exclude='"
                              << options.exclude << "')";
    // Why each layer's outputs could not be followed.
    for (auto &[name, why] : unprunable)
      diag.attachNote() << "outputs of '" << name << "': " << why;
    return diag;
  }

  // Channel scores, summed over a group's consumers.
  std::vector<UnitGroup> units(planned.size());
  for (size_t g = 0; g < planned.size(); ++g) {
    PlannedGroup &p = planned[g];
    ChannelGroup &group = p.group;
    std::vector<double> channels;
    UnitLayout layout;
    for (auto &[layer, f] : group.consumers) {
      const InputStats *in = stats ? stats->lookup(layer.name) : nullptr;
      llvm::Expected<std::vector<double>> s = scoreLayerChannels(
          {layer.getWeightData(), layer.inChannels, layer.outChannels, in},
          method, {f.units, f.inner});
      if (!s)
        return layer.op.emitError() << "slim-prune: layer '" << layer.name
                                    << "': " << llvm::toString(s.takeError());
      if (channels.empty()) {
        channels = std::move(*s);
        layout = {f.units, f.inner};
        continue;
      }
      if (s->size() != channels.size() || f.inner != layout.inner)
        return layer.op.emitError()
               << "slim-prune: layer '" << layer.name
               << "' contracts the channels of '" << p.name
               << "' in another layout (consumers of one group must agree)";
      for (size_t c = 0; c < channels.size(); ++c)
        channels[c] += (*s)[c];
    }
    units[g] = makeUnitGroup(
        channels, layout, group.countParams() / group.units, group.attention);
    // Whole units whose channels add up to the multiple.
    units[g].multiple = options.channelMultiple /
                        std::gcd(options.channelMultiple, layout.inner);
  }
  std::vector<std::vector<int64_t>> kept =
      allocateUnits(units, options.sparsity, options.allocation);

  // Biases from the consumers' full weights, all before any group shrinks
  // (a layer may be one group's consumer and another's producer).
  for (size_t g = 0; g < planned.size(); ++g) {
    PlannedGroup &p = planned[g];
    p.kept = std::move(kept[g]);
    if (options.compensate)
      for (auto &[layer, f] : p.group.consumers) {
        const InputStats *in = stats->lookup(layer.name);
        p.bias.push_back(compensationBias(
            layer.getWeightData(), layer.inChannels, layer.outChannels,
            {f.units, f.inner}, p.kept, in->mean));
      }
  }
  llvm::json::Array report;
  int64_t before = 0, after = 0;
  for (size_t g = 0; g < planned.size(); ++g) {
    PlannedGroup &p = planned[g];
    ChannelGroup &group = p.group;
    int64_t params = group.countParams();
    int64_t keptParams = params / group.units * p.kept.size();
    before += params;
    after += keptParams;
    llvm::json::Array layers, keptUnits;
    for (auto *list : {&group.producers, &group.consumers})
      for (auto &[layer, f] : *list)
        layers.push_back(layer.name);
    for (int64_t u : p.kept)
      keptUnits.push_back(u);
    const ChannelFactor &cf = group.consumers.front().second;
    report.push_back(
        llvm::json::Object{{"group", p.name},
                           {"kind", group.attention ? "heads" : "channels"},
                           {"layers", std::move(layers)},
                           {"units", group.units},
                           {"channels_per_unit", cf.inner},
                           {"kept_units", std::move(keptUnits)},
                           {"params_before", params},
                           {"params_after", keptParams},
                           {"bias_compensation", options.compensate}});
    if (options.progress)
      llvm::errs() << llvm::formatv(
          "slim-prune: [{0}/{1}] {2}: {3} {4} -> {5} ({6} channels each), "
          "{7:f2} M -> {8:f2} M weights\n",
          g + 1, planned.size(), p.name,
          group.attention ? "head groups" : "channels", group.units,
          p.kept.size(), cf.inner, params / 1e6, keptParams / 1e6);
    if (p.kept.size() == static_cast<size_t>(group.units))
      continue;
    if (failed(shrinkChannelGroup(group, p.kept)))
      return failure();
  }
  // Biases last: a consumer whose own outputs another group shrank (a
  // chain of linear layers) gets its bias sliced the same way.
  for (PlannedGroup &p : planned) {
    if (!options.compensate || p.kept.size() == size_t(p.group.units))
      continue;
    for (auto [i, c] : llvm::enumerate(p.group.consumers)) {
      std::vector<float> bias = std::move(p.bias[i]);
      for (const PlannedGroup &other : planned)
        for (auto &[layer, f] : other.group.producers)
          if (layer.op == c.first.op &&
              other.kept.size() != size_t(other.group.units)) {
            std::vector<float> sliced;
            for (int64_t j : UnitLayout{f.units, f.inner}.keptChannels(
                     bias.size(), other.kept))
              sliced.push_back(bias[j]);
            bias = std::move(sliced);
          }
      addBias(c.first.op, bias, c.first.name);
    }
  }
  double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start)
          .count();
  if (options.progress)
    llvm::errs() << llvm::formatv(
        "slim-prune: {0} groups, {1:f1} M -> {2:f1} M weights ({3:f3} "
        "removed) in {4:f2} s\n",
        planned.size(), before / 1e6, after / 1e6,
        before ? 1.0 - double(after) / before : 0.0, seconds);
  for (const std::string &s : skipped)
    module.emitWarning() << "slim-prune: the group of '" << s
                         << "' is left whole: not all of its layers are "
                            "selected";
  // The report's byte totals cover every selected layer, as the other
  // pruning patterns' do; params_before/after are the groups' own.
  int64_t selectedBytes = 0;
  for (const LinearLayer &l : selection->layers)
    selectedBytes += l.inChannels * l.outChannels * 4;
  if (!options.reportFile.empty() &&
      failed(writeReport(
          options.reportFile, *options.pass, options.start,
          llvm::json::Object{
              {"method", method.name},
              {"pattern", options.pattern},
              {"sparsity", options.sparsity},
              {"allocation", options.allocation == UnitAllocation::Global
                                 ? "global"
                                 : "uniform"},
              {"stats", options.statsFile},
              {"params_before", before},
              {"params_after", after}},
          std::move(report), selectedBytes,
          selectedBytes - (before - after) * 4, module)))
    return failure();
  return success();
}
