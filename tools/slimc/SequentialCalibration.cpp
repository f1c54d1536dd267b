//===- SequentialCalibration.cpp - slimc's calibration driver -------------===//
//
// Part of the Slim project, under the Apache License v2.0 with LLVM Exceptions.
// SPDX-License-Identifier: Apache-2.0 WITH LLVM-exception
//
//===----------------------------------------------------------------------===//

#include "tools/slimc/SequentialCalibration.h"

#include "lib/Compression/CalibrationStats.h"
#include "lib/Runtime/CalibrationData.h"
#include "lib/Runtime/Tokenizer.h"
#include "passes/Transforms/ModelSegments.h"
#include "passes/Transforms/Passes.h"
#include "slim/Runtime.h"

#include "mlir/Bytecode/BytecodeWriter.h"
#include "mlir/Parser/Parser.h"
#include "mlir/Pass/PassManager.h"

#include "llvm/ADT/DenseMap.h"
#include "llvm/ADT/DenseSet.h"
#include "llvm/ADT/ScopeExit.h"
#include "llvm/Support/FileSystem.h"
#include "llvm/Support/FormatVariadic.h"
#include "llvm/Support/Path.h"

#include <sys/mman.h>
#include <sys/resource.h>
#include <unistd.h>

#include <cstdio>
#include <cstring>

#include <chrono>
#include <memory>

using namespace mlir;

namespace {

/// A memory-mapped scratch file (already unlinked) holding tensors that did
/// not fit the memory budget; unmapped when the last tensor in it dies.
struct Spill {
  void *addr = nullptr;
  size_t size = 0;
  ~Spill() {
    if (addr)
      munmap(addr, size);
  }
};

/// One tensor of one calibration sample held between parts: owned here (a
/// graph input), handed out by the runtime, or in a spill file.
struct Held {
  slim_tensor t{};
  std::vector<int64_t> own;
  bool fromRuntime = false;
  std::shared_ptr<Spill> spill;

