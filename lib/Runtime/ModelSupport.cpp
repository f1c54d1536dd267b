//===- ModelSupport.cpp - Functions compiled models call ------------------===//
//
// Part of the Slim project, under the Apache License v2.0 with LLVM Exceptions.
// SPDX-License-Identifier: Apache-2.0 WITH LLVM-exception
//
//===----------------------------------------------------------------------===//
//
// Linked into every model.so by slimc (position-independent static archive):
// the GEMMs `--slim-lower-matmul-to-blas` calls (oneDNN's sgemm, Slim's
// packed-weight kernels), through
// MLIR's C interface for memrefs, the strided copy memref.copy needs, the
// thread-count hook the runtime calls, the calibration observer hook, and
// the kernel of weight-quantized matmuls (`--slim-lower-quantized-matmul`).
//
//===----------------------------------------------------------------------===//

#include "lib/Kernels/Attention.h"
#include "lib/Kernels/GemmInt8.h"
#include "lib/Kernels/GemmPacked.h"
#include "lib/Kernels/Gemv.h"
#include "lib/Kernels/QGemv.h"
#include "lib/Kernels/Softmax.h"
#include "lib/Runtime/KernelAbi.h"
#include "mlir/ExecutionEngine/CRunnerUtils.h"

#include <dnnl.h>
#include <omp.h>

#include <algorithm>
#include <cmath>
#include <csetjmp>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <unordered_set>
#include <vector>

namespace {

/// The instruction sets kernels have variants for, in the order of
/// preference: AVX2 with FMA and F16C, AVX-512 F/BW/VL/DQ (Skylake-X and
/// later), and those with VNNI (Cascade Lake, Zen 4 and later).
enum class Isa { Generic, Avx2, Avx512, Avx512Vnni };

/// The best instruction set of this CPU, or the one SLIM_KERNELS names
/// (`generic`, `avx2`, `avx512`, `avx512vnni`: for testing and measuring
/// one variant) where the CPU has it; a name it lacks falls back to the
/// best it has, with one line on stderr, never SIGILL.
Isa kernelIsa() {
  static const Isa isa = [] {
    Isa best = Isa::Generic;
#if defined(__x86_64__)
    __builtin_cpu_init();
    if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma") &&
        __builtin_cpu_supports("f16c"))
      best = Isa::Avx2;
    if (best == Isa::Avx2 && __builtin_cpu_supports("avx512f") &&
        __builtin_cpu_supports("avx512bw") &&
        __builtin_cpu_supports("avx512vl") &&
        __builtin_cpu_supports("avx512dq"))
      best = Isa::Avx512;
    if (best == Isa::Avx512 && __builtin_cpu_supports("avx512vnni"))
      best = Isa::Avx512Vnni;
#endif
    const char *force = std::getenv("SLIM_KERNELS");
    if (!force || !*force)
      return best;
    Isa want;
    if (std::strcmp(force, "generic") == 0)
      want = Isa::Generic;
    else if (std::strcmp(force, "avx2") == 0)
      want = Isa::Avx2;
    else if (std::strcmp(force, "avx512") == 0)
      want = Isa::Avx512;
    else if (std::strcmp(force, "avx512vnni") == 0)
      want = Isa::Avx512Vnni;
    else {
      std::fprintf(stderr,
                   "slim: SLIM_KERNELS='%s' is not one of generic, avx2, "
                   "avx512, avx512vnni; using the best kernels for this "
                   "CPU\n",
                   force);
      return best;
    }
    if (want > best) {
      std::fprintf(stderr,
                   "slim: SLIM_KERNELS=%s: this CPU lacks that instruction "
                   "set; using the best kernels it has\n",
                   force);
      return best;
    }
    return want;
  }();
  return isa;
}

/// The kernel variant for kernelIsa(): the best one a kernel has that is
/// not above it (kernels without an AVX-512 or VNNI variant pass none).
template <typename Fn>
Fn selectKernel(Fn generic, Fn avx2, Fn avx512 = nullptr,
                Fn avx512vnni = nullptr) {
  Isa isa = kernelIsa();
  if (isa >= Isa::Avx512Vnni && avx512vnni)
    return avx512vnni;
  if (isa >= Isa::Avx512 && avx512)
    return avx512;
  if (isa >= Isa::Avx2)
    return avx2;
  return generic;
}

/// A kernel's reference and x86-64 variants (lib/Kernels), the x86-64
/// ones only where they are compiled.
#if defined(__x86_64__)
#define SLIM_KERNEL_VARIANTS(name) name##_generic, name##_avx2
#define SLIM_KERNEL_VARIANTS_512(name)                                         \
  name##_generic, name##_avx2, name##_avx512
#define SLIM_KERNEL_VARIANTS_VNNI(name)                                        \
  name##_generic, name##_avx2, name##_avx512, name##_avx512vnni
#else
#define SLIM_KERNEL_VARIANTS(name) name##_generic, name##_generic
#define SLIM_KERNEL_VARIANTS_512(name) name##_generic, name##_generic
#define SLIM_KERNEL_VARIANTS_VNNI(name) name##_generic, name##_generic
#endif

/// C[M, N] += A[M, K] B[N, K]^T for a few rows (decoding): output channels
/// split across the threads in blocks of 16, each block's weight rows
/// streamed once for all rows of A. oneDNN's sgemm reaches about 60% of
/// the memory bandwidth on these shapes, this about 85% (docs/Compile.md).
void gemvNT(int64_t m, int64_t n, int64_t k, const float *a, int64_t lda,
            const float *b, int64_t ldb, float *c, int64_t ldc) {
  static const auto kernel =
      selectKernel(SLIM_KERNEL_VARIANTS(slim_uk_gemv_nt_f32));
  // Below ~256 KiB of weights a second thread costs more than it saves.
  int threads = n * k >= (1 << 16) ? omp_get_max_threads() : 1;
  int64_t blocks = (n + 15) / 16;
#pragma omp parallel num_threads(threads)
  {
    int t = omp_get_thread_num(), nt = omp_get_num_threads();
    int64_t per = (blocks + nt - 1) / nt;
    int64_t n0 = std::min(n, t * per * 16),
            n1 = std::min(n, (t + 1) * per * 16);
    for (int64_t i = 0; i < m && n0 < n1; i += SLIM_GEMV_MAX_ROWS)
      kernel(std::min<int64_t>(SLIM_GEMV_MAX_ROWS, m - i), n0, n1, k,
             a + i * lda, lda, b, ldb, c + i * ldc, ldc);
  }
}

