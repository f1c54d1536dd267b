//===- CalibrationStats.cpp - Activation statistics of linear layers ------===//
//
// Part of the Slim project, under the Apache License v2.0 with LLVM Exceptions.
// SPDX-License-Identifier: Apache-2.0 WITH LLVM-exception
//
//===----------------------------------------------------------------------===//

#include "lib/Compression/CalibrationStats.h"
#include "lib/Support/Files.h"

#include "llvm/ADT/STLExtras.h"
#include "llvm/ADT/StringExtras.h"
#include "llvm/ADT/StringSet.h"
#include "llvm/Support/FileSystem.h"
#include "llvm/Support/FormatVariadic.h"
#include "llvm/Support/JSON.h"
#include "llvm/Support/raw_ostream.h"

#include <dnnl.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <functional>

using namespace mlir::slim;
using llvm::StringRef;

static constexpr char kMagic[8] = {'S', 'L', 'I', 'M', 'S', 'T', 'A', 'T'};
static constexpr uint32_t kVersion = 1;
/// Arrays per input: xtx, abs_mean, abs_max, mean.
static constexpr size_t kArrays = 4;
static constexpr uint64_t kPrologue = 24;
static constexpr uint64_t kAlign = 64;

//===----------------------------------------------------------------------===//
// Reading
//===----------------------------------------------------------------------===//

llvm::Expected<CalibrationStats> CalibrationStats::open(StringRef path) {
  auto fail = [&](const llvm::Twine &msg) -> llvm::Error {
    return llvm::createStringError("calibration statistics '" + path +
                                   "': " + msg);
  };
  auto buffer = readRegularFile(path);
  if (!buffer)
    return fail(llvm::toString(buffer.takeError()));
  return parse(std::move(*buffer), path);
}

