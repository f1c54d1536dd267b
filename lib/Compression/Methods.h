//===- Methods.h - The registry of compression methods ----------*- C++ -*-===//
//
// Part of the Slim project, under the Apache License v2.0 with LLVM Exceptions.
// SPDX-License-Identifier: Apache-2.0 WITH LLVM-exception
//
//===----------------------------------------------------------------------===//
//
// Every compression method Slim has, in one place: its family, its name (as
// the passes' `method=` options spell it), the calibration statistics it
// reads, and one function per family from a layer's weight and statistics to
// its compressed form plus the method's own report fields. The passes
// (`--slim-quantize`, `--slim-prune`, `--slim-factorize`) only select layers,
// call these, rebuild the IR and write the report; a new method is a row here
// and a case in its family's function, with no pass to change. Independent of
// MLIR.
//
//===----------------------------------------------------------------------===//

#ifndef SLIM_LIB_COMPRESSION_METHODS_H
#define SLIM_LIB_COMPRESSION_METHODS_H

#include "lib/Compression/CalibrationStats.h"
#include "lib/Compression/ChannelPruner.h"
#include "lib/Compression/Factorizer.h"
#include "lib/Compression/Pruner.h"
#include "lib/Compression/Quantizer.h"

#include "llvm/ADT/ArrayRef.h"
#include "llvm/ADT/StringRef.h"
#include "llvm/Support/Error.h"
#include "llvm/Support/JSON.h"

#include <string>
#include <utility>
#include <vector>

namespace mlir::slim {

enum class CompressionFamily { Quantize, Prune, Factorize };

/// The calibration statistics a method reads (flags).
enum StatsNeeds : unsigned {
  kNoStats = 0,
  /// X^T X of the layer's inputs.
  kSecondMoment = 1,
  /// Mean |x| per input channel.
  kAbsMean = 2,
  /// Max |x| per input channel.
  kAbsMax = 4,
  /// Signed mean x per input channel.
  kMean = 8,
};

struct MethodInfo {
  CompressionFamily family;
  llvm::StringLiteral name;
  unsigned needs;
  llvm::StringLiteral summary;
};

/// Every method, by family, in the order the docs list them.
llvm::ArrayRef<MethodInfo> getMethods();

/// The method `name` of `family`, or null.
const MethodInfo *lookupMethod(CompressionFamily family, llvm::StringRef name);

/// The names of a family's methods for messages: "rtn, gptq, awq or
/// smoothquant".
std::string listMethods(CompressionFamily family);

/// Fields a method adds to its layer's report record.
using ReportFields = std::vector<std::pair<std::string, llvm::json::Value>>;

/// One linear layer: its weight (row-major `rows x cols`, a row per output
/// channel) and the statistics of its input (null without a file).
struct LayerData {
  llvm::ArrayRef<float> weight;
  int64_t rows = 0, cols = 0;
  const InputStats *stats = nullptr;
};

/// Quantization: the method and its settings.
struct QuantizeSettings {
  const MethodInfo *method = nullptr;
  QuantScheme scheme;
  GptqOptions gptq;
  double smoothAlpha = 0.5;
};

struct QuantizedLayer {
  QuantizedMatrix q;
  /// AWQ, SmoothQuant: the activation is divided by these per-input scales.
  std::vector<float> inputScales;
  /// SmoothQuant: the activation is quantized per token at run time.
  bool quantizeActivations = false;
  /// What the layer computes with instead of the weight (the scales undone).
  std::vector<float> effectiveWeight;
  /// GPTQ: the damping used and the failed factorizations before it.
  double dampFraction = 0;
  int choleskyRetries = 0;
  ReportFields fields;
};

/// Quantizes one layer with `settings.method` (a Quantize-family method);
/// fails, naming the problem, where the method's statistics are missing or
/// its numerics fail.
llvm::Expected<QuantizedLayer> quantizeLayer(const LayerData &layer,
                                             const QuantizeSettings &settings);

struct PrunedLayer {
  PrunedMatrix pruned;
  PruneInfo info;
  ReportFields fields;
};

/// Prunes one layer (`options.criterion` from a Prune-family method).
llvm::Expected<PrunedLayer> pruneLayer(const LayerData &layer,
                                       const MethodInfo &method,
                                       PruneOptions options);

/// Structured pruning: the importance of each input channel of a consumer
/// layer whose channels form units `layout` (attention head groups, MLP
/// channels), by `method` (magnitude, wanda or flap). `layer.rows`/`cols`
/// are the consumer weight's [K, N]; `layer.weight` is row-major [K, N].
llvm::Expected<std::vector<double>>
scoreLayerChannels(const LayerData &layer, const MethodInfo &method,
                   UnitLayout layout);

struct FactorizedLayer {
  FactorizedMatrix factors;
  ReportFields fields;
};

/// Factorizes one layer (`options.criterion` from a Factorize-family
/// method). With `residualOf`, the layer is first quantized by that
/// Quantize-family method (rtn or gptq: the others rescale the activation,
/// which a residual cannot follow) and the factors approximate its error.
llvm::Expected<FactorizedLayer>
factorizeLayer(const LayerData &layer, const MethodInfo &method,
               FactorizeOptions options,
               const QuantizeSettings *residualOf = nullptr);

} // namespace mlir::slim

#endif // SLIM_LIB_COMPRESSION_METHODS_H
