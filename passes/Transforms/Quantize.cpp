//===- Quantize.cpp - Weight quantization of linear layers ----------------===//
//
// Part of the Slim project, under the Apache License v2.0 with LLVM Exceptions.
// SPDX-License-Identifier: Apache-2.0 WITH LLVM-exception
//
//===----------------------------------------------------------------------===//
//
// The IR side of RTN and GPTQ: selects linear layers, hands their weights
// (transposed to [N, K]) and calibration statistics to lib/Compression, and
// rebuilds each layer as `slim.matmul {transpose_rhs}` of a `#slim.quant`
// tensor. The numerical work of a batch of layers runs in parallel on the
// context's thread pool; IR is built on the pass's thread.
//
//===----------------------------------------------------------------------===//

#include "passes/Transforms/CompressedWeights.h"
#include "passes/Transforms/LinearLayers.h"
#include "passes/Transforms/Passes.h"

#include "passes/Conversion/Passes.h"

#include "dialects/Slim/IR/SlimOps.h"
#include "lib/Compression/CalibrationStats.h"
#include "lib/Compression/Methods.h"
#include "lib/Compression/Packing.h"
#include "lib/Compression/Quantizer.h"

#include "mlir/Dialect/Tensor/IR/Tensor.h"
#include "mlir/IR/DialectResourceBlobManager.h"
#include "mlir/IR/Threading.h"
#include "llvm/ADT/APFloat.h"
#include "llvm/ADT/SmallPtrSet.h"
#include "llvm/Support/FormatVariadic.h"
#include "llvm/Support/JSON.h"
#include "llvm/Support/raw_ostream.h"

#include <chrono>
#include <optional>

namespace mlir::slim {
#define GEN_PASS_DEF_SLIMQUANTIZEPASS
#include "passes/Transforms/Passes.h.inc"
} // namespace mlir::slim

using namespace mlir;
using namespace mlir::slim;

namespace {

/// The outcome of quantizing one layer, computed off the IR.
struct LayerResult {
  std::optional<QuantizedLayer> layer;
  std::string error;
  std::optional<double> outputError;
  double weightError = 0;
  double seconds = 0;
};

/// x[m, k] / s[k] (AWQ's activation scaling; a later pass can fold it into
/// the producer, e.g. an RMSNorm weight).
Value scaleColumns(OpBuilder &b, Location loc, Value x, ArrayRef<float> s) {
  auto type = cast<RankedTensorType>(x.getType());
  int64_t k = type.getDimSize(1);
  SmallVector<float> inverse;
  for (float v : s)
    inverse.push_back(1.0f / v);
  Value scales = arith::ConstantOp::create(
      b, loc,
      DenseElementsAttr::get(RankedTensorType::get({k}, b.getF32Type()),
                             ArrayRef<float>(inverse)));
  SmallVector<Value> dyn;
  if (type.isDynamicDim(0))
    dyn.push_back(tensor::DimOp::create(b, loc, x, 0));
  Value init = tensor::EmptyOp::create(b, loc, type.getShape(),
                                       type.getElementType(), dyn);
  MLIRContext *ctx = b.getContext();
  AffineMap id = AffineMap::getMultiDimIdentityMap(2, ctx);
  AffineMap col = AffineMap::get(2, 0, {getAffineDimExpr(1, ctx)}, ctx);
  SmallVector<utils::IteratorType> iters(2, utils::IteratorType::parallel);
  auto scaled = linalg::GenericOp::create(
      b, loc, TypeRange{type}, ValueRange{x, scales}, ValueRange{init},
      ArrayRef<AffineMap>{id, col, id}, iters,
      [](OpBuilder &nb, Location nl, ValueRange args) {
        Value v = arith::MulFOp::create(nb, nl, args[0], args[1]);
        linalg::YieldOp::create(nb, nl, v);
      });
  // Marks the op as the layer's activation scaling for the ONNX export.
  scaled->setAttr("slim.activation_scales", b.getUnitAttr());
  return scaled.getResult(0);
}

struct SlimQuantizePass : slim::impl::SlimQuantizePassBase<SlimQuantizePass> {
  using Base::Base;

