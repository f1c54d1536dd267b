//===- QGemvBench.cpp - The quantized GEMV kernels, one thread ------------===//
//
// Part of the Slim project, under the Apache License v2.0 with LLVM Exceptions.
// SPDX-License-Identifier: Apache-2.0 WITH LLVM-exception
//
//===----------------------------------------------------------------------===//
//
// Google Benchmark harness of lib/Kernels/QGemv.h on one thread: a
// 4096 x 4096 weight in groups of 128 with f32 scales, each code width and
// code-book kind, M = 1 and 4, every variant this CPU runs (the portable
// reference, AVX2, AVX-512), and the dequantization prefill's tiles use.
// Counters: codes/s (weights per second) and the code bytes streamed per
// second. The 4096 x 4096 codes (2-8 MiB) may stay in the last-level
// cache: this measures the kernels' own speed, not memory bandwidth
// (bench/qmatmul_latency.py measures whole products against onnxruntime);
// q8Chain runs the int8-activation kernel over weights that do not fit it.
//
//   build/bench/slim-kernel-bench [--benchmark_filter=Bits3]
//
//===----------------------------------------------------------------------===//

#include "lib/Kernels/QGemv.h"

#include <benchmark/benchmark.h>

#include <algorithm>
#include <random>
#include <string>
#include <vector>

namespace {

constexpr int64_t kN = 4096, kK = 4096, kGroup = 128;

using Gemv = void (*)(int64_t, int64_t, int64_t, const float *, int64_t,
                      const slim_uk_qweight *, float *, int64_t, uint32_t);
using Dequant = void (*)(int64_t, int64_t, const slim_uk_qweight *, float *,
                         int64_t, uint32_t);

struct Weight {
  std::vector<uint8_t> codes;
  std::vector<float> scales, table;
  slim_uk_qweight view{};
};

Weight makeWeight(int64_t bits, bool table) {
  Weight w;
  int64_t stride = (kK * bits + 7) / 8;
  w.codes.resize(kN * stride);
  std::mt19937 rng(1);
  for (uint8_t &c : w.codes)
    c = uint8_t(rng());
  w.scales.assign(kN * (kK / kGroup), 0.01f);
  if (table)
    for (int i = 0; i < (1 << bits); ++i)
      w.table.push_back(float(i) / 7.0f - 1.0f);
  w.view = {w.codes.data(), stride, w.scales.data(), kK / kGroup, nullptr, 0,
            kK, bits, kGroup, table ? w.table.data() : nullptr};
  return w;
}

void gemv(benchmark::State &state, Gemv kernel, int64_t bits, bool table,
          uint32_t flags) {
  Weight w = makeWeight(bits, table);
  int64_t m = state.range(0);
  std::vector<float> a(m * kK, 1.0f), c(m * kN);
  for (auto _ : state) {
    kernel(m, 0, kN, a.data(), kK, &w.view, c.data(), kN, flags);
    benchmark::DoNotOptimize(c.data());
  }
  state.counters["codes/s"] = benchmark::Counter(
      double(kN * kK) * state.iterations(), benchmark::Counter::kIsRate);
  state.counters["bytes/s"] = benchmark::Counter(
      double(w.codes.size()) * state.iterations(), benchmark::Counter::kIsRate);
}

void dequant(benchmark::State &state, Dequant kernel, int64_t bits,
             bool table, uint32_t flags) {
  Weight w = makeWeight(bits, table);
  std::vector<float> out(32 * kK);
  for (auto _ : state) {
    for (int64_t n = 0; n < kN; n += 32)
      kernel(n, n + 32, &w.view, out.data(), kK, flags);
    benchmark::DoNotOptimize(out.data());
  }
  state.counters["codes/s"] = benchmark::Counter(
      double(kN * kK) * state.iterations(), benchmark::Counter::kIsRate);
}

/// The int8-activation GEMV on one thread over a chain of distinct weights
/// (4-, 6- or 8-bit codes, f32 scales per group or channel, zero points or
/// not) of 96 MiB in all, so the codes come from
/// memory as in decoding, not from the cache: {N, K} as in SmolLM2's layers
/// and LM head, and a 4096-wide one; weight bytes/s.
void q8Chain(benchmark::State &state) {
  int64_t n = state.range(0), k = state.range(1), m = state.range(2);
  bool zp = state.range(3);
  int64_t bits = state.range(4), group = state.range(5);
  int64_t stride = k * bits / 8, groups = group ? k / group : 1;
  int64_t layers = std::max<int64_t>(1, (96 << 20) / (n * stride));
  std::vector<uint8_t> codes(layers * n * stride);
  std::mt19937 rng(1);
  for (uint8_t &c : codes)
    c = uint8_t(rng());
  std::vector<float> scales(layers * n * groups, 0.01f), a(m * k, 0.5f),
      c(m * n);
  std::vector<uint8_t> zeros(zp ? layers * n * groups : 0, 8);
  std::vector<uint8_t> act(m * slim_uk_qact_row_bytes(k));
  slim_uk_qact_quantize_generic(m, k, a.data(), k, act.data(),
                                slim_uk_qact_row_bytes(k));
  auto *kernel = slim_uk_qgemv_q8_f32_generic;
#if defined(__x86_64__)
  __builtin_cpu_init();
  if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma") &&
      __builtin_cpu_supports("f16c"))
    kernel = slim_uk_qgemv_q8_f32_avx2;
#endif
  for (auto _ : state) {
    for (int64_t l = 0; l < layers; ++l) {
      slim_uk_qweight w{codes.data() + l * n * stride,
                        stride,
                        scales.data() + l * n * groups,
                        groups,
                        zp ? zeros.data() + l * n * groups : nullptr,
                        groups,
                        k,
                        bits,
                        group,
                        nullptr};
      kernel(m, 0, n, act.data(), slim_uk_qact_row_bytes(k), &w, c.data(), n,
             0);
    }
    benchmark::DoNotOptimize(c.data());
  }
  state.counters["bytes/s"] =
      benchmark::Counter(double(codes.size() + scales.size() * 4 +
                             zeros.size()) *
                             state.iterations(),
                         benchmark::Counter::kIsRate);
}

