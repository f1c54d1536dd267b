//===- Utils.cpp - Small helpers shared by Slim's passes ------------------===//
//
// Part of the Slim project, under the Apache License v2.0 with LLVM Exceptions.
// SPDX-License-Identifier: Apache-2.0 WITH LLVM-exception
//
//===----------------------------------------------------------------------===//

#include "passes/Transforms/Utils.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Dialect/MemRef/IR/MemRef.h"
#include "mlir/Dialect/SCF/IR/SCF.h"
#include "mlir/Dialect/Tensor/IR/Tensor.h"
#include "mlir/IR/Builders.h"
#include "mlir/IR/DialectResourceBlobManager.h"
#include "mlir/IR/Matchers.h"
#include "mlir/Interfaces/SideEffectInterfaces.h"
#include "llvm/ADT/SmallString.h"
#include "llvm/Support/FileSystem.h"

#include <sys/mman.h>
#include <unistd.h>

using namespace mlir;

std::optional<ArrayRef<char>> mlir::slim::getConstantBytes(Attribute attr) {
  if (auto res = dyn_cast<DenseResourceElementsAttr>(attr)) {
    if (!res.getRawHandle().getBlob())
      return std::nullopt;
    return res.getData();
  }
  if (auto dense = dyn_cast<DenseElementsAttr>(attr)) {
    if (dense.isSplat())
      return std::nullopt;
    return dense.getRawData();
  }
  return std::nullopt;
}

