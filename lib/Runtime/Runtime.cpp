//===- Runtime.cpp - Loading and running compiled Slim models -------------===//
//
// Part of the Slim project, under the Apache License v2.0 with LLVM Exceptions.
// SPDX-License-Identifier: Apache-2.0 WITH LLVM-exception
//
//===----------------------------------------------------------------------===//
//
// Implements include/slim/Runtime.h. A model directory holds model.json (the
// interface), model.so (code; its `slim_entry(void **)` calls the MLIR C
// interface of the entry function) and model.weights (mapped read-only and
// passed as the last argument). Memref descriptors are built and read here:
// {allocated, aligned, offset, sizes[rank], strides[rank]}, all 64-bit.
//
// This file is libslim-runtime.so, the library C programs link: it has no
// LLVM dependency (model.json is read with nlohmann/json, the fingerprint
// hashed with libxxhash's XXH3, CPU features read by CPUID).
//
//===----------------------------------------------------------------------===//

#include "slim/Runtime.h"
#include "lib/Runtime/HostFeatures.h"
#include "lib/Runtime/KernelAbi.h"
#include "lib/Support/Sizes.h"

#include <nlohmann/json.hpp>
#include <xxhash.h>

#include <dlfcn.h>
#include <fcntl.h>
#include <malloc.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <thread>
#include <vector>

using Json = nlohmann::json;

namespace {

thread_local std::string lastError;

slim_status fail(slim_status status, std::string message) {
  lastError = std::move(message);
  return status;
}

struct InfoStorage {
  std::string name;
  std::vector<int64_t> dims;
  std::vector<std::string> dimNames;
  std::vector<const char *> dimNamePtrs;
  slim_tensor_info info{};

  void finish(slim_dtype dtype) {
    for (const std::string &n : dimNames)
      dimNamePtrs.push_back(n.c_str());
    info.name = name.c_str();
    info.dtype = dtype;
    info.rank = static_cast<int32_t>(dims.size());
    info.dims = dims.data();
    info.dim_names = dimNamePtrs.data();
  }
};

using EntryFn = void (*)(void **);

} // namespace

struct slim_model {
  std::string directory;
  void *library = nullptr;
  EntryFn entry = nullptr;
  /// Model support's run wrapper (absent in models from before run-time
  /// checks: they are called directly).
  int32_t (*run)(EntryFn, void **, SlimRtError *) = nullptr;
  /// The messages of the model's run-time checks, NUL-separated.
  std::string checkMessages;
  void (*setThreads)(int) = nullptr;
  void (*setObserver)(slim_observer_fn, void *) = nullptr;
  struct ObservationPoint {
    int64_t channels = 0;
    std::vector<std::string> layers;
    /// Parallel to `layers`; "" where model.json records none.
    std::vector<std::string> weightHashes;
  };
  std::vector<ObservationPoint> points;
  void *weights = nullptr;
  size_t weightsSize = 0;
  bool weightsArgument = false;
  std::vector<std::unique_ptr<InfoStorage>> inputs, outputs;

  ~slim_model() {
    if (weights && weightsSize)
      munmap(weights, weightsSize);
    if (library)
      dlclose(library);
  }
};

/// The value of a dtype given by a caller or a file, read as the integer it
/// is: C callers may pass any int, and loading an out-of-range value as the
/// C++ enum is undefined behaviour.
static int32_t rawDtype(const slim_dtype &dtype) {
  static_assert(sizeof(slim_dtype) == sizeof(int32_t));
  int32_t value;
  std::memcpy(&value, &dtype, sizeof value);
  return value;
}

/// Element size of a dtype number, 0 if it is not one of slim_dtype's.
static size_t dtypeSize(int64_t dtype) {
  switch (dtype) {
  case SLIM_BOOL:
  case SLIM_INT8:
  case SLIM_UINT8:
    return 1;
  case SLIM_INT16:
  case SLIM_UINT16:
  case SLIM_FLOAT16:
  case SLIM_BFLOAT16:
    return 2;
  case SLIM_FLOAT:
  case SLIM_INT32:
  case SLIM_UINT32:
    return 4;
  case SLIM_INT64:
  case SLIM_UINT64:
  case SLIM_DOUBLE:
    return 8;
  }
  return 0;
}

