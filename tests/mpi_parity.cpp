// Data-parallel training computes what one process computes. Run under
// mpirun with 2 (or more) ranks:
//
//   mpi_parity MNIST_DIR [STEPS=20] [GLOBAL_BATCH=64] [BACKEND=cpu]
//
// Every rank trains the MNIST CNN (dropout on) for STEPS steps at the global
// batch through the MPI communicator; rank 0 then trains the same model alone
// (single-process communicator, the whole global batch per step) and compares
// every parameter. Checks:
//  1. each parameter agrees with the single-process run within kTolerance
//     (the two sum the batch's gradients in a different order; nothing else differs);
//  2. every rank holds bit-identical parameters (a checksum broadcast from rank 0);
//  3. the all-reduce nodes are in the graph and ran (bytes per step = the parameters' size).
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <string>
#include <vector>

#include <graphgrad/frontends/dataset.h>
#include <graphgrad/frontends/idx.h>
#include <graphgrad/frontends/mnist_model.h>

namespace {
using namespace gg;

// Adam's first steps move each weight by about lr = 1e-3; a different summation
// order moves the gradients by ~1e-7 relative, and Adam's m/sqrt(v) passes that on.
constexpr double kTolerance = 1e-5;

std::vector<std::vector<float>> parameters(const Sequential& m) {
  std::vector<std::vector<float>> out;
  for (NodeId p : m.graph().parameters()) {
    out.emplace_back(static_cast<size_t>(m.graph().node(p).shape.numel()));
    m.backend().read_variable(p, out.back());
  }
  return out;
}

uint64_t checksum(const std::vector<std::vector<float>>& params) {
  uint64_t h = 1469598103934665603ULL;  // FNV-1a over the bytes
  for (const auto& p : params)
    for (unsigned char c : std::string(reinterpret_cast<const char*>(p.data()), p.size() * 4)) h = (h ^ c) * 1099511628211ULL;
  return h;
}

std::string g_backend = "cpu";

std::unique_ptr<Sequential> trained(const Dataset& data, int batch, std::shared_ptr<Communicator> comm) {
  auto model = make_mnist_cnn(/*seed=*/7);
  CompileOptions co;
  co.backend = g_backend;
  co.backend_options.threads = 1;
  co.comm = std::move(comm);
  model->compile(co);
  FitOptions fo;
  fo.batch_size = batch;
  fo.epochs = 1;  // data holds exactly STEPS global batches
  fo.verbose = 0;
  model->fit(data, fo);
  return model;
}
}  // namespace

int main(int argc, char** argv) {
  auto world = mpi_world(&argc, &argv);
  const int rank = world->rank(), ranks = world->size();
  if (argc < 2) {
    if (rank == 0) std::fprintf(stderr, "usage: mpirun -np 2 mpi_parity MNIST_DIR [STEPS=20] [GLOBAL_BATCH=64] [BACKEND=cpu]\n");
    return 2;
  }
  const int steps = argc > 2 ? std::atoi(argv[2]) : 20, batch = argc > 3 ? std::atoi(argv[3]) : 64;
  if (argc > 4) g_backend = argv[4];
  if (ranks < 2 && rank == 0) std::printf("note: 1 rank; run under mpirun -np 2 to test data parallelism\n");
  // An odd number of samples in the last step (batch - 3) gives the ranks unequal shares once.
  const Dataset data = to_dataset(data::load_mnist(argv[1], "train", static_cast<size_t>(steps * batch - 3)));

  world->reset_stats();
  auto distributed = trained(data, batch, world);
  const auto stats = world->stats();
  const auto mine = parameters(*distributed);
  int failures = 0;

  // 2. Identical on every rank.
  uint64_t sum = checksum(mine), root_sum = sum;
  world->broadcast(std::as_writable_bytes(std::span<uint64_t>(&root_sum, 1)), 0);
  if (sum != root_sum) {
    std::printf("FAIL rank %d: parameter checksum %016llx differs from rank 0's %016llx\n", rank,
                static_cast<unsigned long long>(sum), static_cast<unsigned long long>(root_sum));
    ++failures;
  }

  // 3. The gradients went through the all-reduce, every step.
  int64_t param_bytes = 0;
  for (const auto& p : mine) param_bytes += static_cast<int64_t>(p.size()) * 4;
  if (ranks > 1 && stats.bytes != param_bytes * steps) {
    std::printf("FAIL rank %d: %lld bytes all-reduced in %d steps, expected %lld\n", rank, static_cast<long long>(stats.bytes),
                steps, static_cast<long long>(param_bytes * steps));
    ++failures;
  }

  // 1. The same as one process at the same global batch and seed.
  if (rank == 0) {
    const auto alone = parameters(*trained(data, batch, single_process_communicator()));
    double worst = 0, moved = 0;
    const auto initial = parameters(*[] {
      auto m = make_mnist_cnn(7);
      m->compile({.backend = g_backend});
      return m;
    }());
    for (size_t i = 0; i < mine.size(); ++i)
      for (size_t j = 0; j < mine[i].size(); ++j) {
        worst = std::max(worst, std::fabs(double(mine[i][j]) - double(alone[i][j])));
        moved = std::max(moved, std::fabs(double(alone[i][j]) - double(initial[i][j])));
      }
    std::printf("%s: %d ranks vs 1 process, %d steps at global batch %d: parameters within %.3g (tolerance %.0e); "
                "training moved them by up to %.3g; %.2f MiB all-reduced per step in %lld operations; checksum %016llx\n",
                g_backend.c_str(), ranks, steps, batch, worst, kTolerance, moved, double(param_bytes) / (1 << 20),
                static_cast<long long>(stats.operations), static_cast<unsigned long long>(root_sum));
    if (!(worst <= kTolerance)) {
      std::printf("FAIL: the %d-rank parameters differ from the single-process ones by %.3g\n", ranks, worst);
      ++failures;
    }
    if (!(moved > 100 * kTolerance)) {
      std::printf("FAIL: training barely moved the parameters (%.3g): the comparison would prove nothing\n", moved);
      ++failures;
    }
  }
  double total = failures;
  world->allreduce_sum(std::span<double>(&total, 1));
  if (rank == 0) std::printf("%s\n", total == 0 ? "mpi_parity: PASS" : "mpi_parity: FAIL");
  return total == 0 ? 0 : 1;
}
