// Overload{lambdas...}: one visitor from several lambdas, for std::visit over
// the frontends' variants (layers, optimizers, schedules). Internal: not installed.
#pragma once

namespace gg::detail {
template <class... Ts>
struct Overload : Ts... {
  using Ts::operator()...;
};
template <class... Ts>
Overload(Ts...) -> Overload<Ts...>;  // clang 14 lacks C++20's aggregate deduction
}  // namespace gg::detail
