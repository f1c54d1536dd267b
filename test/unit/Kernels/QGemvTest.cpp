//===- QGemvTest.cpp - The quantized-weight GEMV kernels vs an oracle -----===//
//
// Part of the Slim project, under the Apache License v2.0 with LLVM Exceptions.
// SPDX-License-Identifier: Apache-2.0 WITH LLVM-exception
//
//===----------------------------------------------------------------------===//

#include "lib/Kernels/QGemv.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <random>
#include <vector>

namespace {

using Kernel = void (*)(int64_t, int64_t, int64_t, const float *, int64_t,
                        const slim_uk_qweight *, float *, int64_t, uint32_t);

enum class Scale { F32, F16, BF16 };

/// One random weight in the storage of QGemv.h, and its exact values.
struct Weight {
  int64_t n, k, bits, group, groups, codesStride;
  std::vector<uint8_t> codes, zeroPoints;
  std::vector<uint16_t> scales16;
  std::vector<float> scales32, values; // values: [n, k]
  std::vector<float> table;            // code books: 2^bits values
  slim_uk_qweight view{};
  uint32_t flags = 0;
};

Weight makeWeight(std::mt19937 &rng, int64_t n, int64_t k, int64_t bits,
                  int64_t group, bool isSigned, bool hasZp, Scale scale,
                  int forcedZp = -1, bool table = false) {
  Weight w;
  w.n = n, w.k = k, w.bits = bits, w.group = group;
  w.groups = (k + group - 1) / group;
  w.codesStride = (k * bits + 7) / 8 + 3; // padded rows
  w.codes.assign(n * w.codesStride, 0);
  w.zeroPoints.assign(hasZp ? n * w.groups : 0, 0);
  w.scales16.assign(n * w.groups, 0);
  w.scales32.assign(n * w.groups, 0.0f);
  w.values.assign(n * k, 0.0f);
  std::uniform_int_distribution<int> codeDist(0, (1 << bits) - 1),
      mant(0, 1023), expo(-9, -3);
  if (table) {
    // A code book of values with 8 significant bits (products with the
    // scales stay exact in f32), one of them negative zero.
    std::uniform_int_distribution<int> entry(-255, 255);
    for (int i = 0; i < (1 << bits); ++i)
      w.table.push_back(std::ldexp(float(entry(rng)), -6));
    w.table[0] = -0.0f;
  }
  for (int64_t r = 0; r < n; ++r)
    for (int64_t g = 0; g < w.groups; ++g) {
      // Scales exact in every storage type: 7 mantissa bits (bf16's).
      int e = expo(rng), m = mant(rng) & ~7;
      float s = std::ldexp(1.0f + m / 1024.0f, e) * (m & 8 ? -1.0f : 1.0f);
      w.scales32[r * w.groups + g] = s;
      uint32_t bits32;
      std::memcpy(&bits32, &s, 4);
      w.scales16[r * w.groups + g] =
          scale == Scale::BF16
              ? uint16_t(bits32 >> 16)
              : uint16_t((s < 0 ? 0x8000 : 0) | ((e + 15) << 10) | m);
      if (hasZp)
        w.zeroPoints[r * w.groups + g] =
            forcedZp >= 0 ? uint8_t(forcedZp)
            : isSigned    ? uint8_t(int8_t(codeDist(rng) - (1 << (bits - 1))))
                          : uint8_t(codeDist(rng));
    }
  for (int64_t r = 0; r < n; ++r)
    for (int64_t q = 0; q < k; ++q) {
      int u = codeDist(rng);
      for (int64_t b = 0; b < bits; ++b)
        if (u >> b & 1) {
          int64_t bit = q * bits + b;
          w.codes[r * w.codesStride + bit / 8] |= uint8_t(1 << (bit % 8));
        }
      int v = isSigned && u >= (1 << (bits - 1)) ? u - (1 << bits) : u;
      int64_t g = q / group;
      if (table) {
        w.values[r * k + q] = w.table[u] * w.scales32[r * w.groups + g];
        continue;
      }
      int zp = hasZp ? (isSigned ? int(int8_t(w.zeroPoints[r * w.groups + g]))
                                 : int(w.zeroPoints[r * w.groups + g]))
                     : (isSigned ? 0 : 1 << (bits - 1));
      w.values[r * k + q] = float(v - zp) * w.scales32[r * w.groups + g];
    }
  w.view.codes = w.codes.data();
  w.view.codesStride = w.codesStride;
  w.view.scales = scale == Scale::F32
                      ? static_cast<const void *>(w.scales32.data())
                      : static_cast<const void *>(w.scales16.data());
  w.view.scalesStride = w.groups;
  w.view.zeroPoints = hasZp ? w.zeroPoints.data() : nullptr;
  w.view.zpStride = w.groups;
  w.view.k = k, w.view.bits = bits, w.view.group = group;
  w.view.table = table ? w.table.data() : nullptr;
  w.flags = (isSigned ? SLIM_UK_QGEMV_SIGNED : 0) |
            (scale == Scale::F16    ? SLIM_UK_QGEMV_SCALE_F16
             : scale == Scale::BF16 ? SLIM_UK_QGEMV_SCALE_BF16
                                    : SLIM_UK_QGEMV_SCALE_F32);
  return w;
}

/// The code format of test variant 0-7: signed or unsigned integer codes,
/// with or without zero points (variant 4 of 4-bit codes has one out of the
/// byte path's range), and each scale type; 6 and 7 are code books.
struct Format {
  bool isSigned, hasZp;
  Scale scale;
  int forcedZp;
  bool table;

