//===- ImportContext.h - Shared state of the ONNX importer -----*- C++ -*-===//
//
// Part of the Slim project, under the Apache License v2.0 with LLVM Exceptions.
// SPDX-License-Identifier: Apache-2.0 WITH LLVM-exception
//
//===----------------------------------------------------------------------===//
//
// Internal to lib/Import/Onnx: the value table, the per-node view handed to
// the op-family files (OpsElementwise.cpp, OpsShape.cpp, ...) and the
// builders they share (broadcasting elementwise ops, dimension values,
// small-integer shape arithmetic).
//
//===----------------------------------------------------------------------===//

#ifndef SLIM_LIB_IMPORT_ONNX_IMPORTCONTEXT_H
#define SLIM_LIB_IMPORT_ONNX_IMPORTCONTEXT_H

#include "lib/Import/Onnx/OnnxImporter.h"

#include "mlir/IR/Builders.h"
#include "mlir/IR/BuiltinTypes.h"
#include "mlir/IR/Diagnostics.h"
#include "llvm/ADT/StringMap.h"

#include <functional>
#include <memory>
#include <optional>

namespace onnx {
class AttributeProto;
class ModelProto;
class NodeProto;
class TensorProto;
} // namespace onnx

namespace mlir::slim::onnx_import {

class ModelFile;
class GraphImporter;

/// ONNX element types (TensorProto.DataType) used by the importer.
enum DType : int32_t {
  kUndefined = 0,
  kFloat = 1,
  kUInt8 = 2,
  kInt8 = 3,
  kUInt16 = 4,
  kInt16 = 5,
  kInt32 = 6,
  kInt64 = 7,
  kString = 8,
  kBool = 9,
  kFloat16 = 10,
  kDouble = 11,
  kUInt32 = 12,
  kUInt64 = 13,
  kBFloat16 = 16,
  kUInt4 = 21,
  kInt4 = 22,
};

bool isFloatDType(int32_t t);
bool isUnsignedDType(int32_t t);
bool isIntegerDType(int32_t t); // signed or unsigned, not bool
/// MLIR element type of an ONNX data type, or null if unsupported.
Type getElementType(MLIRContext *ctx, int32_t dtype);
/// Name of an ONNX data type for diagnostics ("float", "int64", ...).
StringRef getDTypeName(int32_t dtype);

/// One element of a small integer tensor known at import time: either a
/// constant or an i64 scalar computed at run time (from dynamic dimensions).
struct IntElem {
  int64_t value = 0;
  Value dyn;
  bool isConst() const { return !dyn; }
  static IntElem of(int64_t v) { return IntElem{v, Value()}; }
};

/// An ONNX value as the importer sees it.
struct TensorValue {
  Value value;
  int32_t dtype = kUndefined;
  /// For integer tensors of rank <= 1 with a few elements: the elements, as
  /// constants or run-time scalars. This is what folds shape subgraphs.
  std::optional<SmallVector<IntElem>> ints;
  /// For constants: the value (dense or dense_resource).
  ElementsAttr constant;
  /// For int4/uint4 constants: `value` holds the ONNX bytes as i8, two codes
  /// per byte along the innermost dimension; `logicalShape` is the int4
  /// tensor's shape. Only DequantizeLinear consumes these.
  bool packed4 = false;
  SmallVector<int64_t> logicalShape;
  /// For the result of DequantizeLinear of a constant weight: the
  /// `#slim.quant` tensor it decodes, so a consuming MatMul can use it as is.
  Value compressed;

  RankedTensorType getType() const {
    return cast<RankedTensorType>(value.getType());
  }
  bool isConstant() const { return static_cast<bool>(constant); }
};

/// The view of one ONNX node that an op builder works with.
class NodeImporter {
public:
  NodeImporter(GraphImporter &graph, const onnx::NodeProto &node, int64_t opset,
               OpBuilder &builder, Location loc);

  const onnx::NodeProto &getNode() const { return node; }
  StringRef getOpType() const;
  StringRef getName() const;
  int64_t getOpset() const { return opset; }
  OpBuilder &b;
  Location loc;
  MLIRContext *getContext() { return b.getContext(); }