  void runOnOperation() override;
  /// When the pass started (the report's total time).
  std::chrono::steady_clock::time_point passStart;

private:
  LayerResult computeLayer(const LinearLayer &layer,
                           const CalibrationStats *stats) const;
  void rewriteLayer(const LinearLayer &layer, const LayerResult &result);
  /// `embeddings=int8|int4`: quantizes the embedding tables and the tied
  /// LM heads, appending to the report.
  LogicalResult quantizeEmbeddings(ModuleOp module, llvm::Regex &named,
                                   llvm::json::Array &report,
                                   int64_t &totalBefore, int64_t &totalAfter);

  QuantScheme scheme;
  QuantizeSettings settings;
};

LayerResult
SlimQuantizePass::computeLayer(const LinearLayer &layer,
                               const CalibrationStats *stats) const {
  LayerResult result;
  auto start = std::chrono::steady_clock::now();
  int64_t k = layer.inChannels, n = layer.outChannels;
  std::vector<float> w = getOutputRows(layer);
  const InputStats *in = stats ? stats->lookup(layer.name) : nullptr;
  llvm::Expected<QuantizedLayer> q =
      slim::quantizeLayer({w, n, k, in}, settings);
  if (!q) {
    result.error = llvm::toString(q.takeError());
    return result;
  }
  result.weightError = relativeWeightError(w, q->effectiveWeight);
  if (in)
    result.outputError =
        relativeOutputError(w, q->effectiveWeight, n, k, in->xtx);
  q->effectiveWeight = {};
  result.layer = std::move(*q);
  result.seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start)
          .count();
  return result;
}

void SlimQuantizePass::rewriteLayer(const LinearLayer &layer,
                                    const LayerResult &result) {
  MLIRContext *ctx = &getContext();
  linalg::MatmulOp mm = layer.op;
  OpBuilder b(mm);
  Location loc = mm.getLoc();
  SmallVector<Value> storage;
  const QuantizedLayer &q = *result.layer;
  Value weight = buildQuantizedWeight(b, loc, q.q, layer.name, storage);

  // The current activation operand: an earlier rewrite may have replaced
  // the value `layer.input` was when the layers were collected.
  Value x = mm.getInputs()[0];
  if (!q.inputScales.empty())
    x = scaleColumns(b, loc, x, q.inputScales);
  if (q.quantizeActivations) {
    // Dynamic int8 per token (one f32 scale per row).
    auto xType = cast<RankedTensorType>(x.getType());
    auto perToken = QuantAttr::get(ctx, QuantFormat::Int, 8, /*isSigned=*/true,
                                   /*axis=*/0, /*groupSize=*/0, b.getF32Type(),
                                   /*hasZeroPoint=*/false);
    x = QuantizeActivationOp::create(
        b, loc,
        RankedTensorType::get(xType.getShape(), xType.getElementType(),
                              perToken),
        x);
  }
  replaceLinearLayer(layer, weight, x);
}