  Held() = default;
  Held(const Held &) = delete;
  Held &operator=(const Held &) = delete;
  Held(Held &&other) noexcept { *this = std::move(other); }
  Held &operator=(Held &&other) noexcept {
    release();
    t = other.t;
    own = std::move(other.own);
    fromRuntime = other.fromRuntime;
    spill = std::move(other.spill);
    if (!own.empty())
      t.data = own.data();
    other.t = slim_tensor{};
    other.fromRuntime = false;
    return *this;
  }
  ~Held() { release(); }
  void release() {
    if (fromRuntime)
      slim_tensor_release(&t);
    fromRuntime = false;
    spill.reset();
  }
  size_t bytes() const { return t.capacity; }
};

/// A compiled scratch model, freed and deleted when done.
struct ScratchModel {
  slim_model *model = nullptr;
  std::string dir;
  ~ScratchModel() {
    if (model)
      slim_model_free(model);
    if (!dir.empty())
      llvm::sys::fs::remove_directories(dir);
  }
};

double peakRssGB() {
  struct rusage usage;
  getrusage(RUSAGE_SELF, &usage);
  return usage.ru_maxrss / (1024.0 * 1024.0);
}

/// Resident memory now (GB), from /proc/self/statm: all of it, and the
/// part not backed by files (the model's weights are mapped from its files
/// and count in the first only). Zeros where unavailable.
std::pair<double, double> rssGB() {
  FILE *f = std::fopen("/proc/self/statm", "r");
  if (!f)
    return {0, 0};
  long pages = 0, resident = 0, shared = 0;
  int n = std::fscanf(f, "%ld %ld %ld", &pages, &resident, &shared);
  std::fclose(f);
  double page = double(sysconf(_SC_PAGESIZE)) / (1 << 30);
  if (n != 3)
    return {0, 0};
  return {resident * page, (resident - shared) * page};
}

/// Moves `tensors` into one memory-mapped file under `dir` (unlinked at
/// once, so that nothing is left behind), freeing their buffers.
std::string spillToDisk(llvm::StringRef dir, std::vector<Held *> &tensors) {
  size_t total = 0;
  for (Held *h : tensors)
    total += (h->t.capacity + 63) / 64 * 64;
  if (total == 0)
    return "";
  llvm::SmallString<256> path;
  int fd = -1;
  if (std::error_code ec =
          llvm::sys::fs::createUniqueFile(dir + "/spill-%%%%%%%%", fd, path))
    return "cannot create a spill file in " + dir.str() + ": " + ec.message();
  llvm::sys::fs::remove(path);
  auto spill = std::make_shared<Spill>();
  if (ftruncate(fd, static_cast<off_t>(total)) != 0) {
    close(fd);
    return "cannot size a spill file of " + std::to_string(total) +
           " bytes in " + dir.str();
  }
  void *addr = mmap(nullptr, total, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
  close(fd);
  if (addr == MAP_FAILED)
    return "cannot map a spill file of " + std::to_string(total) + " bytes";
  spill->addr = addr;
  spill->size = total;
  size_t at = 0;
  for (Held *h : tensors) {
    char *dst = static_cast<char *>(addr) + at;
    std::memcpy(dst, h->t.data, h->t.capacity);
    slim_tensor t = h->t;
    h->release();
    t.data = dst;
    t.owner = nullptr;
    h->t = t;
    h->spill = spill;
    at += (t.capacity + 63) / 64 * 64;
  }
  return "";
}

double since(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start)
      .count();
}

/// The per-sample tensor of a graph input: the window's tokens, positions
/// 0..L-1, an all-ones mask, or an empty KV cache.
std::string makeGraphInput(func::FuncOp entry, BlockArgument arg,
                           const std::vector<int32_t> &window, Held &out) {
  auto type = cast<RankedTensorType>(arg.getType());
  StringRef name;
  if (auto attr =
          entry.getArgAttrOfType<StringAttr>(arg.getArgNumber(), "onnx.name"))
    name = attr.getValue();
  int64_t len = static_cast<int64_t>(window.size());
  out.t.rank = static_cast<int32_t>(type.getRank());
  if (name == "input_ids" || name == "position_ids" ||
      name == "attention_mask") {
    if (!type.getElementType().isInteger(64) || type.getRank() != 2)
      return "input '" + name.str() + "' must be int64 [batch, sequence]";
    out.own.resize(len);
    for (int64_t i = 0; i < len; ++i)
      out.own[i] = name == "input_ids"      ? window[i]
                   : name == "position_ids" ? i
                                            : 1;
    out.t.dtype = SLIM_INT64;
    out.t.dims[0] = 1;
    out.t.dims[1] = len;
    out.t.data = out.own.data();
    out.t.capacity = len * 8;
    return "";
  }
  // Anything else must be an empty cache: batch 1, dynamic dims 0.
  bool empty = false;
  for (int64_t d = 0; d < type.getRank(); ++d) {
    out.t.dims[d] =
        type.isDynamicDim(d) ? (d == 0 ? 1 : 0) : type.getDimSize(d);
    empty |= out.t.dims[d] == 0;
  }
  if (!empty)
    return "input '" + name.str() +
           "' is neither input_ids, position_ids, attention_mask nor a "
           "past (KV cache) input with a dynamic length";
  Type element = type.getElementType();
  out.t.dtype = element.isF32()    ? SLIM_FLOAT
                : element.isF16()  ? SLIM_FLOAT16
                : element.isBF16() ? SLIM_BFLOAT16
                                   : SLIM_INT64;
  out.own.resize(1);
  out.t.data = out.own.data();
  out.t.capacity = 0;
  return "";
}

/// A part's module moved into a context of its own: the part's compression
/// and compilation allocate attributes and resource blobs (packed weights)
/// that a context never frees, so each part gets a context that dies with
/// it. The move goes through bytecode in memory.
struct PartContext {
  std::unique_ptr<MLIRContext> context;
  OwningOpRef<ModuleOp> module;

  std::string take(ModuleOp source, const DialectRegistry &registry) {
    MLIRContext *parent = source.getContext();
    context = std::make_unique<MLIRContext>(registry,
                                            MLIRContext::Threading::DISABLED);
    if (parent->isMultithreadingEnabled())
      context->setThreadPool(parent->getThreadPool());
    context->printOpOnDiagnostic(false);
    context->loadAllAvailableDialects();
    std::string buffer;
    {
      llvm::raw_string_ostream os(buffer);
      if (failed(writeBytecodeToFile(source, os)))
        return "cannot write a part's bytecode";
    }
    module = parseSourceString<ModuleOp>(buffer, ParserConfig(context.get()));
    if (!module)
      return "cannot read a part's bytecode back";
    return "";
  }
};

} // namespace

