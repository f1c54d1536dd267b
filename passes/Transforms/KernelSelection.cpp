//===- KernelSelection.cpp - Kernels for compressed matmuls ---------------===//
//
// Part of the Slim project, under the Apache License v2.0 with LLVM Exceptions.
// SPDX-License-Identifier: Apache-2.0 WITH LLVM-exception
//
//===----------------------------------------------------------------------===//

#include "passes/Transforms/KernelSelection.h"

#include "lib/Runtime/KernelAbi.h"

#include "llvm/ADT/STLExtras.h"

using namespace mlir;
using namespace mlir::slim;

namespace {

/// One row of the table: a kernel family of a target, the encodings and
/// shapes it takes, and how its call is built.
struct KernelPattern {
  StringRef family;
  KernelTarget target;
  /// Empty if `info` fits, else why not.
  std::string (*mismatch)(CompressedMatmulInfo info);
  QuantizedMatmulKernel (*build)(CompressedMatmulInfo info,
                                 const KernelSelectionOptions &options);
};

/// lib/Runtime's slim_rt_qmatmul[_zp]_<scale type>: integer codes of 2-8
/// bits, per output channel or in groups along K, of an `N x K` weight used
/// transposed, times dense f32 activations.
std::string cpuIntegerMismatch(CompressedMatmulInfo info) {
  const EncodingStages &s = info.stages;
  if (s.sparse)
    return "sparse weights have no CPU kernel yet";
  if (s.lowRank)
    return "low-rank weights have no CPU kernel yet";
  if (!s.quant)
    return "the weight is not quantized";
  if (s.quant.getFormat() != QuantFormat::Int)
    return (Twine("the ") + stringifyQuantFormat(s.quant.getFormat()) +
            " format has no CPU kernel yet")
        .str();
  if (!info.op.getTransposeRhs())
    return "the weight is not used transposed (the kernels read N x K "
           "weights, one output channel per row)";
  if (info.lhs.getEncoding() || !info.lhs.getElementType().isF32())
    return "the activation is not a dense f32 tensor";
  if (info.lhs.isDynamicDim(info.lhs.getRank() - 1))
    return "the activation's inner dimension is dynamic";
  if (!info.rhs.getElementType().isF32() || !info.rhs.hasStaticShape())
    return "the weight is not a static f32 tensor";
  bool perChannel = s.quant.isPerChannel() && s.quant.getAxis() == 0;
  bool grouped = s.quant.isGrouped() && s.quant.getAxis() == 1;
  if (!perChannel && !grouped)
    return "the kernels take one scale per output channel or groups along K";
  if (!info.assemble)
    return "the weight's storage is not visible (no slim.assemble)";
  return "";
}

StringRef scaleSuffix(Type scaleType) {
  if (scaleType.isF16())
    return "f16";
  if (scaleType.isBF16())
    return "bf16";
  return "f32";
}

QuantizedMatmulKernel cpuIntegerBuild(CompressedMatmulInfo info,
                                      const KernelSelectionOptions &options) {
  QuantAttr quant = info.stages.quant;
  QuantizedMatmulKernel k;
  ValueRange storage = info.assemble.getStorage();
  bool zp = quant.getHasZeroPoint();
  k.callee = (Twine(zp ? "slim_rt_qmatmul_zp_" : "slim_rt_qmatmul_") +
              scaleSuffix(quant.getScaleType()))
                 .str();
  k.storage.assign(storage.begin(), storage.begin() + (zp ? 3 : 2));
  k.bits = quant.getBits();
  k.group = quant.isGrouped() ? quant.getGroupSize() : 0;
  k.flags = (quant.getIsSigned() ? SLIM_RT_QMATMUL_SIGNED : 0u) |
            (options.activations == QuantizedActivations::Int8
                 ? SLIM_RT_QMATMUL_INT8_ACTIVATIONS
                 : 0u);
  return k;
}

const KernelPattern kPatterns[] = {
    {"slim_rt_qmatmul", KernelTarget::Cpu, cpuIntegerMismatch, cpuIntegerBuild},
};

} // namespace

FailureOr<QuantizedMatmulKernel> mlir::slim::selectQuantizedMatmulKernel(
    MatmulOp op, const KernelSelectionOptions &options, std::string &reason) {
  CompressedMatmulInfo info;
  info.op = op;
  info.assemble = op.getRhs().getDefiningOp<AssembleOp>();
  info.lhs = cast<RankedTensorType>(op.getLhs().getType());
  info.rhs = op.getRhs().getType();
  info.stages = getEncodingStages(info.rhs.getEncoding());
  reason.clear();
  for (const KernelPattern &p : kPatterns) {
    if (p.target != options.target)
      continue;
    std::string why = p.mismatch(info);
    if (why.empty())
      return p.build(info, options);
    reason += (reason.empty() ? "" : "; ") + p.family.str() + ": " + why;
  }
  if (reason.empty())
    reason = "no kernel for this target";
  return failure();
}
