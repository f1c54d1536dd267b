//===- ModelFolderFuzzer.cpp - Fuzz target: compiled model folders --------===//
//
// Part of the Slim project, under the Apache License v2.0 with LLVM Exceptions.
// SPDX-License-Identifier: Apache-2.0 WITH LLVM-exception
//
//===----------------------------------------------------------------------===//
//
// Feeds arbitrary bytes to slim_model_load as the model.json of a compiled
// model folder whose model.so and model.weights are real: the folder named
// by SLIM_FUZZ_MODEL, copied once into a private directory. A description
// is refused with a status and a message, or it loads; a model that loads
// is run once on zero inputs (dynamic dimensions bound to 2), which must
// end in a status, never a crash.
//
//===----------------------------------------------------------------------===//

#include "slim/Runtime.h"
#include "tools/fuzzers/FuzzTarget.h"

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

static std::string folder;

extern "C" int LLVMFuzzerInitialize(int *, char ***) {
  const char *model = std::getenv("SLIM_FUZZ_MODEL");
  if (!model) {
    std::fprintf(stderr, "model-folder-fuzzer: set SLIM_FUZZ_MODEL to a "
                         "folder written by slimc\n");
    std::exit(2);
  }
  char pattern[] = "/tmp/slim-fuzz-model-XXXXXX";
  if (!mkdtemp(pattern)) {
    std::perror("model-folder-fuzzer: mkdtemp");
    std::exit(2);
  }
  folder = pattern;
  std::error_code ec;
  for (const char *file : {"model.so", "model.weights"}) {
    std::filesystem::path from = std::filesystem::path(model) / file;
    if (std::filesystem::exists(from, ec))
      std::filesystem::copy_file(from, std::filesystem::path(folder) / file,
                                 ec);
    if (ec) {
      std::fprintf(stderr, "model-folder-fuzzer: cannot copy %s: %s\n",
                   from.c_str(), ec.message().c_str());
      std::exit(2);
    }
  }
  std::atexit([] {
    std::error_code ignored;
    std::filesystem::remove_all(folder, ignored);
  });
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  {
    std::ofstream out(folder + "/model.json",
                      std::ios::binary | std::ios::trunc);
    out.write(reinterpret_cast<const char *>(data),
              static_cast<std::streamsize>(size));
  }
  slim_model *model = nullptr;
  if (slim_model_load(folder.c_str(), &model) != SLIM_OK) {
    if (model || !*slim_last_error())
      __builtin_trap(); // a refusal leaves no model and says why
    return 0;
  }
  ++slim_fuzz::accepted;
  int32_t numInputs = slim_model_num_inputs(model);
  int32_t numOutputs = slim_model_num_outputs(model);
  std::vector<slim_tensor> inputs(numInputs), outputs(numOutputs);
  std::vector<std::vector<char>> storage(numInputs);
  for (int32_t i = 0; i < numInputs; ++i) {
    const slim_tensor_info *info = slim_model_input(model, i);
    slim_tensor &t = inputs[i];
    t.dtype = info->dtype;
    t.rank = info->rank;
    size_t count = 1;
    for (int32_t d = 0; d < info->rank; ++d) {
      t.dims[d] = info->dims[d] < 0 ? 2 : info->dims[d];
      count *= static_cast<size_t>(t.dims[d]);
    }
    if (count > (size_t(1) << 26))
      count = 0; // a description this large would not pass the fingerprint
    storage[i].assign(count * slim_dtype_size(info->dtype), 0);
    t.data = storage[i].data();
    t.capacity = storage[i].size();
  }
  slim_status status = slim_model_run(model, inputs.data(), numInputs,
                                      outputs.data(), numOutputs);
  if (status == SLIM_OK)
    for (slim_tensor &t : outputs)
      slim_tensor_release(&t);
  slim_model_free(model);
  return 0;
}
