//===- slim-run.cpp - Run, check and time a compiled model ----------------===//
//
// Part of the Slim project, under the Apache License v2.0 with LLVM Exceptions.
// SPDX-License-Identifier: Apache-2.0 WITH LLVM-exception
//
//===----------------------------------------------------------------------===//
//
// clang-format off
// Usage (one mode per call):
//   slim-run OUT_DIR                   describe the model
//   slim-run OUT_DIR --test-data DIR   run input_N.pb, compare with output_N.pb
//   slim-run OUT_DIR --bench --bind-dims batch=1,sequence=128
//   slim-run OUT_DIR --perplexity TEXT --tokenizer tokenizer.json
//   slim-run OUT_DIR --generate PROMPT --tokenizer tokenizer.json
//   slim-run OUT_DIR --calibrate STATS --calibration-text TEXT --tokenizer ...
// clang-format on
//
//===----------------------------------------------------------------------===//

#include "lib/Compression/CalibrationStats.h"
#include "lib/Import/Onnx/ModelLoader.h"
#include "lib/Import/Onnx/OnnxImporter.h"
#include "lib/Runtime/CalibrationData.h"
#include "lib/Runtime/Tokenizer.h"
#include "lib/Support/Files.h"
#include "lib/Support/JsonOutput.h"
#include "lib/Support/Sizes.h"
#include "lib/Support/Version.h"
#include "slim/Runtime.h"

#include "onnx/onnx.pb.h"

#include "llvm/ADT/SmallString.h"
#include "llvm/ADT/StringMap.h"
#include "llvm/Support/CommandLine.h"
#include "llvm/Support/FileSystem.h"
#include "llvm/Support/Format.h"
#include "llvm/Support/FormatVariadic.h"
#include "llvm/Support/InitLLVM.h"
#include "llvm/Support/JSON.h"
#include "llvm/Support/MemoryBuffer.h"
#include "llvm/Support/Path.h"
#include "llvm/Support/WithColor.h"
#include "llvm/Support/raw_ostream.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstring>
#include <random>
#include <set>
#include <vector>

static llvm::cl::OptionCategory category("slim-run options");
static llvm::cl::opt<std::string> modelDir(llvm::cl::Positional,
                                           llvm::cl::desc("<model directory>"),
                                           llvm::cl::cat(category));
static llvm::cl::opt<std::string>
    testData("test-data",
             llvm::cl::desc("Directory with input_N.pb / output_N.pb (ONNX "
                            "backend test layout) to run and compare"),
             llvm::cl::value_desc("dir"), llvm::cl::cat(category));
static llvm::cl::opt<double> rtolOpt("rtol",
                                     llvm::cl::desc("Relative tolerance"),
                                     llvm::cl::init(1e-3),
                                     llvm::cl::cat(category));
static llvm::cl::opt<double> atolOpt("atol",
                                     llvm::cl::desc("Absolute tolerance"),
                                     llvm::cl::init(1e-5),
                                     llvm::cl::cat(category));
static llvm::cl::opt<bool> bench("bench", llvm::cl::desc("Time repeated runs"),
                                 llvm::cl::cat(category));
static llvm::cl::opt<unsigned> warmup("warmup",
                                      llvm::cl::desc("Untimed runs first"),
                                      llvm::cl::init(3),
                                      llvm::cl::cat(category));
static llvm::cl::opt<unsigned> repeat("repeat", llvm::cl::desc("Timed runs"),
                                      llvm::cl::init(20),
                                      llvm::cl::cat(category));
static llvm::cl::opt<std::string> dimsOpt(
    "bind-dims",
    llvm::cl::desc("Sizes of symbolic dimensions for generated inputs, e.g. "
                   "batch=1,sequence=128 (the name slimc and "
                   "slim-import-onnx use)"),
    llvm::cl::value_desc("name=size,..."), llvm::cl::cat(category));
static llvm::cl::alias dimsAlias("dims", llvm::cl::desc("Alias of --bind-dims"),
                                 llvm::cl::aliasopt(dimsOpt),
                                 llvm::cl::cat(category));
static llvm::cl::opt<std::string> perplexityFile(
    "perplexity",
    llvm::cl::desc("Perplexity of a causal LM (logits output) on a text file"),
    llvm::cl::value_desc("file.txt"), llvm::cl::cat(category));
static llvm::cl::opt<std::string>
    generatePrompt("generate",
                   llvm::cl::desc("Greedy generation from a prompt"),
                   llvm::cl::value_desc("prompt"), llvm::cl::cat(category));
static llvm::cl::opt<unsigned> numTokens("n",
                                         llvm::cl::desc("Tokens to generate"),
                                         llvm::cl::init(32),
                                         llvm::cl::cat(category));
static llvm::cl::opt<std::string> tokenizerPath(
    "tokenizer", llvm::cl::desc("Hugging Face tokenizer.json (byte-level BPE)"),
    llvm::cl::value_desc("tokenizer.json"), llvm::cl::cat(category));
static llvm::cl::opt<unsigned>
    contextLen("context", llvm::cl::desc("Perplexity window (tokens)"),
               llvm::cl::init(128), llvm::cl::cat(category));
static llvm::cl::opt<unsigned>
    strideLen("stride",
              llvm::cl::desc("Perplexity window stride (default: context / 2)"),
              llvm::cl::init(0), llvm::cl::cat(category));
static llvm::cl::opt<bool> perplexityDecode(
    "perplexity-decode",
    llvm::cl::desc("Score each perplexity window token by token through the "
                   "KV cache (the decoding path: one-row products) instead "
                   "of one run per window; needs past_key_values inputs"),
    llvm::cl::init(false), llvm::cl::cat(category));
static llvm::cl::opt<unsigned>
    maxTokens("max-tokens",
              llvm::cl::desc("Evaluate at most this many tokens (0: all)"),
              llvm::cl::init(0), llvm::cl::cat(category));
