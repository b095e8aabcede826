#include "communicator.h"

#include <cstdlib>
#include <string>

namespace gg {

namespace {
class SingleProcess final : public Communicator {
 public:
  int rank() const override { return 0; }
  int size() const override { return 1; }
  std::string describe() const override { return "single process"; }
  void allreduce_sum(std::span<float>) override {}
  void allreduce_sum(std::span<double>) override {}
  void broadcast(std::span<std::byte>, int) override {}
  void barrier() override {}
  void start_allreduce(int, std::span<float> data) override {
    stats_.bytes += static_cast<int64_t>(data.size_bytes());
    ++stats_.operations;
  }
  void wait(int) override {}
  [[noreturn]] void abort(int code) override { std::exit(code); }
};
}  // namespace

std::shared_ptr<Communicator> single_process_communicator() { return std::make_shared<SingleProcess>(); }

int launcher_world_size() {
  // Open MPI's mpirun; MPICH's Hydra and srun with PMI (PMI_SIZE). Not
  // SLURM_NTASKS: a batch script sees it and still runs one process.
  for (const char* var : {"OMPI_COMM_WORLD_SIZE", "PMI_SIZE"}) {
    const char* v = std::getenv(var);
    if (!v || !*v) continue;
    char* end = nullptr;
    const long n = std::strtol(v, &end, 10);
    if (*end == '\0' && n > 0) return static_cast<int>(n);
  }
  return 1;
}

#ifndef GRAPHGRAD_HAS_MPI
bool mpi_built() { return false; }
std::shared_ptr<Communicator> mpi_world(int*, char***) {
  throw CommError("this graphgrad was built without MPI (configure with -DGRAPHGRAD_MPI=ON after installing "
                  "libopenmpi-dev openmpi-bin)");
}
#endif

}  // namespace gg
