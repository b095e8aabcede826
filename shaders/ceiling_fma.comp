#version 450
// bench_roofline's vulkan/fma_peak: vec4 FMAs on registers only, in
// independent chains so their latency overlaps. Each invocation runs
// `rounds` rounds of ACC vec4 FMAs (2 * 4 * ACC FLOPs a round) and writes the
// sum of its chains, so nothing can be dropped as dead code. The factors are
// push constants: the compiler cannot fold m = 1. rounds stays under 65,535
// (lavapipe ends longer loops).
layout(local_size_x = 64) in;
layout(std430, set = 0, binding = 0) writeonly buffer Out { vec4 out_[]; };
layout(push_constant) uniform Push {
  float m, c;
  uint rounds;
} p;

// lavapipe runs 8 lanes of a vec4 component in one 256-bit register, so a
// vec4 chain is 4 such registers: 4 chains make 16 independent FMAs a round,
// which cover the FMA latency on both ports (and lavapipe's masking of loop
// bodies); 2 chains measured 20-50% slower here, and the CPU loop's 12 chains
// (bench/fma_peak.cpp) would not fit the registers. At most 4.
#define ACC 4

// a0..a(ACC-1): named registers, not an array (a private array may live in memory).
#define INIT(k) vec4(base) + vec4(4 * k, 4 * k + 1, 4 * k + 2, 4 * k + 3)
void main() {
  const uint i = gl_GlobalInvocationID.x;
  const vec4 m = vec4(p.m), c = vec4(p.c);
  const float base = float(i % 16u);
  vec4 a0 = INIT(0), a1 = INIT(1), a2 = INIT(2), a3 = INIT(3);
  for (uint r = 0u; r < p.rounds; ++r) {
    a0 = fma(a0, m, c);
#if ACC > 1
    a1 = fma(a1, m, c);
#endif
#if ACC > 2
    a2 = fma(a2, m, c);
#endif
#if ACC > 3
    a3 = fma(a3, m, c);
#endif
  }
  vec4 s = a0;
#if ACC > 1
  s += a1;
#endif
#if ACC > 2
  s += a2;
#endif
#if ACC > 3
  s += a3;
#endif
  out_[i] = s;
}
