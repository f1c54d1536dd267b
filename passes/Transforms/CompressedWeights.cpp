//===- CompressedWeights.cpp - Host storage to slim.assemble --------------===//
//
// Part of the Slim project, under the Apache License v2.0 with LLVM Exceptions.
// SPDX-License-Identifier: Apache-2.0 WITH LLVM-exception
//
//===----------------------------------------------------------------------===//

#include "passes/Transforms/CompressedWeights.h"

#include "lib/Compression/CalibrationStats.h"
#include "lib/Support/JsonOutput.h"
#include "lib/Support/Version.h"
#include "llvm/Support/MemoryBuffer.h"
#include "llvm/Support/xxhash.h"

#include "dialects/Slim/IR/SlimOps.h"
#include "lib/Compression/Packing.h"
#include "lib/Support/Files.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/IR/DialectResourceBlobManager.h"
#include "llvm/ADT/APFloat.h"
#include "llvm/Support/FileSystem.h"
#include "llvm/Support/FormatVariadic.h"
#include "llvm/Support/raw_ostream.h"

using namespace mlir;
using namespace mlir::slim;

Type mlir::slim::getScaleElementType(MLIRContext *ctx, ScaleType t) {
  switch (t) {
  case ScaleType::F32:
    return Float32Type::get(ctx);
  case ScaleType::F16:
    return Float16Type::get(ctx);
  case ScaleType::BF16:
    return BFloat16Type::get(ctx);
  }
  llvm_unreachable("unknown scale type");
}

FailureOr<Value> mlir::slim::buildAssemble(OpBuilder &b, Location loc,
                                           RankedTensorType type,
                                           const llvm::StringMap<Value> &parts,
                                           SmallVectorImpl<Value> *storage) {
  FailureOr<StorageLayout> layout =
      StorageLayout::get(type, [&] { return emitError(loc); });
  if (failed(layout))
    return failure();
  SmallVector<Value> operands;
  for (const StorageComponent &c : layout->getComponents()) {
    Value v = parts.lookup(c.name);
    if (!v)
      return emitError(loc) << "no '" << c.name << "' storage for " << type;
    operands.push_back(v);
  }
  if (storage)
    storage->assign(operands.begin(), operands.end());
  return AssembleOp::create(b, loc, type, operands).getResult();
}

namespace {

/// A constant of `type` whose bytes are `bytes`, held in a resource blob
/// named `name` (large tensors stay out of the textual IR).
template <typename T>
Value resourceConstant(OpBuilder &b, Location loc, RankedTensorType type,
                       StringRef name, ArrayRef<T> data) {
  ArrayRef<char> bytes(reinterpret_cast<const char *>(data.data()),
                       data.size() * sizeof(T));
  auto attr = DenseResourceElementsAttr::get(
      type, name, HeapAsmResourceBlob::allocateAndCopyWithAlign(bytes, 64));
  return arith::ConstantOp::create(b, loc, attr);
}

} // namespace

QuantAttr mlir::slim::addQuantStorage(OpBuilder &b, Location loc,
                                      const QuantizedMatrix &q, StringRef name,
                                      llvm::StringMap<Value> &parts) {
  MLIRContext *ctx = b.getContext();
  int64_t n = q.rows, k = q.cols;
  unsigned bits = q.scheme.bits;
  int64_t rowBytes = static_cast<int64_t>(getPackedBytes(k, bits));
  std::vector<uint8_t> packed(n * rowBytes);
  for (int64_t r = 0; r < n; ++r)
    packCodes(ArrayRef<uint8_t>(q.codes).slice(r * k, k), bits,
              MutableArrayRef<uint8_t>(packed.data() + r * rowBytes, rowBytes));
  parts["codes"] = resourceConstant(
      b, loc, RankedTensorType::get({n, rowBytes}, b.getI8Type()),
      (name + ".codes").str(), ArrayRef<uint8_t>(packed));

  bool grouped = q.scheme.groupSize > 0;
  Type scaleType = getScaleElementType(ctx, q.scheme.scaleType);
  auto scalesType = RankedTensorType::get({n, q.groupsPerRow}, scaleType);
  SmallVector<APFloat> scaleValues;
  scaleValues.reserve(q.scales.size());
  for (float s : q.scales) {
    APFloat v(s);
    bool lost;
    v.convert(cast<FloatType>(scaleType).getFloatSemantics(),
              APFloat::rmNearestTiesToEven, &lost);
    scaleValues.push_back(v);
  }
  parts["scales"] = arith::ConstantOp::create(
      b, loc, DenseElementsAttr::get(scalesType, scaleValues));
  if (!q.scheme.symmetric) {
    SmallVector<int8_t> zps(q.zeroPoints.begin(), q.zeroPoints.end());
    parts["zero_points"] = arith::ConstantOp::create(
        b, loc,
        DenseElementsAttr::get(
            RankedTensorType::get({n, q.groupsPerRow}, b.getI8Type()),
            ArrayRef<int8_t>(zps)));
  }
  return QuantAttr::get(
      ctx, QuantFormat::Int, bits, /*isSigned=*/q.scheme.symmetric,
      /*axis=*/grouped ? 1 : 0, /*groupSize=*/grouped ? q.scheme.groupSize : 0,
      scaleType, /*hasZeroPoint=*/!q.scheme.symmetric);
}

