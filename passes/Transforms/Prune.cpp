//===- Prune.cpp - Weight pruning of linear layers ------------------------===//
//
// Part of the Slim project, under the Apache License v2.0 with LLVM Exceptions.
// SPDX-License-Identifier: Apache-2.0 WITH LLVM-exception
//
//===----------------------------------------------------------------------===//
//
// The IR side of magnitude, Wanda and SparseGPT pruning: selects linear
// layers, hands their weights (transposed to [N, K]) and calibration
// statistics to lib/Compression/Pruner, and rebuilds each layer as
// `slim.matmul {transpose_rhs}` of a `#slim.sparse` (or sparse + quant)
// weight. The numerical work of a batch of layers runs in parallel on the
// context's thread pool; IR is built on the pass's thread.
//
//===----------------------------------------------------------------------===//

#include "passes/Transforms/CompressedWeights.h"
#include "passes/Transforms/LinearLayers.h"
#include "passes/Transforms/Passes.h"
#include "passes/Transforms/PruneChannels.h"

#include "dialects/Slim/IR/SlimOps.h"
#include "lib/Compression/CalibrationStats.h"
#include "lib/Compression/Methods.h"
#include "lib/Compression/Packing.h"
#include "lib/Compression/Pruner.h"

#include "llvm/Support/FormatVariadic.h"
#include "llvm/Support/JSON.h"
#include "llvm/Support/raw_ostream.h"

#include <chrono>
#include <optional>

namespace mlir::slim {
#define GEN_PASS_DEF_SLIMPRUNEPASS
#include "passes/Transforms/Passes.h.inc"
} // namespace mlir::slim

using namespace mlir;
using namespace mlir::slim;

namespace {

StringRef getMethodName(PruneMethod m) {
  switch (m) {
  case PruneMethod::Magnitude:
    return "magnitude";
  case PruneMethod::Wanda:
    return "wanda";
  case PruneMethod::SparseGPT:
    return "sparsegpt";
  case PruneMethod::Flap:
    return "flap";
  }
  llvm_unreachable("unknown prune method");
}

/// The outcome of pruning one layer, computed off the IR.
struct LayerResult {
  std::optional<PrunedMatrix> pruned;
  /// With residual-rank: the low-rank correction of the pruning error.
  std::optional<FactorizedMatrix> residual;
  std::string error;
  std::optional<double> outputError;
  double weightError = 0;
  ReportFields fields;
  PruneInfo info;
  double seconds = 0;
};

struct SlimPrunePass : slim::impl::SlimPrunePassBase<SlimPrunePass> {
  using Base::Base;

  void runOnOperation() override;
  /// When the pass started (the report's total time).
  std::chrono::steady_clock::time_point passStart;

private:
  /// Parses the options into `options`; errors name the option.
  LogicalResult parseOptions(ModuleOp module);
  /// pattern=heads|channels|structured.
  LogicalResult runStructured(ModuleOp module);
  LayerResult computeLayer(const LinearLayer &layer,
                           const CalibrationStats *stats) const;
  /// Bytes of the layer's storage after pruning.
  static int64_t countBytes(const PrunedMatrix &p);