extern "C" {

size_t slim_dtype_size(slim_dtype dtype) { return dtypeSize(rawDtype(dtype)); }

static const char *dtypeName(int64_t dtype) {
  switch (dtype) {
  case SLIM_FLOAT:
    return "float";
  case SLIM_UINT8:
    return "uint8";
  case SLIM_INT8:
    return "int8";
  case SLIM_UINT16:
    return "uint16";
  case SLIM_INT16:
    return "int16";
  case SLIM_INT32:
    return "int32";
  case SLIM_INT64:
    return "int64";
  case SLIM_BOOL:
    return "bool";
  case SLIM_FLOAT16:
    return "float16";
  case SLIM_DOUBLE:
    return "double";
  case SLIM_UINT32:
    return "uint32";
  case SLIM_UINT64:
    return "uint64";
  case SLIM_BFLOAT16:
    return "bfloat16";
  }
  return "unknown";
}

const char *slim_dtype_name(slim_dtype dtype) {
  return dtypeName(rawDtype(dtype));
}

const char *slim_last_error(void) { return lastError.c_str(); }

static bool readInfos(const Json *array,
                      std::vector<std::unique_ptr<InfoStorage>> &out) {
  if (!array || !array->is_array())
    return false;
  for (const Json &o : *array) {
    if (!o.is_object())
      return false;
    auto info = std::make_unique<InfoStorage>();
    auto name = o.find("name"), dtype = o.find("dtype"), dims = o.find("dims"),
         names = o.find("dim_names");
    if (name == o.end() || !name->is_string() || dtype == o.end() ||
        !dtype->is_number_integer() || dims == o.end() || !dims->is_array() ||
        names == o.end() || !names->is_array() ||
        dims->size() != names->size() || dims->size() > SLIM_MAX_RANK ||
        !dtypeSize(dtype->get<int64_t>()))
      return false;
    info->name = name->get<std::string>();
    for (const Json &d : *dims) {
      if (!d.is_number_integer())
        return false;
      info->dims.push_back(d.get<int64_t>());
    }
    for (const Json &d : *names) {
      if (!d.is_string())
        return false;
      info->dimNames.push_back(d.get<std::string>());
    }
    info->finish(static_cast<slim_dtype>(dtype->get<int64_t>()));
    out.push_back(std::move(info));
  }
  return true;
}

} // extern "C"

/// `key` of `object` if it is there with the type `is` accepts.
template <typename Pred>
static const Json *member(const Json &object, const char *key, Pred is) {
  auto it = object.find(key);
  return it != object.end() && is(*it) ? &*it : nullptr;
}
static const Json *arrayMember(const Json &o, const char *key) {
  return member(o, key, [](const Json &v) { return v.is_array(); });
}

/// Why `path` is not a regular file ("" if it is).
static std::string regularFileError(const std::string &path) {
  struct stat st;
  if (stat(path.c_str(), &st) != 0)
    return std::strerror(errno);
  if (S_ISDIR(st.st_mode))
    return "is a directory";
  if (!S_ISREG(st.st_mode))
    return "is not a regular file (a FIFO, device or socket)";
  return "";
}

/// The fingerprint of model.json's interface (ModelFingerprint.h): XXH3 of
/// the compact JSON with sorted keys that slimc hashed. nlohmann's objects
/// sort their keys and print compactly as llvm::json does; model.json's
/// values are strings, integers and booleans, printed the same way by both.
static std::string fingerprint(const Json &inputs, const Json &outputs,
                               bool weightsArgument, int64_t weightsBytes) {
  Json canonical = {{"inputs", inputs},
                    {"outputs", outputs},
                    {"weights_argument", weightsArgument},
                    {"weights_bytes", weightsBytes}};
  std::string text = canonical.dump(-1, ' ', /*ensure_ascii=*/false,
                                    Json::error_handler_t::replace);
  char hex[17];
  std::snprintf(
      hex, sizeof hex, "%016llx",
      static_cast<unsigned long long>(XXH3_64bits(text.data(), text.size())));
  return hex;
}