/// C[M, 16 P] (+)= A[M, K] B^T with B packed in P panels of 16 output
/// channels (lib/Kernels/GemmPacked.h), accumulating or overwriting C. The
/// threads share the panels, so each streams its own part of the weight once;
/// when there are too few panels to go round, they share the rows instead.
void sgemmPacked(int64_t m, int64_t panels, int64_t k, const float *a,
                 int64_t lda, const float *bp, float *c, int64_t ldc,
                 bool accumulate) {
  static const auto kernel =
      selectKernel(SLIM_KERNEL_VARIANTS_512(slim_uk_gemm_packed_f32));
  uint32_t flags = accumulate ? SLIM_UK_GEMM_ACCUMULATE : 0;
  if (m == 0 || panels == 0 || (k == 0 && accumulate))
    return;
  int64_t weight = panels * SLIM_PACKED_PANEL * k;
  // Below ~256 KiB of weights (and little work) a second thread costs more
  // than it saves.
  int threads = weight >= (1 << 16) || m * weight >= (1 << 22)
                    ? omp_get_max_threads()
                    : 1;
  if (threads <= 1) {
    kernel(m, 0, panels, k, a, lda, bp, c, ldc, flags);
    return;
  }
  bool byRows = panels < 4 * threads && m >= 12 * threads;
#pragma omp parallel num_threads(threads)
  {
    int t = omp_get_thread_num(), nt = omp_get_num_threads();
    if (byRows) {
      // Whole tiles of 12 rows (the AVX-512 kernel's; two of the AVX2
      // kernel's) per thread.
      int64_t per = ((m + nt - 1) / nt + 11) / 12 * 12;
      int64_t r0 = std::min(m, t * per), r1 = std::min(m, (t + 1) * per);
      if (r0 < r1)
        kernel(r1 - r0, 0, panels, k, a + r0 * lda, lda, bp, c + r0 * ldc, ldc,
               flags);
    } else {
      // Chunks of 2 to 8 panels (the AVX-512 kernel's tile is two panels
      // wide, its group 8), at least 4 per thread where there are enough,
      // handed out as threads get free: the two cores of a shared machine
      // rarely run at the same speed, and static halves made the faster
      // one wait at the end of every product.
      int64_t chunk =
          std::clamp<int64_t>(panels / (4 * nt), 2, SLIM_PACKED_GROUP);
      int64_t chunks = (panels + chunk - 1) / chunk;
#pragma omp for schedule(dynamic, 1) nowait
      for (int64_t i = 0; i < chunks; ++i)
        kernel(m, i * chunk, std::min(panels, (i + 1) * chunk), k, a, lda, bp,
               c, ldc, flags);
    }
  }
}

/// O = softmax(scale Q K^T + mask) V (--slim-lower-attention): Q [G, R, D],
/// K [G, T, D], V [G2, T, Dv], O [G2, R2, Dv] with G R = G2 R2, row L of the
/// scores (K's group L / R) giving row L of O (V's group L / R2); `mask`
/// (null: none) has the rank of the scores as the model wrote them
/// ([batch, heads, queries, keys]), rows = G R, zero strides where
/// broadcast. Blocks of up to SLIM_ATTENTION_ROWS rows (twice as many for
/// the AVX-512 kernel) that share both
/// groups go to the threads as they get free, each packing the K of a
/// group when it reaches it, where the groups have many rows (prefill).
void attention(StridedMemRefType<float, 3> *q, StridedMemRefType<float, 3> *k,
               StridedMemRefType<float, 3> *v, UnrankedMemRefType<float> *mask,
               StridedMemRefType<float, 3> *o, float scale) {
  static const auto kernel =
      selectKernel(SLIM_KERNEL_VARIANTS_512(slim_uk_attention_f32));
  constexpr int64_t kPanel = SLIM_ATTENTION_PANEL;
  constexpr int64_t kMaxRows =
      std::max(SLIM_ATTENTION_ROWS, SLIM_ATTENTION_ROWS_AVX512);
#if defined(__x86_64__)
  const int64_t blockRows = kernel == slim_uk_attention_f32_avx512
                                ? SLIM_ATTENTION_ROWS_AVX512
                                : SLIM_ATTENTION_ROWS;
#else
  const int64_t blockRows = SLIM_ATTENTION_ROWS;
#endif
  int64_t g = q->sizes[0], r = q->sizes[1], d = q->sizes[2], t = k->sizes[1],
          r2 = o->sizes[1], dv = o->sizes[2];
  int64_t rows = g * r;
  if (rows == 0 || dv == 0)
    return;
  int rank = mask ? mask->rank : 0;
  const int64_t *md = mask ? static_cast<int64_t *>(mask->descriptor) : nullptr;
  const float *maskBase =
      mask ? reinterpret_cast<const float *>(md[1]) + md[2] : nullptr;
  const int64_t *maskSizes = mask ? md + 3 : nullptr,
                *maskStrides = mask ? md + 3 + rank : nullptr;
  // Blocks: rows [L, L + n) within one group of Q/K and one of V/O (when
  // R = R2, as attention has it, G * ceil(R / 6) of them).
  bool regular = r == r2;
  int64_t perGroup = (r + blockRows - 1) / blockRows;
  int64_t blocks = regular ? g * perGroup : rows;
  bool pack = kernel != slim_uk_attention_f32_generic && r >= 2 * blockRows;
  int64_t ldx = (t + kPanel - 1) / kPanel * kPanel;
  int threads = rows * t * (d + dv) >= (1 << 18) ? omp_get_max_threads() : 1;
#pragma omp parallel num_threads(threads)
  {
    std::vector<float> scratch(blockRows * ldx + 1), kp(pack ? ldx * d : 0);
    int64_t packed = -1;
    const float *maskRows[kMaxRows];
    // Handed out as threads get free: with a causal mask a block's work
    // grows with its position, and the cores may not run at one speed.
#pragma omp for schedule(dynamic, 1)
    for (int64_t b = 0; b < blocks; ++b) {
      int64_t l0 = regular ? b / perGroup * r + b % perGroup * blockRows : b;
      int64_t gk = l0 / r, rk = l0 % r, gv = l0 / r2, rv = l0 % r2;
      int64_t n = regular ? std::min(blockRows, r - rk) : 1;
      const float *kg = k->data + k->offset + gk * k->strides[0];
      if (pack && packed != gk) {
        slim_uk_attention_pack_k_f32(t, d, kg, k->strides[1], kp.data());
        packed = gk;
      }
      for (int64_t i = 0; i < n && mask; ++i) {
        int64_t rest = l0 + i, offset = 0;
        for (int dim = rank - 2; dim >= 0; --dim) {
          offset += rest % maskSizes[dim] * maskStrides[dim];
          rest /= maskSizes[dim];
        }
        maskRows[i] = maskBase + offset;
      }
      kernel(n, t, d, dv,
             q->data + q->offset + gk * q->strides[0] + rk * q->strides[1],
             q->strides[1], kg, k->strides[1], pack ? kp.data() : nullptr,
             v->data + v->offset + gv * v->strides[0], v->strides[1],
             mask ? maskRows : nullptr, mask ? maskStrides[rank - 1] : 0, scale,
             o->data + o->offset + gv * o->strides[0] + rv * o->strides[1],
             o->strides[1], scratch.data());
    }
  }
}

