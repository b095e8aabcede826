// CPU-vs-Vulkan parity of every case of the op test table (op_cases.cpp):
// forward and gradients, at batch 1 and 3, broadcasting operands included.
#include <doctest/doctest.h>

#include <graphgrad/backends/backend.h>

#include "op_cases.h"

using namespace gg;

TEST_SUITE("backend_parity") {

TEST_CASE("parity every op-table case (op_cases.cpp), forward and gradients") {
  if (const auto why = test::backend_unavailable("vulkan")) {
    if (test::vulkan_required()) FAIL(test::kRequireVulkanEnv << " is set, but the vulkan backend fails: " << *why);
    MESSAGE(test::kParitySkipMarker << ": no vulkan backend here (" << *why << ")");
    return;
  }
  for (const test::OpCase& c : test::op_cases()) {
    const test::ParityResult r = test::run_parity(c.parity, "vulkan", "cpu");
    INFO(c.parity.name << ": " << r.report());
    CHECK(r.ok());
  }
}

}  // TEST_SUITE
