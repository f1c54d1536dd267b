//===- EncodingTest.cpp - Tests of the Slim encodings' C++ API ------------===//
//
// Part of the Slim project, under the Apache License v2.0 with LLVM Exceptions.
// SPDX-License-Identifier: Apache-2.0 WITH LLVM-exception
//
//===----------------------------------------------------------------------===//
//
// Storage computation, and the diagnostics only reachable through the C++
// builders (the parser cannot produce those parameter combinations).
//
//===----------------------------------------------------------------------===//

#include "dialects/Slim/IR/SlimAttrs.h"
#include "dialects/Slim/IR/SlimDialect.h"

#include "mlir/IR/Builders.h"
#include "mlir/IR/Diagnostics.h"
#include "mlir/IR/MLIRContext.h"

#include "gtest/gtest.h"

#include <string>

using namespace mlir;
using namespace mlir::slim;

namespace {

class EncodingTest : public ::testing::Test {
protected:
  EncodingTest() : handler(&ctx, [this](Diagnostic &d) {
    messages += d.str() + "\n";
    return success();
  }) {
    ctx.loadDialect<SlimDialect>();
  }

  function_ref<InFlightDiagnostic()> emitter() { return emitFn; }

  QuantAttr quant(QuantFormat f, unsigned bits, bool isSigned, int64_t axis,
                  int64_t group, Type scale, bool zp, bool checked = false) {
    if (checked)
      return QuantAttr::getChecked(emitter(), &ctx, f, bits, isSigned, axis,
                                   group, scale, zp);
    return QuantAttr::get(&ctx, f, bits, isSigned, axis, group, scale, zp);
  }
  SparseAttr sparse(unsigned n, unsigned m, int64_t axis, FloatAttr density,
                    bool checked = false) {
    if (checked)
      return SparseAttr::getChecked(emitter(), &ctx, n, m, axis, density);
    return SparseAttr::get(&ctx, n, m, axis, density);
  }