llvm::Expected<CalibrationStats>
CalibrationStats::parse(std::unique_ptr<llvm::MemoryBuffer> buffer,
                        StringRef path) {
  auto fail = [&](const llvm::Twine &msg) -> llvm::Error {
    return llvm::createStringError("calibration statistics '" + path +
                                   "': " + msg);
  };
  StringRef data = buffer->getBuffer();
  if (reinterpret_cast<uintptr_t>(data.data()) % alignof(float) != 0)
    return fail("the buffer is not aligned for float arrays");
  if (data.size() < kPrologue || std::memcmp(data.data(), kMagic, 8) != 0)
    return fail("not a Slim statistics file (bad magic)");
  uint32_t version;
  uint64_t headerSize;
  std::memcpy(&version, data.data() + 8, 4);
  std::memcpy(&headerSize, data.data() + 16, 8);
  if (version != kVersion)
    return fail(llvm::formatv("unsupported version {0} (expected {1})", version,
                              kVersion));
  if (headerSize > data.size() - kPrologue)
    return fail("truncated header");
  llvm::Expected<llvm::json::Value> header =
      llvm::json::parse(data.substr(kPrologue, headerSize));
  if (!header)
    return fail("header: " + llvm::toString(header.takeError()));
  const llvm::json::Object *root = header->getAsObject();
  if (!root || root->getString("format") != "slim-calibration-stats")
    return fail("header is not a slim-calibration-stats object");

  CalibrationStats stats;
  stats.path = path.str();
  stats.source = root->getString("source").value_or("").str();
  stats.tokens = root->getInteger("tokens").value_or(0);
  stats.samples = root->getInteger("samples").value_or(0);
  if (const llvm::json::Object *calibration = root->getObject("calibration"))
    stats.calibration = *calibration;
  if (const llvm::json::Object *hashes = root->getObject("weight_hashes"))
    for (const auto &[name, hash] : *hashes)
      if (std::optional<StringRef> h = hash.getAsString())
        stats.weightHashes[name.str()] = h->str();
  const llvm::json::Array *inputs = root->getArray("inputs");
  const llvm::json::Object *layers = root->getObject("layers");
  if (!inputs || !layers)
    return fail("header lacks 'inputs' or 'layers'");

  // A view of `count` floats at `key`'s offset, checked against the file.
  auto view = [&](const llvm::json::Object &in, StringRef key, uint64_t count,
                  size_t index) -> llvm::Expected<llvm::ArrayRef<float>> {
    std::optional<int64_t> offset = in.getInteger(key);
    if (!offset || *offset < 0 || *offset % 4 != 0 ||
        static_cast<uint64_t>(*offset) < kPrologue + headerSize ||
        static_cast<uint64_t>(*offset) > data.size() ||
        count > (data.size() - *offset) / sizeof(float))
      return fail(llvm::formatv("input {0}: '{1}' lies outside the file "
                                "(truncated?)",
                                index, key));
    return llvm::ArrayRef<float>(
        reinterpret_cast<const float *>(data.data() + *offset), count);
  };
  for (size_t i = 0; i < inputs->size(); ++i) {
    const llvm::json::Object *in = (*inputs)[i].getAsObject();
    if (!in)
      return fail(llvm::formatv("input {0} is not an object", i));
    InputStats s;
    s.channels = in->getInteger("channels").value_or(0);
    s.rows = in->getInteger("rows").value_or(-1);
    if (s.channels <= 0 || s.channels > (1 << 20) || s.rows < 0)
      return fail(llvm::formatv("input {0}: bad 'channels' or 'rows'", i));
    uint64_t k = s.channels;
    auto xtx = view(*in, "xtx", k * k, i);
    if (!xtx)
      return xtx.takeError();
    auto mean = view(*in, "abs_mean", k, i);
    if (!mean)
      return mean.takeError();
    auto max = view(*in, "abs_max", k, i);
    if (!max)
      return max.takeError();
    // The signed mean came later: files without it still open, and the
    // methods that need it (structured pruning's bias compensation) say so.
    if (in->get("mean")) {
      auto signedMean = view(*in, "mean", k, i);
      if (!signedMean)
        return signedMean.takeError();
      s.mean = *signedMean;
    }
    s.xtx = *xtx;
    s.absMean = *mean;
    s.absMax = *max;
    stats.inputs.push_back(s);
  }
  for (const auto &[name, index] : *layers) {
    std::optional<int64_t> i = index.getAsInteger();
    if (!i || *i < 0 || static_cast<size_t>(*i) >= stats.inputs.size())
      return fail("layer '" + name.str() + "' refers to no input");
    stats.layers[name.str()] = *i;
  }
  // Non-finite statistics (a diverged model, a damaged file) would make
  // every method's arithmetic meaningless: refuse them, naming the layers.
  for (auto [i, in] : llvm::enumerate(stats.inputs)) {
    const char *bad = nullptr;
    auto finite = [](llvm::ArrayRef<float> a) {
      return llvm::all_of(a, [](float v) { return std::isfinite(v); });
    };
    if (!finite(in.xtx))
      bad = "xtx";
    else if (!finite(in.absMean))
      bad = "abs_mean";
    else if (!finite(in.absMax))
      bad = "abs_max";
    else if (!finite(in.mean))
      bad = "mean";
    if (!bad)
      continue;
    std::vector<std::string> names;
    for (const auto &entry : stats.layers)
      if (entry.second == i)
        names.push_back("'" + entry.first().str() + "'");
    llvm::sort(names);
    return fail(llvm::formatv("input {0} (layers {1}) has non-finite values "
                              "in '{2}'",
                              i, llvm::join(names, ", "), bad));
  }
  stats.buffer = std::move(buffer);
  return std::move(stats);
}

const InputStats *CalibrationStats::lookup(StringRef layer) const {
  auto it = layers.find(layer);
  return it == layers.end() ? nullptr : &inputs[it->second];
}

//===----------------------------------------------------------------------===//
// Accumulating
//===----------------------------------------------------------------------===//

InputAccumulator::InputAccumulator(int64_t channels)
    : channels(channels), xtx(channels * channels, 0.0), absSum(channels, 0.0),
      absMax(channels, 0.0), sum(channels, 0.0) {}

void InputAccumulator::add(const float *data, int64_t n, int64_t rowStride) {
  if (n <= 0)
    return;
  int64_t k = channels;
  // X^T X of this batch in single precision (oneDNN's sgemm), summed in
  // double so that long calibration runs do not lose small contributions.
  // One scratch product per thread, not per input: a model has hundreds.
  static thread_local std::vector<float> product;
  product.resize(k * k);
  dnnl_sgemm('T', 'N', k, k, n, 1.0f, data, std::max(rowStride, k), data,
             std::max(rowStride, k), 0.0f, product.data(), k);
  for (int64_t i = 0; i < k * k; ++i)
    xtx[i] += product[i];
  for (int64_t r = 0; r < n; ++r) {
    const float *row = data + r * rowStride;
    for (int64_t c = 0; c < k; ++c) {
      double a = std::fabs(row[c]);
      sum[c] += row[c];
      absSum[c] += a;
      absMax[c] = std::max(absMax[c], a);
    }
  }
  rows += n;
}