AsmResourceBlob mlir::slim::allocateWeightBlob(size_t size) {
  llvm::SmallString<128> path;
  int fd = -1;
  if (size > 0 &&
      !llvm::sys::fs::createTemporaryFile("slim-weights", "bin", fd, path)) {
    ::unlink(path.c_str());
    void *data = MAP_FAILED;
    if (::ftruncate(fd, static_cast<off_t>(size)) == 0)
      data = ::mmap(nullptr, size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    ::close(fd);
    if (data != MAP_FAILED)
      return AsmResourceBlob(
          ArrayRef<char>(static_cast<char *>(data), size), 64,
          [](void *p, size_t n, size_t) { ::munmap(p, n); },
          /*dataIsMutable=*/true);
  }
  return HeapAsmResourceBlob::allocate(size, 64);
}

bool mlir::slim::isZeroFill(Value v) {
  auto fill = v.getDefiningOp<linalg::FillOp>();
  return fill && fill.hasPureTensorSemantics() &&
         matchPattern(fill.getInputs()[0], m_AnyZeroFloat());
}

Value mlir::slim::createZeroRows(OpBuilder &b, Location loc, Value rows,
                                 int64_t cols) {
  auto rowsType = cast<RankedTensorType>(rows.getType());
  SmallVector<Value> dynamic;
  if (rowsType.isDynamicDim(0))
    dynamic.push_back(tensor::DimOp::create(b, loc, rows, 0));
  auto type =
      RankedTensorType::get({rowsType.getDimSize(0), cols}, b.getF32Type());
  Value empty = tensor::EmptyOp::create(b, loc, type, dynamic);
  Value zero = arith::ConstantOp::create(b, loc, b.getF32FloatAttr(0.0f));
  return linalg::FillOp::create(b, loc, zero, empty).getResult(0);
}

/// [[0, ..., rank - 2], [rank - 1]].
static SmallVector<ReassociationIndices> leadingDims(int64_t rank) {
  ReassociationIndices leading;
  for (int64_t i = 0; i + 1 < rank; ++i)
    leading.push_back(i);
  return {leading, {rank - 1}};
}

Value mlir::slim::collapseToRows(OpBuilder &b, Location loc, Value v) {
  int64_t rank = cast<RankedTensorType>(v.getType()).getRank();
  if (rank <= 2)
    return v;
  return tensor::CollapseShapeOp::create(b, loc, v, leadingDims(rank));
}

Value mlir::slim::expandFromRows(OpBuilder &b, Location loc, Value rows,
                                 Value like, RankedTensorType type) {
  int64_t rank = cast<RankedTensorType>(like.getType()).getRank();
  if (rank <= 2)
    return rows;
  SmallVector<OpFoldResult> shape;
  for (int64_t i = 0; i + 1 < rank; ++i)
    shape.push_back(tensor::getMixedSize(b, loc, like, i));
  shape.push_back(b.getIndexAttr(type.getDimSize(rank - 1)));
  return tensor::ExpandShapeOp::create(b, loc, type, rows, leadingDims(rank),
                                       shape);
}

func::FuncOp mlir::slim::getOrDeclareRuntimeFunction(ModuleOp module,
                                                     StringRef name,
                                                     FunctionType type) {
  if (auto f = module.lookupSymbol<func::FuncOp>(name))
    return f;
  OpBuilder b(module.getContext());
  b.setInsertionPointToStart(module.getBody());
  auto f = func::FuncOp::create(b, module.getLoc(), name, type);
  f.setPrivate();
  f->setAttr("llvm.emit_c_interface", b.getUnitAttr());
  return f;
}

MemRefType mlir::slim::getFullyDynamicStridedType(Type element, int64_t rank) {
  SmallVector<int64_t> dynamic(rank, ShapedType::kDynamic);
  return MemRefType::get(dynamic, element,
                         StridedLayoutAttr::get(element.getContext(),
                                                ShapedType::kDynamic, dynamic));
}

bool mlir::slim::hasContiguousF32Rows(Value v, int64_t rank) {
  auto type = dyn_cast<MemRefType>(v.getType());
  if (!type || !type.getElementType().isF32() ||
      (rank >= 0 && type.getRank() != rank))
    return false;
  SmallVector<int64_t> strides;
  int64_t offset;
  return succeeded(type.getStridesAndOffset(strides, offset)) &&
         !strides.empty() && strides.back() == 1;
}

Value mlir::slim::getWholeBuffer(Value v) {
  while (Operation *def = v.getDefiningOp()) {
    if (!isa<memref::CastOp, memref::ExpandShapeOp, memref::CollapseShapeOp>(
            def))
      break;
    v = def->getOperand(0);
  }
  return v;
}

linalg::FillOp mlir::slim::getZeroFillBefore(Operation *op, Value output) {
  Value buffer = getWholeBuffer(output);
  for (Operation *prev = op->getPrevNode(); prev; prev = prev->getPrevNode()) {
    if (auto fill = dyn_cast<linalg::FillOp>(prev)) {
      if (!fill.hasPureBufferSemantics() ||
          getWholeBuffer(fill.getDpsInitOperand(0)->get()) != buffer)
        return nullptr;
      FloatAttr value;
      if (!matchPattern(fill.getDpsInputOperand(0)->get(),
                        m_Constant(&value)) ||
          !value.getValue().isPosZero())
        return nullptr;
      return fill;
    }
    // Other buffers may be allocated in between.
    bool otherAlloc = isa<memref::AllocOp, memref::AllocaOp>(prev) &&
                      prev->getResult(0) != buffer;
    if (!otherAlloc && !isMemoryEffectFree(prev) && !isRuntimeCheck(prev))
      return nullptr;
  }
  return nullptr;
}

bool mlir::slim::isRuntimeCheck(Operation *op) {
  auto ifOp = dyn_cast<scf::IfOp>(op);
  if (!ifOp || ifOp.getNumResults() != 0 || !ifOp.getElseRegion().empty())
    return false;
  bool sawCall = false;
  for (Operation &inner : ifOp.thenBlock()->without_terminator()) {
    if (auto call = dyn_cast<func::CallOp>(inner)) {
      if (call.getCallee() != "slim_rt_check_failed")
        return false;
      sawCall = true;
      continue;
    }
    if (!isMemoryEffectFree(&inner) || inner.getNumRegions() != 0)
      return false;
  }
  return sawCall;
}