  const MethodInfo *methodInfo = nullptr;
  PruneOptions options;
};

LogicalResult SlimPrunePass::parseOptions(ModuleOp module) {
  methodInfo = lookupMethod(CompressionFamily::Prune, getMethodName(method));
  assert(methodInfo && "every PruneMethod is registered");
  StringRef text = StringRef(pattern).trim();
  if (text != "unstructured") {
    auto [nText, mText] = text.split(':');
    unsigned n = 0, m = 0;
    if (mText.empty() || nText.getAsInteger(10, n) || mText.getAsInteger(10, m))
      return module.emitError()
             << "slim-prune: pattern='" << pattern.getValue()
             << "' is neither 'unstructured', N:M (e.g. 2:4), 'heads', "
                "'channels' nor 'structured'";
    options.pattern.n = n;
    options.pattern.m = m;
    if (n == 0 || n >= m || m > 128)
      return module.emitError()
             << "slim-prune: pattern=" << pattern.getValue()
             << ": N must be between 1 and M - 1, and M at most 128";
  } else {
    if (!(sparsity >= 0 && sparsity < 1))
      return module.emitError()
             << "slim-prune: sparsity="
             << llvm::formatv("{0}", sparsity.getValue()).str()
             << " is out of range [0, 1)";
    options.pattern.sparsity = sparsity;
  }
  if (bits != 0) {
    if (!options.pattern.isStructured())
      return module.emitError()
             << "slim-prune: bits=" << bits.getValue()
             << " needs an N:M pattern (unstructured sparse values are not "
                "quantized)";
    if (bits < 2 || bits > 8)
      return module.emitError() << "slim-prune: bits=" << bits.getValue()
                                << " is out of range (0, or 2 to 8)";
    if (groupSize < 0)
      return module.emitError()
             << "slim-prune: group-size=" << groupSize.getValue()
             << " must be 0 (per channel) or positive";
    QuantScheme scheme;
    scheme.bits = bits;
    scheme.symmetric = symmetric;
    scheme.groupSize = groupSize;
    FailureOr<ScaleType> type = parseScaleType(scaleType, "slim-prune", module);
    if (failed(type))
      return failure();
    scheme.scaleType = *type;
    options.quant = scheme;
  }
  if (residualRank < 0)
    return module.emitError()
           << "slim-prune: residual-rank=" << residualRank.getValue()
           << " must not be negative";
  if (blockSize <= 0 || !(damp >= 0))
    return module.emitError()
           << "slim-prune: block-size must be positive and damp non-negative";
  options.blockSize = blockSize;
  options.dampFraction = damp;
  if (methodInfo->needs != kNoStats && statsFile.empty())
    return module.emitError()
           << "slim-prune: method=" << getMethodName(method)
           << " needs calibration statistics (stats=FILE, written by "
              "slim-run --calibrate)";
  return success();
}

LayerResult SlimPrunePass::computeLayer(const LinearLayer &layer,
                                        const CalibrationStats *stats) const {
  LayerResult result;
  auto start = std::chrono::steady_clock::now();
  int64_t k = layer.inChannels, n = layer.outChannels;
  std::vector<float> w = getOutputRows(layer);
  const InputStats *in = stats ? stats->lookup(layer.name) : nullptr;
  llvm::Expected<PrunedLayer> p =
      slim::pruneLayer({w, n, k, in}, *methodInfo, options);
  if (!p) {
    result.error = llvm::toString(p.takeError());
    return result;
  }
  result.info = p->info;
  result.fields = std::move(p->fields);
  ArrayRef<float> effective = p->pruned.weights;
  if (residualRank > 0) {
    // U V fitted to w - pruned: whitened by the inputs where there are
    // statistics (SVD-LLM), plain SVD otherwise.
    const MethodInfo *factorizer =
        lookupMethod(CompressionFamily::Factorize, in ? "svd-llm" : "svd");
    FactorizeOptions f;
    f.rank.rank = residualRank;
    f.dampFraction = damp;
    f.base = p->pruned.weights;
    llvm::Expected<FactorizedLayer> r =
        slim::factorizeLayer({w, n, k, in}, *factorizer, f);
    if (!r) {
      result.error = "residual: " + llvm::toString(r.takeError());
      return result;
    }
    result.fields.push_back({"residual_rank", r->factors.rank});
    result.fields.push_back({"residual_method", factorizer->name});
    result.fields.push_back(
        {"residual_retained_energy", r->factors.retainedEnergy});
    result.residual = std::move(r->factors);
    effective = result.residual->weights;
  }
  result.weightError = relativeWeightError(w, effective);
  if (in)
    result.outputError = relativeOutputError(w, effective, n, k, in->xtx);
  if (result.residual)
    result.residual->weights = {};
  result.pruned = std::move(p->pruned);
  result.seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start)
          .count();
  return result;
}

