//===- SlimOps.cpp - Slim operations --------------------------------------===//
//
// Part of the Slim project, under the Apache License v2.0 with LLVM Exceptions.
// SPDX-License-Identifier: Apache-2.0 WITH LLVM-exception
//
//===----------------------------------------------------------------------===//

#include "dialects/Slim/IR/SlimOps.h"

#include "mlir/IR/Builders.h"
#include "mlir/IR/Matchers.h"
#include "mlir/IR/OpImplementation.h"
#include "mlir/IR/PatternMatch.h"
#include "mlir/IR/TypeUtilities.h"

using namespace mlir;
using namespace mlir::slim;

#define GET_OP_CLASSES
#include "dialects/Slim/IR/SlimOps.cpp.inc"

/// Checks `types` (the storage operands or results of `op`) against the
/// storage the encoding of `compressed` requires. `what` is "operand" or
/// "result".
static LogicalResult verifyStorage(Operation *op, RankedTensorType compressed,
                                   TypeRange types, StringRef what) {
  FailureOr<SmallVector<StorageComponent>> expected =
      getStorageComponents(compressed, [&] { return op->emitOpError(); });
  if (failed(expected))
    return failure();
  if (expected->size() != types.size())
    return op->emitOpError("expected ")
           << expected->size() << " storage " << what << "s for " << compressed
           << ", got " << types.size();
  for (auto [i, comp, actual] : llvm::enumerate(*expected, types)) {
    auto actualTensor = cast<RankedTensorType>(actual);
    if (actualTensor.getElementType() != comp.type.getElementType() ||
        failed(verifyCompatibleShape(actualTensor, comp.type)))
      return op->emitOpError("expected ")
             << what << " #" << i << " ('" << comp.name << "') of type "
             << comp.type << ", got " << actual;
  }
  return success();
}

LogicalResult AssembleOp::verify() {
  return verifyStorage(*this, getResult().getType(), getStorage().getTypes(),
                       "operand");
}

LogicalResult DisassembleOp::verify() {
  return verifyStorage(*this, getTensor().getType(), getStorage().getTypes(),
                       "result");
}

LogicalResult DisassembleOp::fold(FoldAdaptor,
                                  SmallVectorImpl<OpFoldResult> &results) {
  auto assemble = getTensor().getDefiningOp<AssembleOp>();
  if (!assemble)
    return failure();
  for (auto [value, result] : llvm::zip(assemble.getStorage(), getStorage())) {
    if (value.getType() != result.getType())
      return failure();
  }
  for (Value v : assemble.getStorage())
    results.push_back(v);
  return success();
}

LogicalResult DequantizeOp::verify() {
  RankedTensorType in = getInput().getType();
  RankedTensorType out = getResult().getType();
  if (in.getShape() != out.getShape() ||
      in.getElementType() != out.getElementType())
    return emitOpError("expected result type ")
           << RankedTensorType::get(in.getShape(), in.getElementType())
           << " (the input's shape and element type), got " << out;
  return success();
}

LogicalResult MatmulOp::verify() {
  auto lhs = cast<RankedTensorType>(getLhs().getType());
  RankedTensorType rhs = getRhs().getType();
  RankedTensorType result = getResult().getType();
  if (lhs.getEncoding() && !isa<QuantAttr>(lhs.getEncoding()))
    return emitOpError("expected a dense or #slim.quant lhs, got ") << lhs;
  if (lhs.getRank() < 2)
    return emitOpError("expected lhs of rank >= 2, got rank ") << lhs.getRank();
  if (rhs.getRank() != 2)
    return emitOpError("expected a rank-2 weight, got rank ") << rhs.getRank();
  Type elementType = lhs.getElementType();
  if (elementType != rhs.getElementType() ||
      elementType != result.getElementType())
    return emitOpError("expected matching element types, got ")
           << elementType << ", " << rhs.getElementType() << " and "
           << result.getElementType();
  if (!isa<FloatType>(elementType))
    return emitOpError("expected a floating-point element type, got ")
           << elementType;
  int64_t k = lhs.getShape().back();
  unsigned kDim = getTransposeRhs() ? 1 : 0;
  if (!ShapedType::isDynamic(k) &&
      !ShapedType::isDynamic(rhs.getDimSize(kDim)) && k != rhs.getDimSize(kDim))
    return emitOpError("expected lhs inner dimension ")
           << k << " to match weight dimension " << kDim << " of size "
           << rhs.getDimSize(kDim);
  SmallVector<int64_t> shape(lhs.getShape());
  shape.back() = rhs.getDimSize(1 - kDim);
  if (result.getShape() != ArrayRef<int64_t>(shape))
    return emitOpError("expected result type ")
           << RankedTensorType::get(shape, elementType) << ", got " << result;
  return success();
}

LogicalResult QuantizeActivationOp::verify() {
  RankedTensorType in = getInput().getType();
  RankedTensorType out = getResult().getType();
  auto quant = dyn_cast<QuantAttr>(out.getEncoding());
  if (!quant)
    return emitOpError("expected a #slim.quant result encoding, got ")
           << out.getEncoding();
  if (quant.getFormat() != QuantFormat::Int)
    return emitOpError("expected an integer quantization format, got ")
           << stringifyQuantFormat(quant.getFormat());
  unsigned bits = quant.getBits();
  if (bits != 2 && bits != 4 && bits != 8)
    return emitOpError("expected 2, 4 or 8 bits, got ") << bits;
  if (in.getShape() != out.getShape() ||
      in.getElementType() != out.getElementType())
    return emitOpError("expected the result's shape and element type to "
                       "match the input ")
           << in;
  if (quant.isGrouped()) {
    int64_t size = in.getDimSize(quant.getAxis());
    if (!ShapedType::isDynamic(size) && size % quant.getGroupSize() != 0)
      return emitOpError("expected group size ")
             << quant.getGroupSize() << " to divide dimension "
             << quant.getAxis() << " of size " << size
             << " (activation groups cannot be ragged)";
  }
  return success();
}