std::string slimc::calibrateModel(func::FuncOp entry,
                                  const CalibrationSettings &settings,
                                  StringRef workDir, const CompileFn &compile,
                                  const CompressFn &compress,
                                  StringRef statsPath) {
  using mlir::slim::CalibrationStats;
  auto log = [&](const llvm::Twine &line) {
    if (!settings.quiet)
      llvm::errs() << "slimc: " << line << "\n";
  };
  // The data.
  mlir::slim::Tokenizer tokenizer;
  std::string tokError;
  if (settings.tokenizer.empty())
    return "--calibration-text needs --tokenizer";
  if (!tokenizer.load(settings.tokenizer, tokError))
    return tokError;
  llvm::Expected<mlir::slim::CalibrationWindows> data =
      mlir::slim::loadCalibrationWindows(settings.texts, tokenizer,
                                         settings.samples, settings.context,
                                         settings.seed);
  if (!data)
    return llvm::toString(data.takeError());
  size_t samples = data->windows.size();
  if (samples < settings.samples)
    llvm::errs() << "slimc: warning: " << data->source << " holds " << samples
                 << " sequences of " << settings.context
                 << " tokens (asked for " << settings.samples << ")\n";

  // Token ids beyond the model's vocabulary (the logits' last dimension)
  // mean the tokenizer is another model's.
  for (auto [i, type] : llvm::enumerate(entry.getFunctionType().getResults())) {
    auto name = entry.getResultAttrOfType<StringAttr>(i, "onnx.name");
    auto t = dyn_cast<RankedTensorType>(type);
    if (!name || name.getValue() != "logits" || !t || t.getRank() == 0 ||
        t.isDynamicDim(t.getRank() - 1))
      continue;
    int64_t vocab = t.getDimSize(t.getRank() - 1);
    for (const std::vector<int32_t> &window : data->windows)
      for (int32_t id : window)
        if (id < 0 || id >= vocab)
          return llvm::formatv("{0}: token id {1} is outside the model's "
                               "vocabulary of {2} (is {3} this model's "
                               "tokenizer?)",
                               data->source, id, vocab, settings.tokenizer);
  }

  FailureOr<mlir::slim::SegmentPlan> plan =
      mlir::slim::planSegments(entry, settings.sequential);
  if (failed(plan))
    return "cannot calibrate @" + entry.getSymName().str();
  size_t numSegments = plan->segments.size();
  log(llvm::formatv("calibrating on {0} sequences x {1} tokens of {2} "
                    "({3}; {4} part{5})",
                    samples, settings.context, data->source,
                    settings.sequential ? "sequential" : "one-shot",
                    numSegments, numSegments == 1 ? "" : "s"));

  // The tensors crossing cuts, per sample; graph inputs first.
  llvm::DenseMap<Value, std::vector<Held>> state;
  for (BlockArgument arg : entry.getArguments()) {
    std::vector<Held> perSample(samples);
    for (size_t i = 0; i < samples; ++i)
      if (std::string err =
              makeGraphInput(entry, arg, data->windows[i], perSample[i]);
          !err.empty())
        return "calibration of @" + entry.getSymName().str() + ": " + err;
    state[arg] = std::move(perSample);
  }

  std::vector<std::string> partFiles;
  std::vector<CalibrationStats> parts;
  llvm::scope_exit cleanup([&] {
    for (const std::string &f : partFiles)
      llvm::sys::fs::remove(f);
  });
  auto runStart = std::chrono::steady_clock::now();
  for (size_t s = 0; s < numSegments; ++s) {
    const mlir::slim::ModelSegment &seg = plan->segments[s];
    bool last = s + 1 == numSegments;
    auto start = std::chrono::steady_clock::now();
    double compileSeconds = 0;
    auto compileInto = [&](ModuleOp module, StringRef name,
                           ScratchModel &scratch) -> std::string {
      llvm::SmallString<256> dir(workDir);
      llvm::sys::path::append(dir, name);
      scratch.dir = std::string(dir);
      auto t0 = std::chrono::steady_clock::now();
      if (std::string err = compile(module, dir); !err.empty())
        return err;
      compileSeconds += since(t0);
      slim_runtime_tune_allocator();
      if (slim_model_load(scratch.dir.c_str(), &scratch.model) != SLIM_OK)
        return std::string("loading the scratch model ") + scratch.dir + ": " +
               slim_last_error();
      return "";
    };
    auto inputsOf = [&](size_t sample) {
      std::vector<slim_tensor> in;
      for (Value v : seg.inputs)
        in.push_back(state[v][sample].t);
      return in;
    };
    std::string where = llvm::formatv("part {0}/{1}", s + 1, numSegments);

    // 1. The statistics of this part's layers, on the current inputs.
    PartContext statsPart;
    if (std::string err = statsPart.take(
            *mlir::slim::buildSegmentModule(*plan, s, /*withOutputs=*/false),
            *settings.registry);
        !err.empty())
      return where + ": " + err;
    OwningOpRef<ModuleOp> &instrumented = statsPart.module;
    {
      PassManager pm(instrumented->getContext(), ModuleOp::getOperationName());
      pm.addPass(mlir::slim::createSlimCalibratePass());
      if (failed(pm.run(*instrumented)))
        return where + ": instrumentation failed";
    }
    llvm::SmallString<256> partPath(workDir);
    llvm::sys::path::append(partPath, llvm::formatv("part{0}.stats", s).str());
    {
      ScratchModel scratch;
      if (std::string err = compileInto(
              *instrumented, llvm::formatv("part{0}-stats", s).str(), scratch);
          !err.empty())
        return where + ": " + err;
      instrumented = nullptr;
      mlir::slim::ObservationCollector collector;
      int32_t points = slim_model_num_observation_points(scratch.model);
      for (int32_t p = 0; p < points; ++p)
        collector.points.emplace_back(
            slim_model_observation_channels(scratch.model, p));
      if (slim_model_set_observer(scratch.model,
                                  &mlir::slim::ObservationCollector::observe,
                                  &collector) != SLIM_OK)
        return where + ": " + slim_last_error();
      for (size_t i = 0; i < samples; ++i) {
        std::vector<slim_tensor> in = inputsOf(i);
        if (slim_model_run(scratch.model, in.data(),
                           static_cast<int32_t>(in.size()), nullptr,
                           0) != SLIM_OK)
          return where + ": " + slim_last_error();
        if (!collector.error.empty())
          return where + ": " + collector.error;
      }
      slim_model_set_observer(scratch.model, nullptr, nullptr);
      std::vector<mlir::slim::CalibrationStatsWriter::Input> inputs;
      for (int32_t p = 0; p < points; ++p) {
        mlir::slim::CalibrationStatsWriter::Input in{&collector.points[p], {}};
        for (int32_t i = 0; const char *name = slim_model_observation_layer(
                                scratch.model, p, i);
             ++i) {
          in.layers.push_back(name);
          in.hashes.push_back(
              slim_model_observation_weight_hash(scratch.model, p, i));
        }
        inputs.push_back(std::move(in));
      }
      partFiles.push_back(std::string(partPath));
      if (llvm::Error e = mlir::slim::CalibrationStatsWriter::write(
              partPath, data->source, samples, samples * settings.context,
              inputs))
        return llvm::toString(std::move(e));
    }
    double statsSeconds = since(start);

    // 2. The compressed part computes the next part's inputs.
    double compressSeconds = 0, runSeconds = 0;
    size_t heldBytes = 0, spilledBytes = 0;
    if (!last) {
      auto t0 = std::chrono::steady_clock::now();
      PartContext compressedPart;
      if (std::string err = compressedPart.take(
              *mlir::slim::buildSegmentModule(*plan, s, /*withOutputs=*/true),
              *settings.registry);
          !err.empty())
        return where + ": " + err;
      OwningOpRef<ModuleOp> &compressed = compressedPart.module;
      if (std::string err = compress(*compressed, partPath); !err.empty())
        return where + ": " + err;
      compressSeconds = since(t0);
      ScratchModel scratch;
      if (std::string err = compileInto(
              *compressed, llvm::formatv("part{0}", s).str(), scratch);
          !err.empty())
        return where + ": " + err;
      compressed = nullptr;
      auto t1 = std::chrono::steady_clock::now();
      size_t numOut = seg.outputs.size();
      std::vector<std::vector<Held>> results(numOut);
      for (std::vector<Held> &r : results)
        r.resize(samples);
      for (size_t i = 0; i < samples; ++i) {
        std::vector<slim_tensor> in = inputsOf(i);
        std::vector<slim_tensor> out(numOut);
        if (slim_model_run(scratch.model, in.data(),
                           static_cast<int32_t>(in.size()), out.data(),
                           static_cast<int32_t>(numOut)) != SLIM_OK)
          return where + ": " + slim_last_error();
        for (size_t j = 0; j < numOut; ++j) {
          results[j][i].t = out[j];
          results[j][i].fromRuntime = true;
        }
      }
      runSeconds = since(t1);
      for (size_t j = 0; j < numOut; ++j)
        state[seg.outputs[j]] = std::move(results[j]);
      // Keep only what later parts read.
      llvm::DenseSet<Value> needed;
      for (size_t later = s + 1; later < numSegments; ++later)
        for (Value v : plan->segments[later].inputs)
          needed.insert(v);
      SmallVector<Value> dead;
      for (auto &entry : state)
        if (!needed.contains(entry.first))
          dead.push_back(entry.first);
      for (Value v : dead)
        state.erase(v);
      // Over the budget, this part's outputs go to a mapped file.
      size_t inMemory = 0;
      for (auto &entry : state)
        for (const Held &h : entry.second)
          if (!h.spill)
            inMemory += h.bytes();
      if (inMemory > settings.memoryBudget) {
        std::vector<Held *> fresh;
        for (Value v : seg.outputs)
          for (Held &h : state[v])
            fresh.push_back(&h);
        if (std::string err = spillToDisk(workDir, fresh); !err.empty())
          return where + ": " + err;
      }
      for (auto &entry : state)
        for (const Held &h : entry.second) {
          heldBytes += h.bytes();
          if (h.spill)
            spilledBytes += h.bytes();
        }
    }
    std::pair<double, double> rss = rssGB();
    std::string layers = seg.layers.front();
    if (seg.layers.size() > 1)
      layers += llvm::formatv(" .. {0} ({1} layers)", seg.layers.back(),
                              seg.layers.size())
                    .str();
    log(llvm::formatv(
        "{0} {1}: statistics {2:f1} s, compression {3:f1} s, "
        "run {4:f1} s (compile {5:f1} s); carried {6:f1} MB{11}; "
        "RSS {7:f2} GB, {8:f2} GB not file-backed (peak {9:f2}); "
        "{10:f0} s so far",
        where, layers, statsSeconds, compressSeconds, runSeconds,
        compileSeconds, heldBytes / 1e6, rss.first, rss.second, peakRssGB(),
        since(runStart),
        spilledBytes
            ? llvm::formatv(" ({0:f1} MB on disk)", spilledBytes / 1e6).str()
            : std::string()));
  }
  state.clear();

  for (const std::string &f : partFiles) {
    llvm::Expected<CalibrationStats> part = CalibrationStats::open(f);
    if (!part)
      return llvm::toString(part.takeError());
    parts.push_back(std::move(*part));
  }
  std::vector<const CalibrationStats *> pointers;
  for (const CalibrationStats &p : parts)
    pointers.push_back(&p);
  llvm::json::Object header = llvm::json::Object(settings.header);
  header["sequential"] = settings.sequential;
  llvm::json::Array partLayers;
  for (const mlir::slim::ModelSegment &seg : plan->segments)
    partLayers.push_back(llvm::json::Array(seg.layers));
  header["parts"] = std::move(partLayers);
  header["context"] = static_cast<int64_t>(settings.context);
  header["documents"] = static_cast<int64_t>(data->documents);
  header["text_tokens"] = static_cast<int64_t>(data->totalTokens);
  header["sampling"] = settings.seed ? "random" : "consecutive";
  if (settings.seed)
    header["seed"] = static_cast<int64_t>(*settings.seed);
  if (llvm::Error e = mlir::slim::CalibrationStatsWriter::merge(
          statsPath, data->source, samples, samples * settings.context,
          pointers, header))
    return llvm::toString(std::move(e));
  return "";
}
