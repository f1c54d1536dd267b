//===- QGemvInt8.cpp - Reference int8-activation quantized product --------===//
//
// Part of the Slim project, under the Apache License v2.0 with LLVM Exceptions.
// SPDX-License-Identifier: Apache-2.0 WITH LLVM-exception
//
//===----------------------------------------------------------------------===//
//
// The activations' quantization every variant reads (QGemv.h), and the
// product computed block by block in plain integers: the definition the
// vector variants are tested against.
//
//===----------------------------------------------------------------------===//

#include "lib/Kernels/QGemv.h"
#include "lib/Kernels/QGemvInternal.h"

#include <cfloat>
#include <cmath>
#include <cstring>

using namespace slim::qgemv;

extern "C" void slim_uk_qact_quantize_generic(int64_t m, int64_t k,
                                              const float *a, int64_t lda,
                                              uint8_t *out, int64_t outStride) {
  int64_t superblocks = (k + 127) / 128;
  for (int64_t i = 0; i < m; ++i) {
    const float *x = a + i * lda;
    for (int64_t s = 0; s < superblocks; ++s) {
      uint8_t *sb = out + i * outStride + s * SLIM_UK_QACT_SUPERBLOCK_BYTES;
      int8_t *even = reinterpret_cast<int8_t *>(sb);
      int8_t *odd = even + 64;
      float scales[16];
      for (int64_t j = 0; j < 4; ++j) {
        // Straight loops over a copy of the block, so that the compiler
        // vectorizes them (the deinterleaving comes last).
        int64_t base = s * 128 + j * 32;
        int64_t len = k - base < 32 ? (k - base > 0 ? k - base : 0) : 32;
        float v[32];
        for (int64_t t = 0; t < 32; ++t)
          v[t] = t < len ? x[base + t] : 0.0f;
        float amax = 0.0f;
        int bad = 0;
        for (int64_t t = 0; t < 32; ++t) {
          float a = std::fabs(v[t]);
          bad |= !(a <= FLT_MAX); // NaN and infinities
          amax = a > amax ? a : amax;
        }
        // A block with a NaN or an infinity gets a NaN scale, so the
        // product is NaN as the f32 path's would be.
        bool finite = !bad;
        if (!finite)
          for (float &e : v)
            e = 0.0f; // codes 0, the NaN scale carries it
        float d = finite ? amax / 127.0f : NAN;
        float inv = finite && amax > 0.0f ? 127.0f / amax : 0.0f;
        int8_t q[32];
        for (int64_t t = 0; t < 32; ++t) {
          // Round to nearest even without a libm call: adding 1.5 * 2^23
          // leaves no fraction bits (|r| <= 127 here), in the default
          // rounding mode, as vcvtps2dq rounds.
          float r = (v[t] * inv + 12582912.0f) - 12582912.0f;
          r = r > 127.0f ? 127.0f : r < -127.0f ? -127.0f : r;
          q[t] = static_cast<int8_t>(r);
        }
        for (int64_t i = 0; i < 16; ++i) {
          even[j * 16 + i] = q[2 * i];
          odd[j * 16 + i] = q[2 * i + 1];
        }
        for (int64_t l = 4 * j; l < 4 * j + 4; ++l)
          scales[l] = d;
      }
      // The zero points' terms: d times the sum of q, per block.
      float terms[16] = {};
      for (int64_t j = 0; j < 4; ++j) {
        int32_t sum = 0;
        for (int64_t t = 16 * j; t < 16 * j + 16; ++t)
          sum += even[t] + odd[t];
        terms[j] = scales[4 * j] * static_cast<float>(sum);
      }
      std::memcpy(sb + 128, scales, sizeof(scales));
      std::memcpy(sb + 192, terms, sizeof(terms));
    }
  }
}