LogicalResult UKernelOp::verify() {
  if (getCallee().empty())
    return emitOpError("expected a callee name");
  if (getOutputs().empty())
    return emitOpError("expected at least one output");
  bool onBuffers = isa<MemRefType>(getOutputs()[0].getType());
  for (Value out : getOutputs()) {
    auto type = dyn_cast<ShapedType>(out.getType());
    if (!type || !type.hasRank() || isa<MemRefType>(type) != onBuffers)
      return emitOpError("expected outputs that are all ranked tensors or "
                         "all ranked memrefs, got ")
             << out.getType();
    if (auto tensor = dyn_cast<RankedTensorType>(type);
        tensor && tensor.getEncoding())
      return emitOpError("expected outputs without encoding, got ") << tensor;
  }
  for (Value in : getInputs()) {
    Type type = in.getType();
    if (auto tensor = dyn_cast<RankedTensorType>(type)) {
      if (onBuffers)
        return emitOpError("expected no tensor inputs when the outputs are "
                           "memrefs, got ")
               << type;
      if (tensor.getEncoding())
        return emitOpError("expected inputs without encoding (pass the "
                           "storage of a compressed tensor), got ")
               << type;
      continue;
    }
    if (isa<MemRefType>(type) || type.isIntOrIndexOrFloat())
      continue;
    return emitOpError("expected ranked tensor, memref, integer, index or "
                       "float inputs, got ")
           << type;
  }
  return success();
}

void UKernelOp::getEffects(
    SmallVectorImpl<SideEffects::EffectInstance<MemoryEffects::Effect>>
        &effects) {
  for (OpOperand &in : getInputsMutable())
    if (isa<MemRefType>(in.get().getType()))
      effects.emplace_back(MemoryEffects::Read::get(), &in,
                           SideEffects::DefaultResource::get());
  for (OpOperand &out : getOutputsMutable())
    if (isa<MemRefType>(out.get().getType()))
      effects.emplace_back(MemoryEffects::Write::get(), &out,
                           SideEffects::DefaultResource::get());
}

bool UKernelOp::bufferizesToMemoryRead(OpOperand &operand,
                                       const bufferization::AnalysisState &) {
  // Outputs are write-only: a kernel writes every element of them.
  return !isDpsInit(&operand);
}

bool UKernelOp::bufferizesToMemoryWrite(OpOperand &operand,
                                        const bufferization::AnalysisState &) {
  return isDpsInit(&operand);
}

bufferization::AliasingValueList
UKernelOp::getAliasingValues(OpOperand &operand,
                             const bufferization::AnalysisState &) {
  if (!isDpsInit(&operand))
    return {};
  return {
      {getTiedOpResult(&operand), bufferization::BufferRelation::Equivalent}};
}

LogicalResult
UKernelOp::bufferize(RewriterBase &rewriter,
                     const bufferization::BufferizationOptions &options,
                     bufferization::BufferizationState &state) {
  auto buffersOf = [&](OperandRange values,
                       SmallVectorImpl<Value> &buffers) -> LogicalResult {
    for (Value v : values) {
      if (!isa<TensorType>(v.getType())) {
        buffers.push_back(v);
        continue;
      }
      FailureOr<Value> buffer =
          bufferization::getBuffer(rewriter, v, options, state);
      if (failed(buffer))
        return failure();
      buffers.push_back(*buffer);
    }
    return success();
  };
  SmallVector<Value> inputs, outputs;
  if (failed(buffersOf(getInputs(), inputs)) ||
      failed(buffersOf(getOutputs(), outputs)))
    return failure();
  rewriter.setInsertionPoint(*this);
  UKernelOp::create(rewriter, getLoc(), TypeRange{}, getCalleeAttr(), inputs,
                    outputs);
  bufferization::replaceOpWithBufferizedValues(rewriter, *this, outputs);
  return success();
}

//===----------------------------------------------------------------------===//
// AssertOp
//===----------------------------------------------------------------------===//

LogicalResult AssertOp::verify() {
  if (getValues().size() > 2)
    return emitOpError("takes at most two values, got ") << getValues().size();
  StringRef message = getMessage();
  for (size_t at = message.find('{'); at != StringRef::npos;
       at = message.find('{', at + 1)) {
    StringRef rest = message.drop_front(at);
    if (rest.starts_with("{0}") || rest.starts_with("{1}")) {
      unsigned index = rest[1] - '0';
      if (index >= getValues().size())
        return emitOpError("message refers to value {")
               << index << "}, but the op has " << getValues().size()
               << " values";
    }
  }
  return success();
}

LogicalResult AssertOp::canonicalize(AssertOp op, PatternRewriter &rewriter) {
  // A check that holds at compile time costs nothing at run time.
  if (matchPattern(op.getCondition(), m_One())) {
    rewriter.eraseOp(op);
    return success();
  }
  return failure();
}