Value mlir::slim::buildQuantizedWeight(OpBuilder &b, Location loc,
                                       const QuantizedMatrix &q, StringRef name,
                                       SmallVectorImpl<Value> &storage) {
  llvm::StringMap<Value> parts;
  QuantAttr encoding = addQuantStorage(b, loc, q, name, parts);
  auto type = RankedTensorType::get({q.rows, q.cols}, b.getF32Type(), encoding);
  FailureOr<Value> weight = buildAssemble(b, loc, type, parts, &storage);
  assert(succeeded(weight) && "quant storage is complete by construction");
  return *weight;
}

/// Adds `f`'s factors to `parts` and returns the residual encoding.
static LowRankAttr addFactors(OpBuilder &b, Location loc,
                              const FactorizedMatrix &f, StringRef name,
                              llvm::StringMap<Value> &parts) {
  int64_t n = f.rows, k = f.cols, r = f.rank;
  parts["u"] =
      resourceConstant(b, loc, RankedTensorType::get({n, r}, b.getF32Type()),
                       (name + ".u").str(), ArrayRef<float>(f.u));
  parts["v"] =
      resourceConstant(b, loc, RankedTensorType::get({r, k}, b.getF32Type()),
                       (name + ".v").str(), ArrayRef<float>(f.v));
  return LowRankAttr::get(b.getContext(), r, b.getF32Type());
}

Value mlir::slim::buildPrunedWeight(OpBuilder &b, Location loc,
                                    const PrunedMatrix &p, StringRef name,
                                    const FactorizedMatrix *residual) {
  MLIRContext *ctx = b.getContext();
  int64_t n = p.rows, k = p.cols;
  llvm::StringMap<Value> parts;
  Attribute encoding;
  if (p.pattern.isStructured()) {
    std::vector<float> values;
    std::vector<uint8_t> positions;
    p.getRuns(values, positions);
    int64_t valueCols = k / p.pattern.m * p.pattern.n;
    parts["indices"] = resourceConstant(
        b, loc, RankedTensorType::get({n, valueCols}, b.getI8Type()),
        (name + ".indices").str(), ArrayRef<uint8_t>(positions));
    auto sparse = SparseAttr::get(ctx, p.pattern.n, p.pattern.m, /*axis=*/1,
                                  /*density=*/FloatAttr());
    if (p.quant) {
      QuantAttr quant = addQuantStorage(b, loc, *p.quant, name, parts);
      encoding = CompressedAttr::get(ctx, {sparse, quant}, LowRankAttr());
    } else {
      parts["values"] = resourceConstant(
          b, loc, RankedTensorType::get({n, valueCols}, b.getF32Type()),
          (name + ".values").str(), ArrayRef<float>(values));
      encoding = sparse;
    }
  } else {
    std::vector<float> values;
    std::vector<int32_t> rowPtr, colIdx;
    p.getCsr(values, rowPtr, colIdx);
    int64_t nnz = static_cast<int64_t>(values.size());
    parts["values"] =
        resourceConstant(b, loc, RankedTensorType::get({nnz}, b.getF32Type()),
                         (name + ".values").str(), ArrayRef<float>(values));
    parts["row_ptr"] =
        resourceConstant(b, loc, RankedTensorType::get({n + 1}, b.getI32Type()),
                         (name + ".row_ptr").str(), ArrayRef<int32_t>(rowPtr));
    parts["col_idx"] =
        resourceConstant(b, loc, RankedTensorType::get({nnz}, b.getI32Type()),
                         (name + ".col_idx").str(), ArrayRef<int32_t>(colIdx));
    double density = n * k > 0 ? double(nnz) / double(n * k) : 0.0;
    encoding = SparseAttr::get(ctx, 0, 0, /*axis=*/1,
                               FloatAttr::get(b.getF64Type(), density));
  }
  if (residual) {
    LowRankAttr lowRank = addFactors(b, loc, *residual, name, parts);
    SmallVector<Attribute> stages;
    if (auto c = dyn_cast<CompressedAttr>(encoding))
      stages.assign(c.getStages().begin(), c.getStages().end());
    else
      stages.push_back(encoding);
    encoding = CompressedAttr::get(ctx, stages, lowRank);
  }
  auto type = RankedTensorType::get({n, k}, b.getF32Type(), encoding);
  FailureOr<Value> weight = buildAssemble(b, loc, type, parts);
  assert(succeeded(weight) && "sparse storage is complete by construction");
  return *weight;
}

