//===- OnnxExport.h - Writing compressed models as ONNX ---------*- C++ -*-===//
//
// Part of the Slim project, under the Apache License v2.0 with LLVM Exceptions.
// SPDX-License-Identifier: Apache-2.0 WITH LLVM-exception
//
//===----------------------------------------------------------------------===//
//
// Writes the ONNX model a module was imported from with every weight that
// Slim's compression passes quantized replaced by its compressed form, so
// that onnxruntime (and any ONNX consumer) runs Slim's results:
//
// * a weight read only as the right operand of MatMul nodes becomes
//   `com.microsoft.MatMulNBits` (4 or 8 bits; 2- and 3-bit codes are
//   stored in 4 bits, 5- to 7-bit codes in 8, with the same values);
// * any other quantized weight (a tied embedding table read by a Gather and
//   a transposed LM head) becomes a `DequantizeLinear` node producing the
//   initializer's name (per-axis, or blocked at opset 21);
// * AWQ/SmoothQuant activation scales become a `Mul` before the product,
//   and int8 per-token activations (W8A8) the same rounding written as
//   ONNX arithmetic (ReduceMax, Div, Round, Mul).
//
// Everything else in the graph is copied unchanged. Formats ONNX cannot
// express (sparse, low-rank, code books) are refused with the layer's name.
//
//===----------------------------------------------------------------------===//

#ifndef SLIM_LIB_EXPORT_ONNXEXPORT_H
#define SLIM_LIB_EXPORT_ONNXEXPORT_H

#include "mlir/IR/BuiltinOps.h"

#include <cstdint>
#include <string>

namespace mlir::slim {

struct OnnxExportOptions {
  enum class ExternalData {
    /// External when the source model used external data, or the tensors
    /// exceed 1 GiB.
    Auto,
    Always,
    Never,
  };
  ExternalData externalData = ExternalData::Auto;
};

struct OnnxExportSummary {
  int64_t matMulNBits = 0;      ///< MatMul nodes replaced by MatMulNBits
  int64_t dequantizeLinear = 0; ///< weights written as DequantizeLinear
  int64_t widened = 0;          ///< weights stored in wider codes than Slim's
  int64_t activationScales = 0; ///< Mul nodes of AWQ/SmoothQuant scales
  int64_t int8Activations = 0;  ///< products with int8 per-token activations
  int64_t opsetRaisedFrom = 0;  ///< the source's opset when raised to 21
  uint64_t modelBytes = 0, dataBytes = 0;
  std::string dataPath; ///< the external data file, if one was written
};

/// Writes `sourcePath` (the ONNX model `module` was imported from, before
/// compression) to `outPath` with the compressed weights of `module`.
/// Errors are reported as diagnostics on `module`'s context; nothing is left
/// behind on failure.
FailureOr<OnnxExportSummary>
exportCompressedOnnx(ModuleOp module, StringRef sourcePath, StringRef outPath,
                     const OnnxExportOptions &options);

} // namespace mlir::slim

#endif // SLIM_LIB_EXPORT_ONNXEXPORT_H
