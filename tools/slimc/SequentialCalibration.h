//===- SequentialCalibration.h - slimc's calibration driver ---------------===//
//
// Part of the Slim project, under the Apache License v2.0 with LLVM Exceptions.
// SPDX-License-Identifier: Apache-2.0 WITH LLVM-exception
//
//===----------------------------------------------------------------------===//
//
// `slimc --calibration-text`: calibration statistics computed inside the
// compiler, one part of the model at a time (ModelSegments.h). Each part is
// compiled twice into a scratch directory and run through the runtime API:
// instrumented, on the current hidden states, for its layers' statistics;
// then compressed with those statistics by the user's recipe, to compute
// the hidden states of the next part. The statistics of all parts are
// merged into one file, with which the whole model is then compressed as
// usual: each layer sees the same statistics, so the result equals the
// part-by-part one. Without cuts (`--sequential=0`) the one part is the
// whole model and this is the classic one-shot calibration.
//
//===----------------------------------------------------------------------===//

#ifndef SLIM_TOOLS_SLIMC_SEQUENTIALCALIBRATION_H
#define SLIM_TOOLS_SLIMC_SEQUENTIALCALIBRATION_H

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/IR/BuiltinOps.h"

#include "llvm/Support/JSON.h"

#include <functional>
#include <optional>
#include <string>
#include <vector>

namespace slimc {

struct CalibrationSettings {
  std::vector<std::string> texts;
  std::string tokenizer;
  unsigned samples = 128;
  unsigned context = 512;
  std::optional<uint64_t> seed;
  bool sequential = true;
  bool quiet = false;
  /// Bytes of hidden states (and other tensors crossing cuts) kept in
  /// memory; a part's outputs beyond it go to a memory-mapped scratch file.
  size_t memoryBudget = ~size_t(0);
  /// Dialects of the scratch contexts each part is compiled in (so that
  /// what a part's compression and compilation allocate is freed with it).
  const mlir::DialectRegistry *registry = nullptr;
  /// Written into the statistics header ("calibration"): the recipe and
  /// whatever else identifies how the statistics were made.
  llvm::json::Object header;
};

/// Compiles a module (entry @main on tensors) into a directory; an error
/// message or "".
using CompileFn = std::function<std::string(mlir::ModuleOp, llvm::StringRef)>;
/// Runs the user's compression recipe on a module with the statistics file
/// given; an error message or "".
using CompressFn =
    std::function<std::string(mlir::ModuleOp, llvm::StringRef stats)>;

/// Calibrates the linear layers of `entry` on the settings' text and writes
/// the statistics file `statsPath`, using `workDir` for scratch models.
/// Returns an error message or "".
std::string calibrateModel(mlir::func::FuncOp entry,
                           const CalibrationSettings &settings,
                           llvm::StringRef workDir, const CompileFn &compile,
                           const CompressFn &compress,
                           llvm::StringRef statsPath);

} // namespace slimc

#endif // SLIM_TOOLS_SLIMC_SEQUENTIALCALIBRATION_H
