// GRAPHGRAD_CPU_ISA and the CPU's own features, resolved into the instruction
// set the conv kernels use (see cpu_isa.h).
#include "cpu_isa.h"

#include <atomic>
#include <cstdlib>
#include <string>

#include <graphgrad/backends/backend.h>

#include "simd.h"

namespace gg::cpu {
namespace {
// -1: none forced; else the forced Isa's value.
std::atomic<int> forced{-1};
}  // namespace

std::string_view isa_name(Isa isa) { return isa == Isa::avx512 ? "avx512" : "avx2"; }

bool cpu_has(Isa isa) { return isa == Isa::avx512 ? has_avx512() : has_avx2_fma(); }

std::optional<Isa> best_isa() {
  if (has_avx512()) return Isa::avx512;
  if (has_avx2_fma()) return Isa::avx2;
  return std::nullopt;
}

std::optional<Isa> isa_from_env(const char* value) {
  if (!value || !*value) return best_isa();
  const std::string_view v(value);
  std::optional<Isa> isa;
  for (Isa candidate : {Isa::avx2, Isa::avx512})
    if (v == isa_name(candidate)) isa = candidate;
  if (!isa)
    throw BackendError("GRAPHGRAD_CPU_ISA=" + std::string(v) +
                       ": unknown instruction set; use avx2 or avx512, or unset it for the best this CPU runs");
  if (!cpu_has(*isa))
    throw BackendError("GRAPHGRAD_CPU_ISA=" + std::string(v) + ": this CPU lacks " +
                       (*isa == Isa::avx512 ? "AVX-512 (avx512f + avx512dq)" : "AVX2 + FMA") +
                       "; unset it for the best this CPU runs");
  return isa;
}

std::optional<Isa> active_isa() {
  const int f = forced.load(std::memory_order_relaxed);
  if (f >= 0) return static_cast<Isa>(f);
  // (A throwing initializer leaves the static unset: every call names the bad value.)
  static const std::optional<Isa> from_env = isa_from_env(std::getenv("GRAPHGRAD_CPU_ISA"));
  return from_env;
}

void set_active_isa(std::optional<Isa> isa) {
  if (isa && !cpu_has(*isa))
    throw BackendError("cpu: set_active_isa(" + std::string(isa_name(*isa)) + "): this CPU lacks it");
  forced.store(isa ? static_cast<int>(*isa) : -1, std::memory_order_relaxed);
}

}  // namespace gg::cpu
