//===- ModelLoader.cpp - Reading ONNX files and tensor data ---------------===//
//
// Part of the Slim project, under the Apache License v2.0 with LLVM Exceptions.
// SPDX-License-Identifier: Apache-2.0 WITH LLVM-exception
//
//===----------------------------------------------------------------------===//

#include "lib/Import/Onnx/ModelLoader.h"
#include "lib/Import/Onnx/ImportContext.h"

#include "onnx/onnx.pb.h"

#include "mlir/IR/Location.h"
#include "llvm/ADT/SmallString.h"
#include "llvm/Support/Path.h"

#include <google/protobuf/io/coded_stream.h>
#include <google/protobuf/io/zero_copy_stream_impl_lite.h>

#include "lib/Support/Files.h"
#include "lib/Support/Sizes.h"

#include <climits>
#include <cstring>

using namespace mlir;
using namespace mlir::slim::onnx_import;

InFlightDiagnostic ModelFile::emitError() const { return mlir::emitError(loc); }

FailureOr<std::shared_ptr<ModelFile>> ModelFile::load(MLIRContext *ctx,
                                                      StringRef path) {
  auto buffer = mlir::slim::readRegularFile(path);
  if (!buffer)
    return mlir::emitError(FileLineColLoc::get(ctx, path, 0, 0))
           << "cannot read ONNX model: " << llvm::toString(buffer.takeError());
  return load(ctx, path, std::move(*buffer));
}

FailureOr<std::shared_ptr<ModelFile>>
ModelFile::load(MLIRContext *ctx, StringRef path,
                std::unique_ptr<llvm::MemoryBuffer> buffer) {
  std::shared_ptr<ModelFile> file(new ModelFile());
  file->path = path.str();
  SmallString<256> dir(path);
  llvm::sys::path::remove_filename(dir);
  file->directory = dir.str().str();
  file->loc = FileLineColLoc::get(ctx, path, 0, 0);
  StringRef bytes = buffer->getBuffer();
  if (bytes.size() > static_cast<size_t>(INT_MAX))
    return file->emitError()
           << "ONNX model is " << bytes.size()
           << " bytes; protobuf files are limited to 2 GiB, store the "
              "weights as external data";

  file->model = std::make_shared<onnx::ModelProto>();
  google::protobuf::io::ArrayInputStream array(bytes.data(),
                                               static_cast<int>(bytes.size()));
  google::protobuf::io::CodedInputStream stream(&array);
  stream.SetTotalBytesLimit(INT_MAX);
  if (!file->model->ParseFromCodedStream(&stream) ||
      !stream.ConsumedEntireMessage())
    return file->emitError()
           << "cannot parse ONNX model: truncated or corrupt protobuf";
  const onnx::ModelProto &model = *file->model;
  if (model.ir_version() <= 0 || !model.has_graph() ||
      model.opset_import_size() == 0)
    return file->emitError() << "not an ONNX model: "
                             << (model.ir_version() <= 0 ? "missing ir_version"
                                 : !model.has_graph()    ? "missing graph"
                                                      : "missing opset_import");
  // IR version 3 introduced opset_import; a newer one than the ONNX release
  // Slim is built with may mean fields this importer does not know.
  if (model.ir_version() < 3 ||
      model.ir_version() > static_cast<int64_t>(onnx::IR_VERSION))
    return file->emitError()
           << "unsupported ONNX IR version " << model.ir_version()
           << "; Slim reads IR versions 3 to "
           << static_cast<int64_t>(onnx::IR_VERSION);
  return file;
}

size_t ModelFile::getElementSize(int32_t dtype) {
  switch (dtype) {
  case kBool:
  case kInt8:
  case kUInt8:
    return 1;
  case kInt16:
  case kUInt16:
  case kFloat16:
  case kBFloat16:
    return 2;
  case kFloat:
  case kInt32:
  case kUInt32:
    return 4;
  case kInt64:
  case kUInt64:
  case kDouble:
    return 8;
  default:
    return 0;
  }
}

