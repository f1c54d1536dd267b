//===- CompressedWeights.h - Host storage to slim.assemble ------*- C++ -*-===//
//
// Part of the Slim project, under the Apache License v2.0 with LLVM Exceptions.
// SPDX-License-Identifier: Apache-2.0 WITH LLVM-exception
//
//===----------------------------------------------------------------------===//
//
// What every compression pass shares on the IR side: the results of
// lib/Compression (quantized, pruned matrices) as constants assembled into
// a weight of the matching encoding, the storage in the order
// StorageLayout gives for that encoding (so a composed encoding is built
// the way every reader takes it apart), the rewrite of a linear layer into
// `slim.matmul {transpose_rhs}` by such a weight, the selection and checks of
// the layers, the batched parallel work, and the report file.
//
//===----------------------------------------------------------------------===//

#ifndef SLIM_PASSES_TRANSFORMS_COMPRESSEDWEIGHTS_H
#define SLIM_PASSES_TRANSFORMS_COMPRESSEDWEIGHTS_H

#include "passes/Transforms/LinearLayers.h"

#include "dialects/Slim/IR/SlimAttrs.h"
#include "lib/Compression/CalibrationStats.h"
#include "lib/Compression/Factorizer.h"
#include "lib/Compression/Pruner.h"
#include "lib/Compression/Quantizer.h"

#include "mlir/IR/Builders.h"
#include "mlir/IR/BuiltinOps.h"
#include "mlir/IR/Threading.h"
#include "mlir/Pass/Pass.h"
#include "llvm/ADT/StringMap.h"
#include "llvm/Support/JSON.h"

#include <chrono>

namespace mlir::slim {

/// The element type of scales stored as `type`.
Type getScaleElementType(MLIRContext *ctx, ScaleType type);

/// `slim.assemble` of a weight of `type` from constants by role (the roles
/// of StorageLayout: codes, scales, zero_points, values, indices, row_ptr,
/// col_idx, ...); `storage` receives the operands in layout order. Fails,
/// naming the role, where one is missing.
FailureOr<Value> buildAssemble(OpBuilder &b, Location loc,
                               RankedTensorType type,
                               const llvm::StringMap<Value> &parts,
                               SmallVectorImpl<Value> *storage = nullptr);

/// The constants of `q` (codes `[rows, ceil(cols * bits / 8)]` packed LSB
/// first as a resource named `name.codes`, scales and zero points
/// `[rows, groups]`) added to `parts`, and the `#slim.quant` encoding of a
/// `rows x cols` tensor whose groups run along `axis` = 1.
QuantAttr addQuantStorage(OpBuilder &b, Location loc, const QuantizedMatrix &q,
                          StringRef name, llvm::StringMap<Value> &parts);

/// The `N x K` weight `q` stands for (`#slim.quant`); `storage` receives
/// the storage values.
Value buildQuantizedWeight(OpBuilder &b, Location loc, const QuantizedMatrix &q,
                           StringRef name, SmallVectorImpl<Value> &storage);

/// The `N x K` weight a pruned matrix stands for: `#slim.sparse<n:m, axis =
/// 1>` (values and positions of each run), `#slim.compressed<[sparse,
/// quant]>` when the kept values are quantized, or `#slim.sparse<
/// unstructured>` in CSR form; with `residual`, those stages in a
/// `#slim.compressed` whose residual is its factors.
Value buildPrunedWeight(OpBuilder &b, Location loc, const PrunedMatrix &p,
                        StringRef name,
                        const FactorizedMatrix *residual = nullptr);

/// The `N x K` weight a factorization stands for: `#slim.lowrank<rank = r>`
/// (factors `u` `[N, r]`, `v` `[r, K]`, f32), or with a quantized base
/// `#slim.compressed<[#slim.quant<...>], residual = #slim.lowrank<...>>`.
Value buildFactorizedWeight(OpBuilder &b, Location loc,
                            const FactorizedMatrix &f, StringRef name);

/// Replaces `layer` (a `linalg.matmul` by a constant `[K, N]` weight) with
/// `slim.matmul {transpose_rhs}` of `x` by `weight` (`[N, K]`), where `x`
/// defaults to the op's current activation operand; erases the f32 weight
/// if nothing else reads it. Returns the new product.
Value replaceLinearLayer(const LinearLayer &layer, Value weight,
                         Value x = nullptr);

/// How a compression pass selects its layers: its name (for messages), the
/// `layers` / `exclude` patterns, and the statistics file (may be empty),
/// which `statsRequired` methods need an entry of for every layer.
struct LayerSelection {
  StringRef pass;
  StringRef layers, exclude;
  StringRef statsFile;
  bool statsRequired = false;
  /// A `layers` pattern (other than the default ".") that selects no layer
  /// is an error naming it, unless this is set (then a warning).
  bool allowEmpty = false;
};

/// The layers a pass works on and the statistics it opened.
struct SelectedLayers {
  SmallVector<LinearLayer> layers;
  std::optional<CalibrationStats> stats;