/// Softmax over the innermost dimension of a strided f32 memref of any
/// rank (descriptors as MLIR's unranked C interface passes them): rows
/// shared out over the threads, each row through the kernel in place, or
/// through a per-thread copy where its elements are not contiguous.
void softmaxRows(UnrankedMemRefType<float> *in,
                 UnrankedMemRefType<float> *out) {
  static const auto kernel =
      selectKernel(SLIM_KERNEL_VARIANTS_512(slim_uk_softmax_f32));
  int64_t rank = in->rank;
  auto *s = static_cast<int64_t *>(in->descriptor);
  auto *d = static_cast<int64_t *>(out->descriptor);
  const float *sBase = reinterpret_cast<const float *>(s[1]) + s[2];
  float *dBase = reinterpret_cast<float *>(d[1]) + d[2];
  const int64_t *sizes = s + 3, *sStrides = s + 3 + rank,
                *dStrides = d + 3 + rank;
  int64_t n = sizes[rank - 1], rows = 1;
  for (int64_t r = 0; r + 1 < rank; ++r)
    rows *= sizes[r];
  if (rows == 0 || n == 0)
    return;
  bool contiguous = sStrides[rank - 1] == 1 && dStrides[rank - 1] == 1;
  int threads = rows * n >= (1 << 16) ? omp_get_max_threads() : 1;
#pragma omp parallel num_threads(threads)
  {
    std::vector<float> scratch(contiguous ? 0 : n);
#pragma omp for schedule(static)
    for (int64_t row = 0; row < rows; ++row) {
      int64_t so = 0, dof = 0, rest = row;
      for (int64_t r = rank - 2; r >= 0; --r) {
        int64_t i = rest % sizes[r];
        rest /= sizes[r];
        so += i * sStrides[r];
        dof += i * dStrides[r];
      }
      if (contiguous) {
        kernel(1, n, sBase + so, n, dBase + dof, n);
        continue;
      }
      for (int64_t j = 0; j < n; ++j)
        scratch[j] = sBase[so + j * sStrides[rank - 1]];
      kernel(1, n, scratch.data(), n, scratch.data(), n);
      for (int64_t j = 0; j < n; ++j)
        dBase[dof + j * dStrides[rank - 1]] = scratch[j];
    }
  }
}

/// C (+)= op(A) * op(B) for one [M, K] x [K, N] product with unit inner
/// strides, where op transposes A (stored [K, M]) or B (stored [N, K]) when
/// asked, in oneDNN's JIT-compiled sgemm (it picks AVX-512/AVX2 kernels for
/// the CPU and handles the GEMV shapes of one-token decoding well).
/// Accumulates into C, or overwrites it (oneDNN's beta = 0 never reads C).
void sgemm(bool ta, bool tb, int64_t m, int64_t n, int64_t k, const float *a,
           int64_t lda, const float *b, int64_t ldb, float *c, int64_t ldc,
           bool accumulate) {
  if (m == 0 || n == 0)
    return;
  // Leading dimensions must cover a row even for a single row.
  lda = std::max<int64_t>(lda, std::max<int64_t>(ta ? m : k, 1));
  ldb = std::max<int64_t>(ldb, std::max<int64_t>(tb ? k : n, 1));
  ldc = std::max<int64_t>(ldc, std::max<int64_t>(n, 1));
  if (!accumulate && (k == 0 || (!ta && tb && m <= 2 * SLIM_GEMV_MAX_ROWS)))
    for (int64_t i = 0; i < m; ++i)
      std::fill(c + i * ldc, c + i * ldc + n, 0.0f);
  if (k == 0)
    return;
  if (!ta && tb && m <= 2 * SLIM_GEMV_MAX_ROWS) {
    gemvNT(m, n, k, a, lda, b, ldb, c, ldc);
    return;
  }
  dnnl_sgemm(ta ? 'T' : 'N', tb ? 'T' : 'N', m, n, k, 1.0f, a, lda, b, ldb,
             accumulate ? 1.0f : 0.0f, c, ldc);
}

/// C[M, N] (+)= op(A) op(B) on memrefs; M and N come from C, K from A.
void sgemm2d(bool ta, bool tb, StridedMemRefType<float, 2> *a,
             StridedMemRefType<float, 2> *b, StridedMemRefType<float, 2> *c,
             bool accumulate) {
  sgemm(ta, tb, c->sizes[0], c->sizes[1], a->sizes[ta ? 0 : 1],
        a->data + a->offset, a->strides[0], b->data + b->offset, b->strides[0],
        c->data + c->offset, c->strides[0], accumulate);
}

void sgemm3d(bool ta, bool tb, StridedMemRefType<float, 3> *a,
             StridedMemRefType<float, 3> *b, StridedMemRefType<float, 3> *c,
             bool accumulate) {
  for (int64_t i = 0; i < c->sizes[0]; ++i)
    sgemm(ta, tb, c->sizes[1], c->sizes[2], a->sizes[ta ? 1 : 2],
          a->data + a->offset + i * a->strides[0], a->strides[1],
          b->data + b->offset + i * b->strides[0], b->strides[1],
          c->data + c->offset + i * c->strides[0], c->strides[1], accumulate);
}

float halfToFloat(uint16_t h) {
  uint32_t sign = static_cast<uint32_t>(h & 0x8000) << 16;
  int exp = (h >> 10) & 0x1f, man = h & 0x3ff;
  float v;
  if (exp == 0)
    v = std::ldexp(static_cast<float>(man), -24);
  else if (exp == 31)
    v = man ? NAN : INFINITY;
  else
    v = std::ldexp(static_cast<float>(man | 0x400), exp - 25);
  uint32_t bitsOut;
  std::memcpy(&bitsOut, &v, 4);
  bitsOut |= sign;
  std::memcpy(&v, &bitsOut, 4);
  return v;
}