/// Copies a repeated field of `From` into a buffer of `To`s (truncating
/// integer bit patterns as ONNX's int32_data packing prescribes).
template <typename To, typename Field>
static std::shared_ptr<std::vector<char>> convertField(const Field &field) {
  auto out = std::make_shared<std::vector<char>>(field.size() * sizeof(To));
  for (int i = 0; i < field.size(); ++i) {
    To v = static_cast<To>(field.Get(i));
    std::memcpy(out->data() + i * sizeof(To), &v, sizeof(To));
  }
  return out;
}

FailureOr<ArrayRef<char>>
ModelFile::getTensorBytes(const onnx::TensorProto &tensor,
                          std::shared_ptr<const void> &keepAlive,
                          function_ref<InFlightDiagnostic()> emitError) {
  int32_t dtype = tensor.data_type();
  bool int4 = dtype == kInt4 || dtype == kUInt4;
  size_t elementSize = getElementSize(dtype);
  if (!elementSize && !int4)
    return emitError() << "tensor '" << tensor.name() << "' has unsupported "
                       << "element type " << getDTypeName(dtype);
  for (int64_t d : tensor.dims())
    if (d < 0)
      return emitError() << "tensor '" << tensor.name()
                         << "' has a negative dimension " << d;
  std::optional<uint64_t> elements =
      mlir::slim::elementCount(tensor.dims().data(), tensor.dims_size());
  std::optional<uint64_t> bytes =
      elements ? mlir::slim::byteCount(*elements, int4 ? 1 : elementSize)
               : std::nullopt;
  if (!bytes)
    return emitError() << "tensor '" << tensor.name()
                       << "' has more elements than Slim accepts (the product "
                          "of its dimensions exceeds 2^48 elements or bytes)";
  uint64_t numel = *elements;
  // 4-bit types pack two elements per byte, low nibble first.
  uint64_t expected = int4 ? (numel + 1) / 2 : *bytes;
  if (int4 && tensor.data_location() != onnx::TensorProto::EXTERNAL &&
      !tensor.has_raw_data())
    return emitError() << "tensor '" << tensor.name()
                       << "': 4-bit tensors must use raw or external data";

  if (tensor.data_location() == onnx::TensorProto::EXTERNAL) {
    std::string location;
    uint64_t offset = 0;
    std::optional<uint64_t> length;
    for (const auto &entry : tensor.external_data()) {
      if (entry.key() == "location")
        location = entry.value();
      else if (entry.key() == "offset" || entry.key() == "length") {
        uint64_t v;
        if (StringRef(entry.value()).getAsInteger(10, v))
          return emitError() << "tensor '" << tensor.name()
                             << "' has a malformed external data "
                             << entry.key() << " '" << entry.value() << "'";
        if (entry.key() == "offset")
          offset = v;
        else
          length = v;
      }
    }
    if (location.empty())
      return emitError() << "tensor '" << tensor.name()
                         << "' has external data without a location";
    if (length && *length != expected)
      return emitError() << "tensor '" << tensor.name() << "' declares "
                         << *length << " bytes of external data, its type "
                         << "needs " << expected;
    SmallString<256> full(directory);
    llvm::sys::path::append(full, location);
    // The file must really lie in the model's directory (symbolic links
    // and `..` resolved): a model must not make Slim read other files.
    bool outside;
    llvm::Expected<std::string> real =
        mlir::slim::resolveInside(directory, location, outside);
    if (!real) {
      std::string why = llvm::toString(real.takeError());
      if (outside)
        return emitError() << "tensor '" << tensor.name()
                           << "' has external data location '" << location
                           << "' outside the model's directory (" << why << ")";
      return emitError() << "cannot read external data file '" << full
                         << "' of tensor '" << tensor.name() << "': " << why;
    }
    auto &mapped = externalFiles[*real];
    if (!mapped) {
      auto buffer = mlir::slim::readRegularFile(*real);
      if (!buffer)
        return emitError() << "cannot read external data file '" << full
                           << "' of tensor '" << tensor.name()
                           << "': " << llvm::toString(buffer.takeError());
      mapped = std::shared_ptr<llvm::MemoryBuffer>(std::move(*buffer));
    }
    uint64_t size = mapped->getBufferSize();
    if (offset > size || expected > size - offset)
      return emitError() << "external data file '" << full << "' is " << size
                         << " bytes; tensor '" << tensor.name()
                         << "' needs bytes [" << offset << ", "
                         << offset + expected << ")";
    keepAlive = mapped;
    return ArrayRef<char>(mapped->getBufferStart() + offset, expected);
  }

  if (tensor.has_raw_data()) {
    if (tensor.raw_data().size() != expected)
      return emitError() << "tensor '" << tensor.name() << "' has "
                         << tensor.raw_data().size()
                         << " bytes of raw data, its type needs " << expected;
    // The model owns the string; share ownership of the whole model.
    keepAlive = model;
    return ArrayRef<char>(tensor.raw_data().data(), expected);
  }

  // Typed fields.
  std::shared_ptr<std::vector<char>> data;
  int64_t count = 0;
  switch (dtype) {
  case kFloat:
    data = convertField<float>(tensor.float_data());
    count = tensor.float_data_size();
    break;
  case kDouble:
    data = convertField<double>(tensor.double_data());
    count = tensor.double_data_size();
    break;
  case kInt64:
    data = convertField<int64_t>(tensor.int64_data());
    count = tensor.int64_data_size();
    break;
  case kUInt32:
    data = convertField<uint32_t>(tensor.uint64_data());
    count = tensor.uint64_data_size();
    break;
  case kUInt64:
    data = convertField<uint64_t>(tensor.uint64_data());
    count = tensor.uint64_data_size();
    break;
  case kInt32:
    data = convertField<int32_t>(tensor.int32_data());
    count = tensor.int32_data_size();
    break;
  case kInt16:
  case kUInt16:
  case kFloat16:
  case kBFloat16:
    data = convertField<uint16_t>(tensor.int32_data());
    count = tensor.int32_data_size();
    break;
  case kInt8:
  case kUInt8:
  case kBool:
    data = convertField<uint8_t>(tensor.int32_data());
    count = tensor.int32_data_size();
    break;
  default:
    break;
  }
  if (!data || static_cast<uint64_t>(count) != numel)
    return emitError() << "tensor '" << tensor.name() << "' has " << count
                       << " elements of data, its shape needs " << numel;
  keepAlive = data;
  return ArrayRef<char>(data->data(), data->size());
}

