//===- OnnxExport.cpp - Writing compressed models as ONNX -----------------===//
//
// Part of the Slim project, under the Apache License v2.0 with LLVM Exceptions.
// SPDX-License-Identifier: Apache-2.0 WITH LLVM-exception
//
//===----------------------------------------------------------------------===//
//
// The export works on the source ONNX graph, not on the compressed IR: the
// compression passes change weights and what feeds their products, nothing
// else, so the source graph with those weights replaced is the compressed
// model, in the operators its authors wrote. The IR gives, per weight (named
// by its ONNX initializer): the `#slim.quant` storage from `slim.assemble`,
// and from the products reading it the activation scaling
// (`slim.activation_scales` generics) and int8 activations
// (`slim.quantize_activation`).
//
//===----------------------------------------------------------------------===//

#include "lib/Export/OnnxExport.h"

#include "dialects/Slim/IR/SlimOps.h"
#include "lib/Compression/Packing.h"
#include "lib/Import/Onnx/ModelLoader.h"
#include "lib/Support/Files.h"
#include "passes/Transforms/Utils.h"

#include "onnx/onnx.pb.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Linalg/IR/Linalg.h"
#include "mlir/IR/BuiltinAttributes.h"
#include "mlir/IR/DialectResourceBlobManager.h"
#include "llvm/ADT/StringSet.h"
#include "llvm/Support/FormatVariadic.h"
#include "llvm/Support/Path.h"
#include "llvm/Support/raw_ostream.h"

#include <cmath>
#include <cstring>
#include <deque>

using namespace mlir;
using namespace mlir::slim;

namespace {

/// One quantized weight of the compressed module, as the export needs it:
/// the logical `[rows, cols]` matrix (rows = output channels of a linear
/// layer, or the rows of an embedding table), its codes unpacked to one
/// signed value per element with the zero point already subtracted where
/// the encoding has none, and one f32 scale per group.
struct QuantWeight {
  std::string name;
  Operation *anchor = nullptr;
  QuantAttr quant;
  int64_t rows = 0, cols = 0;
  /// Raw codes, one per element, row-major `[rows, cols]`, as read with the
  /// format's signedness (sign-extended for signed codes).
  std::vector<int32_t> codes;
  /// Scales `[rows, groups]` (groups = 1 for per-channel; a per-tensor scale
  /// is repeated for every row).
  std::vector<float> scales;
  int64_t groups = 1, groupSize = 0;
  /// Zero points `[rows, groups]`, read with the format's signedness;
  /// empty without `zero_point` (then the zero point is 0 for signed codes
  /// and 2^(bits-1) for unsigned ones).
  std::vector<int32_t> zeroPoints;
  /// AWQ/SmoothQuant: the activation is multiplied by these per input
  /// channel before the product (empty if not).
  std::vector<float> activationScales;
  bool int8Activations = false;

