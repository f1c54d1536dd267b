//===- Hessian.h - The inverse Hessian of a layer's inputs ------*- C++ -*-===//
//
// Part of the Slim project, under the Apache License v2.0 with LLVM Exceptions.
// SPDX-License-Identifier: Apache-2.0 WITH LLVM-exception
//
//===----------------------------------------------------------------------===//
//
// What GPTQ and SparseGPT share: the upper Cholesky factor of the damped
// inverse of H = X^T X, through which each column's error is spread over
// the columns after it.
//
//===----------------------------------------------------------------------===//

#ifndef SLIM_LIB_COMPRESSION_HESSIAN_H
#define SLIM_LIB_COMPRESSION_HESSIAN_H

#include "llvm/ADT/ArrayRef.h"
#include "llvm/Support/Error.h"

#include <cstdint>
#include <vector>

namespace mlir::slim {

struct InverseHessian {
  /// Row-major cols x cols upper Cholesky factor U of (H + d I)^-1
  /// (= U^T U); entries below the diagonal are meaningless.
  std::vector<double> u;
  /// Whether input c (in the original order) is dead: zero H diagonal,
  /// never active in the calibration data. Dead inputs get a unit
  /// diagonal in H.
  std::vector<bool> dead;
  int64_t deadColumns = 0;
  /// The damping fraction used and the Cholesky failures before it.
  double dampFraction = 0;
  int choleskyRetries = 0;
};

/// Checks the settings of a column sweep (GPTQ, SparseGPT); the message
/// names the option.
llvm::Error checkSweepOptions(int64_t blockSize, double dampFraction);

/// U for `hessian` (row-major cols x cols) with its rows and columns in the
/// order `perm` (empty: the identity), damped by `dampFraction` times the
/// mean diagonal; the damping is raised tenfold (from 0.01 if it was 0), up
/// to six times, while the factorization fails. Fails on non-finite
/// entries or when no damping helps.
llvm::Expected<InverseHessian> getInverseHessian(llvm::ArrayRef<float> hessian,
                                                 int64_t cols,
                                                 llvm::ArrayRef<int64_t> perm,
                                                 double dampFraction);

} // namespace mlir::slim

#endif // SLIM_LIB_COMPRESSION_HESSIAN_H