std::string
mlir::slim::onnx_import::readInlineTensor(const onnx::TensorProto &tensor,
                                          std::vector<char> &bytes) {
  if (tensor.data_location() == onnx::TensorProto::EXTERNAL)
    return "tensor '" + tensor.name() + "' has external data";
  std::string message;
  std::shared_ptr<const void> keepAlive;
  // A throwaway model owner: inline data lives in `tensor`.
  MLIRContext ctx;
  ScopedDiagnosticHandler handler(&ctx, [&](Diagnostic &d) {
    message = d.str();
    return success();
  });
  ModelFile file;
  file.model = std::make_shared<onnx::ModelProto>();
  FailureOr<ArrayRef<char>> data = file.getTensorBytes(tensor, keepAlive, [&] {
    return mlir::emitError(UnknownLoc::get(&ctx));
  });
  if (failed(data))
    return message.empty() ? "cannot decode tensor '" + tensor.name() + "'"
                           : message;
  bytes.assign(data->begin(), data->end());
  return {};
}

std::string mlir::slim::onnx_import::decodeTensorFile(StringRef data,
                                                      DecodedTensor &out) {
  onnx::TensorProto proto;
  if (data.size() > static_cast<size_t>(INT_MAX) ||
      !proto.ParseFromArray(data.data(), static_cast<int>(data.size())))
    return "not a TensorProto";
  if (std::string err = readInlineTensor(proto, out.bytes); !err.empty())
    return err;
  out.dtype = proto.data_type();
  out.dims.assign(proto.dims().begin(), proto.dims().end());
  return {};
}
