//===- Packing.cpp - Code formats and bit packing -------------------------===//
//
// Part of the Slim project, under the Apache License v2.0 with LLVM Exceptions.
// SPDX-License-Identifier: Apache-2.0 WITH LLVM-exception
//
//===----------------------------------------------------------------------===//

#include "lib/Compression/Packing.h"

#include "llvm/Support/ErrorHandling.h"

#include <algorithm>
#include <cassert>
#include <cmath>
#include <limits>

using namespace mlir::slim;

unsigned mlir::slim::getCodeBits(CodeFormat format) {
  switch (format) {
  case CodeFormat::NF4:
  case CodeFormat::FP4E2M1:
    return 4;
  case CodeFormat::FP8E4M3:
  case CodeFormat::FP8E5M2:
    return 8;
  }
  llvm_unreachable("unknown code format");
}

size_t mlir::slim::getPackedBytes(size_t count, unsigned bits) {
  return (count * bits + 7) / 8;
}

void mlir::slim::packCodes(llvm::ArrayRef<uint8_t> codes, unsigned bits,
                           llvm::MutableArrayRef<uint8_t> packed) {
  assert(bits >= 1 && bits <= 8 && "code width out of range");
  assert(packed.size() >= getPackedBytes(codes.size(), bits) &&
         "packed buffer too small");
  std::fill(packed.begin(), packed.end(), 0);
  const unsigned mask = (1u << bits) - 1;
  for (size_t i = 0; i < codes.size(); ++i) {
    size_t bit = i * bits;
    unsigned word = (codes[i] & mask) << (bit % 8);
    packed[bit / 8] |= static_cast<uint8_t>(word);
    if ((bit % 8) + bits > 8)
      packed[bit / 8 + 1] |= static_cast<uint8_t>(word >> 8);
  }
}

void mlir::slim::unpackCodes(llvm::ArrayRef<uint8_t> packed, unsigned bits,
                             llvm::MutableArrayRef<uint8_t> codes) {
  assert(bits >= 1 && bits <= 8 && "code width out of range");
  assert(packed.size() >= getPackedBytes(codes.size(), bits) &&
         "packed buffer too small");
  const unsigned mask = (1u << bits) - 1;
  for (size_t i = 0; i < codes.size(); ++i) {
    size_t bit = i * bits;
    unsigned word = packed[bit / 8];
    if ((bit % 8) + bits > 8)
      word |= static_cast<unsigned>(packed[bit / 8 + 1]) << 8;
    codes[i] = static_cast<uint8_t>((word >> (bit % 8)) & mask);
  }
}

/// Decodes a sign/exponent/mantissa minifloat with IEEE-style subnormals.
/// `nanCode` handling is done by the caller.
static float decodeMinifloat(unsigned code, unsigned expBits,
                             unsigned manBits, int bias) {
  unsigned sign = (code >> (expBits + manBits)) & 1;
  unsigned exp = (code >> manBits) & ((1u << expBits) - 1);
  unsigned man = code & ((1u << manBits) - 1);
  float value;
  if (exp == 0)
    value = std::ldexp(static_cast<float>(man) / (1u << manBits), 1 - bias);
  else
    value = std::ldexp(1.0f + static_cast<float>(man) / (1u << manBits),
                       static_cast<int>(exp) - bias);
  return sign ? -value : value;
}

llvm::SmallVector<float> mlir::slim::getCodeTable(CodeFormat format) {
  llvm::SmallVector<float> table;
  const float nan = std::numeric_limits<float>::quiet_NaN();
  const float inf = std::numeric_limits<float>::infinity();
  switch (format) {
  case CodeFormat::NF4:
    // The NormalFloat4 levels of QLoRA (Dettmers et al., 2023): quantiles of
    // N(0, 1) normalized to [-1, 1], with an exact zero.
    table = {-1.0f,
             -0.6961928009986877f,
             -0.5250730514526367f,
             -0.39491748809814453f,
             -0.28444138169288635f,
             -0.18477343022823334f,
             -0.09105003625154495f,
             0.0f,
             0.07958029955625534f,
             0.16093020141124725f,
             0.24611230194568634f,
             0.33791524171829224f,
             0.44070982933044434f,
             0.5626170039176941f,
             0.7229568362236023f,
             1.0f};
    return table;
  case CodeFormat::FP4E2M1:
    // OCP MX FP4: 1 sign, 2 exponent (bias 1), 1 mantissa bit; no inf/NaN.
    for (unsigned c = 0; c < 16; ++c)
      table.push_back(decodeMinifloat(c, 2, 1, 1));
    return table;
  case CodeFormat::FP8E4M3:
    // OCP FP8 E4M3 ("fn"): bias 7, no infinities, S.1111.111 is NaN.
    for (unsigned c = 0; c < 256; ++c)
      table.push_back((c & 0x7f) == 0x7f ? nan : decodeMinifloat(c, 4, 3, 7));
    return table;
  case CodeFormat::FP8E5M2:
    // OCP FP8 E5M2: bias 15, IEEE-like infinities and NaNs.
    for (unsigned c = 0; c < 256; ++c) {
      unsigned exp = (c >> 2) & 0x1f, man = c & 3;
      if (exp == 0x1f)
        table.push_back(man ? nan : ((c & 0x80) ? -inf : inf));
      else
        table.push_back(decodeMinifloat(c, 5, 2, 15));
    }
    return table;
  }
  llvm_unreachable("unknown code format");
}

uint8_t mlir::slim::encodeNearest(llvm::ArrayRef<float> table, float x) {
  assert(!table.empty() && table.size() <= 256 && "bad code table");
  // Saturate to the finite range so out-of-range values map to the largest
  // finite magnitude rather than to an infinity.
  float lo = std::numeric_limits<float>::infinity(), hi = -lo;
  for (float v : table) {
    if (std::isfinite(v)) {
      lo = std::min(lo, v);
      hi = std::max(hi, v);
    }
  }
  if (std::isnan(x))
    x = 0.0f;
  x = std::min(std::max(x, lo), hi);
  size_t best = 0;
  float bestErr = std::numeric_limits<float>::infinity();
  for (size_t c = 0; c < table.size(); ++c) {
    float v = table[c];
    if (!std::isfinite(v))
      continue;
    float err = std::fabs(v - x);
    if (err < bestErr ||
        (err == bestErr && std::fabs(v) < std::fabs(table[best]))) {
      best = c;
      bestErr = err;
    }
  }
  return static_cast<uint8_t>(best);
}

uint8_t mlir::slim::quantizeInt(float x, float scale, int zeroPoint,
                                unsigned bits, bool isSigned) {
  assert(bits >= 1 && bits <= 8 && "code width out of range");
  int qmin = isSigned ? -(1 << (bits - 1)) : 0;
  int qmax = isSigned ? (1 << (bits - 1)) - 1 : (1 << bits) - 1;
  float q = scale != 0.0f ? std::nearbyint(x / scale) : 0.0f;
  if (std::isnan(q))
    q = 0.0f;
  q = std::min(std::max(q + static_cast<float>(zeroPoint),
                        static_cast<float>(qmin)),
               static_cast<float>(qmax));
  int code = static_cast<int>(q);
  return static_cast<uint8_t>(code & ((1 << bits) - 1));
}

float mlir::slim::dequantizeInt(uint8_t code, float scale, int zeroPoint,
                                unsigned bits, bool isSigned) {
  int value = code & ((1 << bits) - 1);
  if (isSigned && (value & (1 << (bits - 1))))
    value -= 1 << bits;
  return static_cast<float>(value - zeroPoint) * scale;
}
