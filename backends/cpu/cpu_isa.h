// The one place that decides which instruction set the CPU backend's
// hand-vectorised conv kernels (conv_direct.h) run: the widest this CPU has,
// unless GRAPHGRAD_CPU_ISA=avx2|avx512 or set_active_isa() says otherwise
// (to compare the paths, or test both on one host: they agree bit for bit).
#pragma once
#include <optional>
#include <string_view>

namespace gg::cpu {

enum class Isa { avx2, avx512 };

std::string_view isa_name(Isa isa);
bool cpu_has(Isa isa);
// The widest instruction set this CPU runs; none without AVX2+FMA (the
// backend then uses its portable code only).
std::optional<Isa> best_isa();
// GRAPHGRAD_CPU_ISA's value (null when unset: best_isa()). A BackendError
// naming the variable for an unknown value or one this CPU lacks.
std::optional<Isa> isa_from_env(const char* value);
// set_active_isa's choice if any, else the environment's (read once).
std::optional<Isa> active_isa();
// Forces an instruction set (BackendError if this CPU lacks it); nullopt goes
// back to the environment's choice. Safe between an executable's compile and
// its runs: the kernels plan scratch for either.
void set_active_isa(std::optional<Isa> isa);

}  // namespace gg::cpu
