//===- Factorize.cpp - Low-rank factorization of linear layers ------------===//
//
// Part of the Slim project, under the Apache License v2.0 with LLVM Exceptions.
// SPDX-License-Identifier: Apache-2.0 WITH LLVM-exception
//
//===----------------------------------------------------------------------===//
//
// The IR side of SVD, SVD-LLM and ASVD: selects linear layers, hands their
// weights (transposed to [N, K]) and calibration statistics to the method
// registry (lib/Compression/Methods.h), and rebuilds each layer as
// `slim.matmul {transpose_rhs}` of a `#slim.lowrank` weight, or of a
// quantized weight with a low-rank residual.
//
//===----------------------------------------------------------------------===//

#include "passes/Transforms/CompressedWeights.h"
#include "passes/Transforms/LinearLayers.h"
#include "passes/Transforms/Passes.h"

#include "dialects/Slim/IR/SlimOps.h"
#include "lib/Compression/Methods.h"
#include "lib/Compression/Packing.h"

#include "llvm/Support/FormatVariadic.h"
#include "llvm/Support/JSON.h"
#include "llvm/Support/raw_ostream.h"

#include <chrono>
#include <optional>

namespace mlir::slim {
#define GEN_PASS_DEF_SLIMFACTORIZEPASS
#include "passes/Transforms/Passes.h.inc"
} // namespace mlir::slim

using namespace mlir;
using namespace mlir::slim;

namespace {

StringRef getMethodName(FactorizeMethod m) {
  switch (m) {
  case FactorizeMethod::SVD:
    return "svd";
  case FactorizeMethod::SVDLLM:
    return "svd-llm";
  case FactorizeMethod::ASVD:
    return "asvd";
  }
  llvm_unreachable("unknown factorize method");
}

/// The outcome of factorizing one layer, computed off the IR.
struct LayerResult {
  std::optional<FactorizedLayer> layer;
  std::string error;
  std::optional<double> outputError;
  double weightError = 0;
  double seconds = 0;
};

struct SlimFactorizePass
    : slim::impl::SlimFactorizePassBase<SlimFactorizePass> {
  using Base::Base;

  void runOnOperation() override;
  /// When the pass started (the report's total time).
  std::chrono::steady_clock::time_point passStart;

private:
  /// Parses the options into `options`; errors name the option.
  LogicalResult parseOptions(ModuleOp module);
  LayerResult computeLayer(const LinearLayer &layer,
                           const CalibrationStats *stats) const;

  const MethodInfo *methodInfo = nullptr;
  FactorizeOptions options;
  /// With residual: how the weight is quantized first.
  QuantizeSettings residualOf;
};

LogicalResult SlimFactorizePass::parseOptions(ModuleOp module) {
  methodInfo =
      lookupMethod(CompressionFamily::Factorize, getMethodName(method));
  assert(methodInfo && "every FactorizeMethod is registered");
  options.rank.rank = rank;
  options.rank.paramRatio = ratio;
  options.rank.energy = energy;
  if (llvm::Error e = options.rank.validate())
    return module.emitError()
           << "slim-factorize: " << llvm::toString(std::move(e));
  if (residual) {
    if (ratio > 0)
      return module.emitError()
             << "slim-factorize: ratio chooses the rank of a replacement; "
                "give rank or energy with residual=1";
    QuantScheme scheme;
    scheme.bits = bits;
    scheme.symmetric = symmetric;
    scheme.groupSize = groupSize;
    FailureOr<ScaleType> type =
        parseScaleType(scaleType, "slim-factorize", module);
    if (failed(type))
      return failure();
    scheme.scaleType = *type;
    if (llvm::Error e = scheme.validate(/*cols=*/1))
      return module.emitError()
             << "slim-factorize: " << llvm::toString(std::move(e));
    const MethodInfo *quantizer =
        lookupMethod(CompressionFamily::Quantize, residualMethod);
    if (!quantizer || (quantizer->name != "rtn" && quantizer->name != "gptq"))
      return module.emitError()
             << "slim-factorize: residual-method='" << residualMethod.getValue()
             << "' (expected rtn or gptq)";
    if (quantizer->needs != kNoStats && statsFile.empty())
      return module.emitError()
             << "slim-factorize: residual-method=" << quantizer->name
             << " needs calibration statistics (stats=FILE, written by "
                "slim-run --calibrate)";
    residualOf.method = quantizer;
    residualOf.scheme = scheme;
    residualOf.gptq.dampFraction = damp;
    residualOf.gptq.actOrder = true;
  }
  if (!(damp >= 0))
    return module.emitError() << "slim-factorize: damp must not be negative";
  options.dampFraction = damp;
  options.alpha = alpha;
  if (methodInfo->needs != kNoStats && statsFile.empty())
    return module.emitError()
           << "slim-factorize: method=" << methodInfo->name
           << " needs calibration statistics (stats=FILE, written by "
              "slim-run --calibrate)";
  return success();
}

LayerResult
SlimFactorizePass::computeLayer(const LinearLayer &layer,
                                const CalibrationStats *stats) const {
  LayerResult result;
  auto start = std::chrono::steady_clock::now();
  int64_t k = layer.inChannels, n = layer.outChannels;
  std::vector<float> w = getOutputRows(layer);
  const InputStats *in = stats ? stats->lookup(layer.name) : nullptr;
  llvm::Expected<FactorizedLayer> f = slim::factorizeLayer(
      {w, n, k, in}, *methodInfo, options, residual ? &residualOf : nullptr);
  if (!f) {
    result.error = llvm::toString(f.takeError());
    return result;
  }
  result.weightError = relativeWeightError(w, f->factors.weights);
  if (in)
    result.outputError =
        relativeOutputError(w, f->factors.weights, n, k, in->xtx);
  f->factors.weights = {};
  result.layer = std::move(*f);
  result.seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start)
          .count();
  return result;
}

