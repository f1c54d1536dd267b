//===- HostFeaturesTest.cpp - The runtime's CPUID table against LLVM ------===//
//
// Part of the Slim project, under the Apache License v2.0 with LLVM Exceptions.
// SPDX-License-Identifier: Apache-2.0 WITH LLVM-exception
//
//===----------------------------------------------------------------------===//
//
// libslim-runtime.so reads CPU features by CPUID instead of through LLVM.
// On the machine the tests run on, it must agree with LLVM's host detection
// (what slimc's "host" target and the required_features list come from)
// for every feature its table knows, and know every SIMD feature Slim's
// code generation and kernels depend on.
//
//===----------------------------------------------------------------------===//

#include "lib/Runtime/HostFeatures.h"

#include "llvm/ADT/StringMap.h"
#include "llvm/TargetParser/Host.h"

#include <gtest/gtest.h>

using slim_rt::HostFeature;
using slim_rt::queryHostFeature;

TEST(HostFeatures, AgreesWithLLVM) {
  llvm::StringMap<bool> host = llvm::sys::getHostCPUFeatures();
  ASSERT_FALSE(host.empty());
  int compared = 0;
  for (const auto &entry : host) {
    std::string name = entry.getKey().str();
    HostFeature mine = queryHostFeature(name.c_str());
    if (mine == HostFeature::Unknown)
      continue;
    EXPECT_EQ(mine == HostFeature::Present, entry.getValue()) << name;
    ++compared;
  }
  EXPECT_GT(compared, 40);
}

TEST(HostFeatures, KnowsTheSimdFeatures) {
  for (const char *name :
       {"sse4.2", "avx", "avx2", "fma", "f16c", "bmi2", "avx512f", "avx512bw",
        "avx512vl", "avx512dq", "avx512vnni", "avx512bf16", "avxvnni",
        "avx512fp16", "amx-tile"})
    EXPECT_NE(queryHostFeature(name), HostFeature::Unknown) << name;
  EXPECT_EQ(queryHostFeature("no-such-feature"), HostFeature::Unknown);
}