Value mlir::slim::buildFactorizedWeight(OpBuilder &b, Location loc,
                                        const FactorizedMatrix &f,
                                        StringRef name) {
  MLIRContext *ctx = b.getContext();
  llvm::StringMap<Value> parts;
  LowRankAttr lowRank = addFactors(b, loc, f, name, parts);
  Attribute encoding = lowRank;
  if (f.quant) {
    QuantAttr quant = addQuantStorage(b, loc, *f.quant, name, parts);
    encoding = CompressedAttr::get(ctx, {quant}, lowRank);
  }
  auto type = RankedTensorType::get({f.rows, f.cols}, b.getF32Type(), encoding);
  FailureOr<Value> weight = buildAssemble(b, loc, type, parts);
  assert(succeeded(weight) && "low-rank storage is complete by construction");
  return *weight;
}

Value mlir::slim::replaceLinearLayer(const LinearLayer &layer, Value weight,
                                     Value x) {
  linalg::MatmulOp mm = layer.op;
  OpBuilder b(mm);
  if (!x)
    x = mm.getInputs()[0];
  Value y = MatmulOp::create(b, mm.getLoc(), mm.getResult(0).getType(), x,
                             weight, b.getUnitAttr());
  mm.getResult(0).replaceAllUsesWith(y);
  Operation *oldWeight = mm.getInputs()[1].getDefiningOp();
  mm.erase();
  // The fp32 weight must not reach the weights file.
  if (oldWeight && oldWeight->use_empty())
    oldWeight->erase();
  return y;
}

FailureOr<SelectedLayers> mlir::slim::selectLayers(
    ModuleOp module, const LayerSelection &selection,
    function_ref<bool(const LinearLayer &, function_ref<InFlightDiagnostic()>)>
        check) {
  StringRef pass = selection.pass;
  FailureOr<llvm::Regex> include =
      compileLayerPattern(selection.layers, (pass + " layers").str(), module);
  FailureOr<llvm::Regex> skip =
      compileLayerPattern(selection.exclude, (pass + " exclude").str(), module);
  if (failed(include) || failed(skip))
    return failure();
  SelectedLayers result;
  if (!selection.statsFile.empty()) {
    llvm::Expected<CalibrationStats> opened =
        CalibrationStats::open(selection.statsFile);
    if (!opened)
      return module.emitError()
             << pass << ": " << llvm::toString(opened.takeError());
    result.stats.emplace(std::move(*opened));
  }
  bool ok = true;
  SmallVector<LinearLayer> all = findLinearLayers(module);
  if (selection.layers != "." && llvm::none_of(all, [&](const LinearLayer &l) {
        return include->match(l.name);
      })) {
    std::string examples;
    for (size_t i = 0; i < all.size() && i < 3; ++i)
      examples += (i ? ", '" : " (e.g. '") + all[i].name + "'";
    if (!all.empty())
      examples += ")";
    auto diag =
        selection.allowEmpty ? module.emitWarning() : module.emitError();
    diag << pass << ": layers='" << selection.layers
         << "' selects none of the model's " << all.size() << " linear layers"
         << examples
         << (selection.allowEmpty ? "" : "; allow-empty=1 accepts that");
    if (!selection.allowEmpty)
      return failure();
  }
  for (LinearLayer &layer : all) {
    if (!include->match(layer.name) || skip->match(layer.name))
      continue;
    auto error = [&]() -> InFlightDiagnostic {
      ok = false;
      return layer.op.emitError()
             << pass << ": layer '" << layer.name << "' (" << layer.inChannels
             << "x" << layer.outChannels << "): ";
    };
    if (layer.getWeightData().size() !=
        static_cast<size_t>(layer.inChannels * layer.outChannels)) {
      error() << "weight data is not available (elided resource?)";
      continue;
    }
    if (check && !check(layer, error)) {
      ok = false;
      continue;
    }
    if (result.stats) {
      const InputStats *in = result.stats->lookup(layer.name);
      if (!in && selection.statsRequired) {
        error() << "no statistics for this layer in '" << selection.statsFile
                << "' (taken from another model?)";
        continue;
      }
      if (in && in->channels != layer.inChannels) {
        error() << "statistics in '" << selection.statsFile << "' have "
                << in->channels << " channels, the layer has "
                << layer.inChannels << " inputs (taken from another model?)";
        continue;
      }
    }
    result.layers.push_back(std::move(layer));
  }
  if (!ok)
    return failure();
  return result;
}