static llvm::cl::opt<bool> ignoreEos(
    "ignore-eos",
    llvm::cl::desc("--generate: keep going after a special token (end of "
                   "text, end of turn) instead of stopping there"),
    llvm::cl::init(false), llvm::cl::cat(category));
static llvm::cl::opt<bool> printIds("print-ids",
                                    llvm::cl::desc("Print token ids too"),
                                    llvm::cl::cat(category));
static llvm::cl::opt<std::string> encodeFile(
    "encode-file",
    llvm::cl::desc(
        "Print the token ids of a text file (needs --tokenizer; no model)"),
    llvm::cl::value_desc("file.txt"), llvm::cl::cat(category));
static llvm::cl::opt<std::string> saveOutputs(
    "save-outputs",
    llvm::cl::desc("With --test-data: also write the outputs as output_N.pb "
                   "(ONNX TensorProto) into this directory"),
    llvm::cl::value_desc("dir"), llvm::cl::cat(category));
static llvm::cl::opt<std::string> calibrateFile(
    "calibrate",
    llvm::cl::desc("Run a model compiled with slimc --calibration on "
                   "--calibration-text and write the statistics file "
                   "slim-quantize reads"),
    llvm::cl::value_desc("stats file"), llvm::cl::cat(category));
static llvm::cl::list<std::string> calibrationText(
    "calibration-text",
    llvm::cl::desc("Texts to calibrate on (plain text, or .jsonl with a "
                   "\"text\" per line; tokenized, cut into --samples "
                   "sequences of --context tokens)"),
    llvm::cl::value_desc("file,..."), llvm::cl::CommaSeparated,
    llvm::cl::cat(category));
static llvm::cl::opt<uint64_t> calibrationSeed(
    "seed",
    llvm::cl::desc("Draw the calibration sequences at random from all of the "
                   "text with this seed (default: the first --samples "
                   "sequences in order)"),
    llvm::cl::cat(category));
static llvm::cl::opt<unsigned>
    numSamples("samples", llvm::cl::desc("Calibration sequences (default 128)"),
               llvm::cl::init(128), llvm::cl::cat(category));
static llvm::cl::opt<unsigned> calibrationSkip(
    "calibration-skip",
    llvm::cl::desc("Leave the first N positions of each calibration sequence "
                   "out of the statistics (default 0)"),
    llvm::cl::init(0), llvm::cl::cat(category));
static llvm::cl::opt<unsigned>
    threads("num-threads", llvm::cl::desc("Kernel threads (0: all)"),
            llvm::cl::init(0), llvm::cl::cat(category));

static llvm::cl::opt<bool> jsonOpt(
    "json",
    llvm::cl::desc("Print the results as one JSON object on stdout (the "
                   "text output goes to stderr); errors give \"ok\": false "
                   "and \"error\""),
    llvm::cl::cat(category));

/// Where the human-readable output goes: stdout, or stderr with --json.
static llvm::raw_ostream &textOut() {
  return jsonOpt ? llvm::errs() : llvm::outs();
}

/// Text for the --json result: model output, prompts, paths and messages
/// may hold invalid UTF-8 (a token that ends inside a character), which JSON
/// cannot; those bytes become U+FFFD.
static std::string jsonText(std::string s) {
  return llvm::json::isUTF8(s) ? s : llvm::json::fixUTF8(s);
}

/// The --json result, printed once when slim-run ends.
static llvm::json::Object &result() {
  static llvm::json::Object object;
  return object;
}

static int fail(const llvm::Twine &message) {
  llvm::WithColor::error(llvm::errs(), "slim-run") << message << "\n";
  result()["error"] = jsonText(message.str());
  return 1;
}