void ObservationCollector::observe(void *user, int32_t point, const float *rows,
                                   int64_t numRows, int64_t channels,
                                   int64_t rowStride) {
  auto *self = static_cast<ObservationCollector *>(user);
  if (point < 0 || static_cast<size_t>(point) >= self->points.size() ||
      self->points[point].getChannels() != channels) {
    if (self->error.empty())
      self->error = "observation point " + std::to_string(point) +
                    " reported " + std::to_string(channels) +
                    " channels, model.json declares otherwise";
    return;
  }
  int64_t skip = std::min(self->skip, numRows);
  self->points[point].add(rows + skip * rowStride, numRows - skip, rowStride);
}

//===----------------------------------------------------------------------===//
// Writing
//===----------------------------------------------------------------------===//

namespace {
/// One input record to write: its sizes, the layers reading it, and its
/// four arrays (X^T X / rows, mean |x|, max |x|, mean x) as f32.
struct Record {
  int64_t channels = 0, rows = 0;
  std::vector<std::string> layers;
  /// Parallel to `layers` ("" where unknown), or empty.
  std::vector<std::string> hashes;
  std::function<void(size_t array, std::vector<float> &out)> fill;
};

llvm::Error writeRecords(StringRef path, StringRef source, int64_t samples,
                         int64_t tokens, llvm::ArrayRef<Record> records,
                         const llvm::json::Object &extra) {
  // Lay out the arrays after the header; the header holds their offsets,
  // so size it with placeholder offsets of the final width first.
  auto buildHeader = [&](llvm::ArrayRef<uint64_t> offsets) {
    llvm::json::Array ins;
    llvm::json::Object layers, hashes;
    for (size_t i = 0; i < records.size(); ++i) {
      for (size_t l = 0; l < records[i].hashes.size(); ++l)
        if (!records[i].hashes[l].empty())
          hashes[records[i].layers[l]] = records[i].hashes[l];
      ins.push_back(llvm::json::Object{
          {"channels", records[i].channels},
          {"rows", records[i].rows},
          {"xtx", static_cast<int64_t>(offsets[kArrays * i])},
          {"abs_mean", static_cast<int64_t>(offsets[kArrays * i + 1])},
          {"abs_max", static_cast<int64_t>(offsets[kArrays * i + 2])},
          {"mean", static_cast<int64_t>(offsets[kArrays * i + 3])}});
      for (const std::string &layer : records[i].layers)
        layers[layer] = static_cast<int64_t>(i);
    }
    llvm::json::Object root{{"format", "slim-calibration-stats"},
                            {"version", static_cast<int64_t>(kVersion)},
                            {"source", source.str()},
                            {"samples", samples},
                            {"tokens", tokens},
                            {"inputs", std::move(ins)},
                            {"layers", std::move(layers)}};
    if (!hashes.empty())
      root["weight_hashes"] = std::move(hashes);
    if (!extra.empty())
      root["calibration"] = llvm::json::Object(extra);
    std::string text;
    llvm::raw_string_ostream os(text);
    os << llvm::json::Value(std::move(root));
    return text;
  };
  auto alignUp = [](uint64_t x) { return (x + kAlign - 1) / kAlign * kAlign; };
  // Offsets are printed as decimal integers: iterate until the header
  // size (which shifts the data) is stable.
  std::vector<uint64_t> offsets(kArrays * records.size(), 0);
  std::string header;
  for (int iter = 0; iter < 8; ++iter) {
    header = buildHeader(offsets);
    uint64_t at = alignUp(kPrologue + header.size());
    std::vector<uint64_t> next;
    for (const Record &r : records) {
      uint64_t k = r.channels;
      next.push_back(at);
      at = alignUp(at + k * k * 4);
      next.push_back(at);
      at = alignUp(at + k * 4);
      next.push_back(at);
      at = alignUp(at + k * 4);
      next.push_back(at);
      at = alignUp(at + k * 4);
    }
    if (next == offsets)
      break;
    offsets = std::move(next);
  }
  header = buildHeader(offsets);

  llvm::Expected<mlir::slim::TempOutput> out =
      mlir::slim::TempOutput::create(path);
  if (!out)
    return llvm::createStringError("cannot write '" + path +
                                   "': " + llvm::toString(out.takeError()));
  {
    llvm::raw_fd_ostream os(out->takeFD(), /*shouldClose=*/true);
    uint32_t version = kVersion, reserved = 0;
    uint64_t headerSize = header.size();
    os.write(kMagic, 8);
    os.write(reinterpret_cast<const char *>(&version), 4);
    os.write(reinterpret_cast<const char *>(&reserved), 4);
    os.write(reinterpret_cast<const char *>(&headerSize), 8);
    os << header;
    uint64_t pos = kPrologue + header.size();
    std::vector<float> buf;
    for (size_t i = 0; i < records.size(); ++i) {
      for (size_t a = 0; a < kArrays; ++a) {
        records[i].fill(a, buf);
        os.write_zeros(offsets[kArrays * i + a] - pos);
        os.write(reinterpret_cast<const char *>(buf.data()), buf.size() * 4);
        pos = offsets[kArrays * i + a] + buf.size() * 4;
      }
    }
    os.close();
    if (os.has_error()) {
      os.clear_error();
      return llvm::createStringError("error writing '" + path + "'");
    }
  }
  return out->commit();
}
} // namespace