  int64_t groupOf(int64_t col) const {
    return groupSize > 0 ? col / groupSize : 0;
  }
  /// The element's code minus its zero point: `value = level * scale`.
  int32_t level(int64_t r, int64_t c) const {
    int32_t code = codes[r * cols + c];
    if (!zeroPoints.empty())
      return code - zeroPoints[r * groups + groupOf(c)];
    if (!quant.getIsSigned())
      return code - (1 << (quant.getBits() - 1));
    return code;
  }
};

/// The stored bytes of a constant (getConstantBytes), if `v` is one.
std::optional<ArrayRef<char>> constantBytes(Value v) {
  auto cst = v.getDefiningOp<arith::ConstantOp>();
  return cst ? getConstantBytes(cst.getValue()) : std::nullopt;
}

/// The f32 values of a constant float tensor (f32, f16 or bf16; splats
/// included).
std::optional<std::vector<float>> constantFloats(Value v) {
  auto cst = v.getDefiningOp<arith::ConstantOp>();
  if (!cst)
    return std::nullopt;
  auto type = cast<RankedTensorType>(cst.getType());
  auto ft = dyn_cast<FloatType>(type.getElementType());
  if (!ft)
    return std::nullopt;
  std::vector<float> out;
  out.reserve(type.getNumElements());
  if (auto dense = dyn_cast<DenseElementsAttr>(cst.getValue())) {
    for (APFloat f : dense.getValues<APFloat>()) {
      bool lost;
      f.convert(APFloat::IEEEsingle(), APFloat::rmNearestTiesToEven, &lost);
      out.push_back(f.convertToFloat());
    }
    return out;
  }
  std::optional<ArrayRef<char>> bytes = constantBytes(v);
  if (!bytes)
    return std::nullopt;
  unsigned width = ft.getWidth() / 8;
  if (bytes->size() != static_cast<size_t>(type.getNumElements()) * width)
    return std::nullopt;
  for (int64_t i = 0, e = type.getNumElements(); i < e; ++i) {
    uint64_t raw = 0;
    std::memcpy(&raw, bytes->data() + i * width, width);
    APFloat f(ft.getFloatSemantics(), APInt(ft.getWidth(), raw));
    bool lost;
    f.convert(APFloat::IEEEsingle(), APFloat::rmNearestTiesToEven, &lost);
    out.push_back(f.convertToFloat());
  }
  return out;
}

/// Integer values of a constant i8 tensor (splats included), read signed
/// or unsigned.
std::optional<std::vector<int32_t>> constantInts(Value v, bool isSigned) {
  auto cst = v.getDefiningOp<arith::ConstantOp>();
  if (!cst)
    return std::nullopt;
  auto type = cast<RankedTensorType>(cst.getType());
  if (!type.getElementType().isInteger(8))
    return std::nullopt;
  std::vector<int32_t> out;
  auto push = [&](uint8_t b) {
    out.push_back(isSigned ? static_cast<int32_t>(static_cast<int8_t>(b)) : b);
  };
  if (auto dense = dyn_cast<DenseElementsAttr>(cst.getValue());
      dense && dense.isSplat()) {
    uint8_t b = dense.getSplatValue<APInt>().getZExtValue();
    for (int64_t i = 0; i < type.getNumElements(); ++i)
      push(b);
    return out;
  }
  std::optional<ArrayRef<char>> bytes = constantBytes(v);
  if (!bytes || bytes->size() != static_cast<size_t>(type.getNumElements()))
    return std::nullopt;
  for (char c : *bytes)
    push(static_cast<uint8_t>(c));
  return out;
}

/// Reads what the export needs from the products of `assemble`.
LogicalResult readActivationSide(AssembleOp assemble, QuantWeight &w) {
  bool first = true;
  for (Operation *user : assemble->getUsers()) {
    auto mm = dyn_cast<MatmulOp>(user);
    if (!mm || mm.getRhs() != assemble.getResult() || !mm.getTransposeRhs())
      return assemble.emitError()
             << "ONNX export: weight '" << w.name << "' is used by '"
             << user->getName() << "', which the export does not know";
    Value lhs = mm.getLhs();
    bool int8 = false;
    std::vector<float> scales;
    if (auto qa = lhs.getDefiningOp<QuantizeActivationOp>()) {
      auto enc = dyn_cast<QuantAttr>(
          cast<RankedTensorType>(qa.getType()).getEncoding());
      if (!enc || enc.getFormat() != QuantFormat::Int || enc.getBits() != 8 ||
          !enc.getIsSigned() || !enc.isPerChannel() || enc.getAxis() != 0 ||
          enc.getHasZeroPoint())
        return qa.emitError() << "ONNX export: weight '" << w.name
                              << "': only int8 per-token activations are "
                                 "exported";
      int8 = true;
      lhs = qa.getInput();
    }
    if (auto gen = lhs.getDefiningOp<linalg::GenericOp>();
        gen && gen->hasAttr("slim.activation_scales")) {
      std::optional<std::vector<float>> s =
          constantFloats(gen.getDpsInputOperand(1)->get());
      if (!s)
        return gen.emitError() << "ONNX export: weight '" << w.name
                               << "': activation scales are not constant";
      scales = std::move(*s);
    }
    if (!first && (int8 != w.int8Activations || scales != w.activationScales))
      return mm.emitError() << "ONNX export: weight '" << w.name
                            << "' is read by products that treat their "
                               "activations differently";
    w.int8Activations = int8;
    w.activationScales = std::move(scales);
    first = false;
  }
  return success();
}

/// Turns `w`, the quantized kept values of an N:M weight, into the dense
/// quantized matrix: each kept value's level at its position in its run of
/// m (positions given twice add, as the encoding says), level 0 elsewhere;
/// a group of g kept values covers g * m / n dense columns.
LogicalResult densify(AssembleOp assemble, Value indices, SparseAttr sparse,
                      int64_t denseCols, QuantWeight &w) {
  int64_t n = sparse.getN(), m = sparse.getM(), kept = w.cols;
  std::optional<std::vector<int32_t>> pos =
      indices ? constantInts(indices, /*isSigned=*/false) : std::nullopt;
  if (!pos || pos->size() != static_cast<size_t>(w.rows * kept))
    return assemble.emitError() << "ONNX export: weight '" << w.name
                                << "': sparsity indices are not available";
  if (w.groupSize > 0 && w.groupSize % n != 0)
    return assemble.emitError()
           << "ONNX export: weight '" << w.name << "': groups of "
           << w.groupSize << " kept values do not cover whole runs of " << m;
  unsigned bits = w.quant.getBits();
  int32_t lo = w.quant.getIsSigned() ? -(1 << (bits - 1)) : 0;
  int32_t hi = w.quant.getIsSigned() ? (1 << (bits - 1)) - 1 : (1 << bits) - 1;
  std::vector<int32_t> levels(w.rows * denseCols, 0);
  for (int64_t r = 0; r < w.rows; ++r)
    for (int64_t k = 0; k < kept; ++k) {
      int32_t p = (*pos)[r * kept + k];
      if (p < 0 || p >= m)
        return assemble.emitError()
               << "ONNX export: weight '" << w.name << "': sparsity index " << p
               << " outside a run of " << m;
      levels[r * denseCols + k / n * m + p] += w.level(r, k);
    }
  int64_t keptGroup = w.groupSize;
  if (w.groupSize > 0)
    w.groupSize = w.groupSize / n * m;
  std::vector<int32_t> codes(levels.size());
  for (int64_t r = 0; r < w.rows; ++r)
    for (int64_t c = 0; c < denseCols; ++c) {
      int64_t g = keptGroup > 0 ? c / w.groupSize : 0;
      int32_t zero = !w.zeroPoints.empty()   ? w.zeroPoints[r * w.groups + g]
                     : w.quant.getIsSigned() ? 0
                                             : 1 << (bits - 1);
      int32_t code = levels[r * denseCols + c] + zero;
      if (code < lo || code > hi)
        return assemble.emitError()
               << "ONNX export: weight '" << w.name
               << "': kept values at one position add up beyond the codes";
      codes[r * denseCols + c] = code;
    }
  w.codes = std::move(codes);
  w.cols = denseCols;
  return success();
}

/// Collects the weights Slim quantized: `slim.assemble` of constants whose
/// codes are a resource named `<initializer>.codes`. Weights that came
/// quantized from the model keep their initializer's name and are left as
/// the graph has them.
LogicalResult collectWeights(ModuleOp module, std::vector<QuantWeight> &out) {
  WalkResult walk = module.walk([&](AssembleOp assemble) -> WalkResult {
    auto type = cast<RankedTensorType>(assemble.getType());
    std::string key;
    // Slim-made storage is named `<layer>.<role>`.
    for (Value v : assemble.getOperands()) {
      auto cst = v.getDefiningOp<arith::ConstantOp>();
      if (!cst)
        continue;
      if (auto res = dyn_cast<DenseResourceElementsAttr>(cst.getValue())) {
        StringRef k = res.getRawHandle().getKey();
        for (StringRef role : {".codes", ".values", ".indices", ".row_ptr",
                               ".col_idx", ".u", ".v"})
          if (k.ends_with(role)) {
            key = k.drop_back(role.size()).str();
            break;
          }
      }
      if (!key.empty())
        break;
    }
    if (key.empty())
      return WalkResult::advance();
    // Integer codes, alone or as the kept values of an N:M sparse weight
    // (written dense, the pruned elements as code for zero: exact, the
    // sparsity's speed is lost, its size too).
    EncodingStages stages = getEncodingStages(type.getEncoding());
    QuantAttr quant = stages.quant;
    SparseAttr sparse = stages.sparse;
    bool nm = sparse && sparse.getN() > 0 && sparse.getAxis() == 1;
    if (!quant || stages.lowRank || (sparse && !nm))
      return assemble.emitError()
             << "ONNX export: weight '" << key << "' is stored as "
             << type.getEncoding()
             << ", which ONNX cannot express (the export writes "
                "integer-quantized weights, N:M-sparse ones included)";
    if (quant.getFormat() != QuantFormat::Int)
      return assemble.emitError()
             << "ONNX export: weight '" << key << "' uses "
             << stringifyQuantFormat(quant.getFormat())
             << " codes, which ONNX cannot express (integer codes only)";
    if (type.getRank() != 2)
      return assemble.emitError()
             << "ONNX export: weight '" << key << "' is not a matrix";
    QuantWeight w;
    w.name = key;
    w.anchor = assemble;
    w.quant = quant;
    w.rows = type.getDimSize(0);
    w.cols = type.getDimSize(1);
    int64_t denseCols = w.cols;
    if (nm) // the codes hold the kept values: n of every m columns
      w.cols = denseCols / sparse.getM() * sparse.getN();
    if (quant.isGrouped() && quant.getAxis() != 1)
      return assemble.emitError()
             << "ONNX export: weight '" << key
             << "': groups along the rows are not exported";
    if (quant.isPerChannel() && quant.getAxis() != 0)
      return assemble.emitError() << "ONNX export: weight '" << key
                                  << "': one scale per column is not exported";
    w.groupSize = quant.getGroupSize();
    w.groups = quant.isGrouped() ? (w.cols + w.groupSize - 1) / w.groupSize : 1;

    FailureOr<StorageLayout> layout =
        StorageLayout::get(type, [&] { return assemble.emitError(); });
    if (failed(layout))
      return WalkResult::interrupt();
    QuantStorage parts = layout->getQuantStorage(assemble.getOperands());
    unsigned bits = quant.getBits();
    int64_t rowBytes = quant.getPackedSize(w.cols);
    std::optional<ArrayRef<char>> packed = constantBytes(parts.codes);
    if (!packed || packed->size() != static_cast<size_t>(w.rows * rowBytes))
      return assemble.emitError()
             << "ONNX export: weight '" << key << "': codes are not available";
    w.codes.resize(w.rows * w.cols);
    std::vector<uint8_t> row(w.cols);
    for (int64_t r = 0; r < w.rows; ++r) {
      unpackCodes(ArrayRef<uint8_t>(reinterpret_cast<const uint8_t *>(
                                        packed->data() + r * rowBytes),
                                    rowBytes),
                  bits, row);
      for (int64_t c = 0; c < w.cols; ++c) {
        int32_t code = row[c];
        if (quant.getIsSigned() && code >= (1 << (bits - 1)))
          code -= 1 << bits;
        w.codes[r * w.cols + c] = code;
      }
    }
    std::optional<std::vector<float>> scales = constantFloats(parts.scales);
    if (!scales)
      return assemble.emitError()
             << "ONNX export: weight '" << key << "': scales are not constant";
    if (quant.isPerTensor()) {
      if (scales->size() != 1)
        return assemble.emitError() << "ONNX export: bad scales";
      w.scales.assign(w.rows, (*scales)[0]);
    } else {
      w.scales = std::move(*scales);
    }
    if (w.scales.size() != static_cast<size_t>(w.rows * w.groups))
      return assemble.emitError() << "ONNX export: weight '" << key
                                  << "': unexpected number of scales";
    for (float s : w.scales)
      if (!std::isfinite(s))
        return assemble.emitError()
               << "ONNX export: weight '" << key << "': a scale is not finite";
    if (quant.getHasZeroPoint()) {
      std::optional<std::vector<int32_t>> zp =
          constantInts(parts.zeroPoints, quant.getIsSigned());
      if (!zp)
        return assemble.emitError() << "ONNX export: weight '" << key
                                    << "': zero points are not constant";
      if (quant.isPerTensor() && zp->size() == 1)
        zp->assign(w.rows, (*zp)[0]);
      if (zp->size() != static_cast<size_t>(w.rows * w.groups))
        return assemble.emitError() << "ONNX export: bad zero points";
      w.zeroPoints = std::move(*zp);
    }
    if (nm && failed(densify(assemble,
                             layout->lookup(assemble.getOperands(), "indices"),
                             sparse, denseCols, w)))
      return WalkResult::interrupt();
    if (failed(readActivationSide(assemble, w)))
      return WalkResult::interrupt();
    out.push_back(std::move(w));
    return WalkResult::advance();
  });
  return failure(walk.wasInterrupted());
}

//===----------------------------------------------------------------------===//
// Building the ONNX graph
//===----------------------------------------------------------------------===//

/// Where a tensor is read: node index and input slot.
struct Use {
  int node;
  int slot;
};

/// Tensors are collected with their bytes and written at the end (inline
/// or to the external data file).
struct PendingTensor {
  onnx::TensorProto proto; ///< without data
  ArrayRef<char> bytes;    ///< points into `owned` or the source file
  std::shared_ptr<const void> keepAlive;
  std::vector<char> owned;
};

class Exporter {
public:
  Exporter(ModuleOp module, onnx_import::ModelFile &source,
           const OnnxExportOptions &options)
      : module(module), source(source), options(options) {}