extern "C" void slim_uk_qact_quantize_rows_generic(int64_t m, int64_t k,
                                                   const float *a, int64_t lda,
                                                   uint8_t *out,
                                                   int64_t outStride) {
  int64_t superblocks = (k + 127) / 128;
  for (int64_t i = 0; i < m; ++i) {
    const float *x = a + i * lda;
    float amax = 0.0f;
    bool finite = true;
    for (int64_t t = 0; t < k; ++t) {
      float v = std::fabs(x[t]);
      finite &= v <= FLT_MAX;
      amax = v > amax ? v : amax;
    }
    // slim.quantize_activation's per-row int8: max|x| / 127 (1 for a row of
    // zeros), codes x / scale rounded to nearest even and saturated; a row
    // with a NaN or an infinity has a NaN scale and codes 0.
    float scale = !finite ? NAN : amax == 0.0f ? 1.0f : amax / 127.0f;
    for (int64_t s = 0; s < superblocks; ++s) {
      uint8_t *sb = out + i * outStride + s * SLIM_UK_QACT_SUPERBLOCK_BYTES;
      int8_t *even = reinterpret_cast<int8_t *>(sb);
      int8_t *odd = even + 64;
      float scales[16], terms[16] = {};
      for (int64_t j = 0; j < 4; ++j) {
        int32_t sum = 0;
        for (int64_t t = 0; t < 32; ++t) {
          int64_t at = s * 128 + j * 32 + t;
          float r = finite && at < k ? std::nearbyint(x[at] / scale) : 0.0f;
          r = r > 127.0f ? 127.0f : r < -128.0f ? -128.0f : r;
          int8_t q = static_cast<int8_t>(r);
          // Not `(t % 2 ? odd : even)[...]`: GCC 12 miscompiles that
          // indexing of a conditional pointer under -fsanitize=address with
          // UBSan's arithmetic checks (a wild store;
          // scripts/test-sanitizers.sh).
          int8_t *half = t % 2 ? odd : even;
          half[j * 16 + t / 2] = q;
          sum += q;
        }
        for (int64_t l = 4 * j; l < 4 * j + 4; ++l)
          scales[l] = scale;
        terms[j] = scale * static_cast<float>(sum);
      }
      std::memcpy(sb + 128, scales, sizeof(scales));
      std::memcpy(sb + 192, terms, sizeof(terms));
    }
  }
}

extern "C" void slim_uk_qgemv_q8_f32_generic(int64_t m, int64_t n0, int64_t n1,
                                             const uint8_t *act,
                                             int64_t actStride,
                                             const slim_uk_qweight *w, float *c,
                                             int64_t ldc, uint32_t flags) {
  bool isSigned = flags & SLIM_UK_QGEMV_SIGNED;
  int64_t k = w->k, group = groupSize(w), rowBytes = (k * w->bits + 7) / 8;
  int64_t blocks = (k + 31) / 32;
  for (int64_t n = n0; n < n1; ++n) {
    const uint8_t *row = w->codes + n * w->codesStride;
    for (int64_t i = 0; i < m; ++i) {
      const uint8_t *x = act + i * actStride;
      float acc = 0.0f;
      for (int64_t b = 0; b < blocks; ++b) {
        const uint8_t *sb = x + (b / 4) * SLIM_UK_QACT_SUPERBLOCK_BYTES;
        const int8_t *even = reinterpret_cast<const int8_t *>(sb) + b % 4 * 16;
        const int8_t *odd = even + 64;
        float d;
        std::memcpy(&d, sb + 128 + (b % 4) * 16, sizeof(float));
        int64_t g = b * 32 / group;
        int zp = slim_uk_qzero(w, n, g, flags);
        int32_t dot = 0;
        for (int64_t t = 0; t < 32 && b * 32 + t < k; ++t) {
          int q = t % 2 ? odd[t / 2] : even[t / 2];
          dot += (code(row, rowBytes, b * 32 + t, w->bits, isSigned) - zp) * q;
        }
        acc += float(dot) * (slim_uk_qscale(w, n, g, flags) * d);
      }
      float *out = c + i * ldc + n;
      *out = (flags & SLIM_UK_QGEMV_ACCUMULATE ? *out : 0.0f) + acc;
    }
  }
}