  static constexpr int kVariants = 8;
  static Format of(int variant, int64_t bits) {
    Scale scale = variant % 3 == 0   ? Scale::F16
                  : variant % 3 == 1 ? Scale::BF16
                                     : Scale::F32;
    if (variant >= 6)
      return {false, false, scale, -1, true};
    return {bool(variant & 1), bool(variant & 2), scale,
            variant == 4 && bits == 4 ? 200 : -1, false};
  }
};

/// Bit widths 2-8, signed and unsigned codes with and without zero points
/// (one out of the byte path's range), code books, every scale type, groups
/// of 8/32/128, per channel and odd sizes, ragged last groups (576 = 4 x
/// 128 + 64), 1 to 9 rows, a sub-range of output channels, accumulating and
/// overwriting (from NaN).
void checkKernel(Kernel kernel) {
  std::mt19937 rng(3);
  std::normal_distribution<float> normal;
  struct Shape {
    int64_t k, group;
  };
  for (int64_t bits : {4, 2, 3, 8, 5, 6, 7})
    for (Shape shape : {Shape{128, 32}, Shape{576, 128}, Shape{100, 100},
                        Shape{70, 6}, Shape{7, 7}, Shape{96, 64},
                        Shape{40, 8}, Shape{200, 200}})
      for (int variant = 0; variant < Format::kVariants; ++variant) {
        Format f = Format::of(variant, bits);
        int64_t n = 11, n0 = 2, n1 = 11, k = shape.k;
        Weight w = makeWeight(rng, n, k, bits, shape.group, f.isSigned, f.hasZp,
                              f.scale, f.forcedZp, f.table);
        for (int64_t m : {1, 2, 3, 4, 5, 9})
          for (bool accumulate : {true, false}) {
            int64_t lda = k + 5, ldc = n + 2;
            std::vector<float> a(m * lda), c(m * ldc);
            for (float &v : a)
              v = normal(rng);
            for (float &v : c)
              v = normal(rng);
            std::vector<float> got = c;
            for (int64_t i = 0; i < m && !accumulate; ++i)
              for (int64_t j = n0; j < n1; ++j)
                got[i * ldc + j] = NAN;
            kernel(m, n0, n1, a.data(), lda, &w.view, got.data(), ldc,
                   w.flags | (accumulate ? SLIM_UK_QGEMV_ACCUMULATE : 0));
            for (int64_t i = 0; i < m; ++i)
              for (int64_t j = 0; j < ldc; ++j) {
                bool inside = j >= n0 && j < n1;
                double want = inside && !accumulate ? 0.0 : c[i * ldc + j];
                double mag = 0.0;
                if (inside)
                  for (int64_t q = 0; q < k; ++q) {
                    double p = double(a[i * lda + q]) * w.values[j * k + q];
                    want += p;
                    mag += std::fabs(p);
                  }
                ASSERT_NEAR(got[i * ldc + j], want, 1e-5 * mag + 1e-6)
                    << "bits=" << bits << " k=" << k << " group=" << shape.group
                    << " signed=" << f.isSigned << " zp=" << f.hasZp
                    << " table=" << f.table
                    << " scale=" << int(f.scale) << " m=" << m
                    << " accumulate=" << accumulate << " at " << i << "," << j;
              }
          }
      }
}

using Dequant = void (*)(int64_t, int64_t, const slim_uk_qweight *, float *,
                         int64_t, uint32_t);

/// The dequantized rows equal the weight's exact values (the same f32
/// rounding of (code - zp) * scale), for the shapes and formats above.
void checkDequant(Dequant dequant) {
  std::mt19937 rng(9);
  for (int64_t bits : {4, 3, 8, 2, 5, 6, 7})
    for (auto [k, group] : {std::pair<int64_t, int64_t>{128, 32},
                            {576, 128},
                            {70, 6},
                            {96, 64},
                            {200, 200},
                            {40, 8}})
      for (int variant = 0; variant < Format::kVariants; ++variant) {
        Format f = Format::of(variant, bits);
        Weight w = makeWeight(rng, 9, k, bits, group, f.isSigned, f.hasZp,
                              f.scale, f.forcedZp, f.table);
        int64_t n0 = 1, n1 = 9, ldo = k + 4;
        std::vector<float> out((n1 - n0) * ldo, 7.0f);
        dequant(n0, n1, &w.view, out.data(), ldo, w.flags);
        for (int64_t r = n0; r < n1; ++r)
          for (int64_t q = 0; q < ldo; ++q) {
            float want = q < k ? w.values[r * k + q] : 7.0f;
            ASSERT_EQ(out[(r - n0) * ldo + q], want)
                << "bits=" << bits << " k=" << k << " group=" << group
                << " variant=" << variant << " at " << r << "," << q;
          }
      }
}

TEST(QGemv, GenericDequantIsExact) {
  checkDequant(slim_uk_qdequant_f32_generic);
}

TEST(QGemv, Avx2DequantIsExact) {
#if defined(__x86_64__)
  __builtin_cpu_init();
  if (!__builtin_cpu_supports("avx2") || !__builtin_cpu_supports("fma"))
    GTEST_SKIP()
        << "this CPU has no AVX2+FMA: the AVX2 dequantization is not run";
  checkDequant(slim_uk_qdequant_f32_avx2);
#else
  GTEST_SKIP() << "not an x86-64 machine";
#endif
}

TEST(QGemv, GenericMatchesOracle) { checkKernel(slim_uk_qgemv_f32_generic); }

TEST(QGemv, Avx2MatchesOracle) {
#if defined(__x86_64__)
  __builtin_cpu_init();
  if (!__builtin_cpu_supports("avx2") || !__builtin_cpu_supports("fma"))
    GTEST_SKIP()
        << "this CPU has no AVX2+FMA: the AVX2 quantized GEMV is not run";
  checkKernel(slim_uk_qgemv_f32_avx2);
#else
  GTEST_SKIP() << "not an x86-64 machine";
#endif
}

TEST(QGemv, Avx512MatchesOracle) {
#if defined(__x86_64__)
  __builtin_cpu_init();
  if (!__builtin_cpu_supports("avx512f"))
    GTEST_SKIP()
        << "this CPU has no AVX-512F: the AVX-512 quantized GEMV is not run";
  checkKernel(slim_uk_qgemv_f32_avx512);
#else
  GTEST_SKIP() << "not an x86-64 machine";
#endif
}

/// A weight with N:M structured sparsity along K: makeWeight's codes as
/// the kept values, each run's positions drawn without repetition; `dense`
/// holds the [n, k] values the kernels must compute with.
struct SparseWeight {
  Weight w;
  std::vector<uint8_t> indices;
  std::vector<float> dense;
};

SparseWeight makeSparse(std::mt19937 &rng, int64_t n, int64_t k, int64_t sn,
                        int64_t sm, int64_t bits, int64_t group, Format f) {
  SparseWeight s;
  int64_t kv = k / sm * sn;
  s.w = makeWeight(rng, n, kv, bits, group > 0 ? group : kv, f.isSigned,
                   f.hasZp, f.scale, f.forcedZp, f.table);
  int64_t stride = kv + 5;
  s.indices.assign(n * stride, 0);
  s.dense.assign(n * k, 0.0f);
  for (int64_t r = 0; r < n; ++r)
    for (int64_t run = 0; run < k / sm; ++run) {
      std::vector<uint8_t> pos(sm);
      for (int64_t p = 0; p < sm; ++p)
        pos[p] = uint8_t(p);
      std::shuffle(pos.begin(), pos.end(), rng);
      for (int64_t t = 0; t < sn; ++t) {
        int64_t j = run * sn + t;
        s.indices[r * stride + j] = pos[t];
        s.dense[r * k + run * sm + pos[t]] = s.w.values[r * kv + j];
      }
    }
  s.w.view.k = k;
  s.w.view.indices = s.indices.data();
  s.w.view.indicesStride = stride;
  s.w.view.sparseN = sn;
  s.w.view.sparseM = sm;
  return s;
}

/// N:M sparse weights (2:4, 4:8, 1:4 and 3:8, which the vector path leaves
/// to the reference), widths 2-8, integer codes and code books, groups of
/// kept values and per channel, 1 to 9 rows: the products against the
/// dense values, and the dequantized rows equal to them exactly.
void checkSparse(Kernel kernel, Dequant dequant) {
  std::mt19937 rng(17);
  std::normal_distribution<float> normal;
  struct Case {
    int64_t k, sn, sm, group;
  };
  for (Case cs : {Case{128, 2, 4, 16}, Case{200, 2, 4, 0}, Case{96, 4, 8, 24},
                  Case{64, 1, 4, 8}, Case{96, 3, 8, 9}})
    for (int64_t bits : {4, 3, 8, 2})
      for (int variant : {0, 3, 5, 6, 7}) {
        Format f = Format::of(variant, bits);
        int64_t n = 7, n0 = 1, n1 = 7, k = cs.k;
        SparseWeight sw = makeSparse(rng, n, k, cs.sn, cs.sm, bits, cs.group, f);
        for (int64_t m : {1, 3, 9}) {
          int64_t lda = k + 3, ldc = n;
          std::vector<float> a(m * lda), c(m * ldc, NAN);
          for (float &v : a)
            v = normal(rng);
          kernel(m, n0, n1, a.data(), lda, &sw.w.view, c.data(), ldc,
                 sw.w.flags);
          for (int64_t i = 0; i < m; ++i)
            for (int64_t j = n0; j < n1; ++j) {
              double want = 0.0, mag = 0.0;
              for (int64_t q = 0; q < k; ++q) {
                double p = double(a[i * lda + q]) * sw.dense[j * k + q];
                want += p;
                mag += std::fabs(p);
              }
              ASSERT_NEAR(c[i * ldc + j], want, 1e-5 * mag + 1e-6)
                  << cs.sn << ":" << cs.sm << " k=" << k << " bits=" << bits
                  << " variant=" << variant << " m=" << m << " at " << i
                  << "," << j;
            }
        }
        std::vector<float> out((n1 - n0) * (k + 2), 7.0f);
        dequant(n0, n1, &sw.w.view, out.data(), k + 2, sw.w.flags);
        for (int64_t r = n0; r < n1; ++r)
          for (int64_t q = 0; q < k + 2; ++q)
            ASSERT_EQ(out[(r - n0) * (k + 2) + q],
                      q < k ? sw.dense[r * k + q] : 7.0f)
                << cs.sn << ":" << cs.sm << " bits=" << bits
                << " variant=" << variant << " at " << r << "," << q;
      }
}

TEST(QGemv, GenericSparseMatchesOracle) {
  checkSparse(slim_uk_qgemv_f32_generic, slim_uk_qdequant_f32_generic);
}

TEST(QGemv, Avx2SparseMatchesOracle) {
#if defined(__x86_64__)
  __builtin_cpu_init();
  if (!__builtin_cpu_supports("avx2") || !__builtin_cpu_supports("fma") ||
      !__builtin_cpu_supports("f16c"))
    GTEST_SKIP() << "this CPU has no AVX2+FMA+F16C: the AVX2 sparse path is "
                    "not run";
  checkSparse(slim_uk_qgemv_f32_avx2, slim_uk_qdequant_f32_avx2);
  if (__builtin_cpu_supports("avx512f"))
    checkSparse(slim_uk_qgemv_f32_avx512, slim_uk_qdequant_f32_avx2);
#else
  GTEST_SKIP() << "not an x86-64 machine";
#endif
}

/// The OCP FP8 decodings, written from the definitions (independently of
/// lib/Compression's tables).
float fp8Value(int code, bool e4m3) {
  int sign = code >> 7, mantBits = e4m3 ? 3 : 2, expBits = e4m3 ? 4 : 5;
  int e = (code >> mantBits) & ((1 << expBits) - 1),
      mant = code & ((1 << mantBits) - 1), bias = e4m3 ? 7 : 15;
  float v;
  if (e4m3 && e == 15 && mant == 7)
    v = NAN;
  else if (!e4m3 && e == 31)
    v = mant ? NAN : INFINITY;
  else if (e == 0)
    v = std::ldexp(float(mant), 1 - bias - mantBits);
  else
    v = std::ldexp(float(mant + (1 << mantBits)), e - bias - mantBits);
  return sign ? -v : v;
}

/// With SLIM_UK_QGEMV_TABLE_E4M3 / E5M2 the kernels may decode FP8 codes
/// from their bits: every one of the 256 codes dequantizes to its value
/// (NaNs to NaN, bit for bit otherwise, -0 included), and products over
/// finite codes match the reference reading the table.
TEST(QGemv, Fp8CodesDecodeFromBits) {
  std::vector<std::pair<const char *, Dequant>> dequants{
      {"generic", slim_uk_qdequant_f32_generic}};
  std::vector<std::pair<const char *, Kernel>> gemvs{
      {"generic", slim_uk_qgemv_f32_generic}};
#if defined(__x86_64__)
  __builtin_cpu_init();
  if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma") &&
      __builtin_cpu_supports("f16c")) {
    dequants.push_back({"avx2", slim_uk_qdequant_f32_avx2});
    gemvs.push_back({"avx2", slim_uk_qgemv_f32_avx2});
  }
  if (__builtin_cpu_supports("avx512f"))
    gemvs.push_back({"avx512", slim_uk_qgemv_f32_avx512});
#endif
  std::mt19937 rng(5);
  std::normal_distribution<float> normal;
  for (bool e4m3 : {true, false}) {
    std::vector<float> table(256);
    for (int c = 0; c < 256; ++c)
      table[c] = fp8Value(c, e4m3);
    uint32_t flags = SLIM_UK_QGEMV_SCALE_F32 | (e4m3 ? SLIM_UK_QGEMV_TABLE_E4M3
                                                     : SLIM_UK_QGEMV_TABLE_E5M2);
    // Row 0: every code in order; rows 1-4: random finite codes.
    int64_t n = 5, k = 256;
    std::vector<uint8_t> codes(n * k);
    std::vector<int> finite;
    for (int c = 0; c < 256; ++c)
      if (std::isfinite(table[c]))
        finite.push_back(c);
    for (int64_t q = 0; q < k; ++q)
      codes[q] = uint8_t(q);
    for (int64_t i = k; i < n * k; ++i)
      codes[i] = uint8_t(finite[rng() % finite.size()]);
    std::vector<float> scales(n, 1.0f);
    scales[2] = 0.25f;
    slim_uk_qweight w{codes.data(), k,    scales.data(), 1,       nullptr,
                      0,            k,    8,             0,       table.data(),
                      nullptr,      0,    0,             0};
    for (auto [name, dequant] : dequants) {
      std::vector<float> out(n * k);
      dequant(0, n, &w, out.data(), k, flags);
      for (int64_t r = 0; r < n; ++r)
        for (int64_t q = 0; q < k; ++q) {
          float want = table[codes[r * k + q]] * scales[r], got = out[r * k + q];
          if (std::isnan(want))
            EXPECT_TRUE(std::isnan(got)) << name << " code " << q;
          else
            EXPECT_EQ(std::memcmp(&got, &want, 4), 0)
                << name << (e4m3 ? " e4m3" : " e5m2") << " code "
                << int(codes[r * k + q]) << ": " << got << " vs " << want;
        }
    }
    for (auto [name, gemv] : gemvs)
      for (int64_t m : {1, 3}) {
        std::vector<float> a(m * k), c(m * n, NAN);
        for (float &v : a)
          v = normal(rng);
        gemv(m, 1, n, a.data(), k, &w, c.data(), n, flags);
        for (int64_t i = 0; i < m; ++i)
          for (int64_t r = 1; r < n; ++r) {
            double want = 0.0, mag = 0.0;
            for (int64_t q = 0; q < k; ++q) {
              double p = double(a[i * k + q]) * table[codes[r * k + q]] *
                         scales[r];
              want += p;
              mag += std::fabs(p);
            }
            ASSERT_NEAR(c[i * n + r], want, 1e-5 * mag + 1e-6)
                << name << (e4m3 ? " e4m3" : " e5m2") << " m=" << m;
          }
      }
  }
}

