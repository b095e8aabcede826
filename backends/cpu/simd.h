// Run-time selected AVX2+FMA and AVX-512 code paths. Kernels marked GG_AVX2
// (GG_AVX512) are compiled for that instruction set whatever the build flags,
// and called only when has_avx2_fma() (has_avx512()) says this CPU runs them,
// so a portable build (GRAPHGRAD_NATIVE=OFF) keeps its fast paths and an older
// CPU still gets the plain ones. cpu_isa.h picks between them.
#pragma once

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#define GG_HAVE_AVX2_PATHS 1
#include <immintrin.h>
#define GG_AVX2 __attribute__((target("avx2,fma")))
// avx512dq for the 256-bit halves (insertf32x8, extractf32x8, broadcast_f32x8)
#define GG_AVX512 __attribute__((target("avx512f,avx512dq,avx2,fma")))
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

// Every extension GG_AVX512 compiles for (libgcc also checks that the OS
// saves the zmm state).
inline bool has_avx512() {
#if GG_HAVE_AVX2_PATHS
  static const bool ok = has_avx2_fma() && __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512dq");
  return ok;
#else
  return false;
#endif
}

}  // namespace gg::cpu