float toFloat(float v) { return v; }
struct Half {
  uint16_t bits;
};
struct BFloat {
  uint16_t bits;
};
float toFloat(Half v) { return halfToFloat(v.bits); }
float toFloat(BFloat v) {
  uint32_t w = static_cast<uint32_t>(v.bits) << 16;
  float f;
  std::memcpy(&f, &w, 4);
  return f;
}

/// The QGemv.h flag of a scale storage type.
template <typename ScaleT> struct QuantScaleFlag;
template <> struct QuantScaleFlag<float> {
  static constexpr uint32_t value = SLIM_UK_QGEMV_SCALE_F32;
};
template <> struct QuantScaleFlag<Half> {
  static constexpr uint32_t value = SLIM_UK_QGEMV_SCALE_F16;
};
template <> struct QuantScaleFlag<BFloat> {
  static constexpr uint32_t value = SLIM_UK_QGEMV_SCALE_BF16;
};

/// Runs fn(n0, n1) over [0, n) on `threads` threads in chunks of a
/// multiple of 16 output channels, about eight per thread, taken as threads
/// get free (equal static halves left one core waiting on the other: 17 %
/// of a W4 decode's samples were in libgomp's barrier).
template <typename Fn> void forChannelChunks(int64_t n, int threads, Fn &&fn) {
  int64_t chunk = std::max<int64_t>(
      16, ((n + 8 * threads - 1) / (8 * threads) + 15) & ~int64_t(15));
  int64_t chunks = (n + chunk - 1) / chunk;
#pragma omp parallel for num_threads(threads) schedule(dynamic, 1)
  for (int64_t t = 0; t < chunks; ++t)
    fn(t * chunk, std::min(n, (t + 1) * chunk));
}

/// Up to this many rows the quantized GEMV kernel runs (4 rows per pass over
/// the codes); beyond, tiles of the weight are dequantized once for the
/// packed GEMM. Measured with bench/qmatmul_latency.py (eight W4 layers, 2
/// threads): at 16 rows the two are even on 4096x4096 and the tiles 1.4x
/// faster on 576x1536; at 32 / 64 rows the tiles take 83 / 157 ms against
/// 102 / 223 ms on 4096x4096.
constexpr int64_t kQGemvMaxRows = 8;
/// With int8 activations allowed, up to this many rows run the
/// int8-activation GEMV kernel, 4 rows per pass over the codes. Measured
/// with bench/qmatmul_latency.py --accuracy-level 4 (eight W4 layers, 2
/// threads, AVX2 EPYC, 2026-12-07): at 32 rows it takes 0.68-0.98x Slim
/// f32's time on 4096x4096 / 576x1536 / 576x576 where the dequantized
/// tiles took 1.1-1.4x onnxruntime's (now 0.78-0.95x); at 64 and 128 rows
/// the two are even (0.77-1.18x). SmolLM2 prefill of 32 tokens: no
/// difference above the noise (69-85 ms either way).
constexpr int64_t kQGemvInt8MaxRows = 32;
/// N:M sparse weights: the GEMV gathers the inputs of each kept value once
/// per row, so beyond this many rows the tiles (zeroed, the kept values
/// added, then the packed GEMM) are faster. Four 2048 x 2048 2:4 + int4
/// layers, 2 threads, AVX2 EPYC: GEMV 3.5 / 5.0 / 9.8 / 19-21 ms at 1 / 2
/// / 4 / 8 rows, tiles 8.5 / 8.9 / 9.4 ms at 2 / 4 / 8.
constexpr int64_t kQGemvSparseMaxRows = 3;

/// A copy of a 2-D buffer with unit inner stride, for storage that is not
/// (the kernels read rows in place).
template <typename T>
const T *contiguous(StridedMemRefType<T, 2> *m, std::vector<T> &copy) {
  const T *d = m->data + m->offset;
  if (m->strides[1] == 1 || m->sizes[1] <= 1)
    return d;
  copy.resize(m->sizes[0] * m->sizes[1]);
  for (int64_t r = 0; r < m->sizes[0]; ++r)
    for (int64_t c = 0; c < m->sizes[1]; ++c)
      copy[r * m->sizes[1] + c] = d[r * m->strides[0] + c * m->strides[1]];
  return copy.data();
}

/// The row stride of what contiguous() returns.
template <typename T> int64_t rowStride(StridedMemRefType<T, 2> *m) {
  return m->strides[1] == 1 || m->sizes[1] <= 1 ? m->strides[0] : m->sizes[1];
}

/// The 2^bits values of a code book as one contiguous array: in place, or
/// a copy of a strided one; entries a short table lacks (never from the
/// compiler: the verifier sizes lutN's code book) read as NaN, not past it.
const float *codeTable(StridedMemRefType<float, 1> *table, int64_t bits) {
  static thread_local std::vector<float> copy;
  int64_t size = int64_t(1) << bits;
  const float *d = table->data + table->offset;
  if (table->strides[0] == 1 && table->sizes[0] >= size)
    return d;
  copy.assign(size, NAN);
  for (int64_t i = 0; i < std::min(size, table->sizes[0]); ++i)
    copy[i] = d[i * table->strides[0]];
  return copy.data();
}

/// N:M structured sparsity along K of a quantized weight (none: m = 0).
struct SparseRuns {
  StridedMemRefType<int8_t, 2> *indices = nullptr;
  int64_t n = 0, m = 0;
};