int64_t SlimPrunePass::countBytes(const PrunedMatrix &p) {
  if (!p.pattern.isStructured())
    return p.countKept() * 8 + (p.rows + 1) * 4;
  int64_t valueCols = p.cols / p.pattern.m * p.pattern.n;
  int64_t indices = p.rows * valueCols;
  if (!p.quant)
    return indices * 5;
  const QuantizedMatrix &q = *p.quant;
  int64_t scaleBytes = q.scheme.scaleType == ScaleType::F32 ? 4 : 2;
  return indices +
         q.rows * static_cast<int64_t>(getPackedBytes(q.cols, q.scheme.bits)) +
         q.rows * q.groupsPerRow * (scaleBytes + (q.scheme.symmetric ? 0 : 1));
}

LogicalResult SlimPrunePass::runStructured(ModuleOp module) {
  ChannelPruneOptions o;
  o.pass = this;
  o.start = passStart;
  o.method = lookupMethod(CompressionFamily::Prune, getMethodName(method));
  o.pattern = StringRef(pattern).trim().str();
  o.heads = o.pattern != "channels";
  o.channels = o.pattern != "heads";
  if (!(sparsity >= 0 && sparsity < 1))
    return module.emitError() << "slim-prune: sparsity="
                              << llvm::formatv("{0}", sparsity.getValue()).str()
                              << " is out of range [0, 1)";
  o.sparsity = sparsity;
  if (allocation == "global")
    o.allocation = UnitAllocation::Global;
  else if (allocation == "uniform")
    o.allocation = UnitAllocation::Uniform;
  else
    return module.emitError()
           << "slim-prune: allocation='" << allocation.getValue()
           << "' is neither global nor uniform";
  if (bits != 0 || residualRank != 0)
    return module.emitError()
           << "slim-prune: pattern=" << o.pattern
           << " keeps the weights dense: bits and residual-rank apply to "
              "N:M and unstructured patterns (quantize the pruned model "
              "with --slim-quantize)";
  if (method == PruneMethod::SparseGPT)
    return module.emitError()
           << "slim-prune: method=sparsegpt reconstructs individual weights; "
              "pattern="
           << o.pattern << " takes magnitude, wanda or flap";
  if (o.method->needs != kNoStats && statsFile.empty())
    return module.emitError()
           << "slim-prune: method=" << getMethodName(method)
           << " needs calibration statistics (stats=FILE, written by "
              "slim-run --calibrate)";
  o.compensate = method == PruneMethod::Flap && biasCompensation;
  if (channelMultiple < 1)
    return module.emitError()
           << "slim-prune: channel-multiple=" << channelMultiple.getValue()
           << " must be at least 1";
  o.channelMultiple = channelMultiple;
  o.layers = layers;
  o.allowEmpty = allowEmpty;
  o.exclude = exclude;
  o.statsFile = statsFile;
  o.reportFile = reportFile;
  o.progress = progress;
  return pruneChannels(module, o);
}

