// The communicator seam for data-parallel training: rank, size, all-reduce,
// broadcast, barrier. One process is the default (every collective is a no-op);
// the MPI implementation (mpi_communicator.cpp, the one file that includes
// mpi.h) joins the processes mpirun or srun started. Backends see only this
// interface: they execute the graph's allreduce nodes through it.
#pragma once
#include <graphgrad/graph/error.h>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>
#include <stdexcept>
#include <string>

namespace gg {

// A failed collective or a communicator that cannot be set up; the message says which.
class CommError : public Error {
 public:
  using Error::Error;
};

class Communicator {
 public:
  virtual ~Communicator() = default;
  virtual int rank() const = 0;
  virtual int size() const = 0;
  // "single process" or "MPI (Open MPI v4.1.4), 2 ranks on 1 host".
  virtual std::string describe() const = 0;

  // Blocking collectives, in place: every rank ends with the element-wise sum,
  // or with root's values.
  virtual void allreduce_sum(std::span<float> data) = 0;
  virtual void allreduce_sum(std::span<double> data) = 0;
  virtual void broadcast(std::span<std::byte> data, int root) = 0;
  void broadcast(std::span<float> data, int root) { broadcast(std::as_writable_bytes(data), root); }
  virtual void barrier() = 0;

  // A non-blocking sum in place over `data`, which must stay untouched until
  // wait(tag) returns. `tag` names the operation (one in flight per tag); every
  // rank must start the same tags in the same order.
  virtual void start_allreduce(int tag, std::span<float> data) = 0;
  virtual void wait(int tag) = 0;
  // Ends every process of the job (a rank that cannot go on must not leave the
  // others waiting in a collective). Single process: std::exit(code).
  [[noreturn]] virtual void abort(int code) = 0;

  // Time spent blocked in wait() and what went through start_allreduce(), since
  // the last reset: the part of communication the computation did not hide.
  struct Stats {
    double wait_seconds = 0;
    int64_t bytes = 0, operations = 0;
  };
  const Stats& stats() const { return stats_; }
  void reset_stats() { stats_ = {}; }

 protected:
  Stats stats_;
};

// One process: rank 0 of 1.
std::shared_ptr<Communicator> single_process_communicator();

// True when this build has the MPI communicator (GRAPHGRAD_MPI).
bool mpi_built();

// Initialises MPI (once; argc/argv as main got them) and returns the world
// communicator. Throws CommError when this build has no MPI.
std::shared_ptr<Communicator> mpi_world(int* argc, char*** argv);

// The number of processes a launcher (mpirun, mpiexec, srun) says it started,
// read from its environment; 1 when none did. A binary without MPI uses it to
// refuse to train N independent copies.
int launcher_world_size();

}  // namespace gg