namespace {

struct OwnedTensor {
  slim_tensor t{};
  std::vector<char> storage;
};

/// Reads an ONNX TensorProto file into a tensor of the expected type.
std::string readPb(const std::string &path, const slim_tensor_info &info,
                   OwnedTensor &out) {
  auto buffer = mlir::slim::readRegularFile(path);
  if (!buffer)
    return "cannot read " + path + ": " + llvm::toString(buffer.takeError());
  mlir::slim::onnx_import::DecodedTensor tensor;
  if (std::string err = mlir::slim::onnx_import::decodeTensorFile(
          (*buffer)->getBuffer(), tensor);
      !err.empty())
    return path + ": " + err;
  out.storage = std::move(tensor.bytes);
  // Older test data stores bfloat16 as uint16.
  int32_t dtype = tensor.dtype;
  if (dtype == SLIM_UINT16 && info.dtype == SLIM_BFLOAT16)
    dtype = SLIM_BFLOAT16;
  out.t.dtype = static_cast<slim_dtype>(dtype);
  if (tensor.dims.size() > SLIM_MAX_RANK)
    return path + ": rank above " + std::to_string(SLIM_MAX_RANK);
  out.t.rank = static_cast<int32_t>(tensor.dims.size());
  for (int d = 0; d < out.t.rank; ++d)
    out.t.dims[d] = tensor.dims[d];
  out.t.data = out.storage.data();
  out.t.capacity = out.storage.size();
  return {};
}

double toDouble(const char *p, slim_dtype dtype) {
  switch (dtype) {
  case SLIM_FLOAT: {
    float v;
    std::memcpy(&v, p, 4);
    return v;
  }
  case SLIM_DOUBLE: {
    double v;
    std::memcpy(&v, p, 8);
    return v;
  }
  case SLIM_FLOAT16: {
    uint16_t h;
    std::memcpy(&h, p, 2);
    int e = (h >> 10) & 0x1f, m = h & 0x3ff;
    double v = e == 0    ? std::ldexp(m, -24)
               : e == 31 ? (m ? NAN : INFINITY)
                         : std::ldexp(1024 + m, e - 25);
    return (h & 0x8000) ? -v : v;
  }
  case SLIM_BFLOAT16: {
    uint16_t h;
    std::memcpy(&h, p, 2);
    uint32_t bits = static_cast<uint32_t>(h) << 16;
    float v;
    std::memcpy(&v, &bits, 4);
    return v;
  }
  case SLIM_BOOL:
  case SLIM_UINT8:
    return static_cast<uint8_t>(*p);
  case SLIM_INT8:
    return static_cast<int8_t>(*p);
  case SLIM_INT16: {
    int16_t v;
    std::memcpy(&v, p, 2);
    return v;
  }
  case SLIM_UINT16: {
    uint16_t v;
    std::memcpy(&v, p, 2);
    return v;
  }
  case SLIM_INT32: {
    int32_t v;
    std::memcpy(&v, p, 4);
    return v;
  }
  case SLIM_UINT32: {
    uint32_t v;
    std::memcpy(&v, p, 4);
    return v;
  }
  case SLIM_INT64: {
    int64_t v;
    std::memcpy(&v, p, 8);
    return static_cast<double>(v);
  }
  case SLIM_UINT64: {
    uint64_t v;
    std::memcpy(&v, p, 8);
    return static_cast<double>(v);
  }
  }
  return 0;
}

size_t numel(const slim_tensor &t) {
  size_t n = 1;
  for (int d = 0; d < t.rank; ++d)
    n *= static_cast<size_t>(t.dims[d]);
  return n;
}

/// Inputs for timing: symbolic sizes from --dims, zeros for integers (valid
/// token ids and positions), normal noise for floats.
std::string makeInput(const slim_tensor_info &info,
                      const llvm::StringMap<int64_t> &dims, std::mt19937 &rng,
                      OwnedTensor &out) {
  out.t.dtype = info.dtype;
  out.t.rank = info.rank;
  for (int d = 0; d < info.rank; ++d) {
    int64_t size = info.dims[d];
    if (size < 0) {
      auto it = dims.find(info.dim_names[d]);
      if (it == dims.end())
        return std::string("input '") + info.name + "' dimension " +
               std::to_string(d) + " ('" + info.dim_names[d] +
               "') is dynamic: give its size with --dims";
      size = it->second;
    }
    out.t.dims[d] = size;
  }
  size_t esize = slim_dtype_size(info.dtype);
  std::optional<uint64_t> count =
      mlir::slim::elementCount(out.t.dims, out.t.rank);
  std::optional<uint64_t> bytes =
      count ? mlir::slim::byteCount(*count, esize) : std::nullopt;
  if (!bytes)
    return std::string("input '") + info.name +
           "': the product of its --dims sizes exceeds 2^48 elements or bytes";
  out.storage.assign(static_cast<size_t>(*bytes), 0);
  if (info.dtype == SLIM_FLOAT) {
    std::normal_distribution<float> normal;
    float *p = reinterpret_cast<float *>(out.storage.data());
    for (size_t i = 0; i < numel(out.t); ++i)
      p[i] = normal(rng);
  }
  out.t.data = out.storage.data();
  out.t.capacity = out.storage.size();
  return {};
}

/// Feeds a causal LM: input_ids, position_ids, attention_mask and a KV cache
/// (past_key_values.* with `past` positions, taken from `cache`).
struct LMRunner {
  slim_model *model;
  int32_t nin, nout;
  int logits = -1;
  std::vector<int> pastInputs;     // input index per cache entry
  std::vector<int> presentOutputs; // output index per cache entry
  std::string error;

  bool init() {
    nin = slim_model_num_inputs(model);
    nout = slim_model_num_outputs(model);
    for (int32_t i = 0; i < nout; ++i)
      if (llvm::StringRef(slim_model_output(model, i)->name) == "logits")
        logits = i;
    if (logits < 0)
      logits = 0;
    for (int32_t i = 0; i < nin; ++i) {
      llvm::StringRef name = slim_model_input(model, i)->name;
      if (name == "input_ids" || name == "position_ids" ||
          name == "attention_mask")
        continue;
      if (!name.starts_with("past_key_values.")) {
        error = "cannot feed input '" + name.str() + "' of a language model";
        return false;
      }
      std::string present = "present." + name.drop_front(16).str();
      int out = -1;
      for (int32_t o = 0; o < nout; ++o)
        if (present == slim_model_output(model, o)->name)
          out = o;
      pastInputs.push_back(i);
      presentOutputs.push_back(out);
    }
    return true;
  }
  bool hasCache() const {
    return !pastInputs.empty() &&
           llvm::all_of(presentOutputs, [](int o) { return o >= 0; });
  }

