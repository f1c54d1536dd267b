//===- CalibrationStats.h - Activation statistics of linear layers -*- C++
//-*-===//
//
// Part of the Slim project, under the Apache License v2.0 with LLVM Exceptions.
// SPDX-License-Identifier: Apache-2.0 WITH LLVM-exception
//
//===----------------------------------------------------------------------===//
//
// The calibration statistics file: for every observed linear-layer input X
// (rows = tokens, K input channels) the second moment X^T X / rows and the
// per-channel mean |x|, max |x| and mean x, keyed by the names of the layers
// that read that input (layers sharing an input, such as q/k/v projections,
// share one record). GPTQ, SparseGPT and whitened SVD use X^T X; AWQ,
// SmoothQuant and Wanda the per-channel statistics.
//
// Layout (format 2, a safetensors file; little-endian):
//
//   offset 0   u64       header size H
//   offset 8   H bytes   JSON header, padded with spaces so that 8 + H is a
//                        multiple of 64:
//     { "__metadata__": { "format": "slim-calibration-stats", "version": "2",
//                         "source": ..., "samples": "<n>", "tokens": "<n>",
//                         "slim": "<JSON below, as a string>" },
//       "input.<i>.xtx":      { "dtype": "F32", "shape": [K, K],
//                               "data_offsets": [begin, end] },
//       "input.<i>.abs_mean": ..., "input.<i>.abs_max": ...,
//       "input.<i>.mean": ... }
//   then       the tensors' bytes, back to back (offsets relative to 8 + H)
//
// The "slim" JSON:
//
//   { "format": "slim-calibration-stats", "version": 2,
//     "source": "<model the statistics were taken from>",
//     "samples": <calibration sequences>, "tokens": <tokens fed>,
//     "inputs": [ { "channels": K, "rows": <rows observed> }, ... ],
//     "layers": { "<layer name>": <index into inputs>, ... },
//     "weight_hashes": { "<layer>": "<hash>" }, "calibration": { ... } }
//
// `xtx` is K*K f32 (row-major, symmetric), `abs_mean`, `abs_max` and `mean`
// K f32. `mean` (the signed mean, for structured pruning's bias
// compensation) is absent from files written before it existed; readers
// then leave InputStats::mean empty. Format 1 files ("SLIMSTAT", u32
// version 1, u32 0, u64 header size, the JSON above with each input's array
// offsets from the file start) are still read.
// Readers map the file and touch one record at a time, so memory stays
// bounded by the layer in hand.
//
//===----------------------------------------------------------------------===//

#ifndef SLIM_LIB_COMPRESSION_CALIBRATIONSTATS_H
#define SLIM_LIB_COMPRESSION_CALIBRATIONSTATS_H

#include "llvm/ADT/ArrayRef.h"
#include "llvm/ADT/StringMap.h"
#include "llvm/ADT/StringRef.h"
#include "llvm/Support/Error.h"
#include "llvm/Support/JSON.h"
#include "llvm/Support/MemoryBuffer.h"

#include <algorithm>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

namespace mlir::slim {

/// Statistics of one observed input, viewing the mapped file.
struct InputStats {
  int64_t channels = 0;
  int64_t rows = 0;
  /// channels x channels, X^T X / rows.
  llvm::ArrayRef<float> xtx;
  llvm::ArrayRef<float> absMean;
  llvm::ArrayRef<float> absMax;
  /// Signed mean x per channel; empty for files written without it.
  llvm::ArrayRef<float> mean;
};

/// A statistics file opened for reading (memory-mapped).
class CalibrationStats {
public:
  /// Opens and validates `path`; errors name the file and the problem.
  static llvm::Expected<CalibrationStats> open(llvm::StringRef path);
  /// Parses the bytes of a statistics file (aligned for floats); `path`
  /// names it in errors.
  static llvm::Expected<CalibrationStats>
  parse(std::unique_ptr<llvm::MemoryBuffer> buffer, llvm::StringRef path);