/// y[M, N] = x[M, K] * dequantize(W[N, K])^T, with `table` the code book of
/// a code-book format (null for integer codes) and `sparse` the positions
/// of the kept values of an N:M sparse weight.
template <typename ScaleT>
void qmatmul(StridedMemRefType<float, 2> *x,
             StridedMemRefType<int8_t, 2> *codes,
             StridedMemRefType<ScaleT, 2> *scales,
             StridedMemRefType<int8_t, 2> *zeroPoints, const float *table,
             StridedMemRefType<float, 2> *y, int64_t bits, int64_t group,
             uint32_t abiFlags, SparseRuns sparse = {}) {
  bool isSigned = abiFlags & SLIM_RT_QMATMUL_SIGNED;
  bool hasZp = zeroPoints != nullptr;
  int64_t m = x->sizes[0], k = x->sizes[1], n = y->sizes[1];
  if (group <= 0)
    group = sparse.m > 0 ? k / sparse.m * sparse.n : k;
  const float *xd = x->data + x->offset;
  float *yd = y->data + y->offset;
  int64_t lda = x->strides[0], ldy = y->strides[0];
  if (m == 0 || n == 0)
    return;
  // The kernels read storage rows in place; storage with another inner
  // stride (none the compiler emits today) is copied first.
  static thread_local std::vector<int8_t> codesCopy, zpCopy, indicesCopy;
  static thread_local std::vector<ScaleT> scalesCopy;
  slim_uk_qweight view{
      reinterpret_cast<const uint8_t *>(contiguous(codes, codesCopy)),
      rowStride(codes),
      contiguous(scales, scalesCopy),
      rowStride(scales),
      hasZp ? reinterpret_cast<const uint8_t *>(contiguous(zeroPoints, zpCopy))
            : nullptr,
      hasZp ? rowStride(zeroPoints) : 0,
      k,
      bits,
      group,
      table,
      sparse.m > 0 ? reinterpret_cast<const uint8_t *>(
                         contiguous(sparse.indices, indicesCopy))
                   : nullptr,
      sparse.m > 0 ? rowStride(sparse.indices) : 0,
      sparse.n,
      sparse.m};
  uint32_t flags =
      (isSigned ? SLIM_UK_QGEMV_SIGNED : 0) | QuantScaleFlag<ScaleT>::value |
      (abiFlags & SLIM_RT_QMATMUL_TABLE_E4M3 ? SLIM_UK_QGEMV_TABLE_E4M3 : 0) |
      (abiFlags & SLIM_RT_QMATMUL_TABLE_E5M2 ? SLIM_UK_QGEMV_TABLE_E5M2 : 0);
  bool rowInt8 = abiFlags & SLIM_RT_QMATMUL_ROW_INT8_ACTIVATIONS;
  if (rowInt8 && !slim_uk_qgemv_q8_supported(&view)) {
    // No integer kernel for these codes (the compiler selects none): the
    // activations quantized and dequantized per row, then the f32 path,
    // which is what the reference lowering computes.
    static thread_local std::vector<uint8_t> rowsAct;
    static thread_local std::vector<float> rounded;
    int64_t stride = slim_uk_qact_row_bytes(k);
    rowsAct.resize(m * stride);
    rounded.resize(m * k);
    slim_uk_qact_quantize_rows_generic(m, k, xd, lda, rowsAct.data(), stride);
    for (int64_t i = 0; i < m; ++i)
      for (int64_t t = 0; t < k; ++t) {
        const uint8_t *sb = rowsAct.data() + i * stride +
                            t / 128 * SLIM_UK_QACT_SUPERBLOCK_BYTES;
        float d;
        std::memcpy(&d, sb + 128, sizeof(d));
        int8_t q = static_cast<int8_t>(
            sb[(t % 128) % 2 ? 64 + (t % 128) / 2 : (t % 128) / 2]);
        rounded[i * k + t] = float(q) * d;
      }
    xd = rounded.data();
    lda = k;
    rowInt8 = false;
  }
  bool int8 = rowInt8 || ((abiFlags & SLIM_RT_QMATMUL_INT8_ACTIVATIONS) &&
                          slim_uk_qgemv_q8_supported(&view));
  // Decoding's few rows: the quantized GEMV kernels (lib/Kernels/QGemv.h),
  // output channels in chunks over the threads. With prefill's tiles below,
  // also the last N % 16 channels (fewer than a panel) of a longer product.
  auto gemv = [&](int64_t nBegin) {
    int threads =
        (n - nBegin) * k * bits * m >= (1 << 20) ? omp_get_max_threads() : 1;
    auto split = [&](auto &&kernel) {
      forChannelChunks(n - nBegin, threads, [&](int64_t n0, int64_t n1) {
        kernel(nBegin + n0, nBegin + n1);
      });
    };
    if (int8) {
      // The activations rounded to int8 per block of 32 (or per row) once,
      // by the calling thread, then integer dot products with the codes.
      static const auto kernel =
          selectKernel(SLIM_KERNEL_VARIANTS_VNNI(slim_uk_qgemv_q8_f32));
      static const auto quantize =
          selectKernel(SLIM_KERNEL_VARIANTS(slim_uk_qact_quantize));
      static thread_local std::vector<uint8_t> act;
      int64_t stride = slim_uk_qact_row_bytes(k);
      act.resize(m * stride);
      if (rowInt8)
        slim_uk_qact_quantize_rows_generic(m, k, xd, lda, act.data(), stride);
      else
        quantize(m, k, xd, lda, act.data(), stride);
      const uint8_t *actData = act.data();
      split([&](int64_t n0, int64_t n1) {
        kernel(m, n0, n1, actData, stride, &view, yd, ldy, flags);
      });
      return;
    }
    static const auto kernel =
        selectKernel(SLIM_KERNEL_VARIANTS_512(slim_uk_qgemv_f32));
    split([&](int64_t n0, int64_t n1) {
      kernel(m, n0, n1, xd, lda, &view, yd, ldy, flags);
    });
  };
  // Per-row int8 activations take the integer kernel for every row count:
  // the tiles below would compute with f32 activations.
  if (sparse.m > 0
          ? m <= kQGemvSparseMaxRows
          : m <= kQGemvMaxRows || (int8 && m <= kQGemvInt8MaxRows) || rowInt8)
    return gemv(0);
  // Prefill: tiles of two panels (32 output channels) dequantized once,
  // exactly, and laid out as the packed GEMM's panels
  // (lib/Kernels/GemmPacked.h), each multiplied by all rows; the tiles go
  // to the threads as they get free. No full f32 copy of the weight.
  static const auto dequant =
      selectKernel(SLIM_KERNEL_VARIANTS(slim_uk_qdequant_f32));
  static const auto gemm =
      selectKernel(SLIM_KERNEL_VARIANTS_512(slim_uk_gemm_packed_f32));
  static const auto pack =
      selectKernel(SLIM_KERNEL_VARIANTS(slim_uk_pack_panel_f32));
  constexpr int64_t kPanel = SLIM_PACKED_PANEL, kTilePanels = 2;
  int64_t panels = n / kPanel;
  int64_t tiles = (panels + kTilePanels - 1) / kTilePanels;
#pragma omp parallel
  {
    // Per-thread scratch, kept across calls.
    static thread_local std::vector<float> rows, tile;
    rows.resize(kTilePanels * kPanel * k);
    tile.resize(kTilePanels * kPanel * k);
#pragma omp for schedule(dynamic, 1)
    for (int64_t t = 0; t < tiles; ++t) {
      int64_t p0 = t * kTilePanels, count = std::min(kTilePanels, panels - p0);
      dequant(p0 * kPanel, (p0 + count) * kPanel, &view, rows.data(), k, flags);
      for (int64_t p = 0; p < count; ++p)
        pack(rows.data() + p * kPanel * k, k, k, tile.data() + p * k * kPanel);
      gemm(m, 0, count, k, xd, lda, tile.data(), yd + p0 * kPanel, ldy,
           /*flags=*/0);
    }
  }
  if (panels * kPanel < n)
    gemv(panels * kPanel);
}

