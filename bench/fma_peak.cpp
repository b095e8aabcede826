#include "fma_peak.h"

#include <immintrin.h>

namespace gg::bench {
namespace {

// 12 independent accumulators: an FMA has 4 cycles' latency and two issue
// ports on current x86 cores, so at least 8 chains are needed to keep both
// busy; 12 (+2 constants) still fit the 16 ymm registers of AVX2.
// acc = acc * a + b converges (a < 1), so no value overflows or goes denormal.
#define GG_FMA12(FMA)                                                                    \
  a0 = FMA(a0, m, c), a1 = FMA(a1, m, c), a2 = FMA(a2, m, c), a3 = FMA(a3, m, c);        \
  a4 = FMA(a4, m, c), a5 = FMA(a5, m, c), a6 = FMA(a6, m, c), a7 = FMA(a7, m, c);        \
  a8 = FMA(a8, m, c), a9 = FMA(a9, m, c), a10 = FMA(a10, m, c), a11 = FMA(a11, m, c)

volatile float g_sink;  // keeps the loops' results alive

__attribute__((target("avx512f"))) double run_avx512(int64_t rounds) {
  const __m512 m = _mm512_set1_ps(0.9999f), c = _mm512_set1_ps(1e-4f);
  __m512 a0 = _mm512_set1_ps(0.f), a1 = _mm512_set1_ps(.1f), a2 = _mm512_set1_ps(.2f), a3 = _mm512_set1_ps(.3f);
  __m512 a4 = _mm512_set1_ps(.4f), a5 = _mm512_set1_ps(.5f), a6 = _mm512_set1_ps(.6f), a7 = _mm512_set1_ps(.7f);
  __m512 a8 = _mm512_set1_ps(.8f), a9 = _mm512_set1_ps(.9f), a10 = _mm512_set1_ps(1.f), a11 = _mm512_set1_ps(1.1f);
  for (int64_t r = 0; r < rounds; ++r) {
    GG_FMA12(_mm512_fmadd_ps);
  }
  const __m512 s = _mm512_add_ps(_mm512_add_ps(_mm512_add_ps(a0, a1), _mm512_add_ps(a2, a3)),
                                 _mm512_add_ps(_mm512_add_ps(_mm512_add_ps(a4, a5), _mm512_add_ps(a6, a7)),
                                               _mm512_add_ps(_mm512_add_ps(a8, a9), _mm512_add_ps(a10, a11))));
  float lanes[16];  // not _mm512_reduce_add_ps: GCC 12's header trips -Wuninitialized
  _mm512_storeu_ps(lanes, s);
  float sum = 0;
  for (float x : lanes) sum += x;
  g_sink = sum;
  return double(rounds) * 12 * 16 * 2;
}

__attribute__((target("avx2,fma"))) double run_avx2(int64_t rounds) {
  const __m256 m = _mm256_set1_ps(0.9999f), c = _mm256_set1_ps(1e-4f);
  __m256 a0 = _mm256_set1_ps(0.f), a1 = _mm256_set1_ps(.1f), a2 = _mm256_set1_ps(.2f), a3 = _mm256_set1_ps(.3f);
  __m256 a4 = _mm256_set1_ps(.4f), a5 = _mm256_set1_ps(.5f), a6 = _mm256_set1_ps(.6f), a7 = _mm256_set1_ps(.7f);
  __m256 a8 = _mm256_set1_ps(.8f), a9 = _mm256_set1_ps(.9f), a10 = _mm256_set1_ps(1.f), a11 = _mm256_set1_ps(1.1f);
  for (int64_t r = 0; r < rounds; ++r) {
    GG_FMA12(_mm256_fmadd_ps);
  }
  __m256 s = _mm256_add_ps(_mm256_add_ps(_mm256_add_ps(a0, a1), _mm256_add_ps(a2, a3)),
                           _mm256_add_ps(_mm256_add_ps(_mm256_add_ps(a4, a5), _mm256_add_ps(a6, a7)),
                                         _mm256_add_ps(_mm256_add_ps(a8, a9), _mm256_add_ps(a10, a11))));
  float lanes[8];
  _mm256_storeu_ps(lanes, s);
  g_sink = lanes[0] + lanes[1] + lanes[2] + lanes[3] + lanes[4] + lanes[5] + lanes[6] + lanes[7];
  return double(rounds) * 12 * 8 * 2;
}

// No FMA unit: a multiply and an add per lane (SSE2 is part of x86-64).
inline __m128 mul_add(__m128 a, __m128 m, __m128 c) { return _mm_add_ps(_mm_mul_ps(a, m), c); }
double run_sse2(int64_t rounds) {
  const __m128 m = _mm_set1_ps(0.9999f), c = _mm_set1_ps(1e-4f);
  __m128 a0 = _mm_set1_ps(0.f), a1 = _mm_set1_ps(.1f), a2 = _mm_set1_ps(.2f), a3 = _mm_set1_ps(.3f);
  __m128 a4 = _mm_set1_ps(.4f), a5 = _mm_set1_ps(.5f), a6 = _mm_set1_ps(.6f), a7 = _mm_set1_ps(.7f);
  __m128 a8 = _mm_set1_ps(.8f), a9 = _mm_set1_ps(.9f), a10 = _mm_set1_ps(1.f), a11 = _mm_set1_ps(1.1f);
  for (int64_t r = 0; r < rounds; ++r) {
    GG_FMA12(mul_add);
  }
  float lanes[4];
  _mm_storeu_ps(lanes, _mm_add_ps(_mm_add_ps(_mm_add_ps(a0, a1), _mm_add_ps(a2, a3)),
                                  _mm_add_ps(_mm_add_ps(_mm_add_ps(a4, a5), _mm_add_ps(a6, a7)),
                                             _mm_add_ps(_mm_add_ps(a8, a9), _mm_add_ps(a10, a11)))));
  g_sink = lanes[0] + lanes[1] + lanes[2] + lanes[3];
  return double(rounds) * 12 * 4 * 2;
}

enum class Isa { avx512, avx2, sse2 };
Isa detect() {
  __builtin_cpu_init();
  if (__builtin_cpu_supports("avx512f")) return Isa::avx512;
  if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma")) return Isa::avx2;
  return Isa::sse2;
}
const Isa kIsa = detect();

}  // namespace

const char* fma_isa() {
  switch (kIsa) {
    case Isa::avx512: return "avx512f";
    case Isa::avx2: return "avx2+fma";
    default: return "sse2 (mul+add)";
  }
}

double fma_flops(int64_t rounds) {
  switch (kIsa) {
    case Isa::avx512: return run_avx512(rounds);
    case Isa::avx2: return run_avx2(rounds);
    default: return run_sse2(rounds);
  }
}

}  // namespace gg::bench
