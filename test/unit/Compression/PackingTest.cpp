//===- PackingTest.cpp - Tests of code formats and bit packing ------------===//
//
// Part of the Slim project, under the Apache License v2.0 with LLVM Exceptions.
// SPDX-License-Identifier: Apache-2.0 WITH LLVM-exception
//
//===----------------------------------------------------------------------===//

#include "lib/Compression/Packing.h"

#include "gtest/gtest.h"

#include <cmath>
#include <random>
#include <vector>

using namespace mlir::slim;

namespace {

TEST(Packing, PackedBytesRoundUp) {
  EXPECT_EQ(getPackedBytes(0, 4), 0u);
  EXPECT_EQ(getPackedBytes(1, 4), 1u);
  EXPECT_EQ(getPackedBytes(3, 4), 2u);
  EXPECT_EQ(getPackedBytes(8, 3), 3u);
  EXPECT_EQ(getPackedBytes(9, 3), 4u);
  EXPECT_EQ(getPackedBytes(4096, 2), 1024u);
}

TEST(Packing, FourBitLayoutIsLowNibbleFirst) {
  std::vector<uint8_t> codes{0x1, 0x2, 0x3};
  std::vector<uint8_t> packed(getPackedBytes(codes.size(), 4));
  packCodes(codes, 4, packed);
  ASSERT_EQ(packed.size(), 2u);
  EXPECT_EQ(packed[0], 0x21);
  EXPECT_EQ(packed[1], 0x03); // padding bits are zero
}

TEST(Packing, ThreeBitCodesStraddleBytes) {
  // Bits, LSB first: 111 000 101 -> byte0 = 01|000|111, byte1 = 0000000|1.
  std::vector<uint8_t> codes{7, 0, 5};
  std::vector<uint8_t> packed(getPackedBytes(codes.size(), 3));
  packCodes(codes, 3, packed);
  ASSERT_EQ(packed.size(), 2u);
  EXPECT_EQ(packed[0], 0x47);
  EXPECT_EQ(packed[1], 0x01);
}

TEST(Packing, CodesAreMaskedToTheirWidth) {
  std::vector<uint8_t> codes{0xFF, 0x00};
  std::vector<uint8_t> packed(1);
  packCodes(codes, 2, packed);
  EXPECT_EQ(packed[0], 0x03);
}

class PackingRoundTrip : public ::testing::TestWithParam<unsigned> {};

TEST_P(PackingRoundTrip, UnpackInvertsPack) {
  unsigned bits = GetParam();
  std::mt19937 rng(bits);
  for (size_t n : {1u, 2u, 7u, 8u, 9u, 31u, 64u, 129u}) {
    std::vector<uint8_t> codes(n);
    for (uint8_t &c : codes)
      c = static_cast<uint8_t>(rng() & ((1u << bits) - 1));
    std::vector<uint8_t> packed(getPackedBytes(n, bits));
    packCodes(codes, bits, packed);
    std::vector<uint8_t> unpacked(n);
    unpackCodes(packed, bits, unpacked);
    EXPECT_EQ(codes, unpacked) << "bits=" << bits << " n=" << n;
  }
}

INSTANTIATE_TEST_SUITE_P(AllWidths, PackingRoundTrip,
                         ::testing::Values(1u, 2u, 3u, 4u, 5u, 6u, 7u, 8u));

TEST(CodeTable, NF4IsSortedWithExactZeroAndUnitRange) {
  auto t = getCodeTable(CodeFormat::NF4);
  ASSERT_EQ(t.size(), 16u);
  EXPECT_EQ(t.front(), -1.0f);
  EXPECT_EQ(t.back(), 1.0f);
  EXPECT_EQ(t[7], 0.0f);
  for (size_t i = 1; i < t.size(); ++i)
    EXPECT_LT(t[i - 1], t[i]);
}

TEST(CodeTable, FP4E2M1Values) {
  auto t = getCodeTable(CodeFormat::FP4E2M1);
  std::vector<float> positive{0, 0.5, 1, 1.5, 2, 3, 4, 6};
  ASSERT_EQ(t.size(), 16u);
  for (unsigned c = 0; c < 8; ++c) {
    EXPECT_EQ(t[c], positive[c]);
    EXPECT_EQ(t[c + 8], -positive[c]);
  }
}

TEST(CodeTable, FP8E4M3FnSpecialValues) {
  auto t = getCodeTable(CodeFormat::FP8E4M3);
  ASSERT_EQ(t.size(), 256u);
  EXPECT_EQ(t[0x38], 1.0f);
  EXPECT_EQ(t[0x7E], 448.0f);            // largest finite
  EXPECT_EQ(t[0x01], std::ldexp(1.0f, -9)); // smallest subnormal
  EXPECT_EQ(t[0xB8], -1.0f);
  EXPECT_TRUE(std::isnan(t[0x7F]));
  EXPECT_TRUE(std::isnan(t[0xFF]));
  EXPECT_EQ(getCodeBits(CodeFormat::FP8E4M3), 8u);
}

TEST(CodeTable, FP8E5M2SpecialValues) {
  auto t = getCodeTable(CodeFormat::FP8E5M2);
  EXPECT_EQ(t[0x3C], 1.0f);
  EXPECT_EQ(t[0x7B], 57344.0f);
  EXPECT_EQ(t[0x01], std::ldexp(1.0f, -16));
  EXPECT_TRUE(std::isinf(t[0x7C]) && t[0x7C] > 0);
  EXPECT_TRUE(std::isinf(t[0xFC]) && t[0xFC] < 0);
  EXPECT_TRUE(std::isnan(t[0x7D]));
}

TEST(EncodeNearest, TiesGoToSmallerMagnitudeAndValuesSaturate) {
  auto t = getCodeTable(CodeFormat::FP4E2M1);
  EXPECT_EQ(t[encodeNearest(t, 5.0f)], 4.0f);
  EXPECT_EQ(t[encodeNearest(t, 5.1f)], 6.0f);
  EXPECT_EQ(t[encodeNearest(t, 100.0f)], 6.0f);
  EXPECT_EQ(t[encodeNearest(t, -100.0f)], -6.0f);
  EXPECT_EQ(t[encodeNearest(t, 0.2f)], 0.0f);
}

TEST(EncodeNearest, NeverPicksNaNOrInfinity) {
  auto e4m3 = getCodeTable(CodeFormat::FP8E4M3);
  EXPECT_EQ(e4m3[encodeNearest(e4m3, 1e6f)], 448.0f);
  auto e5m2 = getCodeTable(CodeFormat::FP8E5M2);
  EXPECT_EQ(e5m2[encodeNearest(e5m2, 1e9f)], 57344.0f);
  EXPECT_TRUE(std::isfinite(e5m2[encodeNearest(e5m2, NAN)]));
}

TEST(EncodeNearest, ExactForEveryFiniteTableValue) {
  for (CodeFormat f : {CodeFormat::NF4, CodeFormat::FP4E2M1,
                       CodeFormat::FP8E4M3, CodeFormat::FP8E5M2}) {
    auto t = getCodeTable(f);
    for (float v : t) {
      if (std::isfinite(v)) {
        EXPECT_EQ(t[encodeNearest(t, v)], v);
      }
    }
  }
}

TEST(QuantizeInt, RoundsHalfToEvenAndSaturates) {
  EXPECT_EQ(quantizeInt(2.5f, 1.0f, 0, 4, true), 2);
  EXPECT_EQ(quantizeInt(3.5f, 1.0f, 0, 4, true), 4);
  EXPECT_EQ(quantizeInt(100.0f, 1.0f, 0, 4, true), 7);
  EXPECT_EQ(quantizeInt(-100.0f, 1.0f, 0, 4, true), 0x8); // -8
  EXPECT_EQ(quantizeInt(-1.0f, 1.0f, 0, 4, true), 0xF);   // -1
  EXPECT_EQ(quantizeInt(-100.0f, 1.0f, 3, 4, false), 0);
  EXPECT_EQ(quantizeInt(0.0f, 0.5f, 3, 4, false), 3);
  EXPECT_EQ(quantizeInt(1.0f, 0.0f, 0, 8, true), 0); // zero scale
}

TEST(QuantizeInt, DequantizeInvertsWithinHalfAStep) {
  std::mt19937 rng(7);
  std::uniform_real_distribution<float> dist(-1.0f, 1.0f);
  for (unsigned bits = 2; bits <= 8; ++bits) {
    for (bool isSigned : {true, false}) {
      int zp = isSigned ? 0 : (1 << (bits - 1));
      float scale = 1.0f / ((1 << (bits - 1)) - 1);
      for (int i = 0; i < 200; ++i) {
        float x = dist(rng);
        float y = dequantizeInt(quantizeInt(x, scale, zp, bits, isSigned),
                                scale, zp, bits, isSigned);
        EXPECT_LE(std::fabs(x - y), scale / 2 + 1e-6f)
            << "bits=" << bits << " signed=" << isSigned << " x=" << x;
      }
    }
  }
}

} // namespace