/// y[M, N] = quantize(x)[M, K] * dequantize(W[N, K])^T for SmoothQuant's
/// W8A8: each row of x quantized to int8 as slim.quantize_activation to
/// #slim.quant<i8, channel = 0> defines it (scale max|x| / 127, 1 for an
/// all-zero row; codes rounded to nearest even and saturated), times signed
/// 8-bit codes with one scale per output channel: exact int32 sums
/// (lib/Kernels/GemmInt8.h), then one f32 scaling per output. A row holding
/// a NaN or an infinity gives NaN outputs. Not oneDNN's s8s8s32 GEMM: on
/// CPUs without VNNI it saturates 16-bit pairs of products (0.05-0.13
/// relative error end to end on a W8A8 model here, AVX2 EPYC).
template <typename ScaleT>
void qmatmulW8A8(StridedMemRefType<float, 2> *x,
                 StridedMemRefType<int8_t, 2> *codes,
                 StridedMemRefType<ScaleT, 2> *scales,
                 StridedMemRefType<float, 2> *y) {
  static const auto kernel =
      selectKernel(SLIM_KERNEL_VARIANTS(slim_uk_gemm_s8s8_f32));
  int64_t m = x->sizes[0], k = x->sizes[1], n = y->sizes[1];
  if (m == 0 || n == 0)
    return;
  // The calling thread's scratch; the workers read it through pointers.
  static thread_local std::vector<int8_t> act, packed;
  static thread_local std::vector<float> rowScale, channelScale, out;
  act.resize(m * k);
  rowScale.resize(m);
  channelScale.resize(n);
  int8_t *actData = act.data();
  float *rowScaleData = rowScale.data();
  const float *xd = x->data + x->offset;
  int64_t lda = x->strides[0], xInner = x->strides[1];
#pragma omp parallel for schedule(static) if (m * k >= (1 << 16))
  for (int64_t i = 0; i < m; ++i) {
    const float *row = xd + i * lda;
    float amax = 0.0f;
    bool finite = true;
    for (int64_t t = 0; t < k; ++t) {
      float v = row[t * xInner];
      finite &= std::isfinite(v);
      amax = std::max(amax, std::fabs(v));
    }
    float scale = amax / 127.0f;
    if (scale == 0.0f)
      scale = 1.0f;
    rowScaleData[i] = finite ? scale : NAN;
    int8_t *q = actData + i * k;
    for (int64_t t = 0; t < k; ++t) {
      float c = finite ? std::nearbyint(row[t * xInner] / scale) : 0.0f;
      q[t] = static_cast<int8_t>(std::min(127.0f, std::max(-128.0f, c)));
    }
  }
  const ScaleT *sd = scales->data + scales->offset;
  for (int64_t j = 0; j < n; ++j)
    channelScale[j] = toFloat(sd[j * scales->strides[0]]);
  const int8_t *w = codes->data + codes->offset;
  int64_t ldb = codes->strides[0];
  if (codes->strides[1] != 1) {
    packed.resize(n * k);
    for (int64_t j = 0; j < n; ++j)
      for (int64_t t = 0; t < k; ++t)
        packed[j * k + t] = w[j * ldb + t * codes->strides[1]];
    w = packed.data();
    ldb = k;
  }
  float *yd = y->data + y->offset;
  int64_t ldy = y->strides[0];
  bool direct = y->strides[1] == 1;
  float *c = yd;
  int64_t ldc = ldy;
  if (!direct) {
    out.resize(m * n);
    c = out.data();
    ldc = n;
  }
  int threads = m * n * k >= (1 << 18) ? omp_get_max_threads() : 1;
  const float *channelScaleData = channelScale.data();
  forChannelChunks(n, threads, [&](int64_t n0, int64_t n1) {
    kernel(m, n0, n1, k, actData, k, rowScaleData, w, ldb, channelScaleData, c,
           ldc);
  });
  if (!direct)
    for (int64_t i = 0; i < m; ++i)
      for (int64_t j = 0; j < n; ++j)
        yd[i * ldy + j * y->strides[1]] = c[i * ldc + j];
}

} // namespace

