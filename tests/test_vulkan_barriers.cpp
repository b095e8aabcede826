// The Vulkan recorder's barriers (backends/vulkan/hazards.h): only between
// commands whose byte ranges conflict, with the written bindings taken from
// each shader's SPIR-V (spirv_access.h).
//   - the tracker: read-after-write, write-after-read and write-after-write
//     conflict, reads beside reads and disjoint ranges do not;
//   - the reflection against an independent reading of every embedded
//     shader: the bindings it counts as written are exactly those the shader
//     stores to (a binding it missed would be a race; one it added, a
//     `readonly` missing from the shader and a barrier too many);
//   - a training step of the MNIST CNN records far fewer barriers than
//     dispatches and ends bit for bit where GRAPHGRAD_VULKAN_BARRIERS=all (a
//     barrier after every command) ends.
// Its own ctest entry (vulkan_barriers) runs it once, under the validation
// layer's synchronization checks, which also run over every parity suite
// and report any hazard the tracker leaves.
#include <doctest/doctest.h>

#include <filesystem>
#include <random>
#include <set>
#include <string>
#include <unordered_map>
#include <vector>

#include <graphgrad/backends/backend.h>
#include <graphgrad/frontends/dataset.h>
#include <graphgrad/frontends/idx.h>
#include <graphgrad/frontends/mnist_model.h>
#include <graphgrad/frontends/sequential.h>

#include "parity.h"
#include "shaders_embedded.h"
#include "vulkan/counters.h"
#include "vulkan/hazards.h"
#include "vulkan/spirv_access.h"

#ifndef GG_MNIST_DIR
#define GG_MNIST_DIR ""
#endif

using namespace gg;

namespace {

// The storage bindings (set 0) that an OpStore or an atomic reaches through
// access chains: what the shader really writes, found without decorations.
uint32_t stored_bindings(std::span<const uint32_t> w) {
  std::unordered_map<uint32_t, uint32_t> binding, set, base;
  std::set<uint32_t> targets;
  for (size_t at = 5; at < w.size();) {
    const uint32_t words = w[at] >> 16, op = w[at] & 0xffff;
    const uint32_t* a = &w[at + 1];
    if (op == 71 && a[1] == 33) binding[a[0]] = a[2];            // OpDecorate Binding
    if (op == 71 && a[1] == 34) set[a[0]] = a[2];                // OpDecorate DescriptorSet
    if (op == 65 || op == 66 || op == 67) base[a[1]] = a[2];     // Op(InBounds|Ptr)AccessChain: result -> base
    if (op == 62) targets.insert(a[0]);                          // OpStore pointer
    if (op == 228) targets.insert(a[0]);                         // OpAtomicStore pointer
    if (op >= 229 && op <= 242) targets.insert(a[2]);            // read-modify-write atomics: type, result, pointer
    at += words;
  }
  uint32_t mask = 0;
  for (uint32_t p : targets) {
    while (base.count(p)) p = base[p];
    if (binding.count(p) && (!set.count(p) || set[p] == 0)) mask |= 1u << binding[p];
  }
  return mask;
}

vk::Access acc(VkBuffer b, VkDeviceSize begin, VkDeviceSize end, bool write) { return {b, begin, end, write}; }

}  // namespace

