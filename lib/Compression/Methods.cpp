//===- Methods.cpp - The registry of compression methods ------------------===//
//
// Part of the Slim project, under the Apache License v2.0 with LLVM Exceptions.
// SPDX-License-Identifier: Apache-2.0 WITH LLVM-exception
//
//===----------------------------------------------------------------------===//

#include "lib/Compression/Methods.h"

#include "llvm/Support/FormatVariadic.h"

#include <algorithm>
#include <cmath>

using namespace mlir::slim;
using llvm::StringRef;

static const MethodInfo kMethods[] = {
    {CompressionFamily::Quantize, "rtn", kNoStats,
     "round to nearest, per channel or per group"},
    {CompressionFamily::Quantize, "gptq", kSecondMoment,
     "GPTQ: rounding errors spread through the inverse Hessian"},
    {CompressionFamily::Quantize, "awq", kSecondMoment | kAbsMean,
     "AWQ: input channels scaled by mean|x|^alpha before RTN"},
    {CompressionFamily::Quantize, "smoothquant", kAbsMax,
     "SmoothQuant: outliers moved into the weights, int8 activations"},
    {CompressionFamily::Prune, "magnitude", kNoStats, "the weights' magnitude"},
    {CompressionFamily::Prune, "wanda", kSecondMoment,
     "Wanda: magnitude times the input's norm"},
    {CompressionFamily::Prune, "sparsegpt", kSecondMoment,
     "SparseGPT: pruning errors spread through the inverse Hessian"},
    {CompressionFamily::Prune, "flap", kSecondMoment | kMean,
     "FLAP: heads and channels by their inputs' fluctuation, with bias "
     "compensation (structured patterns only)"},
    {CompressionFamily::Factorize, "svd", kNoStats,
     "truncated SVD of the weight"},
    {CompressionFamily::Factorize, "svd-llm", kSecondMoment,
     "SVD-LLM: truncated SVD of the weight whitened by the inputs"},
    {CompressionFamily::Factorize, "asvd", kAbsMean,
     "ASVD: truncated SVD of the weight scaled by mean|x|^alpha"},
};

llvm::ArrayRef<MethodInfo> mlir::slim::getMethods() { return kMethods; }

const MethodInfo *mlir::slim::lookupMethod(CompressionFamily family,
                                           StringRef name) {
  for (const MethodInfo &m : kMethods)
    if (m.family == family && m.name == name)
      return &m;
  return nullptr;
}

std::string mlir::slim::listMethods(CompressionFamily family) {
  std::vector<StringRef> names;
  for (const MethodInfo &m : kMethods)
    if (m.family == family)
      names.push_back(m.name);
  std::string text;
  for (size_t i = 0; i < names.size(); ++i) {
    if (i > 0)
      text += i + 1 == names.size() ? " or " : ", ";
    text += names[i].str();
  }
  return text;
}

/// Fails unless `layer` carries the statistics `method` reads.
static llvm::Error checkStats(const LayerData &layer,
                              const MethodInfo &method) {
  if (method.needs == kNoStats)
    return llvm::Error::success();
  if (!layer.stats)
    return llvm::createStringError(
        llvm::formatv("method={0} needs calibration statistics", method.name)
            .str());
  return llvm::Error::success();
}

llvm::Expected<QuantizedLayer>
mlir::slim::quantizeLayer(const LayerData &layer,
                          const QuantizeSettings &settings) {
  const MethodInfo &method = *settings.method;
  assert(method.family == CompressionFamily::Quantize && "not a quantizer");
  if (llvm::Error e = checkStats(layer, method))
    return std::move(e);
  llvm::ArrayRef<float> w = layer.weight;
  int64_t n = layer.rows, k = layer.cols;
  const InputStats *in = layer.stats;
  const QuantScheme &scheme = settings.scheme;
  QuantizedLayer result;
  auto quantize = [&]() -> llvm::Expected<QuantizedMatrix> {
    if (method.name == "smoothquant") {
      // s_j = max|x_j|^a / max_i |W_ij|^(1-a) moves activation outliers
      // into the weights; W diag(s) is quantized, x / s is quantized per
      // token at run time.
      double alpha = settings.smoothAlpha;
      result.inputScales.resize(k);
      for (int64_t c = 0; c < k; ++c) {
        float wmax = 0;
        for (int64_t r = 0; r < n; ++r)
          wmax = std::max(wmax, std::fabs(w[r * k + c]));
        double sc = std::pow(std::max<double>(in->absMax[c], 1e-5), alpha) /
                    std::pow(std::max<double>(wmax, 1e-5), 1 - alpha);
        result.inputScales[c] = static_cast<float>(sc);
      }
      std::vector<float> scaled(n * k);
      for (int64_t r = 0; r < n; ++r)
        for (int64_t c = 0; c < k; ++c)
          scaled[r * k + c] = w[r * k + c] * result.inputScales[c];
      result.quantizeActivations = true;
      result.fields.push_back({"smooth_alpha", alpha});
      return quantizeRtn(scaled, n, k, scheme);
    }
    if (method.name == "awq") {
      llvm::Expected<AwqResult> awq =
          quantizeAwq(w, n, k, in->absMean, in->xtx, scheme, AwqOptions());
      if (!awq)
        return awq.takeError();
      result.inputScales = std::move(awq->inputScales);
      result.fields.push_back({"awq_alpha", awq->alpha});
      return std::move(awq->q);
    }
    if (method.name == "gptq") {
      GptqInfo info;
      llvm::Expected<QuantizedMatrix> q =
          quantizeGptq(w, n, k, in->xtx, scheme, settings.gptq, &info);
      result.dampFraction = info.dampFraction;
      result.choleskyRetries = info.choleskyRetries;
      result.fields.push_back({"damp", info.dampFraction});
      result.fields.push_back({"cholesky_retries", info.choleskyRetries});
      result.fields.push_back({"dead_inputs", info.deadColumns});
      result.fields.push_back({"act_order", settings.gptq.actOrder});
      return q;
    }
    return quantizeRtn(w, n, k, scheme);
  };
  llvm::Expected<QuantizedMatrix> q = quantize();
  if (!q)
    return q.takeError();
  result.effectiveWeight = q->dequantizeAll();
  if (!result.inputScales.empty())
    for (int64_t r = 0; r < n; ++r)
      for (int64_t c = 0; c < k; ++c)
        result.effectiveWeight[r * k + c] /= result.inputScales[c];
  result.q = std::move(*q);
  return result;
}