extern "C" {

// slim_rt_qmatmul[_zp]_<scale type> (lib/Runtime/KernelAbi.h).
#define SLIM_QMATMUL_ENTRY(suffix, ScaleT)                                     \
  void _mlir_ciface_slim_rt_qmatmul_##suffix(                                  \
      StridedMemRefType<float, 2> *x, StridedMemRefType<int8_t, 2> *codes,     \
      StridedMemRefType<ScaleT, 2> *scales, int64_t bits, int64_t group,       \
      uint32_t flags, StridedMemRefType<float, 2> *y) {                        \
    qmatmul(x, codes, scales, nullptr, nullptr, y, bits, group, flags);        \
  }                                                                            \
  void _mlir_ciface_slim_rt_qmatmul_zp_##suffix(                               \
      StridedMemRefType<float, 2> *x, StridedMemRefType<int8_t, 2> *codes,     \
      StridedMemRefType<ScaleT, 2> *scales, StridedMemRefType<int8_t, 2> *zp,  \
      int64_t bits, int64_t group, uint32_t flags,                             \
      StridedMemRefType<float, 2> *y) {                                        \
    qmatmul(x, codes, scales, zp, nullptr, y, bits, group, flags);             \
  }                                                                            \
  void _mlir_ciface_slim_rt_qmatmul_sparse_##suffix(                           \
      StridedMemRefType<float, 2> *x, StridedMemRefType<int8_t, 2> *codes,     \
      StridedMemRefType<ScaleT, 2> *scales,                                    \
      StridedMemRefType<int8_t, 2> *indices, int64_t bits, int64_t group,      \
      int64_t sparseN, int64_t sparseM, uint32_t flags,                        \
      StridedMemRefType<float, 2> *y) {                                        \
    qmatmul(x, codes, scales, nullptr, nullptr, y, bits, group, flags,         \
            SparseRuns{indices, sparseN, sparseM});                            \
  }                                                                            \
  void _mlir_ciface_slim_rt_qmatmul_sparse_zp_##suffix(                        \
      StridedMemRefType<float, 2> *x, StridedMemRefType<int8_t, 2> *codes,     \
      StridedMemRefType<ScaleT, 2> *scales, StridedMemRefType<int8_t, 2> *zp,  \
      StridedMemRefType<int8_t, 2> *indices, int64_t bits, int64_t group,      \
      int64_t sparseN, int64_t sparseM, uint32_t flags,                        \
      StridedMemRefType<float, 2> *y) {                                        \
    qmatmul(x, codes, scales, zp, nullptr, y, bits, group, flags,              \
            SparseRuns{indices, sparseN, sparseM});                            \
  }                                                                            \
  void _mlir_ciface_slim_rt_qmatmul_sparse_lut_##suffix(                       \
      StridedMemRefType<float, 2> *x, StridedMemRefType<int8_t, 2> *codes,     \
      StridedMemRefType<ScaleT, 2> *scales,                                    \
      StridedMemRefType<int8_t, 2> *indices,                                   \
      StridedMemRefType<float, 1> *table, int64_t bits, int64_t group,         \
      int64_t sparseN, int64_t sparseM, uint32_t flags,                        \
      StridedMemRefType<float, 2> *y) {                                        \
    qmatmul(x, codes, scales, nullptr, codeTable(table, bits), y, bits, group, \
            flags, SparseRuns{indices, sparseN, sparseM});                     \
  }                                                                            \
  void _mlir_ciface_slim_rt_qmatmul_lut_##suffix(                              \
      StridedMemRefType<float, 2> *x, StridedMemRefType<int8_t, 2> *codes,     \
      StridedMemRefType<ScaleT, 2> *scales,                                    \
      StridedMemRefType<float, 1> *table, int64_t bits, int64_t group,         \
      uint32_t flags, StridedMemRefType<float, 2> *y) {                        \
    qmatmul(x, codes, scales, nullptr, codeTable(table, bits), y, bits, group, \
            flags);                                                            \
  }                                                                            \
  void _mlir_ciface_slim_rt_qmatmul_w8a8_##suffix(                             \
      StridedMemRefType<float, 2> *x, StridedMemRefType<int8_t, 2> *codes,     \
      StridedMemRefType<ScaleT, 2> *scales, StridedMemRefType<float, 2> *y) {  \
    qmatmulW8A8(x, codes, scales, y);                                          \
  }
SLIM_QMATMUL_ENTRY(f32, float)
SLIM_QMATMUL_ENTRY(f16, Half)
SLIM_QMATMUL_ENTRY(bf16, BFloat)
#undef SLIM_QMATMUL_ENTRY

// slim_rt_sgemm[_batched][_{nt,tn,tt}][_overwrite]
// (--slim-lower-matmul-to-blas): the first suffix says which of A and B the
// matmul reads transposed; `_overwrite` computes C = A B where the matmul's
// C was a zero fill the pass removed, the others C += A B.
#define SLIM_SGEMM_ONE(suffix, ta, tb, accumulate)                             \
  void _mlir_ciface_slim_rt_sgemm##suffix(StridedMemRefType<float, 2> *a,      \
                                          StridedMemRefType<float, 2> *b,      \
                                          StridedMemRefType<float, 2> *c) {    \
    sgemm2d(ta, tb, a, b, c, accumulate);                                      \
  }                                                                            \
  void _mlir_ciface_slim_rt_sgemm_batched##suffix(                             \
      StridedMemRefType<float, 3> *a, StridedMemRefType<float, 3> *b,          \
      StridedMemRefType<float, 3> *c) {                                        \
    sgemm3d(ta, tb, a, b, c, accumulate);                                      \
  }
