// Run-time selected AVX2+FMA code paths. Kernels marked GG_AVX2 are compiled
// for AVX2+FMA whatever the build flags, and called only when has_avx2_fma()
// says this CPU runs them, so a portable build (GRAPHGRAD_NATIVE=OFF) keeps
// its fast paths and a pre-AVX2 CPU still gets the plain ones.
#pragma once

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#define GG_HAVE_AVX2_PATHS 1
#include <immintrin.h>
#define GG_AVX2 __attribute__((target("avx2,fma")))
#else
#define GG_HAVE_AVX2_PATHS 0
#endif

namespace gg::cpu {

inline bool has_avx2_fma() {
#if GG_HAVE_AVX2_PATHS
  static const bool ok = __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
  return ok;
#else
  return false;
#endif
}

}  // namespace gg::cpu