extern "C" {

slim_status slim_model_load(const char *directory, slim_model **model) {
  if (!directory || !model)
    return fail(SLIM_ERROR_ARGUMENT, "slim_model_load: null argument");
  *model = nullptr;
  auto m = std::make_unique<slim_model>();
  m->directory = directory;
  auto path = [&](const char *file) {
    std::string p = directory;
    if (!p.empty() && p.back() != '/')
      p += '/';
    return p + file;
  };

  std::string jsonPath = path("model.json");
  if (std::string err = regularFileError(jsonPath); !err.empty())
    return fail(SLIM_ERROR_IO, "cannot read " + jsonPath + ": " + err);
  std::string contents;
  {
    FILE *f = std::fopen(jsonPath.c_str(), "rb");
    if (!f)
      return fail(SLIM_ERROR_IO,
                  "cannot read " + jsonPath + ": " + std::strerror(errno));
    char chunk[65536];
    size_t n;
    while ((n = std::fread(chunk, 1, sizeof chunk, f)) > 0)
      contents.append(chunk, n);
    bool bad = std::ferror(f);
    std::fclose(f);
    if (bad)
      return fail(SLIM_ERROR_IO, "cannot read " + jsonPath);
  }
  Json json = Json::parse(contents, nullptr, /*allow_exceptions=*/false);
  if (json.is_discarded())
    return fail(SLIM_ERROR_FORMAT, jsonPath + ": not valid JSON");
  const Json *format = member(
      json, "format", [](const Json &v) { return v.is_number_integer(); });
  if (!json.is_object() || !format || format->get<int64_t>() != 1 ||
      !readInfos(arrayMember(json, "inputs"), m->inputs) ||
      !readInfos(arrayMember(json, "outputs"), m->outputs))
    return fail(SLIM_ERROR_FORMAT,
                jsonPath + ": not a Slim model description (format 1)");
  const Json &root = json;
  if (const Json *w = member(root, "weights_argument",
                             [](const Json &v) { return v.is_boolean(); }))
    m->weightsArgument = w->get<bool>();
  if (const Json *points = arrayMember(root, "observation_points")) {
    for (const Json &o : *points) {
      const Json *layers = o.is_object() ? arrayMember(o, "layers") : nullptr;
      const Json *channels =
          o.is_object()
              ? member(o, "channels",
                       [](const Json &v) { return v.is_number_integer(); })
              : nullptr;
      if (!layers || !channels || channels->get<int64_t>() <= 0)
        return fail(SLIM_ERROR_FORMAT,
                    jsonPath + ": malformed observation_points entry");
      slim_model::ObservationPoint p;
      p.channels = channels->get<int64_t>();
      const Json *hashes = arrayMember(o, "weight_hashes");
      for (size_t i = 0; i < layers->size(); ++i)
        if ((*layers)[i].is_string()) {
          p.layers.push_back((*layers)[i].get<std::string>());
          std::string hash;
          if (hashes && i < hashes->size() && (*hashes)[i].is_string())
            hash = (*hashes)[i].get<std::string>();
          p.weightHashes.push_back(hash);
        }
      m->points.push_back(std::move(p));
    }
  }
  std::optional<int64_t> weightsBytes;
  if (const Json *b = member(root, "weights_bytes", [](const Json &v) {
        return v.is_number_integer();
      }))
    weightsBytes = b->get<int64_t>();

  // The code may use the instruction-set features slimc was told it may
  // (--target-cpu/--target-features); running it on a CPU without them
  // would end in SIGILL, so refuse it before loading the code.
  if (const Json *target =
          member(root, "target", [](const Json &v) { return v.is_object(); })) {
    const Json *required = arrayMember(*target, "required_features");
    if (!required)
      return fail(SLIM_ERROR_FORMAT,
                  jsonPath + ": target has no required_features list");
    // Features the CPUID table does not know are not checked (system
    // features such as "shstk" that generated code does not use).
    std::vector<std::string> missing;
    for (const Json &f : *required) {
      if (!f.is_string())
        return fail(SLIM_ERROR_FORMAT,
                    jsonPath + ": malformed required_features entry");
      std::string name = f.get<std::string>();
      if (slim_rt::queryHostFeature(name.c_str()) ==
          slim_rt::HostFeature::Absent)
        missing.push_back(name);
    }
    if (!missing.empty()) {
      std::string list;
      for (const std::string &f : missing)
        list += (list.empty() ? "" : ", ") + f;
      const Json *cpuName =
          member(*target, "cpu", [](const Json &v) { return v.is_string(); });
      std::string cpu = cpuName ? cpuName->get<std::string>() : "?";
      return fail(SLIM_ERROR_TARGET,
                  std::string(directory) + " was compiled for CPU '" + cpu +
                      "' and needs CPU features this machine lacks: " + list +
                      " (recompile with slimc --target-cpu/--target-features)");
    }
  }

  std::string soPath = path("model.so");
  if (std::string err = regularFileError(soPath); !err.empty())
    return fail(SLIM_ERROR_IO, "cannot load " + soPath + ": " + err);
  // Never unloaded: the OpenMP threads of its kernels outlive a dlclose.
  m->library = dlopen(soPath.c_str(), RTLD_NOW | RTLD_LOCAL | RTLD_NODELETE);
  if (!m->library)
    return fail(SLIM_ERROR_IO, "cannot load " + soPath + ": " + dlerror());
  m->entry = reinterpret_cast<EntryFn>(dlsym(m->library, "slim_entry"));
  m->setThreads = reinterpret_cast<void (*)(int)>(
      dlsym(m->library, "slim_rt_set_num_threads"));
  if (!m->entry)
    return fail(SLIM_ERROR_FORMAT, soPath + " has no slim_entry");
  // model.json must describe this model.so (ModelFingerprint.h).
  {
    auto *compiled =
        static_cast<const char *>(dlsym(m->library, "slim_model_fingerprint"));
    std::string described =
        fingerprint(root["inputs"], root["outputs"], m->weightsArgument,
                    weightsBytes.value_or(-1));
    if (!compiled)
      return fail(SLIM_ERROR_FORMAT,
                  soPath + " has no interface fingerprint (compiled by an "
                           "older slimc, or not a Slim model): recompile it");
    if (std::string(compiled, strnlen(compiled, 17)) != described)
      return fail(SLIM_ERROR_FORMAT,
                  std::string(directory) +
                      ": model.json does not describe model.so "
                      "(interface fingerprint " +
                      described + " in model.json, " +
                      std::string(compiled, strnlen(compiled, 16)) +
                      " in model.so): the folder mixes files of different "
                      "compilations or was edited; compile it again");
  }
  m->run = reinterpret_cast<int32_t (*)(EntryFn, void **, SlimRtError *)>(
      dlsym(m->library, "slim_rt_run"));
  auto *messages =
      static_cast<const char *>(dlsym(m->library, "slim_check_messages"));
  auto *messagesSize = static_cast<const int64_t *>(
      dlsym(m->library, "slim_check_messages_size"));
  if (messages && messagesSize && *messagesSize > 0)
    m->checkMessages.assign(messages, *messagesSize);
  m->setObserver = reinterpret_cast<void (*)(slim_observer_fn, void *)>(
      dlsym(m->library, "slim_rt_set_observer"));
  if (!m->points.empty() && !m->setObserver)
    return fail(SLIM_ERROR_FORMAT,
                soPath + " has observation points but no slim_rt_set_observer");

  if (m->weightsArgument) {
    std::string weightsPath = path("model.weights");
    // O_NONBLOCK: a FIFO in its place must not block the open.
    int fd = open(weightsPath.c_str(), O_RDONLY | O_NONBLOCK | O_CLOEXEC);
    if (fd < 0)
      return fail(SLIM_ERROR_IO,
                  "cannot open " + weightsPath + ": " + std::strerror(errno));
    struct stat st;
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
      close(fd);
      return fail(SLIM_ERROR_IO,
                  "cannot open " + weightsPath +
                      ": is not a regular file (a FIFO, device or socket)");
    }
    size_t size = static_cast<size_t>(st.st_size);
    if (weightsBytes && static_cast<int64_t>(size) != *weightsBytes) {
      close(fd);
      return fail(SLIM_ERROR_IO, weightsPath + " is " + std::to_string(size) +
                                     " bytes, the model needs " +
                                     std::to_string(*weightsBytes) +
                                     " (truncated or from another build)");
    }
    if (size) {
      void *p = mmap(nullptr, size, PROT_READ, MAP_PRIVATE, fd, 0);
      if (p == MAP_FAILED) {
        close(fd);
        return fail(SLIM_ERROR_IO,
                    "cannot map " + weightsPath + ": " + std::strerror(errno));
      }
      m->weights = p;
      m->weightsSize = size;
    }
    close(fd);
  }
  *model = m.release();
  return SLIM_OK;
}

