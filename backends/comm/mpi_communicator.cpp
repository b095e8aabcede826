// The MPI communicator: the one file of graphgrad that includes mpi.h.
// MPI is initialised with MPI_THREAD_FUNNELED: only the thread that runs the
// graph calls MPI (kernels call the communicator outside their worker loops).
#include <mpi.h>

#include <chrono>
#include <cstdio>
#include <map>
#include <vector>

#include "communicator.h"

namespace gg {

namespace {

void check(int rc, const char* what) {
  if (rc == MPI_SUCCESS) return;
  char text[MPI_MAX_ERROR_STRING];
  int len = 0;
  MPI_Error_string(rc, text, &len);
  throw CommError(std::string("MPI: ") + what + " failed: " + std::string(text, static_cast<size_t>(len)));
}

class MpiWorld final : public Communicator {
 public:
  MpiWorld() {
    MPI_Comm_rank(MPI_COMM_WORLD, &rank_);
    MPI_Comm_size(MPI_COMM_WORLD, &size_);
    // Errors come back as return codes (turned into CommError) instead of
    // aborting inside MPI without a word.
    MPI_Comm_set_errhandler(MPI_COMM_WORLD, MPI_ERRORS_RETURN);
  }
  ~MpiWorld() override {
    // Leave no request behind (an exception may have skipped a wait).
    for (auto& [tag, r] : requests_) MPI_Wait(&r, MPI_STATUS_IGNORE);
    int finalized = 0;
    MPI_Finalized(&finalized);
    if (!finalized) MPI_Finalize();
  }
  int rank() const override { return rank_; }
  int size() const override { return size_; }
  std::string describe() const override {
    char version[MPI_MAX_LIBRARY_VERSION_STRING];
    int len = 0;
    MPI_Get_library_version(version, &len);
    std::string v(version, static_cast<size_t>(len));
    if (auto cut = v.find_first_of(",\n"); cut != std::string::npos) v.resize(cut);
    return "MPI (" + v + "), " + std::to_string(size_) + (size_ == 1 ? " rank" : " ranks");
  }
  void allreduce_sum(std::span<float> data) override {
    check(MPI_Allreduce(MPI_IN_PLACE, data.data(), count(data.size()), MPI_FLOAT, MPI_SUM, MPI_COMM_WORLD), "MPI_Allreduce");
  }
  void allreduce_sum(std::span<double> data) override {
    check(MPI_Allreduce(MPI_IN_PLACE, data.data(), count(data.size()), MPI_DOUBLE, MPI_SUM, MPI_COMM_WORLD), "MPI_Allreduce");
  }
  void broadcast(std::span<std::byte> data, int root) override {
    check(MPI_Bcast(data.data(), count(data.size()), MPI_BYTE, root, MPI_COMM_WORLD), "MPI_Bcast");
  }
  void barrier() override { check(MPI_Barrier(MPI_COMM_WORLD), "MPI_Barrier"); }

  void start_allreduce(int tag, std::span<float> data) override {
    if (requests_.count(tag)) throw CommError("all-reduce " + std::to_string(tag) + " started twice without a wait");
    MPI_Request r;
    check(MPI_Iallreduce(MPI_IN_PLACE, data.data(), count(data.size()), MPI_FLOAT, MPI_SUM, MPI_COMM_WORLD, &r),
          "MPI_Iallreduce");
    requests_.emplace(tag, r);
    stats_.bytes += static_cast<int64_t>(data.size_bytes());
    ++stats_.operations;
  }
  void wait(int tag) override {
    auto it = requests_.find(tag);
    if (it == requests_.end()) throw CommError("all-reduce " + std::to_string(tag) + " waited for but never started");
    const auto t0 = std::chrono::steady_clock::now();
    MPI_Request r = it->second;
    requests_.erase(it);
    check(MPI_Wait(&r, MPI_STATUS_IGNORE), "MPI_Wait (all-reduce)");
    stats_.wait_seconds += std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  }
  bool pending() const override { return !requests_.empty(); }
  void progress() override {
    // A finished request becomes MPI_REQUEST_NULL, which wait() then passes at once.
    int flag = 0;
    for (auto& [tag, r] : requests_) check(MPI_Test(&r, &flag, MPI_STATUS_IGNORE), "MPI_Test (all-reduce)");
  }
  [[noreturn]] void abort(int code) override {
    std::fflush(stdout), std::fflush(stderr);
    MPI_Abort(MPI_COMM_WORLD, code);
    std::exit(code);  // MPI_Abort does not return; this keeps [[noreturn]] honest
  }

 private:
  static int count(size_t n) {
    if (n > static_cast<size_t>(INT32_MAX)) throw CommError("MPI: a message of " + std::to_string(n) + " elements is too long");
    return static_cast<int>(n);
  }
  int rank_ = 0, size_ = 1;
  std::map<int, MPI_Request> requests_;
};

}  // namespace

bool mpi_built() { return true; }

std::shared_ptr<Communicator> mpi_world(int* argc, char*** argv) {
  static std::weak_ptr<Communicator> world;
  if (auto w = world.lock()) return w;
  int initialized = 0;
  MPI_Initialized(&initialized);
  if (!initialized) {
    int provided = 0;
    check(MPI_Init_thread(argc, argv, MPI_THREAD_FUNNELED, &provided), "MPI_Init_thread");
    if (provided < MPI_THREAD_FUNNELED) throw CommError("MPI: the library cannot give MPI_THREAD_FUNNELED");
  }
  auto w = std::make_shared<MpiWorld>();
  world = w;
  return w;
}

}  // namespace gg
