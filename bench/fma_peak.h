// The CPU's fused multiply-add peak, measured: a loop of independent vector
// FMAs at the widest ISA this CPU has, chosen at run time (the file builds
// without -march=native: each variant carries its own target attribute).
#pragma once
#include <cstdint>

namespace gg::bench {

// "avx512f", "avx2+fma" or "sse2 (mul+add)": what fma_flops() runs here.
const char* fma_isa();
// Runs `rounds` rounds of the loop (each: 12 accumulators x one vector FMA)
// and returns the FLOPs done (an FMA lane counts 2).
double fma_flops(int64_t rounds);

}  // namespace gg::bench