TEST(QGemv, HalfScalesWidenExactly) {
  // Normal, subnormal, zero, infinity and NaN f16 patterns.
  const uint16_t half[] = {0x3c00, 0xc000, 0x0001, 0x03ff, 0x0000,
                           0x8000, 0x7c00, 0x7e00, 0x7bff};
  const float want[] = {1.0f,
                        -2.0f,
                        std::ldexp(1.0f, -24),
                        std::ldexp(1023.0f, -24),
                        0.0f,
                        -0.0f,
                        INFINITY,
                        NAN,
                        65504.0f};
  for (size_t i = 0; i < sizeof(half) / sizeof(half[0]); ++i) {
    slim_uk_qweight w{};
    w.scales = &half[i];
    float got = slim_uk_qscale(&w, 0, 0, SLIM_UK_QGEMV_SCALE_F16);
    if (std::isnan(want[i]))
      EXPECT_TRUE(std::isnan(got)) << i;
    else
      EXPECT_EQ(got, want[i]) << i << " " << std::signbit(got);
  }
}

//===----------------------------------------------------------------------===//
// The int8-activation path
//===----------------------------------------------------------------------===//

/// The quantized activations of rows of K inputs, from the reference.
std::vector<uint8_t> quantizeActivations(const std::vector<float> &a, int64_t m,
                                         int64_t k, int64_t lda,
                                         int64_t &stride) {
  stride = slim_uk_qact_row_bytes(k) + 64; // padded rows
  std::vector<uint8_t> out(m * stride, 0xcd);
  slim_uk_qact_quantize_generic(m, k, a.data(), lda, out.data(), stride);
  return out;
}

