//===- _slim.cpp - Python bindings of Slim's runtime and tokenizer --------===//
//
// Part of the Slim project, under the Apache License v2.0 with LLVM Exceptions.
// SPDX-License-Identifier: Apache-2.0 WITH LLVM-exception
//
//===----------------------------------------------------------------------===//
//
// The `slim._slim` extension (nanobind): a compiled model through the C API
// of libslim-runtime (inputs passed as the numpy arrays' own memory, outputs
// handed to numpy without a copy, freed with the array) and the tokenizer.
// Errors raise slim.SlimError with the runtime's message.
//
//===----------------------------------------------------------------------===//

#include "lib/Runtime/Tokenizer.h"
#include "slim/Runtime.h"

#include <nanobind/nanobind.h>
#include <nanobind/ndarray.h>
#include <nanobind/stl/string.h>
#include <nanobind/stl/tuple.h>
#include <nanobind/stl/vector.h>

#include "llvm/Support/Error.h"

#include <cstring>
#include <memory>
#include <string>
#include <vector>

namespace nb = nanobind;

namespace {

nb::object slimError;

[[noreturn]] void raise(const std::string &message) {
  PyErr_SetString(slimError.ptr(), message.c_str());
  throw nb::python_error();
}

struct DType {
  slim_dtype slim;
  nb::dlpack::dtype dl;
};

/// numpy/DLPack element types <-> slim_dtype.
const DType kTypes[] = {
    {SLIM_FLOAT, nb::dtype<float>()},     {SLIM_DOUBLE, nb::dtype<double>()},
    {SLIM_INT64, nb::dtype<int64_t>()},   {SLIM_INT32, nb::dtype<int32_t>()},
    {SLIM_INT16, nb::dtype<int16_t>()},   {SLIM_INT8, nb::dtype<int8_t>()},
    {SLIM_UINT64, nb::dtype<uint64_t>()}, {SLIM_UINT32, nb::dtype<uint32_t>()},
    {SLIM_UINT16, nb::dtype<uint16_t>()}, {SLIM_UINT8, nb::dtype<uint8_t>()},
    {SLIM_BOOL, nb::dtype<bool>()},
    {SLIM_FLOAT16, {static_cast<uint8_t>(nb::dlpack::dtype_code::Float), 16, 1}},
    {SLIM_BFLOAT16,
     {static_cast<uint8_t>(nb::dlpack::dtype_code::Bfloat), 16, 1}},
};

nb::dlpack::dtype toDl(slim_dtype t) {
  for (const DType &d : kTypes)
    if (d.slim == t)
      return d.dl;
  raise("unsupported element type " + std::string(slim_dtype_name(t)));
}

bool fromDl(nb::dlpack::dtype dl, slim_dtype &out) {
  for (const DType &d : kTypes)
    if (d.dl == dl) {
      out = d.slim;
      return true;
    }
  return false;
}

using Array = nb::ndarray<nb::numpy, nb::c_contig>;
using AnyArray = nb::ndarray<nb::ro, nb::c_contig, nb::device::cpu>;

nb::dict describe(const slim_tensor_info *info) {
  nb::dict d;
  d["name"] = std::string(info->name);
  d["dtype"] = std::string(slim_dtype_name(info->dtype));
  nb::list dims;
  for (int i = 0; i < info->rank; ++i) {
    if (info->dims[i] >= 0)
      dims.append(info->dims[i]);
    else
      dims.append(std::string(*info->dim_names[i] ? info->dim_names[i] : "?"));
  }
  d["dims"] = dims;
  return d;
}

class Model {
public:
  explicit Model(const std::string &directory) {
    slim_model *m = nullptr;
    if (slim_model_load(directory.c_str(), &m) != SLIM_OK)
      raise(slim_last_error());
    model.reset(m);
  }

  nb::list inputs() const {
    nb::list l;
    for (int32_t i = 0; i < slim_model_num_inputs(model.get()); ++i)
      l.append(describe(slim_model_input(model.get(), i)));
    return l;
  }
  nb::list outputs() const {
    nb::list l;
    for (int32_t i = 0; i < slim_model_num_outputs(model.get()); ++i)
      l.append(describe(slim_model_output(model.get(), i)));
    return l;
  }

  void setThreads(int threads) {
    if (slim_model_set_threads(model.get(), threads) != SLIM_OK)
      raise(slim_last_error());
  }