void slim_runtime_tune_allocator(void) {
  static bool tuned = [] {
    if (!std::getenv("SLIM_NO_MALLOPT")) {
      mallopt(M_MMAP_THRESHOLD, 1 << 30);
      mallopt(M_TRIM_THRESHOLD, 1 << 30);
    }
    return true;
  }();
  (void)tuned;
}

void slim_model_free(slim_model *model) { delete model; }

int32_t slim_model_num_inputs(const slim_model *model) {
  return model ? static_cast<int32_t>(model->inputs.size()) : 0;
}
int32_t slim_model_num_outputs(const slim_model *model) {
  return model ? static_cast<int32_t>(model->outputs.size()) : 0;
}
const slim_tensor_info *slim_model_input(const slim_model *model, int32_t i) {
  if (!model || i < 0 || i >= slim_model_num_inputs(model))
    return nullptr;
  return &model->inputs[i]->info;
}
const slim_tensor_info *slim_model_output(const slim_model *model, int32_t i) {
  if (!model || i < 0 || i >= slim_model_num_outputs(model))
    return nullptr;
  return &model->outputs[i]->info;
}

int32_t slim_model_num_observation_points(const slim_model *model) {
  return model ? static_cast<int32_t>(model->points.size()) : 0;
}

int64_t slim_model_observation_channels(const slim_model *model,
                                        int32_t point) {
  if (!model || point < 0 || static_cast<size_t>(point) >= model->points.size())
    return 0;
  return model->points[point].channels;
}