void SlimFactorizePass::runOnOperation() {
  passStart = std::chrono::steady_clock::now();
  ModuleOp module = getOperation();
  if (failed(parseOptions(module)))
    return signalPassFailure();
  FailureOr<SelectedLayers> selection = selectLayers(
      module,
      {"slim-factorize", layers, exclude, statsFile,
       /*statsRequired=*/methodInfo->needs != kNoStats ||
           (residual && residualOf.method->needs != kNoStats),
       allowEmpty},
      [&](const LinearLayer &layer, function_ref<InFlightDiagnostic()> error) {
        int64_t most = std::min(layer.inChannels, layer.outChannels);
        if (rank > most) {
          error() << "rank=" << rank.getValue()
                  << " is larger than the layer allows, min("
                  << layer.outChannels << ", " << layer.inChannels
                  << ") = " << most;
          return false;
        }
        return true;
      });
  if (failed(selection))
    return signalPassFailure();
  SmallVector<LinearLayer> &selected = selection->layers;
  const CalibrationStats *statsPtr = selection->getStats();

  llvm::json::Array report;
  int64_t totalBefore = 0, totalAfter = 0, factorized = 0;
  StringRef methodName = methodInfo->name;
  auto apply = [&](size_t i, LayerResult &r) -> LogicalResult {
    LinearLayer &layer = selected[i];
    if (!r.layer)
      return layer.op.emitError()
             << "slim-factorize: layer '" << layer.name << "': " << r.error;
    const FactorizedMatrix &f = r.layer->factors;
    int64_t before = layer.inChannels * layer.outChannels * 4;
    int64_t after = before;
    if (!f.keepDense) {
      after = f.rank * (f.rows + f.cols) * 4;
      if (f.quant) {
        const QuantizedMatrix &q = *f.quant;
        int64_t scaleBytes = q.scheme.scaleType == ScaleType::F32 ? 4 : 2;
        after += q.rows * static_cast<int64_t>(
                              getPackedBytes(q.cols, q.scheme.bits)) +
                 q.rows * q.groupsPerRow *
                     (scaleBytes + (q.scheme.symmetric ? 0 : 1));
      }
      ++factorized;
    }
    totalBefore += before;
    totalAfter += after;
    llvm::json::Object entry{
        {"layer", layer.name},
        {"shape", llvm::json::Array{layer.inChannels, layer.outChannels}},
        {"method", methodName},
        {"residual", static_cast<bool>(residual)},
        {"output_rel_error",
         r.outputError ? llvm::json::Value(*r.outputError) : nullptr},
        {"weight_rel_error", r.weightError},
        {"bytes_before", before},
        {"bytes_after", after},
        {"seconds", r.seconds}};
    for (auto &[key, value] : r.layer->fields)
      entry[key] = value;
    if (residual) {
      entry["bits"] = static_cast<int64_t>(bits);
      entry["group_size"] = static_cast<int64_t>(groupSize);
    }
    if (progress) {
      llvm::errs() << llvm::formatv(
          "slim-factorize: [{0}/{1}] {2} {3}x{4} {5}", i + 1, selected.size(),
          layer.name, layer.inChannels, layer.outChannels, methodName);
      if (f.keepDense)
        llvm::errs() << ": kept dense (the factors would not be smaller)";
      else
        llvm::errs() << llvm::formatv(
            " rank {0}{1}: energy {2:f4}, weight error {3:f4}", f.rank,
            residual ? llvm::formatv(" on w{0}", bits.getValue()).str()
                     : std::string(),
            f.retainedEnergy, r.weightError);
      printProgressEnd(r.outputError, r.seconds);
    }
    report.push_back(std::move(entry));
    if (!f.keepDense) {
      OpBuilder b(layer.op);
      Value weight = buildFactorizedWeight(b, layer.op.getLoc(), f, layer.name);
      replaceLinearLayer(layer, weight);
    }
    return success();
  };
  if (failed(computeInBatches(
          &getContext(), selected.size(),
          [&](size_t i) { return computeLayer(selected[i], statsPtr); },
          apply)))
    return signalPassFailure();
  if (progress)
    llvm::errs() << llvm::formatv(
        "slim-factorize: {0} of {1} layers factorized, {2:f1} MB -> {3:f1} MB "
        "({4:f2}x)\n",
        factorized, selected.size(), totalBefore / 1e6, totalAfter / 1e6,
        totalAfter ? double(totalBefore) / totalAfter : 0.0);
  if (!reportFile.empty() &&
      failed(writeReport(
          reportFile, *this, passStart,
          llvm::json::Object{{"method", methodName},
                             {"residual", static_cast<bool>(residual)},
                             {"stats", std::string(statsFile)}},
          std::move(report), totalBefore, totalAfter, module)))
    return signalPassFailure();
}

} // namespace