  const CalibrationStats *getStats() const { return stats ? &*stats : nullptr; }
};

/// Opens the statistics and selects the layers of `module`, checking each
/// (weight data available, statistics present where required and of its
/// input width, and `check`, which reports through the given diagnostic
/// and returns false) and reporting every problem before failing.
FailureOr<SelectedLayers> selectLayers(
    ModuleOp module, const LayerSelection &selection,
    function_ref<bool(const LinearLayer &, function_ref<InFlightDiagnostic()>)>
        check = nullptr);

/// Runs `compute(i)` for i in [0, count) on the context's thread pool, in
/// batches of its size, and after each batch `apply(i, result)` on this
/// thread in order (IR is built there); stops at the first failed apply.
template <typename Compute, typename Apply>
LogicalResult computeInBatches(MLIRContext *ctx, size_t count,
                               Compute &&compute, Apply &&apply) {
  using Result = decltype(compute(size_t()));
  size_t batch =
      ctx->isMultithreadingEnabled()
          ? std::max<size_t>(1, ctx->getThreadPool().getMaxConcurrency())
          : 1;
  for (size_t begin = 0; begin < count; begin += batch) {
    size_t end = std::min(count, begin + batch);
    std::vector<Result> results(end - begin);
    parallelFor(ctx, begin, end,
                [&](size_t i) { results[i - begin] = compute(i); });
    for (size_t i = begin; i < end; ++i)
      if (failed(apply(i, results[i - begin])))
        return failure();
  }
  return success();
}

/// Warns that `layer`'s Hessian needed `retries` increases of its damping to
/// `damp` (GPTQ, SparseGPT), if it did.
void warnDamping(const LinearLayer &layer, StringRef pass, double damp,
                 int retries);

/// Ends a progress line: the output error where there is one, the seconds.
void printProgressEnd(std::optional<double> outputError, double seconds);

/// The layer's weight as one row per output channel, row-major `[N, K]`
/// (lib/Compression's layout), from its `[K, N]` constant.
std::vector<float> getOutputRows(const LinearLayer &layer);

/// The scale storage type `text` names (f16, bf16 or f32); the error names
/// `pass` and the option.
FailureOr<ScaleType> parseScaleType(StringRef text, StringRef pass,
                                    Operation *anchor);

/// Writes `text` to `path` through a temporary file renamed over it.
LogicalResult writeAtomically(StringRef path, StringRef text,
                              Operation *anchor);

/// Writes a compression report of `pass`: `header` fields, then `layers` and
/// the byte totals, as indented JSON (doubles to 6 significant digits).
/// Added: Slim's version and commit, the recipe (the pass with all its
/// options), the statistics file's source and hash (for a non-empty
/// header "stats" path) and the seconds since `start`.
LogicalResult writeReport(StringRef path, Pass &pass,
                          std::chrono::steady_clock::time_point start,
                          llvm::json::Object header, llvm::json::Array layers,
                          int64_t totalBefore, int64_t totalAfter,
                          Operation *anchor);

} // namespace mlir::slim

#endif // SLIM_PASSES_TRANSFORMS_COMPRESSEDWEIGHTS_H
