// All-reduce time against message size, through graphgrad's Communicator (the
// same MPI_Allreduce the training step uses). Run under mpirun:
//
//   mpirun -np 2 <build>/bin/bench_allreduce [--json] [MAX_MIB=64]
//
// For each size (4 KiB .. MAX_MIB, x4), every rank does warm-ups, then timed
// blocking all-reduces with the ranks lined up before each; rank 0 prints the median
// and the bus bandwidth a ring all-reduce implies (2(N-1)/N x bytes / time);
// scripts/mpi_projection.py turns the JSON into a latency and a bandwidth and
// projects the training step onto bigger clusters. Not Google Benchmark: its
// per-process iteration counts would differ between ranks, and a collective
// needs every rank to run it the same number of times.
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include <graphgrad/backends/comm/communicator.h>

int main(int argc, char** argv) {
  auto world = gg::mpi_world(&argc, &argv);
  bool json = false;
  double max_mib = 64;
  for (int i = 1; i < argc; ++i) {
    if (std::strcmp(argv[i], "--json") == 0) json = true;
    else max_mib = std::atof(argv[i]);
  }
  const int ranks = world->size();
  const bool root = world->rank() == 0;
  if (root && !json) std::printf("all-reduce (sum, f32) over %s\n%12s %12s %14s\n", world->describe().c_str(), "bytes", "median us", "bus GB/s");
  std::string rows;
  for (size_t bytes = 4096; bytes <= static_cast<size_t>(max_mib * (1 << 20)); bytes *= 4) {
    std::vector<float> data(bytes / 4, 1.0f);
    const int reps = bytes <= (1 << 20) ? 200 : bytes <= (16 << 20) ? 30 : 10;
    for (int i = 0; i < 5; ++i) world->allreduce_sum(data);
    std::vector<double> us;
    // Line the ranks up with a one-float all-reduce, not barrier(): that one
    // polls with sleeps (to leave the cores to the others), so ranks leave it
    // up to half a millisecond apart, and the timed all-reduce would measure
    // the skew; a blocking all-reduce spins, and releases them together.
    std::vector<float> line_up(1, 0.0f);
    for (int i = 0; i < reps; ++i) {
      world->allreduce_sum(line_up);
      const auto t0 = std::chrono::steady_clock::now();
      world->allreduce_sum(data);
      us.push_back(std::chrono::duration<double, std::micro>(std::chrono::steady_clock::now() - t0).count());
    }
    // Each repetition's time averaged over the ranks, then the median repetition.
    world->allreduce_sum(std::span<double>(us.data(), us.size()));
    std::sort(us.begin(), us.end());
    const double median = us[us.size() / 2] / ranks;
    const double bus = 2.0 * (ranks - 1) / ranks * double(bytes) / (median * 1e-6) / 1e9;
    if (root && !json) std::printf("%12zu %12.1f %14.2f\n", bytes, median, bus);
    rows += (rows.empty() ? "" : ",") + std::string("{\"bytes\":") + std::to_string(bytes) + ",\"median_us\":" + std::to_string(median) +
            ",\"bus_gbytes_per_s\":" + std::to_string(bus) + "}";
  }
  if (root && json) std::printf("{\"ranks\":%d,\"communicator\":\"%s\",\"sizes\":[%s]}\n", ranks, world->describe().c_str(), rows.c_str());
  return 0;
}
