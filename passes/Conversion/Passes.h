//===- Passes.h - Slim conversion passes ------------------------*- C++ -*-===//
//
// Part of the Slim project, under the Apache License v2.0 with LLVM Exceptions.
// SPDX-License-Identifier: Apache-2.0 WITH LLVM-exception
//
//===----------------------------------------------------------------------===//

#ifndef SLIM_PASSES_CONVERSION_PASSES_H
#define SLIM_PASSES_CONVERSION_PASSES_H

#include "dialects/Slim/IR/SlimAttrs.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Linalg/IR/Linalg.h"
#include "mlir/Dialect/Math/IR/Math.h"
#include "mlir/Dialect/SCF/IR/SCF.h"
#include "mlir/Dialect/Tensor/IR/Tensor.h"
#include "mlir/IR/BuiltinOps.h"
#include "mlir/Pass/Pass.h"
#include "mlir/Transforms/DialectConversion.h"

namespace mlir::slim {

#define GEN_PASS_DECL
#include "passes/Conversion/Passes.h.inc"

/// Converts compressed tensor types to the list of their storage tensors.
class SlimStorageTypeConverter : public TypeConverter {
public:
  SlimStorageTypeConverter();
};

/// The value at `indices` of a `#slim.quant` tensor of element type
/// `elementType` decoded from its storage tensors (StorageLayout's
/// getQuantStorage), as the reference lowering decodes every element: for
/// rewrites that read single elements of a quantized tensor in place (a
/// gather from a quantized embedding table).
Value decodeQuantElement(OpBuilder &b, Location loc, QuantAttr q,
                         const QuantStorage &storage, ArrayRef<Value> indices,
                         Type elementType);

/// The code table of a code-book `#slim.quant` format as an f32 tensor of
/// 2^bits values: lutN's code book (`storage.codebook`), or a constant for
/// nf4 / e4m3 / e5m2 / e2m1; null for integer codes.
Value buildCodeTable(OpBuilder &b, Location loc, QuantAttr q,
                     const QuantStorage &storage);

/// Patterns that expand every Slim op into upstream ops on dense tensors.
void populateSlimToLinalgConversionPatterns(const TypeConverter &converter,
                                            RewritePatternSet &patterns);

#define GEN_PASS_REGISTRATION
#include "passes/Conversion/Passes.h.inc"

} // namespace mlir::slim

#endif // SLIM_PASSES_CONVERSION_PASSES_H