/// Activation i of `row` as its quantization holds it: q and the block's d.
std::pair<int, float> quantizedInput(const uint8_t *row, int64_t i) {
  const uint8_t *sb = row + i / 128 * SLIM_UK_QACT_SUPERBLOCK_BYTES;
  int64_t block = i % 128 / 32, t = i % 32;
  int q = int8_t(sb[(t % 2) * 64 + block * 16 + t / 2]);
  float d;
  std::memcpy(&d, sb + 128 + block * 16, 4);
  return {q, d};
}

/// The AVX2 quantizer writes the reference's bytes: ragged K, zero
/// blocks, ties of the rounding, outliers, tiny and huge values, NaN and
/// infinities.
TEST(QGemvInt8, Avx2QuantizerMatchesReference) {
#if defined(__x86_64__)
  __builtin_cpu_init();
  if (!__builtin_cpu_supports("avx2") || !__builtin_cpu_supports("fma"))
    GTEST_SKIP() << "this CPU has no AVX2+FMA: the AVX2 quantizer is not run";
  std::mt19937 rng(9);
  std::normal_distribution<float> normal;
  for (int64_t k : {1, 31, 32, 33, 100, 128, 200, 576, 1000, 1536}) {
    int64_t m = 5, lda = k + 3;
    std::vector<float> a(m * lda);
    for (float &v : a)
      v = normal(rng);
    for (int64_t q = 0; q < k; ++q) {
      a[q] = q < 32 ? 0.0f : float(q % 255) - 127.0f + 0.5f; // ties
      a[lda + q] *= 1e-30f;
      a[2 * lda + q] *= 1e30f;
    }
    a[3 * lda + k / 2] = NAN;
    a[4 * lda + k - 1] = k % 2 ? INFINITY : -INFINITY;
    int64_t stride = slim_uk_qact_row_bytes(k) + 64;
    std::vector<uint8_t> want(m * stride, 0xcd), got(m * stride, 0xcd);
    slim_uk_qact_quantize_generic(m, k, a.data(), lda, want.data(), stride);
    slim_uk_qact_quantize_avx2(m, k, a.data(), lda, got.data(), stride);
    for (int64_t i = 0; i < m * stride; ++i)
      ASSERT_EQ(got[i], want[i]) << "k=" << k << " row " << i / stride
                                 << " byte " << i % stride;
  }
#else
  GTEST_SKIP() << "not an x86-64 machine";
#endif
}

