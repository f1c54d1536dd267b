//===- ModelLoader.h - Reading ONNX files and tensor data -------*- C++ -*-===//
//
// Part of the Slim project, under the Apache License v2.0 with LLVM Exceptions.
// SPDX-License-Identifier: Apache-2.0 WITH LLVM-exception
//
//===----------------------------------------------------------------------===//

#ifndef SLIM_LIB_IMPORT_ONNX_MODELLOADER_H
#define SLIM_LIB_IMPORT_ONNX_MODELLOADER_H

#include "mlir/IR/Diagnostics.h"
#include "mlir/IR/MLIRContext.h"
#include "llvm/ADT/StringMap.h"
#include "llvm/Support/MemoryBuffer.h"

#include <memory>
#include <string>
#include <vector>

namespace onnx {
class ModelProto;
class TensorProto;
} // namespace onnx

namespace mlir::slim::onnx_import {

/// An ONNX model file and the external-data files it references, which are
/// memory-mapped on first use and stay mapped while any tensor data handed
/// out from them is alive.
class ModelFile {
public:
  /// Parses `path`. Reports truncated or corrupt files and files that are
  /// not ONNX models.
  static FailureOr<std::shared_ptr<ModelFile>> load(MLIRContext *ctx,
                                                    StringRef path);
  /// Parses an in-memory model; `path` names it in diagnostics and locates
  /// external data.
  static FailureOr<std::shared_ptr<ModelFile>>
  load(MLIRContext *ctx, StringRef path,
       std::unique_ptr<llvm::MemoryBuffer> buffer);

  const onnx::ModelProto &getModel() const { return *model; }
  StringRef getPath() const { return path; }
  Location getLoc() const { return loc; }
  InFlightDiagnostic emitError() const;

  /// The bytes of `tensor` in little-endian native layout, without copying
  /// raw or external data. `keepAlive` is set to an owner of the bytes.
  FailureOr<ArrayRef<char>>
  getTensorBytes(const onnx::TensorProto &tensor,
                 std::shared_ptr<const void> &keepAlive,
                 function_ref<InFlightDiagnostic()> emitError);

  /// Size in bytes of one element of an ONNX data type (0 if unsupported).
  static size_t getElementSize(int32_t dtype);

private:
  friend std::string readInlineTensor(const onnx::TensorProto &,
                                      std::vector<char> &);
  ModelFile() = default;
  std::string path;
  std::string directory;
  /// Set by load (a default-constructed UnknownLoc is a null attribute).
  LocationAttr loc;
  std::shared_ptr<onnx::ModelProto> model;
  llvm::StringMap<std::shared_ptr<llvm::MemoryBuffer>> externalFiles;
};

/// Decodes a TensorProto whose data is inline (raw_data or the typed
/// fields) into little-endian bytes. Returns an error message, or "" on
/// success. Used for test data files (input_N.pb, output_N.pb).
std::string readInlineTensor(const onnx::TensorProto &tensor,
                             std::vector<char> &bytes);

/// A tensor read from a serialized TensorProto (an input_N.pb file).
struct DecodedTensor {
  int32_t dtype = 0;
  std::vector<int64_t> dims;
  std::vector<char> bytes;
};

/// Parses `data`, the bytes of a TensorProto file, into `out`: its dims are
/// non-negative and its bytes hold exactly their product of elements.
/// Returns an error message (not naming the file), or "" on success.
std::string decodeTensorFile(StringRef data, DecodedTensor &out);

} // namespace mlir::slim::onnx_import

#endif // SLIM_LIB_IMPORT_ONNX_MODELLOADER_H