BENCHMARK(q8Chain)
    ->ArgNames({"N", "K", "M", "zp", "bits", "group"})
    ->Args({960, 576, 1, 0, 4, 32})
    ->Args({960, 576, 1, 1, 4, 32})
    ->Args({3072, 576, 1, 1, 4, 32})
    ->Args({576, 1536, 1, 1, 4, 32})
    ->Args({4096, 4096, 1, 0, 4, 32})
    ->Args({4096, 4096, 1, 1, 4, 32})
    ->Args({4096, 4096, 8, 1, 4, 32})
    ->Args({49152, 576, 1, 0, 8, 0})
    ->Args({49152, 576, 4, 0, 8, 0})
    ->Args({49152, 576, 1, 0, 6, 32})
    ->Unit(benchmark::kMillisecond);

/// 2:4 sparse along K with the kept values as 4-bit codes in groups of 64
/// (128 inputs), 4096 x 4096, against the dense 4-bit weight (QGemv/Bits4),
/// f32 activations, one thread: codes/s counts the dense weight's 16.7 M.
void sparse24(benchmark::State &state, Gemv kernel) {
  int64_t kv = kK / 2, stride = kv / 2;
  std::vector<uint8_t> codes(kN * stride), indices(kN * kv);
  std::mt19937 rng(1);
  for (uint8_t &c : codes)
    c = uint8_t(rng());
  for (int64_t i = 0; i < kN * kv; i += 2) {
    indices[i] = uint8_t(rng() % 2);
    indices[i + 1] = uint8_t(2 + rng() % 2);
  }
  std::vector<float> scales(kN * (kv / 64), 0.01f);
  slim_uk_qweight w{codes.data(), stride,  scales.data(), kv / 64,
                    nullptr,      0,       kK,            4,
                    64,           nullptr, indices.data(), kv,
                    2,            4};
  int64_t m = state.range(0);
  std::vector<float> a(m * kK, 1.0f), c(m * kN);
  for (auto _ : state) {
    kernel(m, 0, kN, a.data(), kK, &w, c.data(), kN, 0);
    benchmark::DoNotOptimize(c.data());
  }
  state.counters["codes/s"] = benchmark::Counter(
      double(kN * kK) * state.iterations(), benchmark::Counter::kIsRate);
}

struct Variant {
  const char *name;
  Gemv gemv;
  Dequant dequant;
  bool (*supported)();
};

bool always() { return true; }
#if defined(__x86_64__)
bool hasAvx2() {
  __builtin_cpu_init();
  return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma") &&
         __builtin_cpu_supports("f16c");
}
bool hasAvx512() {
  return hasAvx2() && __builtin_cpu_supports("avx512f") &&
         __builtin_cpu_supports("avx512bw") &&
         __builtin_cpu_supports("avx512vl") &&
         __builtin_cpu_supports("avx512dq");
}
#endif

const Variant kVariants[] = {
    {"generic", slim_uk_qgemv_f32_generic, slim_uk_qdequant_f32_generic,
     always},
#if defined(__x86_64__)
    {"avx2", slim_uk_qgemv_f32_avx2, slim_uk_qdequant_f32_avx2, hasAvx2},
    {"avx512", slim_uk_qgemv_f32_avx512, nullptr, hasAvx512},
#endif
};

/// Registers every variant this CPU runs; those it lacks are named once.
int registerAll() {
  struct Format {
    const char *name;
    int64_t bits;
    bool table;
    uint32_t flags;
  };
  // E4M3 / E5M2: a 256-entry table the kernels may decode from the bits.
  const Format formats[] = {{"Bits2", 2, false, 0},
                            {"Bits3", 3, false, 0},
                            {"Bits4", 4, false, 0},
                            {"Bits5", 5, false, 0},
                            {"Bits8", 8, false, 0},
                            {"Table4", 4, true, 0},
                            {"Table8", 8, true, 0},
                            {"E4M3", 8, true, SLIM_UK_QGEMV_TABLE_E4M3},
                            {"E5M2", 8, true, SLIM_UK_QGEMV_TABLE_E5M2}};
  for (const Variant &v : kVariants) {
    if (!v.supported()) {
      std::fprintf(stderr, "slim-kernel-bench: this CPU lacks %s: not run\n",
                   v.name);
      continue;
    }
    for (const Format &f : formats) {
      std::string base = std::string(f.name) + "/" + v.name;
      benchmark::RegisterBenchmark(("QGemv/" + base).c_str(), gemv, v.gemv,
                                   f.bits, f.table, f.flags)
          ->Arg(1)
          ->Arg(4)
          ->Unit(benchmark::kMillisecond);
      if (v.dequant)
        benchmark::RegisterBenchmark(("QDequant/" + base).c_str(), dequant,
                                     v.dequant, f.bits, f.table, f.flags)
            ->Unit(benchmark::kMillisecond);
    }
    benchmark::RegisterBenchmark(
        (std::string("QGemv/Sparse24Bits4/") + v.name).c_str(), sparse24,
        v.gemv)
        ->Arg(1)
        ->Arg(4)
        ->Unit(benchmark::kMillisecond);
  }
  return 0;
}

const int registered = registerAll();

} // namespace

BENCHMARK_MAIN();
