//===- HostFeatures.cpp - The CPU's instruction-set features, by CPUID ----===//
//
// Part of the Slim project, under the Apache License v2.0 with LLVM Exceptions.
// SPDX-License-Identifier: Apache-2.0 WITH LLVM-exception
//
//===----------------------------------------------------------------------===//
//
// The runtime refuses a model compiled for features the CPU lacks. It has no
// LLVM (libslim-runtime.so is for embedding), so it reads CPUID itself, for
// the features named as LLVM names them in model.json's required_features.
// The AVX/AVX-512 state features also need the OS to save the registers
// (XGETBV), as LLVM's host detection checks.
//
//===----------------------------------------------------------------------===//

#include "lib/Runtime/HostFeatures.h"

#include <cstring>

#if defined(__x86_64__) || defined(__i386__)
#include <cpuid.h>
#endif

namespace {

struct Bit {
  const char *name;
  unsigned leaf, subleaf;
  enum Reg { EAX, EBX, ECX, EDX } reg;
  unsigned bit;
  /// Needs the OS to save YMM (1) or ZMM (2) state, or AMX tiles (3).
  unsigned state;
};

// Leaves 1, 7.0, 7.1, 0xD.1, 0x80000001, 0x80000008, 0x14 (not used),
// as in the Intel SDM and AMD APM; names as LLVM's X86 target spells them.
const Bit kBits[] = {
    {"cx8", 1, 0, Bit::EDX, 8, 0},
    {"cmov", 1, 0, Bit::EDX, 15, 0},
    {"mmx", 1, 0, Bit::EDX, 23, 0},
    {"fxsr", 1, 0, Bit::EDX, 24, 0},
    {"sse", 1, 0, Bit::EDX, 25, 0},
    {"sse2", 1, 0, Bit::EDX, 26, 0},
    {"sse3", 1, 0, Bit::ECX, 0, 0},
    {"pclmul", 1, 0, Bit::ECX, 1, 0},
    {"ssse3", 1, 0, Bit::ECX, 9, 0},
    {"fma", 1, 0, Bit::ECX, 12, 1},
    {"cx16", 1, 0, Bit::ECX, 13, 0},
    {"sse4.1", 1, 0, Bit::ECX, 19, 0},
    {"sse4.2", 1, 0, Bit::ECX, 20, 0},
    {"crc32", 1, 0, Bit::ECX, 20, 0},
    {"movbe", 1, 0, Bit::ECX, 22, 0},
    {"popcnt", 1, 0, Bit::ECX, 23, 0},
    {"aes", 1, 0, Bit::ECX, 25, 0},
    {"xsave", 1, 0, Bit::ECX, 26, 0},
    {"avx", 1, 0, Bit::ECX, 28, 1},
    {"f16c", 1, 0, Bit::ECX, 29, 1},
    {"rdrnd", 1, 0, Bit::ECX, 30, 0},
    {"fsgsbase", 7, 0, Bit::EBX, 0, 0},
    {"sgx", 7, 0, Bit::EBX, 2, 0},
    {"bmi", 7, 0, Bit::EBX, 3, 0},
    {"avx2", 7, 0, Bit::EBX, 5, 1},
    {"bmi2", 7, 0, Bit::EBX, 8, 0},
    {"invpcid", 7, 0, Bit::EBX, 10, 0},
    {"rtm", 7, 0, Bit::EBX, 11, 0},
    {"avx512f", 7, 0, Bit::EBX, 16, 2},
    {"avx512dq", 7, 0, Bit::EBX, 17, 2},
    {"rdseed", 7, 0, Bit::EBX, 18, 0},
    {"adx", 7, 0, Bit::EBX, 19, 0},
    {"avx512ifma", 7, 0, Bit::EBX, 21, 2},
    {"clflushopt", 7, 0, Bit::EBX, 23, 0},
    {"clwb", 7, 0, Bit::EBX, 24, 0},
    {"avx512cd", 7, 0, Bit::EBX, 28, 2},
    {"sha", 7, 0, Bit::EBX, 29, 0},
    {"avx512bw", 7, 0, Bit::EBX, 30, 2},
    {"avx512vl", 7, 0, Bit::EBX, 31, 2},
    {"prefetchwt1", 7, 0, Bit::ECX, 0, 0},
    {"avx512vbmi", 7, 0, Bit::ECX, 1, 2},
    {"pku", 7, 0, Bit::ECX, 4, 0},
    {"waitpkg", 7, 0, Bit::ECX, 5, 0},
    {"avx512vbmi2", 7, 0, Bit::ECX, 6, 2},
    {"shstk", 7, 0, Bit::ECX, 7, 0},
    {"gfni", 7, 0, Bit::ECX, 8, 0},
    {"vaes", 7, 0, Bit::ECX, 9, 1},
    {"vpclmulqdq", 7, 0, Bit::ECX, 10, 1},
    {"avx512vnni", 7, 0, Bit::ECX, 11, 2},
    {"avx512bitalg", 7, 0, Bit::ECX, 12, 2},
    {"avx512vpopcntdq", 7, 0, Bit::ECX, 14, 2},
    {"rdpid", 7, 0, Bit::ECX, 22, 0},
    {"kl", 7, 0, Bit::ECX, 23, 0},
    {"cldemote", 7, 0, Bit::ECX, 25, 0},
    {"movdiri", 7, 0, Bit::ECX, 27, 0},
    {"movdir64b", 7, 0, Bit::ECX, 28, 0},
    {"enqcmd", 7, 0, Bit::ECX, 29, 0},
    {"uintr", 7, 0, Bit::EDX, 5, 0},
    {"avx512vp2intersect", 7, 0, Bit::EDX, 8, 2},
    {"serialize", 7, 0, Bit::EDX, 14, 0},
    {"tsxldtrk", 7, 0, Bit::EDX, 16, 0},
    {"pconfig", 7, 0, Bit::EDX, 18, 0},
    {"amx-bf16", 7, 0, Bit::EDX, 22, 3},
    {"avx512fp16", 7, 0, Bit::EDX, 23, 2},
    {"amx-tile", 7, 0, Bit::EDX, 24, 3},
    {"amx-int8", 7, 0, Bit::EDX, 25, 3},
    {"sha512", 7, 1, Bit::EAX, 0, 1},
    {"sm3", 7, 1, Bit::EAX, 1, 0},
    {"sm4", 7, 1, Bit::EAX, 2, 1},
    {"raoint", 7, 1, Bit::EAX, 3, 0},
    {"avxvnni", 7, 1, Bit::EAX, 4, 1},
    {"avx512bf16", 7, 1, Bit::EAX, 5, 2},
    {"cmpccxadd", 7, 1, Bit::EAX, 7, 0},
    {"amx-fp16", 7, 1, Bit::EAX, 21, 3},
    {"hreset", 7, 1, Bit::EAX, 22, 0},
    {"avxifma", 7, 1, Bit::EAX, 23, 1},
    {"avxvnniint8", 7, 1, Bit::EDX, 4, 1},
    {"avxneconvert", 7, 1, Bit::EDX, 5, 1},
    {"amx-complex", 7, 1, Bit::EDX, 8, 3},
    {"avxvnniint16", 7, 1, Bit::EDX, 10, 1},
    {"prefetchi", 7, 1, Bit::EDX, 14, 0},
    {"xsaveopt", 0xD, 1, Bit::EAX, 0, 0},
    {"xsavec", 0xD, 1, Bit::EAX, 1, 0},
    {"xsaves", 0xD, 1, Bit::EAX, 3, 0},
    {"sahf", 0x80000001, 0, Bit::ECX, 0, 0},
    {"lzcnt", 0x80000001, 0, Bit::ECX, 5, 0},
    {"sse4a", 0x80000001, 0, Bit::ECX, 6, 0},
    {"prfchw", 0x80000001, 0, Bit::ECX, 8, 0},
    {"xop", 0x80000001, 0, Bit::ECX, 11, 1},
    {"lwp", 0x80000001, 0, Bit::ECX, 15, 0},
    {"fma4", 0x80000001, 0, Bit::ECX, 16, 1},
    {"tbm", 0x80000001, 0, Bit::ECX, 21, 0},
    {"mwaitx", 0x80000001, 0, Bit::ECX, 29, 0},
    {"64bit", 0x80000001, 0, Bit::EDX, 29, 0},
    {"clzero", 0x80000008, 0, Bit::EBX, 0, 0},
    {"rdpru", 0x80000008, 0, Bit::EBX, 4, 0},
    {"wbnoinvd", 0x80000008, 0, Bit::EBX, 9, 0},
};

} // namespace

