//===- JsonOutput.cpp - JSON for people and scripts -----------------------===//
//
// Part of the Slim project, under the Apache License v2.0 with LLVM Exceptions.
// SPDX-License-Identifier: Apache-2.0 WITH LLVM-exception
//
//===----------------------------------------------------------------------===//

#include "lib/Support/JsonOutput.h"

#include "llvm/ADT/STLExtras.h"
#include "llvm/Support/Format.h"

#include <cmath>

using namespace llvm;

static void print(raw_ostream &os, const json::Value &v, unsigned indent,
                  unsigned digits, unsigned depth) {
  auto newline = [&](unsigned level) {
    if (!indent)
      return;
    os << '\n';
    os.indent(indent * level);
  };
  switch (v.kind()) {
  case json::Value::Null:
    os << "null";
    return;
  case json::Value::Boolean:
    os << (*v.getAsBoolean() ? "true" : "false");
    return;
  case json::Value::Number:
    if (std::optional<int64_t> i = v.getAsInteger()) {
      os << *i;
    } else if (std::optional<uint64_t> u = v.getAsUINT64()) {
      os << *u;
    } else {
      double d = *v.getAsNumber();
      if (!std::isfinite(d))
        os << "null";
      else
        os << format("%.*g", static_cast<int>(digits), d);
    }
    return;
  case json::Value::String:
    os << json::Value(*v.getAsString());
    return;
  case json::Value::Array: {
    const json::Array &a = *v.getAsArray();
    if (a.empty()) {
      os << "[]";
      return;
    }
    // Arrays of numbers stay on one line: shapes and id lists.
    bool flat = llvm::all_of(a, [](const json::Value &e) {
      return e.kind() == json::Value::Number;
    });
    os << '[';
    for (size_t i = 0; i < a.size(); ++i) {
      if (i)
        os << (flat || !indent ? ", " : ",");
      if (!flat)
        newline(depth + 1);
      print(os, a[i], indent, digits, depth + 1);
    }
    if (!flat)
      newline(depth);
    os << ']';
    return;
  }
  case json::Value::Object: {
    const json::Object &o = *v.getAsObject();
    if (o.empty()) {
      os << "{}";
      return;
    }
    std::vector<const json::Object::value_type *> entries;
    for (const auto &e : o)
      entries.push_back(&e);
    llvm::sort(entries, [](const auto *a, const auto *b) {
      return a->first < b->first;
    });
    os << '{';
    for (size_t i = 0; i < entries.size(); ++i) {
      if (i)
        os << (indent ? "," : ", ");
      newline(depth + 1);
      os << json::Value(entries[i]->first.str()) << ": ";
      print(os, entries[i]->second, indent, digits, depth + 1);
    }
    newline(depth);
    os << '}';
    return;
  }
  }
}

void mlir::slim::printJson(raw_ostream &os, const json::Value &value,
                           unsigned indent, unsigned digits) {
  print(os, value, indent, digits, 0);
}