TEST(QGemvInt8, ActivationsRoundToHalfAStep) {
  std::mt19937 rng(5);
  std::normal_distribution<float> normal;
  for (int64_t k : {1, 31, 32, 100, 128, 576, 1000}) {
    int64_t m = 3, lda = k + 3, stride;
    std::vector<float> a(m * lda);
    for (float &v : a)
      v = normal(rng) * 4.0f;
    // A zero block, and one with a single large outlier.
    for (int64_t q = 0; q < 32 && q < k; ++q)
      a[q] = 0.0f;
    if (k > 40)
      a[lda + 40] = 300.0f;
    std::vector<uint8_t> act = quantizeActivations(a, m, k, lda, stride);
    for (int64_t i = 0; i < m; ++i) {
      const uint8_t *row = act.data() + i * stride;
      for (int64_t q = 0; q < slim_uk_qact_row_bytes(k) / 2; ++q) {
        auto [v, d] = quantizedInput(row, q);
        if (q >= k) {
          ASSERT_EQ(v, 0) << "input past K at " << q;
          continue;
        }
        float amax = 0.0f;
        for (int64_t t = q / 32 * 32; t < q / 32 * 32 + 32 && t < k; ++t)
          amax = std::max(amax, std::fabs(a[i * lda + t]));
        ASSERT_EQ(d, amax / 127.0f) << "k=" << k << " at " << i << "," << q;
        ASSERT_LE(std::abs(v), 127);
        ASSERT_LE(std::fabs(v * d - a[i * lda + q]), d * 0.5f * 1.0001f)
            << "k=" << k << " at " << i << "," << q;
      }
      // Zero-point terms: t_j = d_j * (sum of block j's q), zeros after.
      for (int64_t s = 0; s < slim_uk_qact_row_bytes(k) / 256; ++s) {
        const uint8_t *sb = row + s * 256;
        for (int64_t j = 0; j < 4; ++j) {
          int32_t sum = 0;
          for (int64_t t = 16 * j; t < 16 * j + 16; ++t)
            sum += int8_t(sb[t]) + int8_t(sb[64 + t]);
          float d, got;
          std::memcpy(&d, sb + 128 + 16 * j, 4);
          std::memcpy(&got, sb + 192 + 4 * j, 4);
          ASSERT_EQ(got, d * float(sum)) << "k=" << k << " block " << j;
        }
        for (int64_t b = 208; b < 256; ++b)
          ASSERT_EQ(sb[b], 0) << "k=" << k << " byte " << b;
      }
    }
  }
}