  /// Runs `ids` after `past` cached positions. `cache` holds one tensor per
  /// cache entry (null data: empty). Returns the outputs (released by caller).
  bool run(const std::vector<int32_t> &ids, int64_t past,
           std::vector<slim_tensor> &cache, std::vector<slim_tensor> &outs) {
    // Token ids need no check here: the tokenizer's vocabulary was checked
    // against the logits, and the compiled model refuses ids outside its
    // embedding table (SLIM_ERROR_INPUT).
    int64_t len = static_cast<int64_t>(ids.size());
    std::vector<int64_t> tokens(ids.begin(), ids.end()), positions(len),
        mask(past + len, 1);
    for (int64_t i = 0; i < len; ++i)
      positions[i] = past + i;
    std::vector<slim_tensor> in(nin);
    std::vector<std::vector<char>> empties;
    for (int32_t i = 0; i < nin; ++i) {
      const slim_tensor_info *info = slim_model_input(model, i);
      llvm::StringRef name = info->name;
      slim_tensor &t = in[i];
      t.dtype = info->dtype;
      t.rank = info->rank;
      if (name == "input_ids" || name == "position_ids" ||
          name == "attention_mask") {
        if (info->dtype != SLIM_INT64 || info->rank != 2) {
          error = "input '" + name.str() + "' must be int64 [batch, sequence]";
          return false;
        }
        std::vector<int64_t> &v = name == "input_ids"      ? tokens
                                  : name == "position_ids" ? positions
                                                           : mask;
        t.dims[0] = 1;
        t.dims[1] = static_cast<int64_t>(v.size());
        t.data = v.data();
        t.capacity = v.size() * 8;
        continue;
      }
      size_t k = std::find(pastInputs.begin(), pastInputs.end(), i) -
                 pastInputs.begin();
      if (past > 0 && cache[k].data) {
        t = cache[k];
        continue;
      }
      // Empty cache: batch 1, past 0, the static dims as declared.
      for (int d = 0; d < info->rank; ++d)
        t.dims[d] = info->dims[d] >= 0 ? info->dims[d] : (d == 0 ? 1 : 0);
      empties.emplace_back(8);
      t.data = empties.back().data();
      t.capacity = 0;
    }
    outs.assign(nout, slim_tensor{});
    if (slim_model_run(model, in.data(), nin, outs.data(), nout) != SLIM_OK) {
      error = slim_last_error();
      return false;
    }
    return true;
  }
};

/// log softmax(row)[target], in double.
double logProb(const float *row, int64_t vocab, int64_t target) {
  float mx = row[0];
  for (int64_t v = 1; v < vocab; ++v)
    mx = std::max(mx, row[v]);
  double sum = 0;
  for (int64_t v = 0; v < vocab; ++v)
    sum += std::exp(static_cast<double>(row[v]) - mx);
  return static_cast<double>(row[target]) - mx - std::log(sum);
}

/// `--calibrate`: runs the calibration windows and writes the statistics
/// file.
int calibrate(slim_model *model, LMRunner &lm,
              const mlir::slim::CalibrationWindows &data) {
  int32_t numPoints = slim_model_num_observation_points(model);
  if (numPoints == 0)
    return fail(modelDir + " has no observation points: compile it with "
                           "slimc --calibration");
  mlir::slim::ObservationCollector calib;
  calib.skip = calibrationSkip;
  for (int32_t p = 0; p < numPoints; ++p)
    calib.points.emplace_back(slim_model_observation_channels(model, p));
  if (slim_model_set_observer(model, &mlir::slim::ObservationCollector::observe,
                              &calib) != SLIM_OK)
    return fail(slim_last_error());
  size_t context = std::max(2u, unsigned(contextLen));
  size_t samples = data.windows.size();
  if (samples < numSamples)
    llvm::errs() << "slim-run: " << data.source << " holds " << samples
                 << " sequences of " << context << " tokens (asked for "
                 << numSamples << ")\n";
  std::vector<slim_tensor> noCache(lm.pastInputs.size());
  auto start = std::chrono::steady_clock::now();
  for (size_t s = 0; s < samples; ++s) {
    std::vector<slim_tensor> outs;
    if (!lm.run(data.windows[s], 0, noCache, outs))
      return fail(lm.error);
    for (auto &o : outs)
      slim_tensor_release(&o);
    if (!calib.error.empty())
      return fail(calib.error);
    double secs =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - start)
            .count();
    llvm::errs() << llvm::format("calibrating: sequence %zu/%zu, %zu tokens, "
                                 "%.1f s, %.0f tokens/s\n",
                                 s + 1, samples, (s + 1) * context, secs,
                                 (s + 1) * context / secs);
  }
  slim_model_set_observer(model, nullptr, nullptr);
  std::vector<mlir::slim::CalibrationStatsWriter::Input> inputs;
  for (int32_t p = 0; p < numPoints; ++p) {
    mlir::slim::CalibrationStatsWriter::Input in{&calib.points[p], {}};
    for (int32_t i = 0;
         const char *name = slim_model_observation_layer(model, p, i); ++i) {
      in.layers.push_back(name);
      in.hashes.push_back(slim_model_observation_weight_hash(model, p, i));
    }
    inputs.push_back(std::move(in));
  }
  llvm::json::Object header{
      {"sequential", false},
      {"context", static_cast<int64_t>(context)},
      {"documents", static_cast<int64_t>(data.documents)},
      {"text_tokens", static_cast<int64_t>(data.totalTokens)},
      {"sampling",
       calibrationSeed.getNumOccurrences() ? "random" : "consecutive"},
      {"model", modelDir.getValue()}};
  if (calibrationSeed.getNumOccurrences())
    header["seed"] = static_cast<int64_t>(calibrationSeed.getValue());
  if (calibrationSkip)
    header["skip"] = static_cast<int64_t>(calibrationSkip);
  if (llvm::Error e = mlir::slim::CalibrationStatsWriter::write(
          calibrateFile, data.source, static_cast<int64_t>(samples),
          static_cast<int64_t>(samples * context), inputs, header))
    return fail(llvm::toString(std::move(e)));
  result()["mode"] = "calibrate";
  result()["stats"] = jsonText(calibrateFile.getValue());
  result()["observation_points"] = static_cast<int64_t>(numPoints);
  result()["sequences"] = static_cast<int64_t>(samples);
  result()["context"] = static_cast<int64_t>(context);
  result()["source"] = jsonText(data.source);
  result()["seconds"] =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start)
          .count();
  textOut() << "wrote " << calibrateFile << ": " << numPoints
            << " observation points, " << samples << " sequences x " << context
            << " tokens of " << data.source << "\n";
  return 0;
}

} // namespace

static int runTool();