namespace slim_rt {

HostFeature queryHostFeature(const char *name) {
#if defined(__x86_64__) || defined(__i386__)
  const Bit *found = nullptr;
  for (const Bit &b : kBits)
    if (std::strcmp(b.name, name) == 0)
      found = &b;
  if (!found)
    return HostFeature::Unknown;
  unsigned maxBasic = __get_cpuid_max(0, nullptr);
  unsigned maxExtended = __get_cpuid_max(0x80000000, nullptr);
  unsigned leafMax = found->leaf >= 0x80000000 ? maxExtended : maxBasic;
  if (found->leaf > leafMax)
    return HostFeature::Absent;
  unsigned regs[4] = {0, 0, 0, 0};
  __cpuid_count(found->leaf, found->subleaf, regs[0], regs[1], regs[2],
                regs[3]);
  if (!((regs[found->reg] >> found->bit) & 1))
    return HostFeature::Absent;
  if (found->state) {
    // OSXSAVE, then the XCR0 state components the registers need.
    unsigned a, b, c, d;
    __cpuid(1, a, b, c, d);
    if (!((c >> 27) & 1))
      return HostFeature::Absent;
    unsigned lo, hi;
    __asm__ volatile("xgetbv" : "=a"(lo), "=d"(hi) : "c"(0));
    unsigned long long xcr0 = (static_cast<unsigned long long>(hi) << 32) | lo;
    unsigned long long need = 0x6; // XMM, YMM
    if (found->state >= 2)
      need |= 0xE0; // opmask, ZMM_Hi256, Hi16_ZMM
    if (found->state == 3)
      need = 0x60000; // XTILECFG, XTILEDATA
    if ((xcr0 & need) != need)
      return HostFeature::Absent;
  }
  return HostFeature::Present;
#else
  (void)name;
  return HostFeature::Unknown;
#endif
}

} // namespace slim_rt