LogicalResult SlimQuantizePass::quantizeEmbeddings(ModuleOp module,
                                                   llvm::Regex &named,
                                                   llvm::json::Array &report,
                                                   int64_t &totalBefore,
                                                   int64_t &totalAfter) {
  QuantScheme e;
  e.symmetric = true;
  e.scaleType = ScaleType::F16;
  bool int8 = embeddings == EmbeddingQuantization::Int8;
  e.bits = int8 ? 8 : embeddings == EmbeddingQuantization::Int6 ? 6 : 4;
  e.groupSize = int8 ? 0 : 32;
  StringRef format = int8          ? "int8 per row"
                     : e.bits == 6 ? "int6 groups of 32"
                                   : "int4 groups of 32";
  for (EmbeddingTable &table : findEmbeddingTables(module)) {
    if (table.heads.empty() && !named.match(table.name))
      continue;
    auto start = std::chrono::steady_clock::now();
    ArrayRef<float> data = table.getData();
    if (data.size() != static_cast<size_t>(table.rows * table.cols))
      return table.constant.emitError()
             << "slim-quantize: embedding table '" << table.name
             << "': data is not available (elided resource?)";
    if (table.otherUses > 0)
      table.constant.emitWarning()
          << "slim-quantize: embedding table '" << table.name << "' has "
          << table.otherUses
          << " uses that are neither gathers nor a tied LM head: it stays "
             "dense for them";
    llvm::Expected<QuantizedMatrix> q =
        quantizeRtn(data, table.rows, table.cols, e);
    if (!q)
      return table.constant.emitError()
             << "slim-quantize: embedding table '" << table.name
             << "': " << llvm::toString(q.takeError());
    double weightError = relativeWeightError(data, q->dequantizeAll());

    OpBuilder b(table.constant);
    b.setInsertionPointAfter(table.constant);
    Location loc = table.constant.getLoc();
    SmallVector<Value> storage;
    Value weight = buildQuantizedWeight(b, loc, *q, table.name, storage);
    auto quant =
        cast<QuantAttr>(cast<RankedTensorType>(weight.getType()).getEncoding());
    // The tied LM heads: x [M, H] times the table used transposed.
    for (auto [mm, transpose] : table.heads) {
      OpBuilder hb(mm);
      Value y = MatmulOp::create(hb, mm.getLoc(), mm.getResult(0).getType(),
                                 mm.getInputs()[0], weight, hb.getUnitAttr());
      mm.getResult(0).replaceAllUsesWith(y);
      mm.erase();
    }
    // A transpose may feed several heads: erase each once.
    llvm::SmallPtrSet<Operation *, 2> transposes;
    for (auto [mm, transpose] : table.heads)
      transposes.insert(transpose);
    for (Operation *transpose : transposes)
      if (transpose->use_empty())
        transpose->erase();
    // The gathers: each element read from the codes and scales.
    FailureOr<StorageLayout> layout =
        StorageLayout::get(cast<RankedTensorType>(weight.getType()),
                           [&] { return emitError(loc); });
    if (failed(layout))
      return failure();
    QuantStorage parts = layout->getQuantStorage(storage);
    for (tensor::ExtractOp extract : table.gathers) {
      OpBuilder gb(extract);
      SmallVector<Value> indices(extract.getIndices());
      Value v = decodeQuantElement(gb, extract.getLoc(), quant, parts, indices,
                                   gb.getF32Type());
      extract.getResult().replaceAllUsesWith(v);
      extract.erase();
    }
    // An unused assemble stays (later canonicalization drops it): it
    // records the table's encoding for the ONNX export.
    bool dense = !table.constant->use_empty();
    if (!dense)
      table.constant->erase();

    int64_t before = table.rows * table.cols * 4;
    int64_t after =
        table.rows * static_cast<int64_t>(getPackedBytes(table.cols, e.bits)) +
        table.rows * q->groupsPerRow * 2 + (dense ? before : 0);
    totalBefore += before;
    totalAfter += after;
    double seconds =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - start)
            .count();
    report.push_back(llvm::json::Object{
        {"layer", table.name},
        {"kind", "embedding"},
        {"shape", llvm::json::Array{table.rows, table.cols}},
        {"method", "rtn"},
        {"bits", static_cast<int64_t>(e.bits)},
        {"group_size", e.groupSize},
        {"symmetric", true},
        {"scale_type", "f16"},
        {"gathers", static_cast<int64_t>(table.gathers.size())},
        {"tied_heads", static_cast<int64_t>(table.heads.size())},
        {"output_rel_error", nullptr},
        {"weight_rel_error", weightError},
        {"bytes_before", before},
        {"bytes_after", after},
        {"seconds", seconds}});
    if (progress)
      llvm::errs() << llvm::formatv(
          "slim-quantize: embedding {0} {1}x{2} {3} ({4} gathers, {5} tied "
          "heads): weight error {6:f4} ({7:f2} s)\n",
          table.name, table.rows, table.cols, format, table.gathers.size(),
          table.heads.size(), weightError, seconds);
  }
  return success();
}