TEST_SUITE("vulkan_barriers") {

TEST_CASE("vulkan barriers: the tracker orders read-after-write, write-after-read and write-after-write, and nothing else") {
  const auto a = reinterpret_cast<VkBuffer>(uintptr_t{0x10}), b = reinterpret_cast<VkBuffer>(uintptr_t{0x20});
  vk::HazardTracker t;
  t.add({acc(a, 0, 256, false), acc(a, 256, 512, true)});
  CHECK_FALSE(t.conflicts({acc(a, 0, 256, false)}));        // read beside read
  CHECK_FALSE(t.conflicts({acc(a, 512, 1024, true)}));      // adjacent, not overlapping
  CHECK_FALSE(t.conflicts({acc(b, 0, 1024, true)}));        // another buffer
  CHECK(t.conflicts({acc(a, 300, 304, false)}));            // read after write
  CHECK(t.conflicts({acc(a, 252, 260, true)}));             // write after read (and write)
  CHECK(t.conflicts({acc(a, 511, 600, true)}));             // write after write
  CHECK(t.conflicts({acc(b, 0, 4, false), acc(a, 0, 4, true)}));  // any access of the command
  t.clear();
  CHECK_FALSE(t.conflicts({acc(a, 0, 1024, true)}));
}

TEST_CASE("vulkan barriers: the SPIR-V reflection counts as written exactly the bindings each embedded shader stores to") {
  const auto shaders = vk::embedded_shaders();
  REQUIRE(shaders.size() > 50);
  for (const vk::EmbeddedShader& s : shaders) {
    CAPTURE(s.name);
    const std::span<const uint32_t> code(s.code, s.words);
    const uint32_t written = vk::written_bindings(code, s.name), stored = stored_bindings(code);
    CHECK(written == stored);
    if (s.name != "ceiling_empty") CHECK(written != 0);  // else it does nothing (bench_roofline's dispatch-cost probe aside)
  }
  const uint32_t not_spirv[] = {1, 2, 3, 4, 5, 6};
  CHECK_THROWS_WITH_AS(vk::written_bindings(not_spirv, "bogus"), doctest::Contains("shader bogus"), BackendError);
}

TEST_CASE("vulkan barriers: a training step records far fewer barriers than dispatches and trains bit for bit as with a barrier after every command") {
  if (!test::vulkan_or_skip()) return;
  constexpr int64_t kImages = 64;
  Dataset train;
  const std::filesystem::path dir = GG_MNIST_DIR;
  if (!dir.empty() && std::filesystem::exists(dir)) {
    train = to_dataset(data::load_mnist(dir, "train", kImages));
  } else {
    train.item_shape = Shape{1, 28, 28};
    std::mt19937_64 rng(5);
    std::uniform_real_distribution<float> uni(0, 1);
    for (int64_t i = 0; i < kImages * 28 * 28; ++i) train.x.push_back(uni(rng));
    for (int64_t i = 0; i < kImages; ++i) train.y.push_back(static_cast<int32_t>(i % 10));
  }
  struct Run {
    uint64_t dispatches, barriers;
    std::vector<std::vector<float>> params;
  };
  auto run = [&](const char* mode) {
    test::ScopedEnv env("GRAPHGRAD_VULKAN_BARRIERS", mode);
    auto m = make_mnist_cnn(0);
    m->compile({.loss = "categorical_crossentropy", .optimizer = Adam{}, .backend = "vulkan"});
    const uint64_t d0 = vk::counters().dispatches, b0 = vk::counters().barriers;
    // Two steps of one batch size: one recording, run twice.
    m->fit(train, {.batch_size = 32, .epochs = 1, .shuffle = false, .verbose = 0});
    Run r{vk::counters().dispatches - d0, vk::counters().barriers - b0, {}};
    for (NodeId p : m->graph().parameters()) r.params.push_back(test::read_variable(m->backend(), p));
    return r;
  };
  const Run all = run("all"), hazards = run("hazards");
  MESSAGE("a training step: " << hazards.dispatches << " dispatches; barriers: " << hazards.barriers << " (hazards), "
                              << all.barriers << " (all)");
  CHECK(all.dispatches == hazards.dispatches);
  CHECK(all.barriers >= all.dispatches);
  CHECK(hazards.barriers * 4 < all.barriers * 3);  // at least a quarter fewer
  REQUIRE(all.params.size() == hazards.params.size());
  for (size_t i = 0; i < all.params.size(); ++i) {
    CAPTURE(i);
    CHECK(all.params[i] == hazards.params[i]);
  }
  test::ScopedEnv bad("GRAPHGRAD_VULKAN_BARRIERS", "some");
  Graph g(1);
  g.placeholder("x", Shape{1});
  CHECK_THROWS_WITH_AS(make_backend("vulkan", g), doctest::Contains("GRAPHGRAD_VULKAN_BARRIERS=\"some\""), BackendError);
}

}  // TEST_SUITE
