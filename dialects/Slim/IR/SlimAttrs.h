//===- SlimAttrs.h - Slim tensor encodings ----------------------*- C++ -*-===//
//
// Part of the Slim project, under the Apache License v2.0 with LLVM Exceptions.
// SPDX-License-Identifier: Apache-2.0 WITH LLVM-exception
//
//===----------------------------------------------------------------------===//

#ifndef SLIM_DIALECTS_SLIM_IR_SLIMATTRS_H
#define SLIM_DIALECTS_SLIM_IR_SLIMATTRS_H

#include "mlir/IR/Attributes.h"
#include "mlir/IR/BuiltinAttributeInterfaces.h"
#include "mlir/IR/BuiltinAttributes.h"
#include "mlir/IR/BuiltinTypes.h"
#include "mlir/IR/Diagnostics.h"
#include "mlir/IR/TensorEncoding.h"
#include "mlir/IR/ValueRange.h"
#include "mlir/Support/LLVM.h"

#include "dialects/Slim/IR/SlimEnums.h.inc"

#define GET_ATTRDEF_CLASSES
#include "dialects/Slim/IR/SlimAttrs.h.inc"

namespace mlir::slim {

/// One storage tensor of a compressed tensor: its role and its type.
struct StorageComponent {
  StringRef name;
  RankedTensorType type;
};

/// The stages of any Slim encoding, normalized: a bare `#slim.quant` is a
/// composition with one quant stage, a bare `#slim.lowrank` has no stages and
/// `lowRank` set with `isResidual` false.
struct EncodingStages {
  SparseAttr sparse;
  QuantAttr quant;
  LowRankAttr lowRank;
  bool isResidual = false;
};

/// True if `type` is a ranked tensor whose encoding is a Slim encoding.
bool isCompressedTensor(Type type);

/// Returns the normalized stages of a Slim encoding attribute (null stages
/// for anything else).
EncodingStages getEncodingStages(Attribute encoding);

/// Returns the storage tensors of the compressed tensor `type` in the order
/// `slim.assemble` takes them. Fails, reporting through `emitError`, if the
/// encoding does not fit the shape or element type.
FailureOr<SmallVector<StorageComponent>>
getStorageComponents(RankedTensorType type,
                     function_ref<InFlightDiagnostic()> emitError);

/// The operands of a quant stage by role; null where the encoding has none.
struct QuantStorage {
  Value codes, scales, zeroPoints, codebook;
};

/// The storage of a compressed tensor type by role: what every reader of
/// `slim.assemble` operands asks instead of counting positions, so that a
/// composed encoding (sparse + quant + low-rank residual) is read the same
/// way everywhere. Roles, in getStorageComponents' order: `codes`,
/// `scales`, `zero_points`, `codebook` (a quant stage) or `values`;
/// `indices` or `row_ptr`, `col_idx` (a sparse stage); `u`, `v` (low rank).
class StorageLayout {
public:
  /// The layout of `type`; fails, reporting through `emitError`, where
  /// getStorageComponents does.
  static FailureOr<StorageLayout>
  get(RankedTensorType type, function_ref<InFlightDiagnostic()> emitError);

  ArrayRef<StorageComponent> getComponents() const { return components; }
  /// The position of the component `role`, if the encoding has one.
  std::optional<unsigned> find(StringRef role) const;
  /// The operand for `role` among `storage` (in layout order); null where
  /// the encoding has no such component.
  Value lookup(ValueRange storage, StringRef role) const;
  /// The operands of the quant stage (all null without one).
  QuantStorage getQuantStorage(ValueRange storage) const;

private:
  SmallVector<StorageComponent> components;
};

/// Shape of the values a sparse stage keeps for a tensor of `shape`.
SmallVector<int64_t> getSparseValuesShape(SparseAttr sparse,
                                          ArrayRef<int64_t> shape);

} // namespace mlir::slim

#endif // SLIM_DIALECTS_SLIM_IR_SLIMATTRS_H