const char *slim_model_observation_layer(const slim_model *model, int32_t point,
                                         int32_t i) {
  if (!model || point < 0 || static_cast<size_t>(point) >= model->points.size())
    return nullptr;
  const auto &layers = model->points[point].layers;
  if (i < 0 || static_cast<size_t>(i) >= layers.size())
    return nullptr;
  return layers[i].c_str();
}

const char *slim_model_observation_weight_hash(const slim_model *model,
                                               int32_t point, int32_t i) {
  if (!slim_model_observation_layer(model, point, i))
    return nullptr;
  return model->points[point].weightHashes[i].c_str();
}

slim_status slim_model_set_observer(slim_model *model, slim_observer_fn fn,
                                    void *user) {
  if (!model)
    return fail(SLIM_ERROR_ARGUMENT, "slim_model_set_observer: null model");
  if (model->points.empty() || !model->setObserver)
    return fail(SLIM_ERROR_ARGUMENT, model->directory +
                                         " was not compiled for calibration "
                                         "(slimc --calibration)");
  model->setObserver(fn, user);
  return SLIM_OK;
}

slim_status slim_model_set_threads(slim_model *model, int32_t threads) {
  if (!model || threads < 1)
    return fail(SLIM_ERROR_ARGUMENT, "slim_model_set_threads: expected a "
                                     "model and a thread count >= 1");
  if (model->setThreads)
    model->setThreads(threads);
  return SLIM_OK;
}

void slim_tensor_release(slim_tensor *tensor) {
  if (!tensor)
    return;
  std::free(tensor->owner ? tensor->owner : tensor->data);
  tensor->data = nullptr;
  tensor->owner = nullptr;
  tensor->capacity = 0;
}

/// Copies a strided result into a dense row-major buffer.
static void copyStrided(char *dst, const char *src, const int64_t *sizes,
                        const int64_t *strides, int rank, size_t esize) {
  if (rank == 0) {
    std::memcpy(dst, src, esize);
    return;
  }
  int64_t inner = 1;
  for (int d = 1; d < rank; ++d)
    inner *= sizes[d];
  for (int64_t i = 0; i < sizes[0]; ++i)
    copyStrided(dst + i * inner * esize, src + i * strides[0] * esize,
                sizes + 1, strides + 1, rank - 1, esize);
}

