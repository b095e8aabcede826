// The MPI communicator: the one file of graphgrad that includes mpi.h.
//
// Non-blocking all-reduces run on a communication thread: MPI progresses a
// non-blocking collective only inside MPI calls, and the graph's big nodes
// (a convolution's backward pass) make none for tens of milliseconds, so an
// MPI_Iallreduce started before them would still be waiting at the end. The
// thread runs each started all-reduce, in start order (the same on every
// rank), as a blocking MPI_Allreduce while the graph goes on. Every MPI call,
// from either thread, holds one mutex (MPI_THREAD_SERIALIZED); a blocking
// collective on the graph's thread first waits until the started ones are done,
// so all ranks see the collectives in one order.
#include <mpi.h>

#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <deque>
#include <mutex>
#include <set>
#include <thread>
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
    if (size_ > 1) worker_ = std::thread([this] { run_started(); });
  }
  ~MpiWorld() override {
    {
      std::lock_guard lock(queue_mutex_);
      stopping_ = true;
    }
    queue_cv_.notify_all();
    if (worker_.joinable()) worker_.join();
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
    const auto lock = exclusive();
    check(MPI_Allreduce(MPI_IN_PLACE, data.data(), count(data.size()), MPI_FLOAT, MPI_SUM, MPI_COMM_WORLD), "MPI_Allreduce");
  }
  void allreduce_sum(std::span<double> data) override {
    const auto lock = exclusive();
    check(MPI_Allreduce(MPI_IN_PLACE, data.data(), count(data.size()), MPI_DOUBLE, MPI_SUM, MPI_COMM_WORLD), "MPI_Allreduce");
  }
  void broadcast(std::span<std::byte> data, int root) override {
    const auto lock = exclusive();
    check(MPI_Bcast(data.data(), count(data.size()), MPI_BYTE, root, MPI_COMM_WORLD), "MPI_Bcast");
  }
  void barrier() override {
    // Polled with sleeps: MPI_Barrier spins, and a rank waiting here (while
    // rank 0 measures inference, say) would take a core from the others.
    const auto lock = exclusive();
    MPI_Request r;
    check(MPI_Ibarrier(MPI_COMM_WORLD, &r), "MPI_Ibarrier");
    for (int done = 0;;) {
      check(MPI_Test(&r, &done, MPI_STATUS_IGNORE), "MPI_Test (barrier)");
      if (done) break;
      std::this_thread::sleep_for(std::chrono::microseconds(500));
    }
  }

  void start_allreduce(int tag, std::span<float> data) override {
    count(data.size());
    {
      std::lock_guard lock(queue_mutex_);
      if (!unwaited_.insert(tag).second) throw CommError("all-reduce " + std::to_string(tag) + " started twice without a wait");
      in_flight_.insert(tag);
      queue_.push_back({tag, data});
    }
    queue_cv_.notify_all();
    stats_.bytes += static_cast<int64_t>(data.size_bytes());
    ++stats_.operations;
  }
  void wait(int tag) override {
    const auto t0 = std::chrono::steady_clock::now();
    std::unique_lock lock(queue_mutex_);
    if (!unwaited_.erase(tag)) throw CommError("all-reduce " + std::to_string(tag) + " waited for but never started");
    done_cv_.wait(lock, [&] { return !in_flight_.count(tag) || !failure_.empty(); });
    if (!failure_.empty()) throw CommError(failure_);
    stats_.wait_seconds += std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  }
  [[noreturn]] void abort(int code) override {
    std::fflush(stdout), std::fflush(stderr);
    MPI_Abort(MPI_COMM_WORLD, code);  // from any thread: the job is ending
    std::exit(code);                  // MPI_Abort does not return; this keeps [[noreturn]] honest
  }

 private:
  struct Started {
    int tag;
    std::span<float> data;
  };
  static int count(size_t n) {
    if (n > static_cast<size_t>(INT32_MAX)) throw CommError("MPI: a message of " + std::to_string(n) + " elements is too long");
    return static_cast<int>(n);
  }
  // The MPI lock for a blocking collective, taken once the started all-reduces are done.
  std::unique_lock<std::mutex> exclusive() {
    {
      std::unique_lock lock(queue_mutex_);
      done_cv_.wait(lock, [&] { return in_flight_.empty() || !failure_.empty(); });
      if (!failure_.empty()) throw CommError(failure_);
    }
    return std::unique_lock(mpi_mutex_);
  }
  // The communication thread: each started all-reduce in order, blocking.
  void run_started() {
    for (;;) {
      Started job;
      {
        std::unique_lock lock(queue_mutex_);
        queue_cv_.wait(lock, [&] { return stopping_ || !queue_.empty(); });
        if (queue_.empty()) return;  // stopping
        job = queue_.front();
        queue_.pop_front();
      }
      std::string error;
      {
        std::lock_guard mpi(mpi_mutex_);
        const int rc = MPI_Allreduce(MPI_IN_PLACE, job.data.data(), static_cast<int>(job.data.size()), MPI_FLOAT, MPI_SUM,
                                     MPI_COMM_WORLD);
        if (rc != MPI_SUCCESS) {
          char text[MPI_MAX_ERROR_STRING];
          int len = 0;
          MPI_Error_string(rc, text, &len);
          error = "MPI: all-reduce " + std::to_string(job.tag) + " failed: " + std::string(text, static_cast<size_t>(len));
        }
      }
      {
        std::lock_guard lock(queue_mutex_);
        in_flight_.erase(job.tag);
        if (!error.empty() && failure_.empty()) failure_ = error;
      }
      done_cv_.notify_all();
    }
  }

  int rank_ = 0, size_ = 1;
  std::mutex mpi_mutex_;  // held around every MPI call
  mutable std::mutex queue_mutex_;
  std::condition_variable queue_cv_, done_cv_;
  std::deque<Started> queue_;
  std::set<int> in_flight_;  // started, not yet finished
  std::set<int> unwaited_;   // started, not yet waited for
  std::string failure_;      // the communication thread's first error
  bool stopping_ = false;
  std::thread worker_;
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
    check(MPI_Init_thread(argc, argv, MPI_THREAD_SERIALIZED, &provided), "MPI_Init_thread");
    if (provided < MPI_THREAD_SERIALIZED)
      throw CommError("MPI: the library cannot give MPI_THREAD_SERIALIZED (calls from two threads, one at a time)");
  }
  auto w = std::make_shared<MpiWorld>();
  world = w;
  return w;
}

}  // namespace gg