llvm::Expected<PrunedLayer> mlir::slim::pruneLayer(const LayerData &layer,
                                                   const MethodInfo &method,
                                                   PruneOptions options) {
  assert(method.family == CompressionFamily::Prune && "not a pruner");
  if (llvm::Error e = checkStats(layer, method))
    return std::move(e);
  if (method.name == "flap")
    return llvm::createStringError(
        "flap removes whole heads and channels: use pattern=heads, "
        "channels or structured");
  options.criterion = method.name == "wanda"       ? PruneCriterion::Wanda
                      : method.name == "sparsegpt" ? PruneCriterion::SparseGPT
                                                   : PruneCriterion::Magnitude;
  PrunedLayer result;
  llvm::ArrayRef<float> hessian =
      layer.stats ? layer.stats->xtx : llvm::ArrayRef<float>();
  llvm::Expected<PrunedMatrix> p = pruneWeights(
      layer.weight, layer.rows, layer.cols, hessian, options, &result.info);
  if (!p)
    return p.takeError();
  if (options.criterion == PruneCriterion::SparseGPT) {
    result.fields.push_back({"damp", result.info.dampFraction});
    result.fields.push_back({"cholesky_retries", result.info.choleskyRetries});
  }
  if (options.criterion != PruneCriterion::Magnitude)
    result.fields.push_back({"dead_inputs", result.info.deadColumns});
  result.pruned = std::move(*p);
  return result;
}

llvm::Expected<std::vector<double>>
mlir::slim::scoreLayerChannels(const LayerData &layer,
                               const MethodInfo &method, UnitLayout layout) {
  assert(method.family == CompressionFamily::Prune && "not a pruner");
  if (method.name == "sparsegpt")
    return llvm::createStringError(
        "sparsegpt reconstructs individual weights; structured patterns take "
        "magnitude, wanda or flap");
  if (llvm::Error e = checkStats(layer, method))
    return std::move(e);
  UnitScore score = method.name == "flap"    ? UnitScore::Fluctuation
                    : method.name == "wanda" ? UnitScore::Wanda
                                             : UnitScore::Magnitude;
  return scoreChannels(layer.weight, layer.rows, layer.cols, layout,
                       layer.stats, score);
}

llvm::Expected<FactorizedLayer>
mlir::slim::factorizeLayer(const LayerData &layer, const MethodInfo &method,
                           FactorizeOptions options,
                           const QuantizeSettings *residualOf) {
  assert(method.family == CompressionFamily::Factorize && "not a factorizer");
  if (llvm::Error e = checkStats(layer, method))
    return std::move(e);
  FactorizedLayer result;
  std::optional<QuantizedLayer> base;
  if (residualOf) {
    StringRef name = residualOf->method->name;
    if (name != "rtn" && name != "gptq")
      return llvm::createStringError(
          llvm::formatv("a low-rank residual corrects rtn or gptq, not {0} "
                        "(it rescales the activation)",
                        name)
              .str());
    llvm::Expected<QuantizedLayer> q = quantizeLayer(layer, *residualOf);
    if (!q)
      return q.takeError();
    base = std::move(*q);
    options.residualOf.reset();
    options.base = base->effectiveWeight;
    result.fields.push_back({"residual_of", name});
    for (auto &field : base->fields)
      result.fields.push_back(field);
  }
  options.criterion = method.name == "svd-llm" ? FactorizeCriterion::SVDLLM
                      : method.name == "asvd"  ? FactorizeCriterion::ASVD
                                               : FactorizeCriterion::SVD;
  const InputStats *in = layer.stats;
  llvm::Expected<FactorizedMatrix> f =
      factorizeWeights(layer.weight, layer.rows, layer.cols,
                       in ? in->xtx : llvm::ArrayRef<float>(),
                       in ? in->absMean : llvm::ArrayRef<float>(), options);
  if (!f)
    return f.takeError();
  if (base)
    f->quant = std::move(base->q);
  result.fields.push_back({"rank", f->rank});
  result.fields.push_back({"retained_energy", f->retainedEnergy});
  result.fields.push_back({"kept_dense", f->keepDense});
  if (options.criterion == FactorizeCriterion::ASVD)
    result.fields.push_back({"alpha", options.alpha});
  result.factors = std::move(*f);
  return result;
}