using Q8Kernel = void (*)(int64_t, int64_t, int64_t, const uint8_t *, int64_t,
                          const slim_uk_qweight *, float *, int64_t, uint32_t);

/// The int8-activation product of `kernel` within the documented bound of
/// the exact f32 product (QGemv.h: half an activation step per block), and
/// within f32 summation error of the reference's, over 4- and 8-bit formats,
/// groups of 32/64/96/128/256 (one superblock to 32) and per channel, ragged
/// K (a partial last superblock, a last block shorter than 32), 1 to 9 rows,
/// sub-ranges of output channels, accumulating and overwriting.
void checkQ8Kernel(Q8Kernel kernel) {
  std::mt19937 rng(17);
  std::normal_distribution<float> normal;
  struct Shape {
    int64_t k, group;
  };
  for (Shape shape :
       {Shape{128, 32}, Shape{576, 128}, Shape{576, 64}, Shape{320, 64},
        Shape{192, 96}, Shape{200, 200}, Shape{96, 32}, Shape{544, 32},
        Shape{576, 32}, Shape{1536, 128}, Shape{4096, 128}, Shape{1024, 256},
        Shape{704, 64}, Shape{448, 32}})
    for (int64_t bits : {4, 8, 6})
      for (int variant = 0; variant < 6; ++variant) {
        Format f = Format::of(variant, bits);
        int64_t n = 11, n0 = 2, n1 = 11, k = shape.k;
        Weight w = makeWeight(rng, n, k, bits, shape.group, f.isSigned, f.hasZp,
                              f.scale, f.forcedZp);
        ASSERT_TRUE(slim_uk_qgemv_q8_supported(&w.view));
        for (int64_t m : {1, 2, 3, 4, 5, 9})
          for (bool accumulate : {true, false}) {
            int64_t lda = k + 5, ldc = n + 2, stride;
            std::vector<float> a(m * lda), c(m * ldc);
            for (float &v : a)
              v = normal(rng);
            for (float &v : c)
              v = normal(rng);
            std::vector<uint8_t> act =
                quantizeActivations(a, m, k, lda, stride);
            uint32_t flags =
                w.flags | (accumulate ? SLIM_UK_QGEMV_ACCUMULATE : 0);
            std::vector<float> got = c, ref = c;
            for (int64_t i = 0; i < m && !accumulate; ++i)
              for (int64_t j = n0; j < n1; ++j)
                got[i * ldc + j] = NAN;
            kernel(m, n0, n1, act.data(), stride, &w.view, got.data(), ldc,
                   flags);
            slim_uk_qgemv_q8_f32_generic(m, n0, n1, act.data(), stride, &w.view,
                                         ref.data(), ldc, flags);
            for (int64_t i = 0; i < m; ++i)
              for (int64_t j = 0; j < ldc; ++j) {
                bool inside = j >= n0 && j < n1;
                double exact = inside && !accumulate ? 0.0 : c[i * ldc + j];
                double mag = 0.0, bound = 0.0;
                if (inside)
                  for (int64_t q = 0; q < k; ++q) {
                    double p = double(a[i * lda + q]) * w.values[j * k + q];
                    exact += p;
                    mag += std::fabs(p);
                    bound += quantizedInput(act.data() + i * stride, q).second *
                             0.5 * std::fabs(w.values[j * k + q]);
                  }
                ASSERT_NEAR(got[i * ldc + j], ref[i * ldc + j],
                            1e-5 * mag + 1e-6)
                    << "bits=" << bits << " k=" << k << " group=" << shape.group
                    << " variant=" << variant << " m=" << m
                    << " accumulate=" << accumulate << " at " << i << "," << j;
                ASSERT_NEAR(got[i * ldc + j], exact, bound * 1.001 + 1e-5 * mag)
                    << "outside the int8 bound: bits=" << bits << " k=" << k
                    << " group=" << shape.group << " variant=" << variant
                    << " at " << i << "," << j;
              }
          }
      }
}

