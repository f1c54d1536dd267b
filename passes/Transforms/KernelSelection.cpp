//===- KernelSelection.cpp - Kernels for compressed matmuls ---------------===//
//
// Part of the Slim project, under the Apache License v2.0 with LLVM Exceptions.
// SPDX-License-Identifier: Apache-2.0 WITH LLVM-exception
//
//===----------------------------------------------------------------------===//

#include "passes/Transforms/KernelSelection.h"

#include "lib/Runtime/KernelAbi.h"

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

/// lib/Runtime's slim_rt_qmatmul[_zp|_lut]_<scale type>: integer codes of
/// 2-8 bits or a code-book format's codes, per output channel or in groups
/// along K, of an `N x K` weight used transposed, times dense f32
/// activations.
/// What every CPU kernel needs of the weight: integer codes only (no
/// sparse or low-rank stage), an `N x K` weight used transposed, static
/// f32, its storage visible.
std::string cpuWeightMismatch(CompressedMatmulInfo info) {
  const EncodingStages &s = info.stages;
  if (s.sparse) {
    if (!s.sparse.isStructured())
      return "unstructured (CSR) sparse weights have no CPU kernel yet";
    if (s.sparse.getAxis() != 1)
      return "the N:M runs are not along K (axis 1 of the N x K weight)";
    if (!s.quant)
      return "N:M sparse weights without a quant stage have no CPU kernel "
             "yet";
  }
  if (s.lowRank)
    return "the weight has a low-rank part (--slim-split-low-rank, in the CPU "
           "pipeline, multiplies constant factors as two thin products)";
  if (!s.quant)
    return "the weight is not quantized";
  if (!info.op.getTransposeRhs())
    return "the weight is not used transposed (the kernels read N x K "
           "weights, one output channel per row)";
  if (!info.rhs.getElementType().isF32() || !info.rhs.hasStaticShape())
    return "the weight is not a static f32 tensor";
  if (!info.assemble || !info.layout)
    return "the weight's storage is not visible (no slim.assemble)";
  return "";
}

std::string cpuIntegerMismatch(CompressedMatmulInfo info) {
  if (std::string why = cpuWeightMismatch(info); !why.empty())
    return why;
  if (info.lhs.getEncoding() || !info.lhs.getElementType().isF32())
    return "the activation is not a dense f32 tensor";
  if (info.lhs.isDynamicDim(info.lhs.getRank() - 1))
    return "the activation's inner dimension is dynamic";
  QuantAttr w = info.stages.quant;
  bool perChannel = w.isPerChannel() && w.getAxis() == 0;
  bool grouped = w.isGrouped() && w.getAxis() == 1;
  if (!perChannel && !grouped)
    return "the kernels take one scale per output channel or groups along K";
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
  QuantStorage storage =
      info.layout->getQuantStorage(info.assemble.getStorage());
  // Code-book formats (nf4, fp8, fp4, lutN): table[code] * scale, the table
  // after codes and scales.
  bool table = quant.getFormat() != QuantFormat::Int;
  bool zp = storage.zeroPoints != nullptr;
  SparseAttr sparse = info.stages.sparse;
  k.callee = (Twine(sparse  ? (table ? "slim_rt_qmatmul_sparse_lut_"
                               : zp  ? "slim_rt_qmatmul_sparse_zp_"
                                     : "slim_rt_qmatmul_sparse_")
                    : table ? "slim_rt_qmatmul_lut_"
                    : zp    ? "slim_rt_qmatmul_zp_"
                            : "slim_rt_qmatmul_") +
              scaleSuffix(quant.getScaleType()))
                 .str();
  k.activation = info.op.getLhs();
  k.storage = {storage.codes, storage.scales};
  if (zp)
    k.storage.push_back(storage.zeroPoints);
  if (sparse)
    k.storage.push_back(
        info.layout->lookup(info.assemble.getStorage(), "indices"));
  k.codeTable = table;
  k.quant = quant;
  k.quantStorage = storage;
  uint32_t flags =
      (!table && quant.getIsSigned() ? SLIM_RT_QMATMUL_SIGNED : 0u) |
      (options.activations == QuantizedActivations::Int8
           ? SLIM_RT_QMATMUL_INT8_ACTIVATIONS
           : 0u) |
      (quant.getFormat() == QuantFormat::FP8E4M3 ? SLIM_RT_QMATMUL_TABLE_E4M3
                                                 : 0u) |
      (quant.getFormat() == QuantFormat::FP8E5M2 ? SLIM_RT_QMATMUL_TABLE_E5M2
                                                 : 0u);
  k.scalars = {{quant.getBits(), 64},
               {quant.isGrouped() ? quant.getGroupSize() : 0, 64}};
  if (sparse)
    k.scalars.append({{sparse.getN(), 64}, {sparse.getM(), 64}});
  k.scalars.push_back({flags, 32});
  return k;
}

