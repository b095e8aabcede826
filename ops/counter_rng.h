// The counter-based hash behind dropout masks. Only 32-bit integer multiplies,
// xors and shifts, so a GLSL shader computes the same bits as the CPU. A mask
// element depends on (seed, step, global element index) alone: no generator
// state, any order, any thread count, any backend.
#pragma once
#include <cstdint>

namespace gg::ops {

// "lowbias32" (C. Wellons): a bijective 32-bit mixer with low bias.
constexpr uint32_t mix32(uint32_t x) {
  x ^= x >> 16;
  x *= 0x7feb352dU;
  x ^= x >> 15;
  x *= 0x846ca68bU;
  x ^= x >> 16;
  return x;
}

// The key shared by every element of one run of one dropout node.
constexpr uint32_t dropout_key(uint32_t seed, uint32_t step) { return mix32(mix32(seed) ^ step); }

// True when the element with this global index is kept. The top 24 bits of the
// hash form a uniform number in [0, 1); keep when it is >= rate. `threshold` is
// rate * 2^24, rounded up, computed once per node.
constexpr uint32_t dropout_threshold(double rate) {
  double t = rate * 16777216.0;
  auto ti = static_cast<uint32_t>(t);
  return static_cast<double>(ti) < t ? ti + 1 : ti;
}
constexpr bool dropout_keep(uint32_t key, uint32_t index, uint32_t threshold) {
  return (mix32(key ^ index) >> 8) >= threshold;
}

}  // namespace gg::ops