/// The error of a run stopped by a failed check or allocation.
static slim_status failRun(const slim_model &model, const SlimRtError &error) {
  if (error.kind == SLIM_RT_ERROR_ALLOCATION)
    return fail(SLIM_ERROR_MEMORY, "the model could not allocate " +
                                       std::to_string(error.value0) + " bytes");
  std::string message;
  if (error.site >= 0) {
    // The site-th NUL-separated message.
    size_t begin = 0;
    for (int64_t k = 0; k < error.site && begin != std::string::npos; ++k) {
      begin = model.checkMessages.find('\0', begin);
      if (begin != std::string::npos)
        ++begin;
    }
    if (begin != std::string::npos && begin <= model.checkMessages.size())
      message = model.checkMessages.substr(
          begin, model.checkMessages.find('\0', begin) - begin);
  }
  if (message.empty())
    return fail(SLIM_ERROR_INPUT, "run-time check " +
                                      std::to_string(error.site) +
                                      " of the model failed (values " +
                                      std::to_string(error.value0) + ", " +
                                      std::to_string(error.value1) + ")");
  std::string text;
  for (size_t i = 0; i < message.size(); ++i) {
    if (message.compare(i, 3, "{0}") == 0 ||
        message.compare(i, 3, "{1}") == 0) {
      text +=
          std::to_string(message[i + 1] == '0' ? error.value0 : error.value1);
      i += 2;
      continue;
    }
    text.push_back(message[i]);
  }
  return fail(SLIM_ERROR_INPUT, text);
}