  /// Runs on arrays in the model's input order; returns the outputs in
  /// order, each a numpy array over the runtime's buffer.
  std::vector<Array> run(std::vector<AnyArray> args) {
    int32_t nin = slim_model_num_inputs(model.get());
    int32_t nout = slim_model_num_outputs(model.get());
    if (static_cast<int32_t>(args.size()) != nin)
      raise("expected " + std::to_string(nin) + " inputs, got " +
            std::to_string(args.size()));
    std::vector<slim_tensor> in(nin);
    for (int32_t i = 0; i < nin; ++i) {
      const AnyArray &a = args[i];
      slim_tensor &t = in[i];
      if (!fromDl(a.dtype(), t.dtype))
        raise(std::string("input '") + slim_model_input(model.get(), i)->name +
              "': unsupported numpy element type");
      if (a.ndim() > SLIM_MAX_RANK)
        raise(std::string("input '") + slim_model_input(model.get(), i)->name +
              "': rank above 8");
      t.rank = static_cast<int32_t>(a.ndim());
      for (size_t d = 0; d < a.ndim(); ++d)
        t.dims[d] = static_cast<int64_t>(a.shape(d));
      t.data = const_cast<void *>(a.data());
      t.capacity = a.nbytes();
    }
    std::vector<slim_tensor> out(nout);
    slim_status status;
    {
      nb::gil_scoped_release release;
      status = slim_model_run(model.get(), in.data(), nin, out.data(), nout);
    }
    if (status != SLIM_OK)
      raise(slim_last_error());
    std::vector<Array> results;
    for (int32_t i = 0; i < nout; ++i) {
      auto *held = new slim_tensor(out[i]);
      out[i] = slim_tensor{};
      nb::capsule owner(held, [](void *p) noexcept {
        auto *t = static_cast<slim_tensor *>(p);
        slim_tensor_release(t);
        delete t;
      });
      std::vector<size_t> shape(held->dims, held->dims + held->rank);
      results.emplace_back(held->data, shape.size(), shape.data(), owner,
                           nullptr, toDl(held->dtype));
    }
    return results;
  }

private:
  struct Free {
    void operator()(slim_model *m) const { slim_model_free(m); }
  };
  std::unique_ptr<slim_model, Free> model;
};

class Tokenizer {
public:
  explicit Tokenizer(const std::string &path) {
    std::string error;
    if (!tok.load(path, error))
      raise(error);
  }
  std::vector<int32_t> encode(const std::string &text) const {
    llvm::Expected<std::vector<int32_t>> ids = tok.encode(text);
    if (!ids)
      raise(llvm::toString(ids.takeError()));
    return std::move(*ids);
  }
  std::string decode(const std::vector<int32_t> &ids) const {
    return tok.decode(ids);
  }
  size_t vocabSize() const { return tok.getVocabSize(); }
  bool isSpecial(int32_t id) const { return tok.isSpecial(id); }

private:
  mlir::slim::Tokenizer tok;
};

} // namespace

NB_MODULE(_slim, m) {
  m.doc() = "Slim's runtime and tokenizer (use the `slim` package)";
  slimError = nb::steal(
      PyErr_NewException("slim.SlimError", PyExc_RuntimeError, nullptr));
  m.attr("SlimError") = slimError;
  m.def("tune_allocator", &slim_runtime_tune_allocator,
        "glibc malloc tuned for repeated runs (process-wide; see "
        "slim_runtime_tune_allocator in slim/Runtime.h)");
  nb::class_<Model>(m, "Model")
      .def(nb::init<const std::string &>(), nb::arg("directory"))
      .def_prop_ro("inputs", &Model::inputs)
      .def_prop_ro("outputs", &Model::outputs)
      .def("set_threads", &Model::setThreads, nb::arg("threads"))
      .def("run", &Model::run, nb::arg("inputs"));
  nb::class_<Tokenizer>(m, "Tokenizer")
      .def(nb::init<const std::string &>(), nb::arg("path"))
      .def("encode", &Tokenizer::encode, nb::arg("text"))
      .def("decode", &Tokenizer::decode, nb::arg("ids"))
      .def_prop_ro("vocab_size", &Tokenizer::vocabSize)
      .def("is_special", &Tokenizer::isSpecial, nb::arg("id"));
}
