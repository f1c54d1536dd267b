//===- FuzzerMain.cpp - Runs a fuzz target over files, without libFuzzer --===//
//
// Part of the Slim project, under the Apache License v2.0 with LLVM Exceptions.
// SPDX-License-Identifier: Apache-2.0 WITH LLVM-exception
//
//===----------------------------------------------------------------------===//
//
// The main of a fuzz target built without libFuzzer (the default build, any
// compiler): `<target> FILE|DIR...` feeds each file (directories: every file
// below them, in name order) to LLVMFuzzerTestOneInput once, as libFuzzer
// does when given files. The test suite runs every target over its seed
// corpus and crash regressions this way; a crash or sanitizer report ends the
// process, so the closing line "N inputs, M accepted, 0 crashes" only appears
// when all inputs passed. Arguments starting with '-' (libFuzzer flags) are
// ignored.
//
//===----------------------------------------------------------------------===//

#include "tools/fuzzers/FuzzTarget.h"

#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>
#include <system_error>
#include <vector>

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
extern "C" __attribute__((weak)) int LLVMFuzzerInitialize(int *argc,
                                                          char ***argv);

int main(int argc, char **argv) {
  if (LLVMFuzzerInitialize)
    LLVMFuzzerInitialize(&argc, &argv);
  std::vector<std::string> files;
  for (int i = 1; i < argc; ++i) {
    std::string arg = argv[i];
    if (arg.empty() || arg[0] == '-')
      continue;
    std::error_code ec;
    if (std::filesystem::is_directory(arg, ec)) {
      std::vector<std::string> found;
      for (auto it = std::filesystem::recursive_directory_iterator(arg, ec);
           !ec && it != std::filesystem::recursive_directory_iterator();
           it.increment(ec))
        if (it->is_regular_file(ec))
          found.push_back(it->path().string());
      std::sort(found.begin(), found.end());
      files.insert(files.end(), found.begin(), found.end());
    } else if (std::filesystem::is_regular_file(arg, ec)) {
      files.push_back(arg);
    } else {
      std::fprintf(stderr, "%s: no such file or directory: %s\n", argv[0],
                   arg.c_str());
      return 2;
    }
  }
  for (const std::string &file : files) {
    std::ifstream in(file, std::ios::binary);
    std::vector<char> bytes((std::istreambuf_iterator<char>(in)),
                            std::istreambuf_iterator<char>());
    if (!in.eof() && in.fail()) {
      std::fprintf(stderr, "%s: cannot read %s\n", argv[0], file.c_str());
      return 2;
    }
    // A heap copy of exactly the input's size, as libFuzzer passes it, so
    // that reads past the end are caught by the sanitizers.
    std::vector<uint8_t> copy(bytes.begin(), bytes.end());
    LLVMFuzzerTestOneInput(copy.data(), copy.size());
  }
  std::printf("%s: %zu inputs, %zu accepted, 0 crashes\n",
              std::filesystem::path(argv[0]).filename().c_str(), files.size(),
              slim_fuzz::accepted);
  return 0;
}