llvm::Error CalibrationStatsWriter::write(StringRef path, StringRef source,
                                          int64_t samples, int64_t tokens,
                                          llvm::ArrayRef<Input> inputs,
                                          const llvm::json::Object &extra) {
  std::vector<Record> records;
  for (const Input &in : inputs) {
    const InputAccumulator &s = *in.stats;
    Record r;
    r.channels = s.channels;
    r.rows = s.rows;
    r.layers = in.layers;
    r.hashes = in.hashes;
    r.hashes.resize(in.hashes.empty() ? 0 : in.layers.size());
    r.fill = [&s](size_t array, std::vector<float> &out) {
      double n = std::max<int64_t>(s.rows, 1);
      const std::vector<double> &values = array == 0   ? s.xtx
                                          : array == 1 ? s.absSum
                                          : array == 2 ? s.absMax
                                                       : s.sum;
      double divisor = array == 2 ? 1.0 : n;
      out.resize(values.size());
      for (size_t i = 0; i < values.size(); ++i)
        out[i] = static_cast<float>(values[i] / divisor);
    };
    records.push_back(std::move(r));
  }
  return writeRecords(path, source, samples, tokens, records, extra);
}

llvm::Error
CalibrationStatsWriter::merge(StringRef path, StringRef source, int64_t samples,
                              int64_t tokens,
                              llvm::ArrayRef<const CalibrationStats *> parts,
                              const llvm::json::Object &extra) {
  std::vector<Record> records;
  llvm::StringSet<> seen;
  for (const CalibrationStats *part : parts) {
    std::vector<std::vector<std::string>> layersOf(part->inputs.size());
    for (const auto &entry : part->layers)
      layersOf[entry.second].push_back(entry.first().str());
    for (size_t i = 0; i < part->inputs.size(); ++i) {
      llvm::sort(layersOf[i]);
      for (const std::string &layer : layersOf[i])
        if (!seen.insert(layer).second)
          return llvm::createStringError("merging calibration statistics: "
                                         "layer '" +
                                         layer + "' is in two files");
      const InputStats &s = part->inputs[i];
      Record r;
      r.channels = s.channels;
      r.rows = s.rows;
      for (const std::string &layer : layersOf[i])
        r.hashes.push_back(part->getWeightHash(layer).str());
      r.layers = std::move(layersOf[i]);
      r.fill = [&s](size_t array, std::vector<float> &out) {
        llvm::ArrayRef<float> a = array == 0   ? s.xtx
                                  : array == 1 ? s.absMean
                                  : array == 2 ? s.absMax
                                               : s.mean;
        out.assign(a.begin(), a.end());
        if (a.empty()) // a file without the signed mean
          out.assign(s.channels, 0.0f);
      };
      records.push_back(std::move(r));
    }
  }
  return writeRecords(path, source, samples, tokens, records, extra);
}