void SlimQuantizePass::runOnOperation() {
  passStart = std::chrono::steady_clock::now();
  ModuleOp module = getOperation();
  // Options.
  settings.method = lookupMethod(CompressionFamily::Quantize, method);
  if (!settings.method) {
    module.emitError() << "slim-quantize: unknown method '" << method.getValue()
                       << "' (expected "
                       << listMethods(CompressionFamily::Quantize) << ")";
    return signalPassFailure();
  }
  bool useGptq = method == "gptq";
  bool needsStats = settings.method->needs != kNoStats;
  settings.smoothAlpha = smoothAlpha;
  if (method == "smoothquant" && !(smoothAlpha >= 0 && smoothAlpha <= 1)) {
    module.emitError() << "slim-quantize: smooth-alpha="
                       << llvm::formatv("{0}", smoothAlpha.getValue()).str()
                       << " is out of range (0 to 1)";
    return signalPassFailure();
  }
  scheme.bits = bits;
  scheme.symmetric = symmetric;
  scheme.groupSize = groupSize;
  scheme.clipSearch = clipSearch;
  FailureOr<ScaleType> type =
      parseScaleType(scaleType, "slim-quantize", module);
  if (failed(type))
    return signalPassFailure();
  scheme.scaleType = *type;
  if (bits < 2 || bits > 8) {
    module.emitError() << "slim-quantize: bits=" << bits.getValue()
                       << " is out of range (2 to 8)";
    return signalPassFailure();
  }
  if (groupSize < 0) {
    module.emitError() << "slim-quantize: group-size=" << groupSize.getValue()
                       << " must be 0 (per channel) or positive";
    return signalPassFailure();
  }
  settings.scheme = scheme;
  settings.gptq.dampFraction = damp;
  settings.gptq.blockSize = blockSize;
  settings.gptq.actOrder = actOrder;
  settings.gptq.staticGroups = staticGroups;
  if (useGptq && (blockSize <= 0 || !(damp >= 0))) {
    module.emitError() << "slim-quantize: block-size must be positive and "
                          "damp non-negative";
    return signalPassFailure();
  }
  if (needsStats && statsFile.empty()) {
    module.emitError() << "slim-quantize: method=" << method.getValue()
                       << " needs calibration statistics (stats=FILE, "
                          "written by slim-run --calibrate)";
    return signalPassFailure();
  }
  FailureOr<llvm::Regex> tables = compileLayerPattern(
      embeddingTables, "slim-quantize embedding-tables", module);
  if (failed(tables))
    return signalPassFailure();

  // Select and check layers up front: every error is reported before any
  // work is done.
  int notDividing = 0;
  FailureOr<SelectedLayers> selection = selectLayers(
      module,
      {"slim-quantize", layers, exclude, statsFile,
       /*statsRequired=*/needsStats,
       // layers=^$ with embeddings= quantizes only the tables.
       allowEmpty || embeddings != EmbeddingQuantization::Dense},
      [&](const LinearLayer &layer, function_ref<InFlightDiagnostic()> error) {
        if (groupSize > 0 && layer.inChannels % groupSize != 0 &&
            !raggedGroups) {
          if (++notDividing <= 3)
            error() << "group-size=" << groupSize.getValue()
                    << " does not divide its " << layer.inChannels
                    << " input channels (use a divisor, or ragged-groups=1 "
                       "for a shorter last group as ONNX MatMulNBits stores "
                       "it)";
          return false;
        }
        return true;
      });
  if (notDividing > 3)
    module.emitError() << "slim-quantize: group-size=" << groupSize.getValue()
                       << " does not divide the input channels of "
                       << notDividing - 3 << " more layers";
  if (failed(selection))
    return signalPassFailure();
  SmallVector<LinearLayer> &selected = selection->layers;
  const CalibrationStats *statsPtr = selection->getStats();

  // Quantize in batches: the numerics in parallel, then the IR rewrites.
  llvm::json::Array report;
  int64_t totalBefore = 0, totalAfter = 0;
  auto apply = [&](size_t i, LayerResult &r) -> LogicalResult {
    LinearLayer &layer = selected[i];
    if (!r.layer)
      return layer.op.emitError()
             << "slim-quantize: layer '" << layer.name << "': " << r.error;
    const QuantizedMatrix &q = r.layer->q;
    int64_t before = layer.inChannels * layer.outChannels * 4;
    int64_t scaleBytes = scheme.scaleType == ScaleType::F32 ? 4 : 2;
    int64_t after =
        q.rows * static_cast<int64_t>(getPackedBytes(q.cols, bits)) +
        q.rows * q.groupsPerRow * (scaleBytes + (symmetric ? 0 : 1));
    totalBefore += before;
    totalAfter += after;
    llvm::json::Object entry{
        {"layer", layer.name},
        {"shape", llvm::json::Array{layer.inChannels, layer.outChannels}},
        {"method", std::string(method)},
        {"bits", static_cast<int64_t>(bits)},
        {"group_size", static_cast<int64_t>(groupSize)},
        {"symmetric", static_cast<bool>(symmetric)},
        {"scale_type", std::string(scaleType)},
        {"output_rel_error",
         r.outputError ? llvm::json::Value(*r.outputError) : nullptr},
        {"weight_rel_error", r.weightError},
        {"bytes_before", before},
        {"bytes_after", after},
        {"seconds", r.seconds}};
    for (auto &[key, value] : r.layer->fields)
      entry[key] = value;
    warnDamping(layer, "slim-quantize", r.layer->dampFraction,
                r.layer->choleskyRetries);
    if (progress) {
      llvm::errs() << llvm::formatv(
          "slim-quantize: [{0}/{1}] {2} {3}x{4} {5} w{6}{7}: weight error "
          "{8:f4}",
          i + 1, selected.size(), layer.name, layer.inChannels,
          layer.outChannels, method, bits.getValue(),
          groupSize > 0 ? llvm::formatv(" g{0}", groupSize.getValue()).str()
                        : std::string(" per-channel"),
          r.weightError);
      printProgressEnd(r.outputError, r.seconds);
    }
    report.push_back(std::move(entry));
    rewriteLayer(layer, r);
    return success();
  };
  if (failed(computeInBatches(
          &getContext(), selected.size(),
          [&](size_t i) { return computeLayer(selected[i], statsPtr); },
          apply)))
    return signalPassFailure();
  if (embeddings != EmbeddingQuantization::Dense &&
      failed(
          quantizeEmbeddings(module, *tables, report, totalBefore, totalAfter)))
    return signalPassFailure();
  if (progress)
    llvm::errs() << llvm::formatv(
        "slim-quantize: {0} layers, {1:f1} MB -> {2:f1} MB ({3:f2}x)\n",
        selected.size(), totalBefore / 1e6, totalAfter / 1e6,
        totalAfter ? double(totalBefore) / totalAfter : 0.0);

  if (!reportFile.empty() &&
      failed(writeReport(
          reportFile, *this, passStart,
          llvm::json::Object{{"method", std::string(method)},
                             {"bits", static_cast<int64_t>(bits)},
                             {"group_size", static_cast<int64_t>(groupSize)},
                             {"symmetric", static_cast<bool>(symmetric)},
                             {"stats", std::string(statsFile)}},
          std::move(report), totalBefore, totalAfter, module)))
    return signalPassFailure();
}

} // namespace
