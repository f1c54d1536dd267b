//===- TensorFileFuzzer.cpp - Fuzz target: .pb tensor files ---------------===//
//
// Part of the Slim project, under the Apache License v2.0 with LLVM Exceptions.
// SPDX-License-Identifier: Apache-2.0 WITH LLVM-exception
//
//===----------------------------------------------------------------------===//
//
// Feeds arbitrary bytes to the reader of ONNX TensorProto files (slim-run
// --test-data's input_N.pb). A file is refused with a message, or it decodes
// to dims whose element count matches the bytes (checked here), every byte
// of which is read.
//
//===----------------------------------------------------------------------===//

#include "lib/Import/Onnx/ImportContext.h"
#include "lib/Import/Onnx/ModelLoader.h"
#include "lib/Support/Sizes.h"
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
  // The reader's promise: dims whose element count the bytes hold exactly
  // (4-bit types two per byte).
  std::optional<uint64_t> elements =
      mlir::slim::elementCount(tensor.dims.data(), tensor.dims.size());
  if (!elements)
    __builtin_trap();
  bool int4 = tensor.dtype == kInt4 || tensor.dtype == kUInt4;
  uint64_t expected = int4
                          ? (*elements + 1) / 2
                          : *elements * ModelFile::getElementSize(tensor.dtype);
  if (expected != tensor.bytes.size())
    __builtin_trap();
  unsigned sum = 0;
  for (char c : tensor.bytes)
    sum += static_cast<unsigned char>(c);
  volatile unsigned sink = sum;
  (void)sink;
  return 0;
}