void SlimPrunePass::runOnOperation() {
  passStart = std::chrono::steady_clock::now();
  ModuleOp module = getOperation();
  StringRef text = StringRef(pattern).trim();
  if (text == "heads" || text == "channels" || text == "structured") {
    if (failed(runStructured(module)))
      signalPassFailure();
    return;
  }
  if (method == PruneMethod::Flap) {
    module.emitError() << "slim-prune: method=flap removes whole heads and "
                          "channels: use pattern=heads, channels or "
                          "structured";
    return signalPassFailure();
  }
  if (failed(parseOptions(module)))
    return signalPassFailure();
  // Select and check layers up front: every error is reported before any
  // work is done.
  FailureOr<SelectedLayers> selection = selectLayers(
      module,
      {"slim-prune", layers, exclude, statsFile,
       /*statsRequired=*/methodInfo->needs != kNoStats, allowEmpty},
      [&](const LinearLayer &layer, function_ref<InFlightDiagnostic()> error) {
        if (llvm::Error e = options.pattern.validate(layer.inChannels)) {
          error() << llvm::toString(std::move(e));
          return false;
        }
        int64_t most = std::min(layer.inChannels, layer.outChannels);
        if (residualRank > most) {
          error() << "residual-rank=" << residualRank.getValue()
                  << " is larger than the layer allows, min("
                  << layer.outChannels << ", " << layer.inChannels
                  << ") = " << most;
          return false;
        }
        if (options.quant)
          if (llvm::Error e = options.quant->validate(
                  layer.inChannels / options.pattern.m * options.pattern.n)) {
            error() << llvm::toString(std::move(e))
                    << " (groups count kept values)";
            return false;
          }
        return true;
      });
  if (failed(selection))
    return signalPassFailure();
  SmallVector<LinearLayer> &selected = selection->layers;
  const CalibrationStats *statsPtr = selection->getStats();

  llvm::json::Array report;
  int64_t totalBefore = 0, totalAfter = 0, keptTotal = 0, weightsTotal = 0;
  StringRef methodName = getMethodName(method);
  auto apply = [&](size_t i, LayerResult &r) -> LogicalResult {
    LinearLayer &layer = selected[i];
    if (!r.pruned)
      return layer.op.emitError()
             << "slim-prune: layer '" << layer.name << "': " << r.error;
    const PrunedMatrix &p = *r.pruned;
    int64_t weights = layer.inChannels * layer.outChannels;
    int64_t before = weights * 4, after = countBytes(p);
    if (r.residual)
      after += r.residual->rank * (r.residual->rows + r.residual->cols) * 4;
    int64_t kept = p.countKept();
    double reached = 1.0 - double(kept) / double(weights);
    totalBefore += before;
    totalAfter += after;
    keptTotal += kept;
    weightsTotal += weights;
    llvm::json::Object entry{
        {"layer", layer.name},
        {"shape", llvm::json::Array{layer.inChannels, layer.outChannels}},
        {"method", methodName},
        {"pattern", std::string(pattern)},
        {"sparsity", reached},
        {"bits", static_cast<int64_t>(bits)},
        {"output_rel_error",
         r.outputError ? llvm::json::Value(*r.outputError) : nullptr},
        {"weight_rel_error", r.weightError},
        {"bytes_before", before},
        {"bytes_after", after},
        {"seconds", r.seconds}};
    if (bits != 0) {
      entry["group_size"] = static_cast<int64_t>(groupSize);
      entry["symmetric"] = static_cast<bool>(symmetric);
      entry["scale_type"] = std::string(scaleType);
    }
    for (auto &[key, value] : r.fields)
      entry[key] = value;
    warnDamping(layer, "slim-prune", r.info.dampFraction,
                r.info.choleskyRetries);
    if (progress) {
      llvm::errs() << llvm::formatv(
          "slim-prune: [{0}/{1}] {2} {3}x{4} {5} {6}{7}: sparsity {8:f3}, "
          "weight error {9:f4}",
          i + 1, selected.size(), layer.name, layer.inChannels,
          layer.outChannels, methodName, pattern.getValue(),
          bits ? llvm::formatv(" w{0}", bits.getValue()).str() : std::string(),
          reached, r.weightError);
      printProgressEnd(r.outputError, r.seconds);
    }
    report.push_back(std::move(entry));
    OpBuilder b(layer.op);
    Value weight = buildPrunedWeight(b, layer.op.getLoc(), p, layer.name,
                                     r.residual ? &*r.residual : nullptr);
    replaceLinearLayer(layer, weight);
    return success();
  };
  if (failed(computeInBatches(
          &getContext(), selected.size(),
          [&](size_t i) { return computeLayer(selected[i], statsPtr); },
          apply)))
    return signalPassFailure();
  if (progress)
    llvm::errs() << llvm::formatv(
        "slim-prune: {0} layers, sparsity {1:f3}, {2:f1} MB -> {3:f1} MB "
        "({4:f2}x)\n",
        selected.size(),
        weightsTotal ? 1.0 - double(keptTotal) / double(weightsTotal) : 0.0,
        totalBefore / 1e6, totalAfter / 1e6,
        totalAfter ? double(totalBefore) / totalAfter : 0.0);
  if (!reportFile.empty() &&
      failed(
          writeReport(reportFile, *this, passStart,
                      llvm::json::Object{{"method", methodName},
                                         {"pattern", std::string(pattern)},
                                         {"bits", static_cast<int64_t>(bits)},
                                         {"stats", std::string(statsFile)}},
                      std::move(report), totalBefore, totalAfter, module)))
    return signalPassFailure();
}

} // namespace
