//===- GraphImporter.h - ONNX graph to MLIR ---------------------*- C++ -*-===//
//
// Part of the Slim project, under the Apache License v2.0 with LLVM Exceptions.
// SPDX-License-Identifier: Apache-2.0 WITH LLVM-exception
//
//===----------------------------------------------------------------------===//

#ifndef SLIM_LIB_IMPORT_ONNX_GRAPHIMPORTER_H
#define SLIM_LIB_IMPORT_ONNX_GRAPHIMPORTER_H

#include "lib/Import/Onnx/ImportContext.h"

#include "llvm/ADT/StringSet.h"

namespace onnx {
class TypeProto;
} // namespace onnx

namespace mlir::slim::onnx_import {

class GraphImporter {
public:
  GraphImporter(MLIRContext *ctx, std::shared_ptr<ModelFile> file,
                const OnnxImportOptions &options);
  ~GraphImporter();

  FailureOr<OwningOpRef<ModuleOp>> run();

  const TensorValue &getValue(StringRef name) const;
  void defineValue(StringRef name, TensorValue value);
  ModelFile &getFile() { return *file; }
  const OnnxImportOptions &getOptions() const { return options; }

  /// Imports a TensorProto (initializer or Constant attribute) as a constant.
  FailureOr<TensorValue>
  importConstant(const onnx::TensorProto &tensor, OpBuilder &b, Location loc,
                 function_ref<InFlightDiagnostic()> emitError);

private:
  LogicalResult resolveOpsets();
  FailureOr<RankedTensorType> convertType(const onnx::TypeProto &type,
                                          const Twine &what);
  FailureOr<SmallVector<const onnx::NodeProto *>>
  sortNodes(const llvm::StringSet<> &available);
  Location getNodeLoc(const onnx::NodeProto &node);

  MLIRContext *ctx;
  std::shared_ptr<ModelFile> file;
  const OnnxImportOptions &options;
  llvm::StringMap<TensorValue> values;
  llvm::StringMap<int64_t> opsets;
  llvm::StringSet<> usedBindings;
};

} // namespace mlir::slim::onnx_import

#endif // SLIM_LIB_IMPORT_ONNX_GRAPHIMPORTER_H