std::vector<float> mlir::slim::getOutputRows(const LinearLayer &layer) {
  int64_t k = layer.inChannels, n = layer.outChannels;
  ArrayRef<float> data = layer.getWeightData();
  std::vector<float> w(n * k);
  for (int64_t i = 0; i < k; ++i)
    for (int64_t j = 0; j < n; ++j)
      w[j * k + i] = data[i * n + j];
  return w;
}

FailureOr<ScaleType> mlir::slim::parseScaleType(StringRef text, StringRef pass,
                                                Operation *anchor) {
  if (text == "f16")
    return ScaleType::F16;
  if (text == "bf16")
    return ScaleType::BF16;
  if (text == "f32")
    return ScaleType::F32;
  return anchor->emitError() << pass << ": unknown scale-type '" << text
                             << "' (expected f16, bf16 or f32)";
}

void mlir::slim::warnDamping(const LinearLayer &layer, StringRef pass,
                             double damp, int retries) {
  if (retries > 0)
    linalg::MatmulOp(layer.op).emitWarning()
        << pass << ": layer '" << layer.name << "': the Hessian needed damping "
        << damp << " (" << retries
        << " Cholesky failures); few or degenerate calibration inputs?";
}

void mlir::slim::printProgressEnd(std::optional<double> outputError,
                                  double seconds) {
  if (outputError)
    llvm::errs() << llvm::formatv(", output error {0:f4}", *outputError);
  llvm::errs() << llvm::formatv(" ({0:f2} s)\n", seconds);
}

LogicalResult mlir::slim::writeAtomically(StringRef path, StringRef text,
                                          Operation *anchor) {
  llvm::Expected<mlir::slim::TempOutput> out =
      mlir::slim::TempOutput::create(path);
  if (!out)
    return anchor->emitError() << "cannot write '" << path
                               << "': " << llvm::toString(out.takeError());
  {
    llvm::raw_fd_ostream os(out->takeFD(), /*shouldClose=*/true);
    os << text;
    os.close();
    if (os.has_error()) {
      os.clear_error();
      return anchor->emitError() << "error writing '" << path << "'";
    }
  }
  if (llvm::Error e = out->commit())
    return anchor->emitError() << llvm::toString(std::move(e));
  return success();
}

LogicalResult mlir::slim::writeReport(
    StringRef path, Pass &pass, std::chrono::steady_clock::time_point start,
    llvm::json::Object header, llvm::json::Array layers, int64_t totalBefore,
    int64_t totalAfter, Operation *anchor) {
  header["slim_version"] = getVersion();
  header["slim_commit"] = getCommit();
  std::string recipe;
  llvm::raw_string_ostream recipeOs(recipe);
  pass.printAsTextualPipeline(recipeOs);
  header["recipe"] = recipe;
  // The statistics' provenance: the path alone does not say which file.
  if (const llvm::json::Value *stats = header.get("stats");
      stats && stats->getAsString() && !stats->getAsString()->empty()) {
    std::string statsPath = stats->getAsString()->str();
    llvm::json::Object info{{"path", statsPath}};
    if (llvm::Expected<CalibrationStats> opened =
            CalibrationStats::open(statsPath))
      info["source"] = opened->getSource().str();
    else
      llvm::consumeError(opened.takeError());
    if (llvm::ErrorOr<std::unique_ptr<llvm::MemoryBuffer>> file =
            llvm::MemoryBuffer::getFile(statsPath, /*IsText=*/false,
                                        /*RequiresNullTerminator=*/false))
      info["xxh3"] = llvm::formatv(
          "{0:x-16}",
          llvm::xxh3_64bits(llvm::arrayRefFromStringRef((*file)->getBuffer())));
    header["stats"] = std::move(info);
  }
  header["seconds"] =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start)
          .count();
  header["layers"] = std::move(layers);
  header["total_bytes_before"] = totalBefore;
  header["total_bytes_after"] = totalAfter;
  std::string text;
  llvm::raw_string_ostream os(text);
  printJson(os, llvm::json::Value(std::move(header)));
  os << "\n";
  return writeAtomically(path, text, anchor);
}