TEST(QGemvInt8, GenericWithinBound) {
  checkQ8Kernel(slim_uk_qgemv_q8_f32_generic);
}

TEST(QGemvInt8, Avx2MatchesReference) {
#if defined(__x86_64__)
  __builtin_cpu_init();
  if (!__builtin_cpu_supports("avx2") || !__builtin_cpu_supports("fma"))
    GTEST_SKIP() << "this CPU has no AVX2+FMA: the AVX2 int8 GEMV is not run";
  checkQ8Kernel(slim_uk_qgemv_q8_f32_avx2);
#else
  GTEST_SKIP() << "not an x86-64 machine";
#endif
}

TEST(QGemvInt8, Avx512MatchesReference) {
#if defined(__x86_64__)
  __builtin_cpu_init();
  if (!__builtin_cpu_supports("avx512bw") ||
      !__builtin_cpu_supports("avx512vl"))
    GTEST_SKIP()
        << "this CPU has no AVX-512BW/VL: the AVX-512 int8 GEMV is not run";
  checkQ8Kernel(slim_uk_qgemv_q8_f32_avx512);
#else
  GTEST_SKIP() << "not an x86-64 machine";
#endif
}

TEST(QGemvInt8, Avx512VnniMatchesReference) {
#if defined(__x86_64__)
  __builtin_cpu_init();
  if (!__builtin_cpu_supports("avx512vnni") ||
      !__builtin_cpu_supports("avx512bw"))
    GTEST_SKIP()
        << "this CPU has no AVX-512 VNNI: the VNNI int8 GEMV is not run";
  checkQ8Kernel(slim_uk_qgemv_q8_f32_avx512vnni);
#else
  GTEST_SKIP() << "not an x86-64 machine";
#endif
}

