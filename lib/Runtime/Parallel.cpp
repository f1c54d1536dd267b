//===- Parallel.cpp - The OpenMP entry points of compiled parallel loops --===//
//
// Part of the Slim project, under the Apache License v2.0 with LLVM Exceptions.
// SPDX-License-Identifier: Apache-2.0 WITH LLVM-exception
//
//===----------------------------------------------------------------------===//
//
// `--slim-parallelize-loops` emits OpenMP worksharing loops; LLVM's
// OpenMPIRBuilder lowers them to calls of LLVM's OpenMP runtime (libomp's
// `__kmpc_*` ABI), which slimc renames to `slim_rt_kmpc_*`. They are
// implemented here on GCC's libgomp, the OpenMP runtime Debian's oneDNN
// uses, so that generated loops, oneDNN's GEMMs and the GEMV kernel share
// one thread pool and one thread count (`slim_model_set_threads`).
//
// Only what the IR builder emits for a parallel region with a statically
// scheduled loop is provided: the fork, the thread number, the static loop
// bounds, the barrier and the requested thread count. A region that asks
// for one thread, or one entered while the caller is already inside a
// parallel region, runs inline on the calling thread without waking the
// pool.
//
//===----------------------------------------------------------------------===//

#include <omp.h>

#include <algorithm>
#include <cstdarg>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <type_traits>

namespace {

/// The team of the innermost Slim parallel region this thread runs in.
struct Team {
  int32_t thread = 0;
  int32_t size = 1;
};
thread_local Team team;
/// The thread count requested by the next fork on this thread (0: all).
thread_local int32_t requested = 0;

constexpr int kMaxArgs = 8;
using Micro0 = void (*)(int32_t *, int32_t *);

/// Calls the outlined region with its `argc` shared pointers.
void invoke(void *fn, int32_t *gtid, int32_t *btid, int32_t argc,
            void **args) {
  switch (argc) {
  case 0:
    reinterpret_cast<Micro0>(fn)(gtid, btid);
    return;
  case 1:
    reinterpret_cast<void (*)(int32_t *, int32_t *, void *)>(fn)(gtid, btid,
                                                                 args[0]);
    return;
  case 2:
    reinterpret_cast<void (*)(int32_t *, int32_t *, void *, void *)>(fn)(
        gtid, btid, args[0], args[1]);
    return;
  case 3:
    reinterpret_cast<void (*)(int32_t *, int32_t *, void *, void *, void *)>(
        fn)(gtid, btid, args[0], args[1], args[2]);
    return;
  case 4:
    reinterpret_cast<void (*)(int32_t *, int32_t *, void *, void *, void *,
                              void *)>(fn)(gtid, btid, args[0], args[1],
                                           args[2], args[3]);
    return;
  case 5:
    reinterpret_cast<void (*)(int32_t *, int32_t *, void *, void *, void *,
                              void *, void *)>(fn)(
        gtid, btid, args[0], args[1], args[2], args[3], args[4]);
    return;
  case 6:
    reinterpret_cast<void (*)(int32_t *, int32_t *, void *, void *, void *,
                              void *, void *, void *)>(fn)(
        gtid, btid, args[0], args[1], args[2], args[3], args[4], args[5]);
    return;
  case 7:
    reinterpret_cast<void (*)(int32_t *, int32_t *, void *, void *, void *,
                              void *, void *, void *, void *)>(fn)(
        gtid, btid, args[0], args[1], args[2], args[3], args[4], args[5],
        args[6]);
    return;
  case 8:
    reinterpret_cast<void (*)(int32_t *, int32_t *, void *, void *, void *,
                              void *, void *, void *, void *, void *)>(fn)(
        gtid, btid, args[0], args[1], args[2], args[3], args[4], args[5],
        args[6], args[7]);
    return;
  }
}

/// Runs `fn` on one team member with `team` set for the loop bounds.
void runMember(void *fn, int32_t thread, int32_t size, int32_t argc,
               void **args) {
  Team saved = team;
  team = {thread, size};
  int32_t gtid = thread, btid = thread;
  invoke(fn, &gtid, &btid, argc, args);
  team = saved;
}

/// kmp's static schedules: 34 unchunked (one block per thread), 33 chunked
/// (round-robin chunks of `chunk` iterations).
constexpr int32_t kStatic = 34;
constexpr int32_t kStaticChunked = 33;

template <typename T, typename S>
void staticInit(int32_t schedule, int32_t *lastIter, T *lower, T *upper,
                S *stride, S incr, S chunk) {
  int64_t nth = team.size, tid = team.thread;
  // Bounds are inclusive; the builder's loops step by 1 after
  // normalization, but any positive or negative increment is handled.
  using U = std::make_unsigned_t<T>;
  U trips = incr > 0 ? U(*upper - *lower) / U(incr) + 1
                     : U(*lower - *upper) / U(-incr) + 1;
  if (schedule == kStaticChunked && chunk > 0) {
    *stride = S(chunk) * S(nth) * incr;
    *lower = *lower + T(tid * chunk) * T(incr);
    *upper = *lower + T(chunk - 1) * T(incr);
    if (lastIter)
      *lastIter = U((trips - 1) / U(chunk)) % U(nth) == U(tid);
    return;
  }
  if (schedule != kStatic && schedule != kStaticChunked) {
    std::fprintf(stderr, "slim: unsupported OpenMP schedule %d in a compiled "
                         "model (expected a static schedule)\n",
                 schedule);
    std::abort();
  }
  *stride = S(trips);
  if (nth == 1) {
    if (lastIter)
      *lastIter = 1;
    return;
  }
  U base = trips / U(nth), extra = trips % U(nth);
  U first = U(tid) * base + std::min<U>(U(tid), extra);
  U count = base + (U(tid) < extra ? 1 : 0);
  if (count == 0) {
    // No iterations for this thread: an empty range.
    *lower = *upper + T(incr);
    if (lastIter)
      *lastIter = 0;
    return;
  }
  T start = *lower + T(first) * T(incr);
  *upper = start + T(count - 1) * T(incr);
  *lower = start;
  if (lastIter)
    *lastIter = first + count == trips;
}

} // namespace

