// bench_roofline's Vulkan ceilings (bench/vulkan_ceilings.h) at small sizes:
// each shader computes what its GFLOP/s or GB/s assumes (the FMA loop runs
// every round of every chain, the reads sum every vec4 of their stream, the
// copy copies exactly), and every run yields a positive time. Never a speed.
// Skipped without a Vulkan device, a failure under GRAPHGRAD_REQUIRE_VULKAN.
#include <doctest/doctest.h>

#include <cmath>
#include <string>
#include <vector>

#include "../bench/vulkan_ceilings.h"
#include "parity.h"

using namespace gg;
namespace vc = gg::bench::vulkan;

namespace {

// The shader's starting value of chain k, component j, at invocation i (ceiling_fma.comp).
float chain_start(uint32_t i, int k, int j) { return float(i % 16) + float(4 * k + j); }

}  // namespace

TEST_SUITE("vulkan_ceilings") {
  TEST_CASE("ceiling_fma runs every round of every chain") {
    if (!test::vulkan_or_skip()) return;
    const vc::Size size{.groups = 3, .rounds = 1000, .steps = 1, .dispatches = 2};
    vc::Run run(vc::open_device(), vc::Ceiling::fma, size);
    CHECK(run.flop() == doctest::Approx(3.0 * 64 * 1000 * vc::kFmaChains * 4 * 2 * 2));
    // m = 1, c = 0.5: each round adds 0.5, exactly (small integers and halves).
    run.set_fma(1.0f, 0.5f);
    CHECK(run.run() > 0);
    std::vector<float> out = run.download();
    REQUIRE(out.size() == size_t{3} * 64 * 4);
    int wrong = 0;
    for (uint32_t i = 0; i < 3 * 64; ++i)
      for (int j = 0; j < 4; ++j) {
        float want = 0;
        for (int k = 0; k < vc::kFmaChains; ++k) want += chain_start(i, k, j) + 1000 * 0.5f;
        wrong += out[i * 4 + j] != want;
      }
    CHECK(wrong == 0);
    // The default factors (0.9999, 1e-4), against the same recurrence on the
    // host. GLSL may round a * m before adding c (lavapipe does): over 1,000
    // rounds that drifts by ~3e-5, while a factor left out would be 10% off.
    run.set_fma(0.9999f, 1e-4f);
    run.run();
    out = run.download();
    for (uint32_t i : {0u, 17u, 191u})
      for (int j = 0; j < 4; ++j) {
        double want = 0;
        for (int k = 0; k < vc::kFmaChains; ++k) {
          float a = chain_start(i, k, j);
          for (int r = 0; r < 1000; ++r) a = std::fma(a, 0.9999f, 1e-4f);
          want += a;
        }
        CHECK(out[i * 4 + j] == doctest::Approx(want).epsilon(1e-4));
      }
  }

  TEST_CASE("ceiling_read sums its stream, through a texel buffer and a storage buffer") {
    if (!test::vulkan_or_skip()) return;
    const uint32_t groups = 3, steps = 5, vec4s = groups * 64 * steps;
    std::vector<float> in(size_t{vec4s} * 4);
    for (size_t i = 0; i < in.size(); ++i) in[i] = float(i * 7 % 13);  // small integers: exact sums
    for (vc::Ceiling c : {vc::Ceiling::texel_read, vc::Ceiling::storage_read}) {
      const std::string name = vc::ceiling_name(c);
      CAPTURE(name);
      vc::Run run(vc::open_device(), c, {.groups = groups, .rounds = 1, .steps = steps, .dispatches = 1});
      CHECK(run.bytes() == doctest::Approx((vec4s + groups * 64.0) * 16));
      run.upload(in);
      CHECK(run.run() > 0);
      const std::vector<float> out = run.download();
      REQUIRE(out.size() == size_t{groups} * 64 * 4);
      int wrong = 0;
      for (uint32_t g = 0; g < groups; ++g)
        for (uint32_t l = 0; l < 64; ++l)
          for (int j = 0; j < 4; ++j) {
            float want = 0;
            for (uint32_t k = 0; k < steps; ++k) want += in[(size_t{g} * 64 * steps + k * 64 + l) * 4 + j];
            wrong += out[(g * 64 + l) * 4 + j] != want;
          }
      CHECK(wrong == 0);
    }
  }

  TEST_CASE("ceiling_copy copies exactly") {
    if (!test::vulkan_or_skip()) return;
    const uint32_t groups = 2, steps = 7;
    std::vector<float> in(size_t{groups} * 64 * steps * 4);
    for (size_t i = 0; i < in.size(); ++i) in[i] = float(i) * 0.37f - 100.0f;
    vc::Run run(vc::open_device(), vc::Ceiling::copy, {.groups = groups, .rounds = 1, .steps = steps, .dispatches = 1});
    CHECK(run.bytes() == doctest::Approx(2.0 * in.size() * 4));
    run.upload(in);
    run.run();
    CHECK(run.download() == in);
  }

  TEST_CASE("every ceiling runs at a small size and takes time") {
    if (!test::vulkan_or_skip()) return;
    const auto device = vc::open_device();
    for (vc::Ceiling c : vc::kCeilings) {
      const std::string name = vc::ceiling_name(c);
      CAPTURE(name);
      vc::Run run(device, c, {.groups = 4, .rounds = 64, .steps = 4, .dispatches = 10});
      CHECK(run.dispatches() == 10);
      run.run();
      const double s = run.run();
      CHECK(std::isfinite(s));
      CHECK(s > 0);
    }
  }

  TEST_CASE("a loop of 65,535 rounds or more is refused") {
    if (!test::vulkan_or_skip()) return;
    CHECK_THROWS_AS(vc::Run(vc::open_device(), vc::Ceiling::fma, {.groups = 1, .rounds = 65535, .steps = 1, .dispatches = 1}),
                    BackendError);
  }
}