/// slim_rt_qmatmul_w8a8_<scale type>: SmoothQuant's W8A8, the activation
/// quantized to int8 per row (`slim.quantize_activation` to
/// `#slim.quant<i8, channel = 0>`) times signed, symmetric 8-bit codes with
/// one scale per output channel: integer products, one f32 scaling per
/// output.
std::string cpuW8A8Mismatch(CompressedMatmulInfo info) {
  auto quantize = info.op.getLhs().getDefiningOp<QuantizeActivationOp>();
  if (!quantize)
    return "the activation is not quantized by slim.quantize_activation";
  if (std::string why = cpuWeightMismatch(info); !why.empty())
    return why;
  auto act = cast<QuantAttr>(info.lhs.getEncoding());
  RankedTensorType x = quantize.getInput().getType();
  if (act.getFormat() != QuantFormat::Int || act.getBits() != 8 ||
      !act.getIsSigned() || act.getHasZeroPoint() || !act.isPerChannel() ||
      act.getAxis() != 0 || x.getRank() != 2 || !act.getScaleType().isF32() ||
      !x.getElementType().isF32() || x.isDynamicDim(1))
    return "the activation is not int8 per row (symmetric, f32 scales) of "
           "an f32 [M, K] tensor with a static K";
  if (info.stages.sparse)
    return "the weight is sparse";
  QuantAttr w = info.stages.quant;
  if (w.getFormat() != QuantFormat::Int || w.getBits() != 8 ||
      !w.getIsSigned() || w.getHasZeroPoint())
    return "the weight is not signed, symmetric 8-bit";
  if (!w.isPerChannel() || w.getAxis() != 0)
    return "the weight does not have one scale per output channel";
  return "";
}

QuantizedMatmulKernel cpuW8A8Build(CompressedMatmulInfo info,
                                   const KernelSelectionOptions &) {
  QuantizedMatmulKernel k;
  k.callee = (Twine("slim_rt_qmatmul_w8a8_") +
              scaleSuffix(info.stages.quant.getScaleType()))
                 .str();
  k.activation =
      info.op.getLhs().getDefiningOp<QuantizeActivationOp>().getInput();
  QuantStorage storage =
      info.layout->getQuantStorage(info.assemble.getStorage());
  k.storage = {storage.codes, storage.scales};
  return k;
}

/// slim_rt_qmatmul[_zp]_<scale type> with SLIM_RT_QMATMUL_ROW_INT8_ACTIVATIONS:
/// the activation quantized to int8 per row (as for W8A8) times 4- or
/// 8-bit integer codes per output channel or in groups of a multiple of 32
/// along K (SmoothQuant's W4A8 and grouped W8A8): the int8-activation
/// kernel, the rows quantized by it as slim.quantize_activation defines.
/// An N:M sparse weight takes the sparse entry with the same flag: the
/// runtime rounds the rows the same way and multiplies them in f32 (the
/// int8 kernels read dense codes), which is what the reference computes.
std::string cpuRowInt8Mismatch(CompressedMatmulInfo info) {
  auto quantize = info.op.getLhs().getDefiningOp<QuantizeActivationOp>();
  if (!quantize)
    return "the activation is not quantized by slim.quantize_activation";
  if (std::string why = cpuWeightMismatch(info); !why.empty())
    return why;
  auto act = cast<QuantAttr>(info.lhs.getEncoding());
  RankedTensorType x = quantize.getInput().getType();
  if (act.getFormat() != QuantFormat::Int || act.getBits() != 8 ||
      !act.getIsSigned() || act.getHasZeroPoint() || !act.isPerChannel() ||
      act.getAxis() != 0 || x.getRank() != 2 || !act.getScaleType().isF32() ||
      !x.getElementType().isF32() || x.isDynamicDim(1))
    return "the activation is not int8 per row (symmetric, f32 scales) of "
           "an f32 [M, K] tensor with a static K";
  QuantAttr w = info.stages.quant;
  if (w.getFormat() != QuantFormat::Int ||
      (w.getBits() != 4 && w.getBits() != 8))
    return "the weight's codes are not 4- or 8-bit integers";
  int64_t k = info.rhs.getDimSize(1);
  bool perChannel = w.isPerChannel() && w.getAxis() == 0;
  bool grouped = w.isGrouped() && w.getAxis() == 1 &&
                 (w.getGroupSize() % 32 == 0 || w.getGroupSize() >= k);
  if (!perChannel && !grouped)
    return "the weight does not have one scale per output channel or groups "
           "of a multiple of 32 along K";
  return "";
}

QuantizedMatmulKernel cpuRowInt8Build(CompressedMatmulInfo info,
                                      const KernelSelectionOptions &options) {
  QuantizedMatmulKernel k = cpuIntegerBuild(info, options);
  k.activation =
      info.op.getLhs().getDefiningOp<QuantizeActivationOp>().getInput();
  // Replaces the block-wise int8 flag: the rows' own quantization is the
  // definition here.
  uint32_t flags = static_cast<uint32_t>(k.scalars.back().first);
  flags &= ~SLIM_RT_QMATMUL_INT8_ACTIVATIONS;
  k.scalars.back().first = flags | SLIM_RT_QMATMUL_ROW_INT8_ACTIVATIONS;
  return k;
}

const KernelPattern kPatterns[] = {
    {"slim_rt_qmatmul", KernelTarget::Cpu, cpuIntegerMismatch, cpuIntegerBuild},
    {"slim_rt_qmatmul_w8a8", KernelTarget::Cpu, cpuW8A8Mismatch, cpuW8A8Build},
    {"slim_rt_qmatmul (int8 rows)", KernelTarget::Cpu, cpuRowInt8Mismatch,
     cpuRowInt8Build},
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
  if (info.assemble) {
    FailureOr<StorageLayout> layout =
        StorageLayout::get(info.rhs, [&] { return op.emitError(); });
    if (succeeded(layout))
      info.layout = std::move(*layout);
  }
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