extern "C" {

int32_t slim_rt_kmpc_global_thread_num(void *) { return team.thread; }

void slim_rt_kmpc_push_num_threads(void *, int32_t, int32_t threads) {
  requested = threads;
}

void slim_rt_kmpc_fork_call(void *, int32_t argc, void *fn, ...) {
  if (argc > kMaxArgs) {
    std::fprintf(stderr, "slim: a compiled parallel region passes %d "
                         "arguments (at most %d are supported)\n",
                 argc, kMaxArgs);
    std::abort();
  }
  void *args[kMaxArgs];
  va_list ap;
  va_start(ap, fn);
  for (int32_t i = 0; i < argc; ++i)
    args[i] = va_arg(ap, void *);
  va_end(ap);

  int threads = omp_get_max_threads();
  if (requested > 0)
    threads = std::min(threads, int(requested));
  requested = 0;
  if (threads <= 1 || omp_in_parallel()) {
    runMember(fn, 0, 1, argc, args);
    return;
  }
#pragma omp parallel num_threads(threads)
  runMember(fn, omp_get_thread_num(), omp_get_num_threads(), argc, args);
}

void slim_rt_kmpc_for_static_init_4(void *, int32_t, int32_t schedule,
                                    int32_t *last, int32_t *lower,
                                    int32_t *upper, int32_t *stride,
                                    int32_t incr, int32_t chunk) {
  staticInit(schedule, last, lower, upper, stride, incr, chunk);
}
void slim_rt_kmpc_for_static_init_4u(void *, int32_t, int32_t schedule,
                                     int32_t *last, uint32_t *lower,
                                     uint32_t *upper, int32_t *stride,
                                     int32_t incr, int32_t chunk) {
  staticInit(schedule, last, lower, upper, stride, incr, chunk);
}
void slim_rt_kmpc_for_static_init_8(void *, int32_t, int32_t schedule,
                                    int32_t *last, int64_t *lower,
                                    int64_t *upper, int64_t *stride,
                                    int64_t incr, int64_t chunk) {
  staticInit(schedule, last, lower, upper, stride, incr, chunk);
}
void slim_rt_kmpc_for_static_init_8u(void *, int32_t, int32_t schedule,
                                     int32_t *last, uint64_t *lower,
                                     uint64_t *upper, int64_t *stride,
                                     int64_t incr, int64_t chunk) {
  staticInit(schedule, last, lower, upper, stride, incr, chunk);
}

void slim_rt_kmpc_for_static_fini(void *, int32_t) {}

void slim_rt_kmpc_barrier(void *, int32_t) {
  if (team.size > 1) {
#pragma omp barrier
  }
}

} // extern "C"