#define SLIM_SGEMM(suffix, ta, tb)                                             \
  SLIM_SGEMM_ONE(suffix, ta, tb, true)                                         \
  SLIM_SGEMM_ONE(suffix##_overwrite, ta, tb, false)
SLIM_SGEMM(, false, false)
SLIM_SGEMM(_nt, false, true)
SLIM_SGEMM(_tn, true, false)
SLIM_SGEMM(_tt, true, true)
#undef SLIM_SGEMM
#undef SLIM_SGEMM_ONE

/// linalg.mmt4d of A [M, K, 1, 1] by a packed weight [P, K, 16, 1] into
/// C [M, P, 1, 16] (--slim-lower-matmul-to-blas checked the layouts):
/// C += A B, and C = A B for `_overwrite`.
void _mlir_ciface_slim_rt_sgemm_packed(StridedMemRefType<float, 4> *a,
                                       StridedMemRefType<float, 4> *b,
                                       StridedMemRefType<float, 4> *c) {
  sgemmPacked(c->sizes[0], c->sizes[1], a->sizes[1], a->data + a->offset,
              a->strides[0], b->data + b->offset, c->data + c->offset,
              c->strides[0], /*accumulate=*/true);
}

void _mlir_ciface_slim_rt_sgemm_packed_overwrite(
    StridedMemRefType<float, 4> *a, StridedMemRefType<float, 4> *b,
    StridedMemRefType<float, 4> *c) {
  sgemmPacked(c->sizes[0], c->sizes[1], a->sizes[1], a->data + a->offset,
              a->strides[0], b->data + b->offset, c->data + c->offset,
              c->strides[0], /*accumulate=*/false);
}

/// Attention chains (--slim-lower-attention), with and without a mask.
void _mlir_ciface_slim_rt_attention_f32(StridedMemRefType<float, 3> *q,
                                        StridedMemRefType<float, 3> *k,
                                        StridedMemRefType<float, 3> *v,
                                        UnrankedMemRefType<float> *mask,
                                        StridedMemRefType<float, 3> *o,
                                        float scale) {
  attention(q, k, v, mask, o, scale);
}

void _mlir_ciface_slim_rt_attention_nomask_f32(StridedMemRefType<float, 3> *q,
                                               StridedMemRefType<float, 3> *k,
                                               StridedMemRefType<float, 3> *v,
                                               StridedMemRefType<float, 3> *o,
                                               float scale) {
  attention(q, k, v, nullptr, o, scale);
}

/// linalg.softmax over the innermost dimension (--slim-lower-softmax).
void _mlir_ciface_slim_rt_softmax_f32(UnrankedMemRefType<float> *in,
                                      UnrankedMemRefType<float> *out) {
  softmaxRows(in, out);
}

/// The strided copy finalize-memref-to-llvm emits for memref.copy of
/// non-contiguous memrefs (the same symbol MLIR's runner utilities define,
/// so models need no MLIR library at run time).
void memrefCopy(int64_t elemSize, UnrankedMemRefType<char> *src,
                UnrankedMemRefType<char> *dst) {
  int64_t rank = src->rank;
  auto *s = static_cast<int64_t *>(src->descriptor);
  auto *d = static_cast<int64_t *>(dst->descriptor);
  const char *sBase = reinterpret_cast<const char *>(s[1]) + s[2] * elemSize;
  char *dBase = reinterpret_cast<char *>(d[1]) + d[2] * elemSize;
  const int64_t *sizes = s + 3, *sStrides = s + 3 + rank,
                *dStrides = d + 3 + rank;
  int64_t total = 1;
  for (int64_t r = 0; r < rank; ++r)
    total *= sizes[r];
  if (total == 0)
    return;
  std::vector<int64_t> index(rank, 0);
  for (int64_t n = 0; n < total; ++n) {
    int64_t so = 0, dof = 0;
    for (int64_t r = 0; r < rank; ++r) {
      so += index[r] * sStrides[r];
      dof += index[r] * dStrides[r];
    }
    std::memcpy(dBase + dof * elemSize, sBase + so * elemSize, elemSize);
    for (int64_t r = rank - 1; r >= 0; --r) {
      if (++index[r] < sizes[r])
        break;
      index[r] = 0;
    }
  }
}

void slim_rt_set_num_threads(int threads) { omp_set_num_threads(threads); }

/// Calibration (models compiled with `--slim-calibrate`): the observer the
/// runtime installs, called by `slim_rt_observe` at each observation point.
typedef void (*slim_observer_fn)(void *user, int32_t point, const float *rows,
                                 int64_t num_rows, int64_t channels,
                                 int64_t row_stride);
static slim_observer_fn observer = nullptr;
static void *observerUser = nullptr;

void slim_rt_set_observer(slim_observer_fn fn, void *user) {
  observer = fn;
  observerUser = user;
}

void _mlir_ciface_slim_rt_observe(int64_t point,
                                  StridedMemRefType<float, 2> *x) {
  if (!observer)
    return;
  int64_t rows = x->sizes[0], cols = x->sizes[1];
  const float *base = x->data + x->offset;
  if (x->strides[1] == 1) {
    observer(observerUser, static_cast<int32_t>(point), base, rows, cols,
             x->strides[0]);
    return;
  }
  // A strided view: hand over a contiguous copy.
  std::vector<float> copy(rows * cols);
  for (int64_t r = 0; r < rows; ++r)
    for (int64_t c = 0; c < cols; ++c)
      copy[r * cols + c] = base[r * x->strides[0] + c * x->strides[1]];
  observer(observerUser, static_cast<int32_t>(point), copy.data(), rows, cols,
           cols);
}

//===----------------------------------------------------------------------===//
// Run-time errors
//===----------------------------------------------------------------------===//
//
// A failed check (`slim.assert`, lowered to a call of slim_rt_check_failed)
// or allocation stops the run: control returns to the setjmp in
// slim_rt_run, which frees the buffers the run had allocated and reports
// what failed. The frames in between are compiled model code, which holds
// no resources but those buffers. Checks run on the thread that called
// slim_rt_run, outside parallel regions; a failure on another thread (an
// allocation inside a parallel loop) cannot unwind and aborts with a
// message, as does a failure in a model called without slim_rt_run.

namespace {
struct RunContext {
  std::jmp_buf unwind;
  SlimRtError error;
  /// Buffers the model allocated on this thread during the run and has not
  /// freed: its outputs when it returns, garbage when it is stopped.
  std::unordered_set<void *> buffers;
};
thread_local RunContext *currentRun = nullptr;
} // namespace

[[noreturn]] static void stopRun(int32_t kind, int64_t site, int64_t value0,
                                 int64_t value1) {
  RunContext *run = currentRun;
  if (!run) {
    std::fprintf(stderr,
                 "slim: %s (check %lld, values %lld, %lld) outside "
                 "slim_rt_run or on a worker thread; aborting\n",
                 kind == SLIM_RT_ERROR_CHECK ? "a run-time check failed"
                                             : "an allocation failed",
                 static_cast<long long>(site), static_cast<long long>(value0),
                 static_cast<long long>(value1));
    std::abort();
  }
  run->error = {kind, site, value0, value1};
  std::longjmp(run->unwind, 1);
}

void slim_rt_check_failed(int64_t site, int64_t value0, int64_t value1) {
  stopRun(SLIM_RT_ERROR_CHECK, site, value0, value1);
}

void *_mlir_memref_to_llvm_alloc(size_t size) {
  void *p = std::malloc(size ? size : 1);
  if (!p)
    stopRun(SLIM_RT_ERROR_ALLOCATION, -1, static_cast<int64_t>(size), 0);
  if (RunContext *run = currentRun)
    run->buffers.insert(p);
  return p;
}

void *_mlir_memref_to_llvm_aligned_alloc(size_t alignment, size_t size) {
  // aligned_alloc wants a size that is a multiple of the alignment.
  size_t rounded = (size + alignment - 1) / alignment * alignment;
  void *p = rounded < size
                ? nullptr
                : std::aligned_alloc(alignment, rounded ? rounded : alignment);
  if (!p)
    stopRun(SLIM_RT_ERROR_ALLOCATION, -1, static_cast<int64_t>(size), 0);
  if (RunContext *run = currentRun)
    run->buffers.insert(p);
  return p;
}

void _mlir_memref_to_llvm_free(void *p) {
  if (RunContext *run = currentRun)
    run->buffers.erase(p);
  std::free(p);
}

int32_t slim_rt_run(void (*entry)(void **), void **args, SlimRtError *error) {
  RunContext run;
  run.error = {SLIM_RT_ERROR_NONE, -1, 0, 0};
  RunContext *outer = currentRun;
  currentRun = &run;
  // volatile: not kept in a register across setjmp.
  RunContext *volatile self = &run;
  if (setjmp(run.unwind) == 0) {
    entry(args);
    currentRun = outer;
    *error = self->error;
    return 0;
  }
  currentRun = outer;
  for (void *p : self->buffers)
    std::free(p);
  *error = self->error;
  return 1;
}

} // extern "C"
