//===- Sizes.h - Element and byte counts from untrusted dimensions -*- C++
//-*-===//
//
// Part of the Slim project, under the Apache License v2.0 with LLVM Exceptions.
// SPDX-License-Identifier: Apache-2.0 WITH LLVM-exception
//
//===----------------------------------------------------------------------===//
//
// The one place where Slim multiplies dimensions that come from input (a
// model's initializers, .pb tensors, --dims, the shapes a caller passes to
// slim_model_run): a product that does not fit, or exceeds the limit, is an
// error before anything is allocated, never a count that wrapped around to a
// small number. Header-only, no dependencies (the C runtime uses it too).
//
//===----------------------------------------------------------------------===//

#ifndef SLIM_LIB_SUPPORT_SIZES_H
#define SLIM_LIB_SUPPORT_SIZES_H

#include <cstddef>
#include <cstdint>
#include <optional>

namespace mlir::slim {

/// The largest element or byte count Slim accepts from input: 2^48 (256
/// TiB), beyond any memory, far below where int64 arithmetic on it (offsets,
/// strides, sums of a few sizes) could overflow.
constexpr uint64_t kMaxSize = uint64_t(1) << 48;

/// a * b, or nullopt when it exceeds kMaxSize.
inline std::optional<uint64_t> checkedMul(uint64_t a, uint64_t b) {
  uint64_t r;
  if (__builtin_mul_overflow(a, b, &r) || r > kMaxSize)
    return std::nullopt;
  return r;
}

/// The number of elements of a tensor with `rank` dimensions `dims`
/// (any integer type), or nullopt when a dimension is negative or the
/// product exceeds kMaxSize.
template <typename Int>
std::optional<uint64_t> elementCount(const Int *dims, size_t rank) {
  uint64_t n = 1;
  for (size_t d = 0; d < rank; ++d) {
    if (dims[d] < 0)
      return std::nullopt;
    std::optional<uint64_t> next =
        checkedMul(n, static_cast<uint64_t>(dims[d]));
    if (!next)
      return std::nullopt;
    n = *next;
  }
  return n;
}

/// count * elementSize bytes, or nullopt when it exceeds kMaxSize.
inline std::optional<uint64_t> byteCount(uint64_t count, size_t elementSize) {
  return checkedMul(count, elementSize);
}

} // namespace mlir::slim

#endif // SLIM_LIB_SUPPORT_SIZES_H