  /// Inputs: an empty name is an omitted optional input.
  unsigned getNumInputs() const;
  bool hasInput(unsigned i) const;
  /// Fails unless every input the node lists is given (an empty name marks
  /// an omitted optional input, which variadic operators do not have).
  LogicalResult expectNoMissingInputs();
  const TensorValue &input(unsigned i) const;
  Value operand(unsigned i) const { return input(i).value; }

  /// Attributes.
  const onnx::AttributeProto *getAttr(StringRef name) const;
  int64_t getInt(StringRef name, int64_t dflt) const;
  float getFloat(StringRef name, float dflt) const;
  std::string getString(StringRef name, StringRef dflt) const;
  std::optional<SmallVector<int64_t>> getInts(StringRef name) const;

  /// Outputs: an empty name is an output the graph does not use.
  unsigned getNumOutputs() const;
  bool wantsOutput(unsigned i) const;
  void setOutput(unsigned i, TensorValue value);
  void setOutput(unsigned i, Value value, int32_t dtype);

  /// An error naming the node; the caller returns failure().
  InFlightDiagnostic emitError();
  /// "<OpType> node '<name>'", the prefix of run-time check messages.
  std::string describe() const;

  /// Checks the number of inputs; reports and fails otherwise.
  LogicalResult expectInputs(unsigned min, unsigned max);

  /// The known elements of integer input `i` (constant or symbolic), if any.
  std::optional<SmallVector<IntElem>> getIntElements(unsigned i) const;
  /// The constant elements of integer input `i`, if all are constants.
  std::optional<SmallVector<int64_t>> getConstInts(unsigned i) const;
  /// The constant value of a floating-point scalar (or one-element) input.
  std::optional<double> getConstFloat(unsigned i) const;

  GraphImporter &graph;

  /// The first attribute read with a getter of another type ("attribute
  /// 'axis' is a float, expected an int"); the importer fails the node
  /// with it after its builder ran. Empty if none.
  const std::string &getAttrError() const { return attrError; }

private:
  /// The attribute `name` if it has `type` (an AttributeProto type code;
  /// also accepted: no type code but the matching field set, as files from
  /// before IR version 3 have it); records the mismatch otherwise.
  const onnx::AttributeProto *getTyped(StringRef name, int type) const;