int main(int argc, char **argv) {
  llvm::InitLLVM init(argc, argv);
  mlir::slim::initTool("slim-run");
  llvm::cl::HideUnrelatedOptions(category);
  llvm::cl::ParseCommandLineOptions(
      argc, argv, "slim-run: runs a model compiled by slimc\n");
  int status = runTool();
  if (jsonOpt) {
    llvm::json::Object out{{"tool", "slim-run"},
                           {"version", mlir::slim::getVersion()},
                           {"commit", mlir::slim::getCommit()},
                           {"ok", status == 0}};
    if (!modelDir.empty())
      out["model"] = jsonText(modelDir.getValue());
    for (auto &[key, value] : result())
      out[key] = std::move(value);
    mlir::slim::printJson(llvm::outs(), llvm::json::Value(std::move(out)));
    llvm::outs() << "\n";
  }
  return status;
}

static int runTool() {
  mlir::slim::Tokenizer tokenizer;
  if (!tokenizerPath.empty()) {
    std::string err;
    if (!tokenizer.load(tokenizerPath, err))
      return fail(err);
  }
  auto readText = [&](const std::string &path, std::string &text) -> bool {
    auto buffer = mlir::slim::readRegularFile(path);
    if (!buffer) {
      llvm::consumeError(buffer.takeError());
      return false;
    }
    text = (*buffer)->getBuffer().str();
    return true;
  };
  if (!encodeFile.empty()) {
    if (tokenizerPath.empty())
      return fail("--encode-file needs --tokenizer");
    std::string text;
    if (!readText(encodeFile, text))
      return fail("cannot read " + encodeFile);
    auto ids = tokenizer.encode(text);
    if (!ids)
      return fail(encodeFile + ": " + llvm::toString(ids.takeError()));
    llvm::json::Array list;
    for (int32_t id : *ids) {
      textOut() << id << " ";
      list.push_back(static_cast<int64_t>(id));
    }
    textOut() << "\n";
    result()["mode"] = "encode";
    result()["ids"] = std::move(list);
    return 0;
  }
  if (modelDir.empty())
    return fail(
        "no model directory (usage: slim-run OUT_DIR [--test-data DIR])");
  slim_model *model = nullptr;
  slim_runtime_tune_allocator(); // this process only runs models
  if (slim_model_load(modelDir.c_str(), &model) != SLIM_OK)
    return fail(slim_last_error());
  std::unique_ptr<slim_model, void (*)(slim_model *)> owner(model,
                                                            slim_model_free);
  if (threads && slim_model_set_threads(model, threads) != SLIM_OK)
    return fail(slim_last_error());
  int32_t nin = slim_model_num_inputs(model),
          nout = slim_model_num_outputs(model);

  auto describe = [](const char *kind, const slim_tensor_info *info) {
    textOut() << "  " << kind << " '" << info->name
              << "': " << slim_dtype_name(info->dtype) << "[";
    llvm::json::Array dims;
    for (int d = 0; d < info->rank; ++d) {
      if (d)
        textOut() << ", ";
      if (info->dims[d] >= 0) {
        textOut() << info->dims[d];
        dims.push_back(info->dims[d]);
      } else {
        const char *name = *info->dim_names[d] ? info->dim_names[d] : "?";
        textOut() << name;
        dims.push_back(name);
      }
    }
    textOut() << "]\n";
    return llvm::json::Object{{"name", info->name},
                              {"dtype", slim_dtype_name(info->dtype)},
                              {"dims", std::move(dims)}};
  };
  // Another model's tokenizer gives ids the model may not have, or other
  // words for the ones it has: refuse a vocabulary larger than the logits.
  auto checkVocabulary = [&](const LMRunner &lm) -> std::string {
    const slim_tensor_info *lg = slim_model_output(model, lm.logits);
    if (lg && lg->rank == 3 && lg->dims[2] > 0 &&
        tokenizer.getVocabSize() > static_cast<size_t>(lg->dims[2]))
      return tokenizerPath + " has " +
             std::to_string(tokenizer.getVocabSize()) +
             " tokens, the model's logits " + std::to_string(lg->dims[2]) +
             ": the tokenizer of another model?";
    return "";
  };
  if (!calibrateFile.empty()) {
    if (tokenizerPath.empty() || calibrationText.empty())
      return fail("--calibrate needs --calibration-text and --tokenizer");
    LMRunner lm{model};
    if (!lm.init())
      return fail(lm.error);
    if (std::string err = checkVocabulary(lm); !err.empty())
      return fail(err);
    std::vector<std::string> files(calibrationText.begin(),
                                   calibrationText.end());
    std::optional<uint64_t> seed;
    if (calibrationSeed.getNumOccurrences())
      seed = calibrationSeed.getValue();
    llvm::Expected<mlir::slim::CalibrationWindows> data =
        mlir::slim::loadCalibrationWindows(files, tokenizer, numSamples,
                                           std::max(2u, unsigned(contextLen)),
                                           seed);
    if (!data)
      return fail(llvm::toString(data.takeError()));
    return calibrate(model, lm, *data);
  }
  if (!perplexityFile.empty() || !generatePrompt.empty()) {
    if (tokenizerPath.empty())
      return fail("--perplexity and --generate need --tokenizer");
    LMRunner lm{model};
    if (!lm.init())
      return fail(lm.error);
    if (std::string err = checkVocabulary(lm); !err.empty())
      return fail(err);
    const slim_tensor_info *logitsInfo = slim_model_output(model, lm.logits);
    if (logitsInfo->dtype != SLIM_FLOAT || logitsInfo->rank != 3)
      return fail(std::string("output '") + logitsInfo->name +
                  "' must be float [batch, sequence, vocabulary] logits");
    std::vector<slim_tensor> noCache(lm.pastInputs.size());
    if (!perplexityFile.empty()) {
      std::string text;
      if (!readText(perplexityFile, text))
        return fail("cannot read " + perplexityFile);
      auto encoded = tokenizer.encode(text);
      if (!encoded)
        return fail(perplexityFile + ": " +
                    llvm::toString(encoded.takeError()));
      std::vector<int32_t> ids = std::move(*encoded);
      if (maxTokens && ids.size() > maxTokens)
        ids.resize(maxTokens);
      if (ids.size() < 2)
        return fail(perplexityFile + ": fewer than two tokens");
      size_t context = std::max(2u, unsigned(contextLen));
      size_t stride =
          strideLen ? unsigned(strideLen) : std::max<size_t>(1, context / 2);
      if (perplexityDecode && !lm.hasCache())
        return fail("--perplexity-decode needs a model with past_key_values.* "
                    "inputs and "
                    "present.* outputs (a KV cache)");
      double nll = 0;
      size_t count = 0, prevEnd = 0, windows = 0;
      std::string error;
      auto start = std::chrono::steady_clock::now();
      for (size_t begin = 0; begin < ids.size(); begin += stride) {
        size_t end = std::min(begin + context, ids.size());
        std::vector<int32_t> window(ids.begin() + begin, ids.begin() + end);
        // Adds -log p(ids[target]) from the logits row that predicts it.
        auto score = [&](const float *row, int64_t vocab, size_t target) {
          if (ids[target] >= vocab) {
            error = "token id " + std::to_string(ids[target]) +
                    " is outside the model's vocabulary of " +
                    std::to_string(vocab);
            return false;
          }
          nll -= logProb(row, vocab, ids[target]);
          ++count;
          return true;
        };
        // Score the tokens this window adds: positions predicting
        // ids[prevEnd .. end), never the first token of the text.
        size_t first = std::max<size_t>(prevEnd, begin + 1);
        std::vector<slim_tensor> outs;
        if (perplexityDecode) {
          // One token at a time after the window's earlier ones, cached.
          std::vector<slim_tensor> cache(lm.pastInputs.size());
          auto releaseCache = [&] {
            for (auto &c : cache)
              slim_tensor_release(&c);
          };
          for (size_t t = 0; t + 1 < window.size(); ++t) {
            if (!lm.run({window[t]}, static_cast<int64_t>(t), cache, outs)) {
              releaseCache();
              return fail(lm.error);
            }
            const slim_tensor &lg = outs[lm.logits];
            bool ok = begin + t + 1 < first ||
                      score(static_cast<const float *>(lg.data), lg.dims[2],
                            begin + t + 1);
            for (size_t k = 0; k < cache.size(); ++k) {
              slim_tensor_release(&cache[k]);
              cache[k] = outs[lm.presentOutputs[k]];
              outs[lm.presentOutputs[k]] = slim_tensor{};
            }
            for (auto &o : outs)
              slim_tensor_release(&o);
            outs.clear();
            if (!ok) {
              releaseCache();
              return fail(error);
            }
          }
          releaseCache();
        } else {
          if (!lm.run(window, 0, noCache, outs))
            return fail(lm.error);
          const slim_tensor &lg = outs[lm.logits];
          int64_t vocab = lg.dims[2];
          for (size_t target = first; target < end; ++target)
            if (!score(static_cast<const float *>(lg.data) +
                           (target - begin - 1) * vocab,
                       vocab, target)) {
              for (auto &o : outs)
                slim_tensor_release(&o);
              return fail(error);
            }
        }
        ++windows;
        for (auto &o : outs)
          slim_tensor_release(&o);
        prevEnd = end;
        if (end == ids.size())
          break;
      }
      double secs = std::chrono::duration<double>(
                        std::chrono::steady_clock::now() - start)
                        .count();
      result()["mode"] = "perplexity";
      result()["perplexity"] = std::exp(nll / count);
      result()["mean_nll"] = nll / count;
      result()["tokens"] = static_cast<int64_t>(count);
      result()["windows"] = static_cast<int64_t>(windows);
      result()["context"] = static_cast<int64_t>(context);
      result()["stride"] = static_cast<int64_t>(stride);
      result()["token_by_token"] = static_cast<bool>(perplexityDecode);
      result()["seconds"] = secs;
      result()["tokens_per_second"] = secs > 0 ? count / secs : 0.0;
      textOut() << "perplexity: " << llvm::format("%.4f", std::exp(nll / count))
                << " over " << count << " tokens (" << windows << " windows of "
                << context << ", stride " << stride
                << (perplexityDecode ? ", token by token" : "") << "; mean NLL "
                << llvm::format("%.6f", nll / count) << "; "
                << llvm::format("%.1f", (count / secs)) << " tokens/s)\n";
    }
    if (!generatePrompt.empty()) {
      auto encoded = tokenizer.encode(generatePrompt);
      if (!encoded)
        return fail("the prompt: " + llvm::toString(encoded.takeError()));
      std::vector<int32_t> ids = std::move(*encoded);
      if (ids.empty())
        return fail("the prompt encodes to no tokens");
      std::vector<int32_t> generated;
      std::vector<slim_tensor> cache(lm.pastInputs.size());
      int64_t past = 0;
      std::vector<int32_t> feed = ids;
      size_t promptTokens = ids.size();
      // The prompt, then each token as it comes (streamed).
      textOut() << generatePrompt;
      textOut().flush();
      std::string stoppedAt;
      auto start = std::chrono::steady_clock::now();
      auto firstDone = start;
      for (unsigned step = 0; step < numTokens; ++step) {
        std::vector<slim_tensor> outs;
        bool useCache = lm.hasCache();
        std::vector<int32_t> input = useCache ? feed : ids;
        if (!lm.run(input, useCache ? past : 0, cache, outs))
          return fail(lm.error);
        const slim_tensor &lg = outs[lm.logits];
        int64_t vocab = lg.dims[2], last = lg.dims[1] - 1;
        const float *row = static_cast<const float *>(lg.data) + last * vocab;
        int32_t next =
            static_cast<int32_t>(std::max_element(row, row + vocab) - row);
        if (step == 0)
          firstDone = std::chrono::steady_clock::now();
        if (!ignoreEos && tokenizer.isSpecial(next)) {
          stoppedAt = tokenizer.decode({next});
          for (auto &o : outs)
            slim_tensor_release(&o);
          break;
        }
        generated.push_back(next);
        ids.push_back(next);
        textOut() << tokenizer.decode({next});
        textOut().flush();
        if (useCache) {
          past += static_cast<int64_t>(input.size());
          for (size_t k = 0; k < cache.size(); ++k) {
            slim_tensor_release(&cache[k]);
            cache[k] = outs[lm.presentOutputs[k]];
            outs[lm.presentOutputs[k]] = slim_tensor{};
          }
          feed = {next};
        }
        for (auto &o : outs)
          slim_tensor_release(&o);
      }
      for (auto &c : cache)
        slim_tensor_release(&c);
      auto end = std::chrono::steady_clock::now();
      double promptSecs =
          std::chrono::duration<double>(firstDone - start).count();
      double decodeSecs =
          std::chrono::duration<double>(end - firstDone).count();
      textOut() << "\n";
      if (!stoppedAt.empty())
        textOut() << "stopped at " << stoppedAt << " (--ignore-eos goes on)\n";
      if (printIds) {
        textOut() << "ids:";
        for (int32_t id : generated)
          textOut() << " " << id;
        textOut() << "\n";
      }
      // The first step reads the prompt (and gives the first token); the
      // others decode one token each.
      size_t decoded = generated.size() > 1 ? generated.size() - 1 : 0;
      if (!stoppedAt.empty() && !generated.empty())
        decoded = generated.size();
      {
        llvm::json::Array idList;
        for (int32_t id : generated)
          idList.push_back(static_cast<int64_t>(id));
        llvm::json::Object g{
            {"prompt", jsonText(generatePrompt.getValue())},
            {"text", jsonText(tokenizer.decode(generated))},
            {"ids", std::move(idList)},
            {"kv_cache", lm.hasCache()},
            {"prompt_tokens", static_cast<int64_t>(promptTokens)},
            {"prompt_seconds", promptSecs},
            {"decoded_tokens", static_cast<int64_t>(decoded)},
            {"decode_seconds", decodeSecs},
            {"decode_tokens_per_second",
             decodeSecs > 0 ? decoded / decodeSecs : 0.0}};
        if (!stoppedAt.empty())
          g["stopped_at"] = jsonText(stoppedAt);
        if (!result().get("mode"))
          result()["mode"] = "generate";
        else
          result()["mode"] = "perplexity+generate";
        result()["generate"] = std::move(g);
      }
      textOut() << "generated " << generated.size() << " tokens ("
                << (lm.hasCache() ? "KV cache" : "no KV cache") << "): prompt "
                << promptTokens << " tokens in "
                << llvm::format("%.3f", promptSecs) << " s ("
                << llvm::format("%.1f", promptTokens / promptSecs)
                << " tokens/s), decode " << decoded << " tokens in "
                << llvm::format("%.3f", decodeSecs) << " s ("
                << llvm::format("%.1f",
                                decodeSecs > 0 ? decoded / decodeSecs : 0.0)
                << " tokens/s)\n";
    }
    return 0;
  }
  if (testData.empty() && !bench) {
    textOut() << modelDir << ": " << nin << " inputs, " << nout << " outputs\n";
    llvm::json::Array ins, outs;
    for (int32_t i = 0; i < nin; ++i)
      ins.push_back(describe("input", slim_model_input(model, i)));
    for (int32_t i = 0; i < nout; ++i)
      outs.push_back(describe("output", slim_model_output(model, i)));
    result()["mode"] = "describe";
    result()["inputs"] = std::move(ins);
    result()["outputs"] = std::move(outs);
    return 0;
  }

  std::vector<OwnedTensor> inputs(nin);
  std::vector<OwnedTensor> expected;
  if (!testData.empty()) {
    for (int32_t i = 0; i < nin; ++i) {
      llvm::SmallString<256> p(testData);
      llvm::sys::path::append(p, "input_" + std::to_string(i) + ".pb");
      std::string err =
          readPb(std::string(p), *slim_model_input(model, i), inputs[i]);
      if (!err.empty())
        return fail(err);
    }
    // Expected outputs are optional: without them the run is only checked
    // for errors.
    llvm::SmallString<256> first(testData);
    llvm::sys::path::append(first, "output_0.pb");
    if (nout && llvm::sys::fs::exists(first)) {
      expected.resize(nout);
      for (int32_t i = 0; i < nout; ++i) {
        llvm::SmallString<256> p(testData);
        llvm::sys::path::append(p, "output_" + std::to_string(i) + ".pb");
        std::string err =
            readPb(std::string(p), *slim_model_output(model, i), expected[i]);
        if (!err.empty())
          return fail(err);
      }
    }
  } else {
    llvm::StringMap<int64_t> dims;
    if (std::string err = mlir::slim::parseDimBindings(dimsOpt, dims);
        !err.empty())
      return fail("--bind-dims: " + err);
    // Every name must be one of the model's symbolic dimensions.
    std::set<std::string> names;
    for (int32_t i = 0; i < nin; ++i) {
      const slim_tensor_info *info = slim_model_input(model, i);
      for (int d = 0; d < info->rank; ++d)
        if (info->dims[d] < 0 && *info->dim_names[d])
          names.insert(info->dim_names[d]);
    }
    for (const auto &bound : dims)
      if (!names.count(bound.getKey().str())) {
        std::string list;
        for (const std::string &n : names)
          list += (list.empty() ? "" : ", ") + n;
        return fail("--bind-dims: the model has no symbolic dimension '" +
                    bound.getKey().str() + "' (" +
                    (list.empty() ? "it has none" : "it has: " + list) + ")");
      }
    std::mt19937 rng(0);
    for (int32_t i = 0; i < nin; ++i) {
      std::string err =
          makeInput(*slim_model_input(model, i), dims, rng, inputs[i]);
      if (!err.empty())
        return fail(err);
    }
  }
  std::vector<slim_tensor> in;
  for (auto &t : inputs)
    in.push_back(t.t);
  std::vector<slim_tensor> out(nout);
  auto runOnce = [&]() -> bool {
    for (auto &o : out)
      slim_tensor_release(&o);
    return slim_model_run(model, in.data(), nin, out.data(), nout) == SLIM_OK;
  };
  auto releaseAll = [&] {
    for (auto &o : out)
      slim_tensor_release(&o);
  };

  int status = 0;
  result()["mode"] = bench && !testData.empty() ? "test+bench"
                     : bench                    ? "bench"
                                                : "test";
  if (!testData.empty()) {
    if (!runOnce())
      return fail(slim_last_error());
    if (!saveOutputs.empty()) {
      if (std::error_code ec = llvm::sys::fs::create_directories(saveOutputs))
        return fail("cannot create " + saveOutputs + ": " + ec.message());
      for (int32_t i = 0; i < nout; ++i) {
        const slim_tensor &a = out[i];
        onnx::TensorProto proto;
        proto.set_name(slim_model_output(model, i)->name);
        proto.set_data_type(a.dtype);
        for (int d = 0; d < a.rank; ++d)
          proto.add_dims(a.dims[d]);
        proto.set_raw_data(a.data, numel(a) * slim_dtype_size(a.dtype));
        llvm::SmallString<256> p(saveOutputs);
        llvm::sys::path::append(p, "output_" + std::to_string(i) + ".pb");
        std::error_code ec;
        llvm::raw_fd_ostream os(p, ec);
        if (ec)
          return fail("cannot write " + p + ": " + ec.message());
        os << proto.SerializeAsString();
      }
    }
    llvm::json::Array compared;
    for (int32_t i = 0; i < static_cast<int32_t>(expected.size()); ++i) {
      const slim_tensor_info *info = slim_model_output(model, i);
      const slim_tensor &a = out[i], &e = expected[i].t;
      bool shapeOk = a.rank == e.rank;
      for (int d = 0; shapeOk && d < a.rank; ++d)
        shapeOk = a.dims[d] == e.dims[d];
      if (!shapeOk) {
        textOut() << "FAIL output '" << info->name
                  << "': shape differs from the expected\n";
        compared.push_back(llvm::json::Object{
            {"name", info->name}, {"passed", false}, {"shape_differs", true}});
        status = 1;
        continue;
      }
      double maxAbs = 0, maxRel = 0;
      size_t bad = 0, n = numel(a);
      size_t ea = slim_dtype_size(a.dtype), ee = slim_dtype_size(e.dtype);
      for (size_t k = 0; k < n; ++k) {
        double x =
            toDouble(static_cast<const char *>(a.data) + k * ea, a.dtype);
        double y =
            toDouble(static_cast<const char *>(e.data) + k * ee, e.dtype);
        if ((std::isnan(x) && std::isnan(y)) || x == y)
          continue;
        double d = std::fabs(x - y);
        if (!(d <= atolOpt + rtolOpt * std::fabs(y)))
          ++bad;
        if (std::isfinite(d)) {
          maxAbs = std::max(maxAbs, d);
          if (y != 0)
            maxRel = std::max(maxRel, d / std::fabs(y));
        }
      }
      textOut() << (bad ? "FAIL" : "PASS") << " output '" << info->name
                << "': max abs err " << llvm::format("%.3g", maxAbs)
                << ", max rel err " << llvm::format("%.3g", maxRel);
      if (bad)
        textOut() << ", " << bad << " of " << n << " elements outside rtol "
                  << rtolOpt << " atol " << atolOpt;
      textOut() << "\n";
      compared.push_back(
          llvm::json::Object{{"name", info->name},
                             {"passed", bad == 0},
                             {"max_abs_err", maxAbs},
                             {"max_rel_err", maxRel},
                             {"elements", static_cast<int64_t>(n)},
                             {"outside_tolerance", static_cast<int64_t>(bad)}});
      if (bad)
        status = 1;
    }
    llvm::json::Object test{{"test_data", jsonText(testData.getValue())},
                            {"compared", !expected.empty()},
                            {"passed", status == 0},
                            {"rtol", rtolOpt.getValue()},
                            {"atol", atolOpt.getValue()},
                            {"outputs", std::move(compared)}};
    result()["test"] = std::move(test);
  }
  if (bench) {
    for (unsigned i = 0; i < warmup; ++i)
      if (!runOnce())
        return fail(slim_last_error());
    std::vector<double> ms;
    for (unsigned i = 0; i < std::max(1u, unsigned(repeat)); ++i) {
      auto start = std::chrono::steady_clock::now();
      if (slim_model_run(model, in.data(), nin, out.data(), nout) != SLIM_OK)
        return fail(slim_last_error());
      auto end = std::chrono::steady_clock::now();
      ms.push_back(
          std::chrono::duration<double, std::milli>(end - start).count());
      releaseAll();
    }
    std::sort(ms.begin(), ms.end());
    double median = ms[ms.size() / 2];
    result()["bench"] =
        llvm::json::Object{{"runs", static_cast<int64_t>(ms.size())},
                           {"warmup", static_cast<int64_t>(warmup)},
                           {"threads", static_cast<int64_t>(threads)},
                           {"median_ms", median},
                           {"min_ms", ms.front()},
                           {"p90_ms", ms[ms.size() * 9 / 10]},
                           {"max_ms", ms.back()}};
    textOut() << "bench: " << ms.size() << " runs after " << warmup
              << " warm-up: median " << llvm::format("%.3f", median)
              << " ms, min " << llvm::format("%.3f", ms.front()) << " ms, p90 "
              << llvm::format("%.3f", ms[ms.size() * 9 / 10]) << " ms, max "
              << llvm::format("%.3f", ms.back()) << " ms\n";
  }
  releaseAll();
  return status;
}
