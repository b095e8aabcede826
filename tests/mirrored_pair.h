// A stand-in communicator for the data-parallel tests: rank 0 of 2 whose
// partner always contributes what rank 0 does, so every all-reduce doubles
// (a started one in wait(), as a real asynchronous one completes there). It
// records the order of starts and waits.
#pragma once
#include <doctest/doctest.h>

#include <cstdlib>
#include <map>
#include <span>
#include <string>
#include <vector>

#include <graphgrad/backends/comm/communicator.h>

namespace gg::test {

class MirroredPair final : public Communicator {
 public:
  int rank() const override { return 0; }
  int size() const override { return 2; }
  std::string describe() const override { return "mirrored pair (test)"; }
  void allreduce_sum(std::span<float> d) override { for (float& x : d) x *= 2; }
  void allreduce_sum(std::span<double> d) override { for (double& x : d) x *= 2; }
  void broadcast(std::span<std::byte>, int) override {}
  void barrier() override {}
  void start_allreduce(int tag, std::span<float> d) override {
    REQUIRE(!started.count(tag));
    started[tag] = d;
    events.push_back("start " + std::to_string(tag));
  }
  void wait(int tag) override {
    REQUIRE(started.count(tag));
    for (float& x : started[tag]) x *= 2;
    started.erase(tag);
    events.push_back("wait " + std::to_string(tag));
  }
  [[noreturn]] void abort(int code) override { FAIL("abort(" << code << ")"); std::abort(); }

  std::map<int, std::span<float>> started;
  std::vector<std::string> events;
};

}  // namespace gg::test