slim_status slim_model_run(slim_model *model, const slim_tensor *inputs,
                           int32_t numInputs, slim_tensor *outputs,
                           int32_t numOutputs) {
  if (!model)
    return fail(SLIM_ERROR_ARGUMENT, "slim_model_run: null model");
  if (numInputs != slim_model_num_inputs(model))
    return fail(SLIM_ERROR_ARGUMENT,
                "expected " + std::to_string(model->inputs.size()) +
                    " inputs, got " + std::to_string(numInputs));
  if (numOutputs != slim_model_num_outputs(model))
    return fail(SLIM_ERROR_ARGUMENT,
                "expected " + std::to_string(model->outputs.size()) +
                    " outputs, got " + std::to_string(numOutputs));
  if ((numInputs && !inputs) || (numOutputs && !outputs))
    return fail(SLIM_ERROR_ARGUMENT, "slim_model_run: null tensor array");

  // Check the inputs; symbolic dimensions with one name must agree.
  std::map<std::string, std::pair<int64_t, std::string>> symbols;
  std::vector<std::vector<int64_t>> descriptors;
  for (int32_t i = 0; i < numInputs; ++i) {
    const slim_tensor &t = inputs[i];
    const InfoStorage &info = *model->inputs[i];
    if (rawDtype(t.dtype) != info.info.dtype)
      return fail(SLIM_ERROR_TYPE, "input '" + info.name + "' must be " +
                                       slim_dtype_name(info.info.dtype) +
                                       ", got " + dtypeName(rawDtype(t.dtype)));
    if (t.rank != info.info.rank)
      return fail(SLIM_ERROR_TYPE, "input '" + info.name + "' must have rank " +
                                       std::to_string(info.info.rank) +
                                       ", got " + std::to_string(t.rank));
    for (int32_t d = 0; d < t.rank; ++d) {
      int64_t want = info.dims[d], have = t.dims[d];
      if (have < 0)
        return fail(SLIM_ERROR_SHAPE, "input '" + info.name + "' dimension " +
                                          std::to_string(d) + " is negative");
      if (want >= 0 && want != have)
        return fail(SLIM_ERROR_SHAPE, "input '" + info.name + "' dimension " +
                                          std::to_string(d) + " must be " +
                                          std::to_string(want) + ", got " +
                                          std::to_string(have));
      const std::string &sym = info.dimNames[d];
      if (want < 0 && !sym.empty()) {
        auto [it, inserted] = symbols.try_emplace(sym, have, info.name);
        if (!inserted && it->second.first != have)
          return fail(SLIM_ERROR_SHAPE, "dimension '" + sym + "' is " +
                                            std::to_string(it->second.first) +
                                            " in input '" + it->second.second +
                                            "' but " + std::to_string(have) +
                                            " in input '" + info.name + "'");
      }
    }
    // Dimensions come from the caller: their product is checked, so that
    // it cannot wrap around to a small size that passes the capacity check.
    std::optional<uint64_t> count = mlir::slim::elementCount(t.dims, t.rank);
    std::optional<uint64_t> checked =
        count ? mlir::slim::byteCount(*count, dtypeSize(rawDtype(t.dtype)))
              : std::nullopt;
    if (!checked)
      return fail(SLIM_ERROR_SHAPE,
                  "input '" + info.name +
                      "' has more elements than Slim accepts (the product "
                      "of its dimensions exceeds 2^48 elements or bytes)");
    size_t bytes = static_cast<size_t>(*checked);
    if (bytes && (!t.data || t.capacity < bytes))
      return fail(SLIM_ERROR_CAPACITY,
                  "input '" + info.name + "' needs " + std::to_string(bytes) +
                      " bytes, its buffer has " + std::to_string(t.capacity));
    std::vector<int64_t> desc;
    desc.push_back(reinterpret_cast<int64_t>(t.data));
    desc.push_back(reinterpret_cast<int64_t>(t.data));
    desc.push_back(0);
    for (int32_t d = 0; d < t.rank; ++d)
      desc.push_back(t.dims[d]);
    int64_t stride = 1;
    std::vector<int64_t> strides(t.rank);
    for (int32_t d = t.rank - 1; d >= 0; --d) {
      strides[d] = stride;
      stride *= t.dims[d];
    }
    desc.insert(desc.end(), strides.begin(), strides.end());
    descriptors.push_back(std::move(desc));
  }
  if (model->weightsArgument) {
    int64_t base = reinterpret_cast<int64_t>(model->weights);
    descriptors.push_back(
        {base, base, 0, static_cast<int64_t>(model->weightsSize), 1});
  }

  // Results: one descriptor per output, back to back.
  size_t words = 0;
  for (const auto &out : model->outputs)
    words += 3 + 2 * out->dims.size();
  std::vector<int64_t> results(words, 0);
  std::vector<void *> args;
  args.push_back(results.data());
  for (auto &d : descriptors)
    args.push_back(d.data());
  if (model->run) {
    SlimRtError error;
    if (model->run(model->entry, args.data(), &error))
      return failRun(*model, error);
  } else {
    model->entry(args.data());
  }

  // Hand out or copy into the caller's buffers, then free what the model
  // allocated and nobody took.
  slim_status status = SLIM_OK;
  std::set<int64_t> allocations, taken;
  size_t at = 0;
  for (int32_t i = 0; i < numOutputs; ++i) {
    const InfoStorage &info = *model->outputs[i];
    int rank = static_cast<int>(info.dims.size());
    const int64_t *desc = results.data() + at;
    at += 3 + 2 * rank;
    allocations.insert(desc[0]);
    if (status != SLIM_OK)
      continue;
    slim_tensor &out = outputs[i];
    size_t esize = slim_dtype_size(info.info.dtype);
    size_t numel = 1;
    for (int d = 0; d < rank; ++d)
      numel *= static_cast<size_t>(desc[3 + d]);
    size_t bytes = numel * esize;
    // Row-major strides (unit dims may have any stride).
    bool contiguous = true;
    int64_t expect = 1;
    for (int d = rank - 1; d >= 0; --d) {
      if (desc[3 + d] != 1 && desc[3 + rank + d] != expect)
        contiguous = false;
      expect *= desc[3 + d];
    }
    if (!out.data && contiguous && desc[0] && !taken.count(desc[0])) {
      // Zero copy: the caller takes the model's buffer.
      taken.insert(desc[0]);
      out.owner = reinterpret_cast<void *>(desc[0]);
      out.data = reinterpret_cast<char *>(desc[1]) + desc[2] * esize;
      out.capacity = bytes;
      out.dtype = info.info.dtype;
      out.rank = rank;
      for (int d = 0; d < rank; ++d)
        out.dims[d] = desc[3 + d];
      continue;
    }
    if (!out.data) {
      out.data = std::malloc(bytes ? bytes : 1);
      out.owner = nullptr;
      out.capacity = bytes;
    } else if (out.capacity < bytes) {
      status =
          fail(SLIM_ERROR_CAPACITY,
               "output '" + info.name + "' needs " + std::to_string(bytes) +
                   " bytes, its buffer has " + std::to_string(out.capacity));
      continue;
    }
    out.dtype = info.info.dtype;
    out.rank = rank;
    for (int d = 0; d < rank; ++d)
      out.dims[d] = desc[3 + d];
    const char *src = reinterpret_cast<const char *>(desc[1]) + desc[2] * esize;
    if (bytes)
      copyStrided(static_cast<char *>(out.data), src, desc + 3, desc + 3 + rank,
                  rank, esize);
  }
  for (int64_t p : allocations)
    if (!taken.count(p))
      std::free(reinterpret_cast<void *>(p));
  return status;
}

} // extern "C"