TEST(QGemvInt8, NonFiniteActivationsGiveNaN) {
  std::mt19937 rng(2);
  Weight w = makeWeight(rng, 4, 128, 4, 32, false, false, Scale::F16);
  std::vector<float> a(128, 0.5f);
  a[70] = INFINITY;
  int64_t stride;
  std::vector<uint8_t> act = quantizeActivations(a, 1, 128, 128, stride);
  std::vector<float> c(4, 0.0f);
  slim_uk_qgemv_q8_f32_generic(1, 0, 4, act.data(), stride, &w.view, c.data(),
                               4, w.flags);
  for (float v : c)
    EXPECT_TRUE(std::isnan(v));
}

/// Per-row quantization (slim.quantize_activation's int8 per row) feeds
/// the same kernels: their products equal the exact products of the
/// rounded rows (round(x / s) * s, s = max|x| / 127) by the weights, up to
/// f32 sums; a row of zeros gives zeros, a row with a NaN NaNs.
TEST(QGemvInt8, RowQuantizationMatchesTheOpDefinition) {
  std::mt19937 rng(11);
  std::normal_distribution<float> normal;
  using Q8 = void (*)(int64_t, int64_t, int64_t, const uint8_t *, int64_t,
                      const slim_uk_qweight *, float *, int64_t, uint32_t);
  std::vector<std::pair<const char *, Q8>> kernels{
      {"generic", slim_uk_qgemv_q8_f32_generic}};
#if defined(__x86_64__)
  __builtin_cpu_init();
  if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma") &&
      __builtin_cpu_supports("f16c"))
    kernels.push_back({"avx2", slim_uk_qgemv_q8_f32_avx2});
  if (__builtin_cpu_supports("avx512bw") && __builtin_cpu_supports("avx512vl"))
    kernels.push_back({"avx512", slim_uk_qgemv_q8_f32_avx512});
#endif
  for (int64_t bits : {4, 8, 6})
    for (auto [k, group] : {std::pair<int64_t, int64_t>{200, 0}, {256, 64}}) {
      int64_t n = 9, m = 6, stride = slim_uk_qact_row_bytes(k);
      Weight w = makeWeight(rng, n, k, bits, group > 0 ? group : k,
                            bits == 4, bits == 8, Scale::F32);
      std::vector<float> a(m * k);
      for (float &v : a)
        v = normal(rng) * 3.0f;
      for (int64_t t = 0; t < k; ++t)
        a[1 * k + t] = 0.0f; // a row of zeros
      a[2 * k + 17] = NAN;
      std::vector<uint8_t> act(m * stride);
      slim_uk_qact_quantize_rows_generic(m, k, a.data(), k, act.data(), stride);
      for (auto [name, kernel] : kernels) {
        std::vector<float> c(m * n, 7.0f);
        kernel(m, 0, n, act.data(), stride, &w.view, c.data(), n, w.flags);
        for (int64_t i = 0; i < m; ++i) {
          float amax = 0.0f;
          for (int64_t t = 0; t < k; ++t)
            amax = std::max(amax, std::fabs(a[i * k + t]));
          float s = amax == 0.0f ? 1.0f : amax / 127.0f;
          for (int64_t j = 0; j < n; ++j) {
            float got = c[i * n + j];
            if (i == 2) {
              EXPECT_TRUE(std::isnan(got)) << name;
              continue;
            }
            double want = 0.0, mag = 0.0;
            for (int64_t t = 0; t < k; ++t) {
              double p = double(std::nearbyint(a[i * k + t] / s)) * s *
                         w.values[j * k + t];
              want += p;
              mag += std::fabs(p);
            }
            ASSERT_NEAR(got, want, 1e-5 * mag + 1e-6)
                << name << " bits=" << bits << " k=" << k << " at " << i
                << "," << j;
          }
        }
      }
    }
}

} // namespace
