#include "common/cpu.h"

namespace takeback::cpu {
namespace {

#if defined(__x86_64__) || defined(__i386__)
// __builtin_cpu_supports needs a string literal, hence a macro.
#define TAKEBACK_CPU_HAS(feature) (__builtin_cpu_init(), __builtin_cpu_supports(feature) != 0)
#else
#define TAKEBACK_CPU_HAS(feature) false
#endif

}  // namespace

bool HasPopcnt() {
  static const bool kHas = TAKEBACK_CPU_HAS("popcnt");
  return kHas;
}

bool HasAvx() {
  static const bool kHas = TAKEBACK_CPU_HAS("avx");
  return kHas;
}

bool HasAvx2() {
  static const bool kHas = TAKEBACK_CPU_HAS("avx2");
  return kHas;
}

bool HasFma() {
  static const bool kHas = TAKEBACK_CPU_HAS("fma");
  return kHas;
}

bool HasAvx512Vpopcntdq() {
  static const bool kHas = TAKEBACK_CPU_HAS("avx512f") && TAKEBACK_CPU_HAS("avx512vpopcntdq");
  return kHas;
}

#undef TAKEBACK_CPU_HAS

}  // namespace takeback::cpu