  FailureOr<OnnxExportSummary> run(StringRef outPath);

private:
  InFlightDiagnostic emitError(Operation *anchor = nullptr) {
    return anchor ? anchor->emitError() : source.emitError();
  }
  LogicalResult exportWeight(const QuantWeight &w);
  LogicalResult asMatMulNBits(const QuantWeight &w, ArrayRef<Use> uses);
  LogicalResult asDequantizeLinear(const QuantWeight &w, bool transposed);
  /// Nodes computing the activation transform of `w` on `input`; returns
  /// the transformed name (appended to `before`).
  std::string transformActivation(const QuantWeight &w, StringRef input,
                                  std::vector<onnx::NodeProto> &before);
  std::string freshName(StringRef base);
  void addTensor(StringRef name, int32_t dtype, ArrayRef<int64_t> dims,
                 std::vector<char> bytes);
  LogicalResult raiseOpset(const QuantWeight &w);

  ModuleOp module;
  onnx_import::ModelFile &source;
  const OnnxExportOptions &options;
  onnx::ModelProto model;
  /// The graph's nodes; replaced nodes are rewritten in place, and
  /// `insertBefore[i]` goes before node i.
  std::vector<onnx::NodeProto> nodes;
  std::vector<std::vector<onnx::NodeProto>> insertBefore;
  std::vector<onnx::NodeProto> prologue;
  /// The model's tensors in order (a deque: bytes point into them).
  std::deque<PendingTensor> tensors;
  llvm::StringMap<size_t> tensorIndex;
  PendingTensor &newTensor(StringRef name) {
    tensorIndex[name] = tensors.size();
    return tensors.emplace_back();
  }
  bool hasTensor(StringRef name) const { return tensorIndex.count(name); }
  llvm::StringSet<> removed;
  llvm::StringSet<> names;
  llvm::StringMap<std::vector<Use>> uses;
  /// Resource keys of the module's constants (weights still read dense).
  llvm::StringSet<> denseKeys;
  bool needsContrib = false;
  int64_t opset = 0;
  OnnxExportSummary summary;
};

std::string Exporter::freshName(StringRef base) {
  std::string name = base.str();
  for (int i = 1; names.contains(name); ++i)
    name = (base + "_" + Twine(i)).str();
  names.insert(name);
  return name;
}

void Exporter::addTensor(StringRef name, int32_t dtype, ArrayRef<int64_t> dims,
                         std::vector<char> bytes) {
  PendingTensor &t = newTensor(name);
  t.proto.set_name(name.str());
  t.proto.set_data_type(dtype);
  for (int64_t d : dims)
    t.proto.add_dims(d);
  t.owned = std::move(bytes);
  t.bytes = t.owned;
}

template <typename T> std::vector<char> toBytes(ArrayRef<T> values) {
  std::vector<char> out(values.size() * sizeof(T));
  std::memcpy(out.data(), values.data(), out.size());
  return out;
}

onnx::AttributeProto intAttr(StringRef name, int64_t v) {
  onnx::AttributeProto a;
  a.set_name(name.str());
  a.set_type(onnx::AttributeProto::INT);
  a.set_i(v);
  return a;
}

onnx::NodeProto makeNode(StringRef op, ArrayRef<std::string> inputs,
                         ArrayRef<std::string> outputs, StringRef name) {
  onnx::NodeProto n;
  n.set_op_type(op.str());
  n.set_name(name.str());
  for (const std::string &i : inputs)
    n.add_input(i);
  for (const std::string &o : outputs)
    n.add_output(o);
  return n;
}

std::string
Exporter::transformActivation(const QuantWeight &w, StringRef input,
                              std::vector<onnx::NodeProto> &before) {
  std::string x = input.str();
  if (!w.activationScales.empty()) {
    std::string s = w.name + ".activation_scales";
    if (!hasTensor(s)) {
      names.insert(s);
      addTensor(s, onnx::TensorProto::FLOAT,
                {static_cast<int64_t>(w.activationScales.size())},
                toBytes(ArrayRef<float>(w.activationScales)));
      ++summary.activationScales;
    }
    std::string y = freshName(w.name + ".scaled_input");
    before.push_back(makeNode("Mul", {x, s}, {y}, y));
    x = y;
  }
  if (w.int8Activations) {
    // scale = max|x| / 127 per token (1 where the row is all zero),
    // x' = round_half_even(x / scale) * scale: slim.quantize_activation's
    // rounding, in float arithmetic any ONNX runtime has.
    ++summary.int8Activations;
    auto constant = [&](StringRef suffix, float v) {
      std::string name = "slim.int8_activations." + suffix.str();
      if (!hasTensor(name)) {
        names.insert(name);
        addTensor(name, onnx::TensorProto::FLOAT, {},
                  toBytes(ArrayRef<float>(v)));
      }
      return name;
    };
    std::string axes = "slim.int8_activations.axes";
    if (!hasTensor(axes)) {
      names.insert(axes);
      int64_t last = -1;
      addTensor(axes, onnx::TensorProto::INT64, {1},
                toBytes(ArrayRef<int64_t>(last)));
    }
    std::string base = w.name + ".int8_input";
    std::string abs = freshName(base + ".abs"), max = freshName(base + ".max"),
                scale0 = freshName(base + ".scale0"),
                zero = freshName(base + ".is_zero"),
                scale = freshName(base + ".scale"),
                div = freshName(base + ".div"),
                round = freshName(base + ".round"), y = freshName(base);
    before.push_back(makeNode("Abs", {x}, {abs}, abs));
    onnx::NodeProto reduce = makeNode("ReduceMax", {abs, axes}, {max}, max);
    *reduce.add_attribute() = intAttr("keepdims", 1);
    before.push_back(reduce);
    before.push_back(
        makeNode("Div", {max, constant("127", 127.0f)}, {scale0}, scale0));
    before.push_back(
        makeNode("Equal", {max, constant("0", 0.0f)}, {zero}, zero));
    before.push_back(
        makeNode("Where", {zero, constant("1", 1.0f), scale0}, {scale}, scale));
    before.push_back(makeNode("Div", {x, scale}, {div}, div));
    before.push_back(makeNode("Round", {div}, {round}, round));
    before.push_back(makeNode("Mul", {round, scale}, {y}, y));
    x = y;
  }
  return x;
}

/// MatMulNBits: B `[N, blocks, blob]` of unsigned `bits`-wide codes with
/// each block padded to whole bytes, f32 scales `[N * blocks]`, optional
/// zero points packed per row. Slim's groups map to blocks of a power of
/// two (at least 16) that divides the group size, the scale repeated.
LogicalResult Exporter::asMatMulNBits(const QuantWeight &w,
                                      ArrayRef<Use> consumers) {
  int64_t k = w.cols, n = w.rows;
  unsigned bits = w.quant.getBits() <= 4 ? 4 : 8;
  if (bits != w.quant.getBits())
    ++summary.widened;
  int64_t block = 0;
  if (w.groupSize > 0) {
    block = w.groupSize & -w.groupSize; // largest power of two dividing it
    while (block > 256)
      block /= 2;
  } else {
    block = 128;
    while (block > 16 && block / 2 >= k)
      block /= 2;
  }
  int64_t blocks = (k + block - 1) / block;
  int64_t blob = block * bits / 8;
  int32_t half = 1 << (bits - 1);
  // value = (u - z) * scale with u, z unsigned: Slim's levels shifted by
  // half, or (code + offset) - (zero point + offset) with a stored zero
  // point.
  bool storeZp = !w.zeroPoints.empty();
  int32_t offset = w.quant.getIsSigned() ? half : 0;
  std::vector<char> codes(n * blocks * blob, 0);
  std::vector<uint8_t> unpacked(block);
  for (int64_t r = 0; r < n; ++r)
    for (int64_t b = 0; b < blocks; ++b) {
      std::fill(unpacked.begin(), unpacked.end(), 0);
      for (int64_t i = 0; i < block && b * block + i < k; ++i) {
        int64_t c = b * block + i;
        int32_t u =
            storeZp ? w.codes[r * k + c] + offset : w.level(r, c) + half;
        assert(u >= 0 && u < (1 << bits) && "codes fit the wider range");
        unpacked[i] = static_cast<uint8_t>(u);
      }
      packCodes(
          unpacked, bits,
          MutableArrayRef<uint8_t>(reinterpret_cast<uint8_t *>(codes.data()) +
                                       (r * blocks + b) * blob,
                                   blob));
    }
  std::vector<float> scales(n * blocks);
  for (int64_t r = 0; r < n; ++r)
    for (int64_t b = 0; b < blocks; ++b)
      scales[r * blocks + b] = w.scales[r * w.groups + w.groupOf(b * block)];
  std::string codesName = w.name + ".codes", scalesName = w.name + ".scales";
  names.insert(codesName);
  names.insert(scalesName);
  addTensor(codesName, onnx::TensorProto::UINT8, {n, blocks, blob},
            std::move(codes));
  addTensor(scalesName, onnx::TensorProto::FLOAT, {n * blocks},
            toBytes(ArrayRef<float>(scales)));
  std::string zpName;
  if (storeZp) {
    int64_t zpRow = (blocks * bits + 7) / 8;
    std::vector<char> zp(n * zpRow, 0);
    std::vector<uint8_t> zs(blocks);
    for (int64_t r = 0; r < n; ++r) {
      for (int64_t b = 0; b < blocks; ++b) {
        int32_t z = w.zeroPoints[r * w.groups + w.groupOf(b * block)] + offset;
        if (z < 0 || z >= (1 << bits))
          return emitError(w.anchor)
                 << "ONNX export: weight '" << w.name << "': zero point "
                 << z - offset << " is outside the codes' range";
        zs[b] = static_cast<uint8_t>(z);
      }
      packCodes(zs, bits,
                MutableArrayRef<uint8_t>(
                    reinterpret_cast<uint8_t *>(zp.data()) + r * zpRow, zpRow));
    }
    zpName = w.name + ".zero_points";
    names.insert(zpName);
    addTensor(zpName, onnx::TensorProto::UINT8, {n * zpRow}, std::move(zp));
  }
  for (const Use &use : consumers) {
    onnx::NodeProto &old = nodes[use.node];
    std::string a =
        transformActivation(w, old.input(0), insertBefore[use.node]);
    onnx::NodeProto node;
    node.set_op_type("MatMulNBits");
    node.set_domain("com.microsoft");
    node.set_name(old.name().empty() ? w.name + ".MatMulNBits" : old.name());
    node.add_input(a);
    node.add_input(codesName);
    node.add_input(scalesName);
    if (storeZp)
      node.add_input(zpName);
    node.add_output(old.output(0));
    *node.add_attribute() = intAttr("K", k);
    *node.add_attribute() = intAttr("N", n);
    *node.add_attribute() = intAttr("bits", bits);
    *node.add_attribute() = intAttr("block_size", block);
    old = std::move(node);
    ++summary.matMulNBits;
  }
  needsContrib = true;
  return success();
}

LogicalResult Exporter::raiseOpset(const QuantWeight &w) {
  if (opset >= 21)
    return success();
  // Between opsets 18 and 21 only these operators changed meaning; the
  // others gained types or attributes with defaults that keep the old
  // behaviour.
  static const char *changed[] = {"GroupNormalization", "DFT", "GridSample"};
  std::string blocking;
  if (opset < 18)
    blocking = "operators changed meaning since opset " + std::to_string(opset);
  for (const onnx::NodeProto &node : nodes)
    if (node.domain().empty() || node.domain() == "ai.onnx")
      for (const char *op : changed)
        if (node.op_type() == op)
          blocking = node.op_type() + " changed meaning in opset 21";
  if (!blocking.empty())
    return emitError(w.anchor)
           << "ONNX export: weight '" << w.name
           << "' needs DequantizeLinear with 4-bit codes or blocks (opset "
              "21), and the model's opset "
           << opset << " cannot be raised: " << blocking
           << " (convert the model to opset 21 first)";
  summary.opsetRaisedFrom = opset;
  for (auto &imp : *model.mutable_opset_import())
    if (imp.domain().empty() || imp.domain() == "ai.onnx")
      imp.set_version(21);
  if (model.ir_version() < 10)
    model.set_ir_version(10);
  opset = 21;
  return success();
}

/// DequantizeLinear producing the initializer's name, in the initializer's
/// orientation (the transpose of Slim's `[N, K]` for MatMul weights).
LogicalResult Exporter::asDequantizeLinear(const QuantWeight &w,
                                           bool transposed) {
  if (!w.activationScales.empty() || w.int8Activations)
    return emitError(w.anchor)
           << "ONNX export: weight '" << w.name
           << "' has scaled or int8 activations and uses other than "
              "MatMul inputs";
  unsigned bits = w.quant.getBits();
  bool storeZp = !w.zeroPoints.empty();
  // Unsigned codes without a stored zero point are written as signed
  // levels (ONNX's default zero point is 0).
  bool isSigned = w.quant.getIsSigned() || !storeZp;
  bool four = bits <= 4;
  if (four || w.groupSize > 0 || opset < 13)
    if (failed(raiseOpset(w)))
      return failure();
  int32_t dtype =
      four ? (isSigned ? onnx::TensorProto::INT4 : onnx::TensorProto::UINT4)
           : (isSigned ? onnx::TensorProto::INT8 : onnx::TensorProto::UINT8);
  int64_t r0 = transposed ? w.cols : w.rows, c0 = transposed ? w.rows : w.cols;
  std::vector<uint8_t> values(r0 * c0);
  for (int64_t r = 0; r < w.rows; ++r)
    for (int64_t c = 0; c < w.cols; ++c) {
      int32_t v = storeZp ? w.codes[r * w.cols + c] : w.level(r, c);
      values[transposed ? c * c0 + r : r * c0 + c] = static_cast<uint8_t>(v);
    }
  auto pack = [&](ArrayRef<uint8_t> vals) {
    std::vector<char> out;
    if (four) {
      out.assign((vals.size() + 1) / 2, 0);
      for (size_t i = 0; i < vals.size(); ++i)
        out[i / 2] |= static_cast<char>((vals[i] & 0xF) << (i % 2 ? 4 : 0));
    } else {
      out.assign(vals.begin(), vals.end());
    }
    return out;
  };
  std::string codesName = w.name + ".codes", scalesName = w.name + ".scales";
  names.insert(codesName);
  names.insert(scalesName);
  addTensor(codesName, dtype, {r0, c0}, pack(values));
  // Scales (and zero points) in the initializer's orientation: blocked
  // along the columns of Slim's matrix, or one per row of it.
  int64_t axis = transposed ? 0 : 1;
  std::vector<int64_t> sDims;
  std::vector<float> scales;
  std::vector<uint8_t> zps;
  auto at = [&](int64_t r, int64_t g) { return r * w.groups + g; };
  if (w.groupSize > 0) {
    sDims = transposed ? std::vector<int64_t>{w.groups, w.rows}
                       : std::vector<int64_t>{w.rows, w.groups};
    for (int64_t i = 0; i < sDims[0]; ++i)
      for (int64_t j = 0; j < sDims[1]; ++j) {
        int64_t idx = transposed ? at(j, i) : at(i, j);
        scales.push_back(w.scales[idx]);
        if (storeZp)
          zps.push_back(static_cast<uint8_t>(w.zeroPoints[idx]));
      }
  } else {
    // One scale per row of Slim's matrix: per-axis on the axis holding
    // the rows.
    axis = transposed ? 1 : 0;
    sDims = {w.rows};
    for (int64_t r = 0; r < w.rows; ++r) {
      scales.push_back(w.scales[r]);
      if (storeZp)
        zps.push_back(static_cast<uint8_t>(w.zeroPoints[r]));
    }
  }
  addTensor(scalesName, onnx::TensorProto::FLOAT, sDims,
            toBytes(ArrayRef<float>(scales)));
  onnx::NodeProto node = makeNode("DequantizeLinear", {codesName, scalesName},
                                  {w.name}, w.name + ".DequantizeLinear");
  // Zero points are written even where they are all zero: onnxruntime's
  // QDQ propagation (basic optimizations) moves a DequantizeLinear past a
  // Transpose by adding a QuantizeLinear, which without a zero point
  // produces uint8 and fails the type check for int8 codes (1.23).
  if (!storeZp)
    zps.assign(scales.size(), 0);
  std::string zpName = w.name + ".zero_points";
  names.insert(zpName);
  addTensor(zpName, dtype, sDims, pack(zps));
  node.add_input(zpName);
  *node.add_attribute() = intAttr("axis", axis);
  if (w.groupSize > 0)
    *node.add_attribute() = intAttr("block_size", w.groupSize);
  prologue.push_back(std::move(node));
  ++summary.dequantizeLinear;
  return success();
}

LogicalResult Exporter::exportWeight(const QuantWeight &w) {
  auto it = tensorIndex.find(w.name);
  if (it == tensorIndex.end() || removed.contains(w.name))
    return emitError(w.anchor)
           << "ONNX export: weight '" << w.name << "' is not an initializer of "
           << source.getPath();
  const onnx::TensorProto &init = tensors[it->second].proto;
  if (init.dims_size() != 2 || init.data_type() != onnx::TensorProto::FLOAT)
    return emitError(w.anchor) << "ONNX export: initializer '" << w.name
                               << "' is not a 2-D float tensor";
  if (denseKeys.contains(w.name))
    return emitError(w.anchor)
           << "ONNX export: weight '" << w.name
           << "' is also read unquantized by the compressed model";
  for (const onnx::ValueInfoProto &in : model.graph().input())
    if (in.name() == w.name)
      return emitError(w.anchor)
             << "ONNX export: initializer '" << w.name
             << "' is also a graph input (it could be overridden at run time)";
  int64_t a = init.dims(0), b = init.dims(1);
  std::vector<Use> consumers = uses.lookup(w.name);
  // Slim's linear layers are the transpose of the MatMul initializer
  // ([N, K] for [K, N]); embedding tables (read by Gather, and by a tied
  // head through Transpose) keep its orientation. The ONNX readers say which
  // this weight is, also when it is square.
  bool onlyMatMulB = !consumers.empty();
  bool matmulB = false, table = false;
  for (const Use &u : consumers) {
    const onnx::NodeProto &node = nodes[u.node];
    bool plain = node.domain().empty() || node.domain() == "ai.onnx";
    bool isMatMulB = plain && node.op_type() == "MatMul" && u.slot == 1;
    onlyMatMulB &= isMatMulB;
    matmulB |= isMatMulB;
    table |= plain && u.slot == 0 &&
             (node.op_type() == "Gather" || node.op_type() == "Transpose");
  }
  if (matmulB == table)
    return emitError(w.anchor)
           << "ONNX export: initializer '" << w.name << "' is read "
           << (matmulB ? "both as a MatMul weight and as a "
                         "table"
                       : "by neither a MatMul nor a Gather")
           << ": cannot tell its layout";
  bool transposed = matmulB;
  if (transposed ? !(a == w.cols && b == w.rows)
                 : !(a == w.rows && b == w.cols))
    return emitError(w.anchor)
           << "ONNX export: initializer '" << w.name << "' is " << a << "x" << b
           << ", the compressed weight " << w.rows << "x" << w.cols;
  if (onlyMatMulB && transposed)
    return asMatMulNBits(w, consumers);
  if (failed(asDequantizeLinear(w, transposed)))
    return failure();
  return success();
}

FailureOr<OnnxExportSummary> Exporter::run(StringRef outPath) {
  std::vector<QuantWeight> weights;
  if (failed(collectWeights(module, weights)))
    return failure();

  module.walk([&](arith::ConstantOp cst) {
    if (auto res = dyn_cast<DenseResourceElementsAttr>(cst.getValue()))
      denseKeys.insert(res.getRawHandle().getKey());
  });
  const onnx::ModelProto &src = source.getModel();
  model = src;
  model.mutable_graph()->clear_initializer();
  model.mutable_graph()->clear_node();
  for (const auto &imp : model.opset_import())
    if (imp.domain().empty() || imp.domain() == "ai.onnx")
      opset = imp.version();
  const onnx::GraphProto &graph = src.graph();
  bool sourceExternal = false;
  uint64_t total = 0;
  for (const onnx::TensorProto &t : graph.initializer()) {
    if (hasTensor(t.name()))
      return source.emitError() << "ONNX export: initializer '" << t.name()
                                << "' is defined twice";
    PendingTensor &p = newTensor(t.name());
    p.proto = t;
    p.proto.clear_raw_data();
    p.proto.clear_float_data();
    p.proto.clear_int32_data();
    p.proto.clear_int64_data();
    p.proto.clear_double_data();
    p.proto.clear_uint64_data();
    p.proto.clear_external_data();
    p.proto.clear_data_location();
    if (t.data_type() == onnx::TensorProto::STRING)
      return source.emitError() << "ONNX export: string initializer '"
                                << t.name() << "' is not supported";
    sourceExternal |= t.data_location() == onnx::TensorProto::EXTERNAL;
    FailureOr<ArrayRef<char>> bytes = source.getTensorBytes(
        t, p.keepAlive, [&] { return source.emitError(); });
    if (failed(bytes))
      return failure();
    p.bytes = *bytes;
    total += p.bytes.size();
    names.insert(t.name());
  }
  for (const onnx::NodeProto &node : graph.node()) {
    int index = static_cast<int>(nodes.size());
    nodes.push_back(node);
    for (int i = 0; i < node.input_size(); ++i)
      if (!node.input(i).empty())
        uses[node.input(i)].push_back({index, i});
    for (const std::string &o : node.output())
      names.insert(o);
    for (const onnx::AttributeProto &attr : node.attribute())
      if (attr.has_g() || attr.graphs_size())
        for (const QuantWeight &w : weights) {
          std::string text;
          // A subgraph that reads a replaced weight by name would be
          // left reading a removed initializer.
          auto reads = [&](const onnx::GraphProto &g) {
            for (const onnx::NodeProto &sn : g.node())
              for (const std::string &in : sn.input())
                if (in == w.name)
                  return true;
            return false;
          };
          if ((attr.has_g() && reads(attr.g())) ||
              llvm::any_of(attr.graphs(), reads))
            return emitError(w.anchor)
                   << "ONNX export: weight '" << w.name
                   << "' is read inside the subgraph of node '" << node.name()
                   << "'";
        }
  }
  for (const onnx::ValueInfoProto &v : graph.input())
    names.insert(v.name());
  insertBefore.resize(nodes.size());

  for (const QuantWeight &w : weights) {
    if (failed(exportWeight(w)))
      return failure();
    removed.insert(w.name);
  }

  // The graph: DequantizeLinear nodes first, then the source's nodes with
  // the activation transforms before the products that read them.
  onnx::GraphProto *out = model.mutable_graph();
  for (onnx::NodeProto &n : prologue)
    *out->add_node() = std::move(n);
  for (size_t i = 0; i < nodes.size(); ++i) {
    for (onnx::NodeProto &n : insertBefore[i])
      *out->add_node() = std::move(n);
    *out->add_node() = std::move(nodes[i]);
  }
  if (needsContrib) {
    bool has = false;
    for (const auto &imp : model.opset_import())
      has |= imp.domain() == "com.microsoft";
    if (!has) {
      onnx::OperatorSetIdProto *imp = model.add_opset_import();
      imp->set_domain("com.microsoft");
      imp->set_version(1);
    }
  }
  // Tensors: inline, or in `<out>.data` (64-byte aligned).
  bool external =
      options.externalData == OnnxExportOptions::ExternalData::Always ||
      (options.externalData == OnnxExportOptions::ExternalData::Auto &&
       (sourceExternal || total > (1ull << 30)));
  std::string dataName = llvm::sys::path::filename(outPath).str() + ".data";
  llvm::SmallString<256> dataPath(outPath);
  llvm::sys::path::remove_filename(dataPath);
  llvm::sys::path::append(dataPath, dataName);
  std::optional<TempOutput> dataOut;
  std::unique_ptr<llvm::raw_fd_ostream> dataStream;
  if (external) {
    llvm::Expected<TempOutput> d = TempOutput::create(dataPath);
    if (!d)
      return source.emitError() << "cannot write " << dataPath << ": "
                                << llvm::toString(d.takeError());
    dataOut.emplace(std::move(*d));
    dataStream = std::make_unique<llvm::raw_fd_ostream>(dataOut->takeFD(),
                                                        /*shouldClose=*/true);
  }
  uint64_t offset = 0;
  for (PendingTensor &t : tensors) {
    if (removed.contains(t.proto.name()))
      continue;
    onnx::TensorProto *proto = out->add_initializer();
    *proto = t.proto;
    if (external && t.bytes.size() >= 1024) {
      uint64_t aligned = (offset + 63) & ~uint64_t(63);
      dataStream->write_zeros(aligned - offset);
      dataStream->write(t.bytes.data(), t.bytes.size());
      proto->set_data_location(onnx::TensorProto::EXTERNAL);
      auto add = [&](StringRef key, StringRef value) {
        onnx::StringStringEntryProto *e = proto->add_external_data();
        e->set_key(key.str());
        e->set_value(value.str());
      };
      add("location", dataName);
      add("offset", std::to_string(aligned));
      add("length", std::to_string(t.bytes.size()));
      offset = aligned + t.bytes.size();
    } else {
      proto->set_raw_data(t.bytes.data(), t.bytes.size());
    }
    t.owned.clear();
    t.keepAlive.reset();
  }
  std::string serialized;
  if (model.ByteSizeLong() > (1ull << 31) - 1)
    return source.emitError()
           << "ONNX export: the model exceeds protobuf's 2 GB; write its "
              "tensors as external data";
  if (!model.SerializeToString(&serialized))
    return source.emitError() << "ONNX export: cannot serialize the model";
  llvm::Expected<TempOutput> modelOut = TempOutput::create(outPath);
  if (!modelOut)
    return source.emitError() << "cannot write " << outPath << ": "
                              << llvm::toString(modelOut.takeError());
  {
    llvm::raw_fd_ostream os(modelOut->takeFD(), /*shouldClose=*/true);
    os << serialized;
    os.close();
    if (os.has_error()) {
      os.clear_error();
      return source.emitError() << "error writing " << outPath;
    }
  }
  if (dataStream) {
    dataStream->close();
    if (dataStream->has_error()) {
      dataStream->clear_error();
      return source.emitError() << "error writing " << dataPath;
    }
    if (llvm::Error e = dataOut->commit())
      return source.emitError() << llvm::toString(std::move(e));
    summary.dataPath = std::string(dataPath);
    summary.dataBytes = offset;
  }
  if (llvm::Error e = modelOut->commit())
    return source.emitError() << llvm::toString(std::move(e));
  summary.modelBytes = serialized.size();
  return summary;
}

} // namespace

FailureOr<OnnxExportSummary>
mlir::slim::exportCompressedOnnx(ModuleOp module, StringRef sourcePath,
                                 StringRef outPath,
                                 const OnnxExportOptions &options) {
  FailureOr<std::shared_ptr<onnx_import::ModelFile>> source =
      onnx_import::ModelFile::load(module.getContext(), sourcePath);
  if (failed(source))
    return failure();
  Exporter exporter(module, **source, options);
  return exporter.run(outPath);
}
