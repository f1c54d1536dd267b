//===- Packing.h - Code formats and bit packing -----------------*- C++ -*-===//
//
// Part of the Slim project, under the Apache License v2.0 with LLVM Exceptions.
// SPDX-License-Identifier: Apache-2.0 WITH LLVM-exception
//
//===----------------------------------------------------------------------===//
//
// The storage conventions of `#slim.quant` as plain C++: packing 1..8-bit
// codes into an LSB-first bit stream, the value tables of the non-uniform
// formats (NF4, FP8 E4M3/E5M2, FP4 E2M1), and nearest-code encoding. The
// reference lowering, the compression algorithms, kernels and tests all use
// these so that every producer and consumer of codes agrees bit for bit.
//
//===----------------------------------------------------------------------===//

#ifndef SLIM_LIB_COMPRESSION_PACKING_H
#define SLIM_LIB_COMPRESSION_PACKING_H

#include "llvm/ADT/ArrayRef.h"
#include "llvm/ADT/SmallVector.h"

#include <cstddef>
#include <cstdint>

namespace mlir::slim {

/// Non-integer code formats with a fixed value table.
enum class CodeFormat { NF4, FP8E4M3, FP8E5M2, FP4E2M1 };

/// Number of bits of a fixed-table format.
unsigned getCodeBits(CodeFormat format);

/// Bytes needed to pack `count` codes of `bits` bits (rounded up).
size_t getPackedBytes(size_t count, unsigned bits);

/// Packs `codes` (each < 2^bits) into `packed`, LSB first: code i occupies
/// bits [i*bits, (i+1)*bits) of the little-endian bit stream. `packed` must
/// hold getPackedBytes(codes.size(), bits) bytes; padding bits are zero.
void packCodes(llvm::ArrayRef<uint8_t> codes, unsigned bits,
               llvm::MutableArrayRef<uint8_t> packed);

/// Inverse of packCodes: unpacks codes.size() codes from `packed`.
void unpackCodes(llvm::ArrayRef<uint8_t> packed, unsigned bits,
                 llvm::MutableArrayRef<uint8_t> codes);

/// The 2^bits values a code of `format` stands for, indexed by code. NaN
/// encodings of FP8 decode to NaN.
llvm::SmallVector<float> getCodeTable(CodeFormat format);

/// The code whose table value is nearest to `x` (ties: the smaller
/// magnitude, then the lower code; NaN entries are never chosen). `x` is
/// saturated to the table's range.
uint8_t encodeNearest(llvm::ArrayRef<float> table, float x);

/// Integer codes: the code for value `x` with `scale` and `zeroPoint`,
/// rounded to nearest even and saturated to the `bits`-wide signed or
/// unsigned range. Returned as the low `bits` bits (two's complement for
/// signed codes), ready for packCodes.
uint8_t quantizeInt(float x, float scale, int zeroPoint, unsigned bits,
                    bool isSigned);

/// Inverse of quantizeInt for one code (low `bits` bits).
float dequantizeInt(uint8_t code, float scale, int zeroPoint, unsigned bits,
                    bool isSigned);

} // namespace mlir::slim

#endif // SLIM_LIB_COMPRESSION_PACKING_H