  const onnx::NodeProto &node;
  int64_t opset;
  mutable std::string attrError;
};

//===----------------------------------------------------------------------===//
// Shared builders
//===----------------------------------------------------------------------===//

/// The size of dimension `d` of `tensor` as an index value.
Value getDimSize(OpBuilder &b, Location loc, Value tensor, int64_t d);
/// Dynamic sizes (index values) for a tensor of `shape`, taking each dynamic
/// dimension `d` from `getSize(d)`.
SmallVector<Value> getDynamicSizes(ArrayRef<int64_t> shape,
                                   function_ref<Value(int64_t)> getSize);
/// `tensor.empty` of `shape` and `elementType`.
Value createEmpty(OpBuilder &b, Location loc, ArrayRef<int64_t> shape,
                  Type elementType, ValueRange dynSizes);
/// A tensor of `shape` filled with `scalar`.
Value createFilled(OpBuilder &b, Location loc, ArrayRef<int64_t> shape,
                   Value scalar, ValueRange dynSizes);
/// A scalar constant of `type` (float or integer) with value `v`.
Value createScalar(OpBuilder &b, Location loc, Type type, double v);

using ElementwiseBody =
    function_ref<Value(OpBuilder &, Location, ValueRange scalars)>;

/// Numpy-broadcasting elementwise op over `operands` producing elements of
/// `resultType`. Dynamic dimensions are assumed not to be 1 where another
/// operand has a different size (the convention of ONNX exporters).
FailureOr<Value> buildElementwise(NodeImporter &n, ArrayRef<Value> operands,
                                  Type resultType, ElementwiseBody body);

/// Broadcasts `value` to `shape` (dynamic sizes from `dynSizes`).
Value broadcastTo(OpBuilder &b, Location loc, Value value,
                  ArrayRef<int64_t> shape, ValueRange dynSizes);

/// Converts a scalar between ONNX types (ONNX Cast semantics).
Value castScalar(OpBuilder &b, Location loc, Value v, int32_t from, int32_t to);

/// Converts every element of `tensor` from ONNX type `from` to `to`.
Value castTensor(OpBuilder &b, Location loc, Value tensor, int32_t from,
                 int32_t to);

/// A rank-1 i64 tensor holding `elems`, with `ints` set.
TensorValue makeIntTensor(OpBuilder &b, Location loc, ArrayRef<IntElem> elems,
                          bool scalar = false);

/// Converts an IntElem to an index value / i64 value.
Value toIndex(OpBuilder &b, Location loc, const IntElem &e);
Value toI64(OpBuilder &b, Location loc, const IntElem &e);
/// The dimension size as an IntElem (constant when static).
IntElem getDimElem(OpBuilder &b, Location loc, Value tensor, int64_t d);

/// Reshapes `tensor` to drop the dimensions whose i1 flag in `dropped` (one
/// per dimension) is set at run time; `outRank` of them remain. The kept
/// sizes are selected at run time.
Value dropDimsAtRunTime(OpBuilder &b, Location loc, Value tensor,
                        ArrayRef<Value> dropped, int64_t outRank);

/// Run-time checks (`slim.assert`, a run stopped with SLIM_ERROR_INPUT).
/// Every element of the integer tensor `indices` lies in [-size, size):
/// `what` names them in the message ("index", "position").
void emitIndexRangeCheck(NodeImporter &n, Value indices, Value size,
                         StringRef what);
/// Dimension `da` of `a` equals dimension `db` of `b` (nothing is emitted
/// when both are static); `what` says what needs them equal.
void emitDimsEqualCheck(NodeImporter &n, Value a, int64_t da, Value b,
                        int64_t db, StringRef what);
/// `ok` (i1) holds; `message` follows the node's description, its `{0}`,
/// `{1}` replaced by `values` (integers or index, at most two).
void emitCheck(NodeImporter &n, Value ok, StringRef message,
               ValueRange values = {});
/// The index values `x` and `y` are equal.
void emitEqualCheck(NodeImporter &n, Value x, Value y, StringRef what);

/// Normalizes a possibly negative axis; reports through `n` when out of range.
FailureOr<int64_t> normalizeAxis(NodeImporter &n, int64_t axis, int64_t rank);

/// The product of an activation [..., K] by a 2-D weight: a `slim.matmul`
/// when the weight is compressed, else collapse + `linalg.matmul` + expand.
/// With `transposed`, the weight is [N, K].
FailureOr<Value> buildLinear(NodeImporter &n, Value x, const TensorValue &w,
                             bool transposed);

/// Registration of the op-family builders.
using OpBuilderFn = std::function<LogicalResult(NodeImporter &)>;
struct OpRegistry {
  /// Key: "domain|OpType" with domain "" for the default domain.
  llvm::StringMap<OpBuilderFn> builders;
  llvm::StringMap<int64_t> minOpsets;
  /// `minOpset`: the oldest opset of the domain whose semantics the builder
  /// implements (ops whose semantics changed incompatibly before it are
  /// rejected for older models). Default: 7 for the default domain (numpy
  /// broadcasting), 1 for others.
  void add(StringRef domain, StringRef opType, OpBuilderFn fn,
           int64_t minOpset = -1);
  int64_t getMinOpset(StringRef domain, StringRef opType) const;
  const OpBuilderFn *lookup(StringRef domain, StringRef opType) const;
};
void registerElementwiseOps(OpRegistry &registry);
void registerShapeOps(OpRegistry &registry);
void registerLinearOps(OpRegistry &registry);
void registerNormalizationOps(OpRegistry &registry);
void registerQuantizedOps(OpRegistry &registry);

} // namespace mlir::slim::onnx_import

#endif // SLIM_LIB_IMPORT_ONNX_IMPORTCONTEXT_H