  MLIRContext ctx;
  ScopedDiagnosticHandler handler;
  std::string messages;
  std::function<InFlightDiagnostic()> emitFn = [this] {
    return mlir::emitError(UnknownLoc::get(&ctx));
  };
  Builder b{&ctx};
};

TEST_F(EncodingTest, FixedWidthFormatsRejectOtherWidths) {
  auto attr = quant(QuantFormat::NF4, 3,
                                    false, -1, 0, b.getF32Type(), false, /*checked=*/true);
  EXPECT_FALSE(attr);
  EXPECT_NE(messages.find("format nf4 has 4 bits, got 3"), std::string::npos)
      << messages;
}

TEST_F(EncodingTest, GroupRequiresAxis) {
  auto attr = quant(QuantFormat::Int, 4, true,
                                    -1, 128, b.getF32Type(), false, /*checked=*/true);
  EXPECT_FALSE(attr);
  EXPECT_NE(messages.find("group size 128 requires an axis"),
            std::string::npos)
      << messages;
}

TEST_F(EncodingTest, AxisBelowMinusOneIsRejected) {
  auto attr = quant(QuantFormat::Int, 4, true,
                                    -3, 0, b.getF32Type(), false, /*checked=*/true);
  EXPECT_FALSE(attr);
  EXPECT_NE(messages.find("expected a non-negative axis, got -3"),
            std::string::npos)
      << messages;
}

TEST_F(EncodingTest, DensityOnlyForUnstructured) {
  auto attr = sparse(2, 4, 0,
                                     b.getF64FloatAttr(0.5), /*checked=*/true);
  EXPECT_FALSE(attr);
  EXPECT_NE(messages.find("density applies to unstructured sparsity only"),
            std::string::npos)
      << messages;
}

TEST_F(EncodingTest, StorageOfDenseTypeIsAnError) {
  auto type = RankedTensorType::get({4, 4}, b.getF32Type());
  EXPECT_TRUE(failed(getStorageComponents(type, emitter())));
  EXPECT_NE(messages.find("expected a Slim encoding"), std::string::npos)
      << messages;
}

TEST_F(EncodingTest, ScaleShapes) {
  auto perTensor = quant(QuantFormat::Int, 4, true, -1, 0,
                                  b.getF32Type(), false);
  auto perChannel = quant(QuantFormat::Int, 4, true, 1, 0,
                                   b.getF32Type(), false);
  auto grouped = quant(QuantFormat::Int, 4, true, 0, 128,
                                b.getF32Type(), false);
  SmallVector<int64_t> shape{512, 256};
  EXPECT_EQ(perTensor.getScaleShape(shape), (SmallVector<int64_t>{1, 1}));
  EXPECT_EQ(perChannel.getScaleShape(shape), (SmallVector<int64_t>{1, 256}));
  EXPECT_EQ(grouped.getScaleShape(shape), (SmallVector<int64_t>{4, 256}));
  SmallVector<int64_t> dynamic{ShapedType::kDynamic, 256};
  EXPECT_EQ(grouped.getScaleShape(dynamic),
            (SmallVector<int64_t>{ShapedType::kDynamic, 256}));
}

TEST_F(EncodingTest, ComposedStorageOrder) {
  auto sparseStage = sparse(2, 4, 0, FloatAttr());
  auto quantStage = quant(QuantFormat::Int, 4, false, 0, 64,
                              b.getF16Type(), true);
  auto lowRank = LowRankAttr::get(&ctx, int64_t(16), b.getBF16Type());
  auto enc = CompressedAttr::get(&ctx, ArrayRef<Attribute>{sparseStage, quantStage}, lowRank);
  auto type = RankedTensorType::get({256, 128}, b.getF32Type(), enc);
  auto storage = getStorageComponents(type, emitter());
  ASSERT_TRUE(succeeded(storage)) << messages;
  std::vector<std::string> names;
  for (const StorageComponent &c : *storage)
    names.push_back(c.name.str());
  EXPECT_EQ(names, (std::vector<std::string>{"codes", "scales", "zero_points",
                                             "indices", "u", "v"}));
  auto expect = [&](size_t i, ArrayRef<int64_t> shape, Type element) {
    EXPECT_EQ((*storage)[i].type, RankedTensorType::get(shape, element))
        << "component " << names[i];
  };
  expect(0, {128, 64}, b.getI8Type());
  expect(1, {2, 128}, b.getF16Type());
  expect(2, {2, 128}, b.getI8Type());
  expect(3, {128, 128}, b.getI8Type());
  expect(4, {256, 16}, b.getBF16Type());
  expect(5, {16, 128}, b.getBF16Type());
}

TEST_F(EncodingTest, LayoutFindsStorageByRole) {
  // A LUT stage with a 2:4 sparse stage and a residual: the code book sits
  // after the scales, the indices after the quant stage, u and v last.
  auto quantStage =
      quant(QuantFormat::LUT, 3, false, 0, 0, b.getF32Type(), false);
  auto sparseStage = sparse(2, 4, 1, FloatAttr());
  auto lowRank = LowRankAttr::get(&ctx, int64_t(4), b.getF16Type());
  auto enc = CompressedAttr::get(
      &ctx, ArrayRef<Attribute>{sparseStage, quantStage}, lowRank);
  auto type = RankedTensorType::get({16, 64}, b.getF32Type(), enc);
  FailureOr<StorageLayout> layout = StorageLayout::get(type, emitter());
  ASSERT_TRUE(succeeded(layout)) << messages;
  SmallVector<Type> types;
  for (const StorageComponent &c : layout->getComponents())
    types.push_back(c.type);
  // Values to look up: the results of one detached op.
  OperationState state(UnknownLoc::get(&ctx), "test.storage");
  state.addTypes(types);
  ctx.allowUnregisteredDialects();
  Operation *op = Operation::create(state);
  ValueRange storage = op->getResults();
  EXPECT_EQ(layout->find("codebook"), std::optional<unsigned>(2));
  EXPECT_EQ(layout->lookup(storage, "indices"), storage[3]);
  EXPECT_EQ(layout->lookup(storage, "v"), storage[5]);
  EXPECT_FALSE(layout->lookup(storage, "zero_points"));
  EXPECT_FALSE(layout->find("row_ptr"));
  QuantStorage q = layout->getQuantStorage(storage);
  EXPECT_EQ(q.codes, storage[0]);
  EXPECT_EQ(q.scales, storage[1]);
  EXPECT_FALSE(q.zeroPoints);
  EXPECT_EQ(q.codebook, storage[2]);
  op->destroy();

  // A bare low-rank weight has no quant stage.
  auto bare = RankedTensorType::get({16, 64}, b.getF32Type(), lowRank);
  FailureOr<StorageLayout> bareLayout = StorageLayout::get(bare, emitter());
  ASSERT_TRUE(succeeded(bareLayout)) << messages;
  EXPECT_EQ(bareLayout->find("u"), std::optional<unsigned>(0));
  EXPECT_FALSE(bareLayout->find("codes"));
}

TEST_F(EncodingTest, OddWidthsPadRowsToBytes) {
  auto q = quant(QuantFormat::Int, 3, true, 1, 0,
                          b.getF32Type(), false);
  EXPECT_EQ(q.getPackedSize(64), 24);
  EXPECT_EQ(q.getPackedSize(5), 2);
  auto type = RankedTensorType::get({7, 5}, b.getF32Type(), q);
  auto storage = getStorageComponents(type, emitter());
  ASSERT_TRUE(succeeded(storage));
  EXPECT_EQ((*storage)[0].type, RankedTensorType::get({7, 2}, b.getI8Type()));
}

TEST_F(EncodingTest, CsrStorage) {
  auto s = sparse(0, 0, 0, FloatAttr());
  auto type = RankedTensorType::get({ShapedType::kDynamic, 32},
                                    b.getF32Type(), s);
  auto storage = getStorageComponents(type, emitter());
  ASSERT_TRUE(succeeded(storage)) << messages;
  ASSERT_EQ(storage->size(), 3u);
  EXPECT_EQ((*storage)[0].name, "values");
  EXPECT_EQ((*storage)[1].type,
            RankedTensorType::get({ShapedType::kDynamic}, b.getI32Type()));
}

} // namespace
