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
/// The format written: 2 (safetensors); format 1 (SLIMSTAT) is still read.
static constexpr uint32_t kVersion = 2;
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

  // Two layouts: safetensors (written since format 2; the header's
  // __metadata__ holds Slim's JSON under "slim", the arrays are tensors
  // "input.<i>.<array>") and the original SLIMSTAT file (format 1, arrays at
  // offsets the header gives). `root` is Slim's JSON either way; `view`
  // finds an array of input i.
  bool v1 = data.size() >= 8 && std::memcmp(data.data(), kMagic, 8) == 0;
  llvm::json::Value parsedRoot = nullptr;
  llvm::json::Value tensorTable = nullptr; // safetensors header
  uint64_t dataStart = 0;
  if (v1) {
    if (data.size() < kPrologue)
      return fail("truncated header");
    uint32_t version;
    uint64_t headerSize;
    std::memcpy(&version, data.data() + 8, 4);
    std::memcpy(&headerSize, data.data() + 16, 8);
    if (version != 1)
      return fail(
          llvm::formatv("unsupported version {0} (expected 1)", version));
    if (headerSize > data.size() - kPrologue)
      return fail("truncated header");
    llvm::Expected<llvm::json::Value> header =
        llvm::json::parse(data.substr(kPrologue, headerSize));
    if (!header)
      return fail("header: " + llvm::toString(header.takeError()));
    parsedRoot = std::move(*header);
    dataStart = kPrologue + headerSize;
  } else {
    uint64_t headerSize = 0;
    if (data.size() < 8)
      return fail("not a statistics file (neither safetensors nor SLIMSTAT)");
    std::memcpy(&headerSize, data.data(), 8);
    if (headerSize > data.size() - 8 || headerSize < 2 || data[8] != '{')
      return fail("not a statistics file (neither safetensors nor SLIMSTAT)");
    llvm::Expected<llvm::json::Value> header =
        llvm::json::parse(data.substr(8, headerSize).rtrim(' '));
    if (!header)
      return fail("safetensors header: " + llvm::toString(header.takeError()));
    const llvm::json::Object *table = header->getAsObject();
    const llvm::json::Object *meta =
        table ? table->getObject("__metadata__") : nullptr;
    if (!meta || meta->getString("format") != "slim-calibration-stats")
      return fail("a safetensors file without Slim's calibration metadata");
    if (meta->getString("version") != "2")
      return fail("unsupported version (expected 2)");
    std::optional<StringRef> slimText = meta->getString("slim");
    if (!slimText)
      return fail("safetensors metadata lacks 'slim'");
    llvm::Expected<llvm::json::Value> slimJson = llvm::json::parse(*slimText);
    if (!slimJson)
      return fail("metadata 'slim': " + llvm::toString(slimJson.takeError()));
    parsedRoot = std::move(*slimJson);
    tensorTable = std::move(*header);
    dataStart = 8 + headerSize;
    if (dataStart % alignof(float) != 0)
      return fail("the tensors do not start at a multiple of 4 bytes");
  }
  const llvm::json::Object *root = parsedRoot.getAsObject();
  if (!root || (v1 && root->getString("format") != "slim-calibration-stats"))
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

  // A view of `count` floats, checked against the file; std::nullopt when
  // the array is absent (only "mean" may be).
  auto view = [&](const llvm::json::Object &in, StringRef key, uint64_t count,
                  size_t index)
      -> llvm::Expected<std::optional<llvm::ArrayRef<float>>> {
    std::optional<int64_t> offset;
    if (v1) {
      if (!in.get(key))
        return std::nullopt;
      offset = in.getInteger(key);
      if (!offset || *offset < 0 || *offset % 4 != 0 ||
          static_cast<uint64_t>(*offset) < dataStart ||
          static_cast<uint64_t>(*offset) > data.size() ||
          count > (data.size() - *offset) / sizeof(float))
        return fail(llvm::formatv("input {0}: '{1}' lies outside the file "
                                  "(truncated?)",
                                  index, key));
    } else {
      std::string name = llvm::formatv("input.{0}.{1}", index, key).str();
      const llvm::json::Object *t = tensorTable.getAsObject()->getObject(name);
      if (!t)
        return std::nullopt;
      const llvm::json::Array *range = t->getArray("data_offsets");
      const llvm::json::Array *shape = t->getArray("shape");
      std::optional<int64_t> begin, end;
      if (range && range->size() == 2) {
        begin = (*range)[0].getAsInteger();
        end = (*range)[1].getAsInteger();
      }
      uint64_t elements = 1;
      bool shapeOk = shape && !shape->empty();
      for (size_t d = 0; shapeOk && d < shape->size(); ++d) {
        std::optional<int64_t> n = (*shape)[d].getAsInteger();
        shapeOk = n && *n >= 0;
        if (shapeOk)
          elements *= static_cast<uint64_t>(*n);
      }
      if (t->getString("dtype") != "F32" || !shapeOk || elements != count)
        return fail(llvm::formatv("tensor '{0}' is not F32 with {1} elements",
                                  name, count));
      if (!begin || !end || *begin < 0 || *begin % 4 != 0 ||
          *end - *begin != static_cast<int64_t>(count * sizeof(float)) ||
          static_cast<uint64_t>(*end) > data.size() - dataStart)
        return fail(llvm::formatv("tensor '{0}' lies outside the file "
                                  "(truncated?)",
                                  name));
      offset = static_cast<int64_t>(dataStart) + *begin;
    }
    return std::optional<llvm::ArrayRef<float>>(llvm::ArrayRef<float>(
        reinterpret_cast<const float *>(data.data() + *offset), count));
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
    struct Want {
      const char *key;
      uint64_t count;
      llvm::ArrayRef<float> *into;
      bool required;
    } wants[] = {{"xtx", k * k, &s.xtx, true},
                 {"abs_mean", k, &s.absMean, true},
                 {"abs_max", k, &s.absMax, true},
                 // The signed mean came later: files without it still
                 // open, and the methods that need it (structured pruning's
                 // bias compensation) say so.
                 {"mean", k, &s.mean, false}};
    for (const Want &w : wants) {
      auto a = view(*in, w.key, w.count, i);
      if (!a)
        return a.takeError();
      if (!*a) {
        if (w.required)
          return fail(llvm::formatv("input {0}: '{1}' lies outside the file "
                                    "(truncated?)",
                                    i, w.key));
        continue;
      }
      *w.into = **a;
    }
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
  // safetensors: u64 header size, the JSON header (tensors by name with
  // dtype, shape and offsets into the data that follows, no holes; Slim's
  // own JSON as a string in __metadata__), then the arrays back to back.
  // The header is padded with spaces so the data starts 64-byte aligned.
  static const char *kNames[kArrays] = {"xtx", "abs_mean", "abs_max", "mean"};
  llvm::json::Array ins;
  llvm::json::Object layers, hashes;
  for (size_t i = 0; i < records.size(); ++i) {
    for (size_t l = 0; l < records[i].hashes.size(); ++l)
      if (!records[i].hashes[l].empty())
        hashes[records[i].layers[l]] = records[i].hashes[l];
    ins.push_back(llvm::json::Object{{"channels", records[i].channels},
                                     {"rows", records[i].rows}});
    for (const std::string &layer : records[i].layers)
      layers[layer] = static_cast<int64_t>(i);
  }
  llvm::json::Object slim{{"format", "slim-calibration-stats"},
                          {"version", static_cast<int64_t>(kVersion)},
                          {"source", source.str()},
                          {"samples", samples},
                          {"tokens", tokens},
                          {"inputs", std::move(ins)},
                          {"layers", std::move(layers)}};
  if (!hashes.empty())
    slim["weight_hashes"] = std::move(hashes);
  if (!extra.empty())
    slim["calibration"] = llvm::json::Object(extra);
  std::string slimText;
  llvm::raw_string_ostream slimOs(slimText);
  slimOs << llvm::json::Value(std::move(slim));
  slimOs.flush();

  llvm::json::Object table{
      {"__metadata__", llvm::json::Object{{"format", "slim-calibration-stats"},
                                          {"version", std::to_string(kVersion)},
                                          {"source", source.str()},
                                          {"samples", std::to_string(samples)},
                                          {"tokens", std::to_string(tokens)},
                                          {"slim", slimText}}}};
  uint64_t at = 0;
  for (size_t i = 0; i < records.size(); ++i) {
    int64_t k = records[i].channels;
    for (size_t a = 0; a < kArrays; ++a) {
      uint64_t bytes = (a == 0 ? k * k : k) * 4;
      llvm::json::Array shape =
          a == 0 ? llvm::json::Array{k, k} : llvm::json::Array{k};
      table[llvm::formatv("input.{0}.{1}", i, kNames[a]).str()] =
          llvm::json::Object{
              {"dtype", "F32"},
              {"shape", std::move(shape)},
              {"data_offsets",
               llvm::json::Array{static_cast<int64_t>(at),
                                 static_cast<int64_t>(at + bytes)}}};
      at += bytes;
    }
  }
  std::string header;
  llvm::raw_string_ostream headerOs(header);
  headerOs << llvm::json::Value(std::move(table));
  headerOs.flush();
  header.append((kAlign - (8 + header.size()) % kAlign) % kAlign, ' ');

  llvm::Expected<mlir::slim::TempOutput> out =
      mlir::slim::TempOutput::create(path);
  if (!out)
    return llvm::createStringError("cannot write '" + path +
                                   "': " + llvm::toString(out.takeError()));
  {
    llvm::raw_fd_ostream os(out->takeFD(), /*shouldClose=*/true);
    uint64_t headerSize = header.size();
    os.write(reinterpret_cast<const char *>(&headerSize), 8);
    os << header;
    std::vector<float> buf;
    for (size_t i = 0; i < records.size(); ++i)
      for (size_t a = 0; a < kArrays; ++a) {
        records[i].fill(a, buf);
        os.write(reinterpret_cast<const char *>(buf.data()), buf.size() * 4);
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
