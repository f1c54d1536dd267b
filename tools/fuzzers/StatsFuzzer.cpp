//===- StatsFuzzer.cpp - Fuzz target: calibration statistics files --------===//
//
// Part of the Slim project, under the Apache License v2.0 with LLVM Exceptions.
// SPDX-License-Identifier: Apache-2.0 WITH LLVM-exception
//
//===----------------------------------------------------------------------===//
//
// Feeds arbitrary bytes to the statistics-file reader (CalibrationStats,
// what stats= of the compression passes opens). A file is either refused
// with an error or every array it describes lies inside it and is finite:
// the target reads all of them, so a view past the end is a sanitizer
// report and a non-finite value a trap.
//
//===----------------------------------------------------------------------===//

#include "lib/Compression/CalibrationStats.h"
#include "tools/fuzzers/FuzzTarget.h"

#include "llvm/Support/MemoryBuffer.h"

#include <cmath>
#include <cstdint>
#include <cstring>

using namespace mlir::slim;

static void touch(llvm::ArrayRef<float> values) {
  for (float v : values)
    if (!std::isfinite(v))
      __builtin_trap();
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  std::unique_ptr<llvm::WritableMemoryBuffer> buffer =
      llvm::WritableMemoryBuffer::getNewUninitMemBuffer(size, "fuzz.stats");
  if (!buffer)
    return 0;
  if (size)
    std::memcpy(buffer->getBufferStart(), data, size);
  llvm::Expected<CalibrationStats> stats =
      CalibrationStats::parse(std::move(buffer), "fuzz.stats");
  if (!stats) {
    llvm::consumeError(stats.takeError());
    return 0;
  }
  ++slim_fuzz::accepted;
  for (llvm::StringRef layer : stats->getLayerNames()) {
    const InputStats *in = stats->lookup(layer);
    if (!in)
      __builtin_trap();
    uint64_t k = in->channels;
    if (in->xtx.size() != k * k || in->absMean.size() != k ||
        in->absMax.size() != k || (!in->mean.empty() && in->mean.size() != k))
      __builtin_trap();
    touch(in->xtx);
    touch(in->absMean);
    touch(in->absMax);
    touch(in->mean);
    (void)stats->getWeightHash(layer);
  }
  return 0;
}