  /// The statistics of the input of `layer`, or null if not recorded.
  const InputStats *lookup(llvm::StringRef layer) const;

  llvm::StringRef getSource() const { return source; }
  int64_t getTokens() const { return tokens; }
  int64_t getSamples() const { return samples; }
  size_t getNumLayers() const { return layers.size(); }
  /// The layers the file has statistics for, sorted.
  std::vector<llvm::StringRef> getLayerNames() const {
    std::vector<llvm::StringRef> names;
    for (const auto &entry : layers)
      names.push_back(entry.first());
    std::sort(names.begin(), names.end());
    return names;
  }
  const std::string &getPath() const { return path; }
  /// The header's "calibration" object (how the statistics were made:
  /// sampling, seed, the sequential recipe, the model's weights hash);
  /// empty for files written without it.
  const llvm::json::Object &getCalibration() const { return calibration; }
  /// The hash of the weights `layer` had when the statistics were made
  /// (LinearLayer::getWeightHash); "" if the file does not record it.
  llvm::StringRef getWeightHash(llvm::StringRef layer) const {
    auto it = weightHashes.find(layer);
    return it == weightHashes.end() ? llvm::StringRef() : it->second;
  }

private:
  friend class CalibrationStatsWriter;
  std::string path, source;
  int64_t tokens = 0, samples = 0;
  llvm::json::Object calibration;
  llvm::StringMap<std::string> weightHashes;
  std::unique_ptr<llvm::MemoryBuffer> buffer;
  std::vector<InputStats> inputs;
  llvm::StringMap<size_t> layers;
};

/// Accumulates the statistics of one input in double precision.
class InputAccumulator {
public:
  explicit InputAccumulator(int64_t channels);

  /// Adds `rows` rows of `channels` floats, row r at data + r * rowStride.
  void add(const float *data, int64_t rows, int64_t rowStride);

  int64_t getChannels() const { return channels; }
  int64_t getRows() const { return rows; }

private:
  friend class CalibrationStatsWriter;
  int64_t channels;
  int64_t rows = 0;
  std::vector<double> xtx, absSum, absMax, sum;
};

/// Writes a statistics file (to a temporary file renamed at the end).
/// Accumulates what a model compiled for calibration reports: its
/// `observe` is the observer callback of the runtime API
/// (slim_model_set_observer), one accumulator per observation point.
struct ObservationCollector {
  std::vector<InputAccumulator> points;
  /// The first inconsistency reported (a point or channel count the model
  /// did not declare); the caller checks it after each run.
  std::string error;
  /// Leading rows (positions of a batch-1 sequence) left out.
  int64_t skip = 0;

  static void observe(void *user, int32_t point, const float *rows,
                      int64_t numRows, int64_t channels, int64_t rowStride);
};

class CalibrationStatsWriter {
public:
  struct Input {
    const InputAccumulator *stats;
    std::vector<std::string> layers;
    /// The layers' weight hashes (LinearLayer::getWeightHash), parallel to
    /// `layers`, or empty.
    std::vector<std::string> hashes = {};
  };
  static llvm::Error write(llvm::StringRef path, llvm::StringRef source,
                           int64_t samples, int64_t tokens,
                           llvm::ArrayRef<Input> inputs,
                           const llvm::json::Object &calibration = {});
  /// Writes the records of every file of `parts` (one per part of a
  /// sequential calibration) into one file; a layer in two parts is an
  /// error. `calibration` goes into the header as "calibration".
  static llvm::Error merge(llvm::StringRef path, llvm::StringRef source,
                           int64_t samples, int64_t tokens,
                           llvm::ArrayRef<const CalibrationStats *> parts,
                           const llvm::json::Object &calibration);
};

} // namespace mlir::slim

#endif // SLIM_LIB_COMPRESSION_CALIBRATIONSTATS_H
