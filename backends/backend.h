// The backend interface. A Backend is bound to one graph and owns its
// variables (parameters and optimizer state), which persist between runs.
// compile() turns a set of target nodes into an Executable with its buffers
// planned and bound; run() feeds a batch and executes every scheduled node.
#pragma once
#include <graphgrad/graph/error.h>
#include <memory>
#include <span>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include <graphgrad/backends/comm/communicator.h>
#include <graphgrad/graph/graph.h>
#include <graphgrad/graph/op.h>

namespace gg {

// A backend failure (no kernel for an op, a missing device, a bad feed); the
// message names the node, feed or device at fault.
class BackendError : public Error {
 public:
  using Error::Error;
};

// A host tensor handed to run(): `data` points at shape.numel() elements of dtype.
struct Feed {
  NodeId node = kNoNode;
  Shape shape;  // concrete: the batch dimension resolved
  DType dtype = DType::f32;
  const void* data = nullptr;
};

struct BackendOptions {
  // CPU worker threads; 0: all cores. GRAPHGRAD_CPU_THREADS=n overrides it for
  // every CPU backend of the process (the sanitizer stages run whole suites at 1,
  // 2 and 4 threads with it); results do not depend on the count.
  int threads = 0;
  std::string device;       // device index or name substring (GPU backends)
  // Executes the graph's allreduce nodes (data-parallel training); null: one process.
  std::shared_ptr<Communicator> comm;
};

class Executable {
 public:
  virtual ~Executable() = default;
  // Feeds every placeholder the targets depend on (all with the same batch size,
  // at most the compiled maximum) and runs the schedule once.
  virtual void run(std::span<const Feed> feeds) = 0;
  // Copies a target's value from the last run into `out`, which must hold
  // exactly its element count at that run's batch size.
  virtual void fetch(NodeId target, std::span<float> out) const = 0;
  // The batch size of the last run.
  virtual int64_t batch() const = 0;
  // The placeholders run() must be fed, exactly these: a feed for any other
  // node is an error, not ignored.
  virtual const std::vector<NodeId>& inputs() const = 0;
};

class Backend {
 public:
  virtual ~Backend() = default;
  virtual std::string name() const = 0;
  virtual const Graph& graph() const = 0;
  // Plans and binds everything needed to compute `targets` (and run any update
  // nodes among them) for batches of up to max_batch items.
  virtual std::unique_ptr<Executable> compile(const std::vector<NodeId>& targets, int64_t max_batch) = 0;
  // Parameters and optimizer state, by node id; sizes must match exactly.
  virtual void read_variable(NodeId node, std::span<float> out) const = 0;
  virtual void write_variable(NodeId node, std::span<const float> values) = 0;
  // Waits for queued work (no-op on the CPU).
  virtual void synchronize() {}
};

// The registry: "cpu" (and "vulkan" when built). Throws BackendError naming the
// backend when it is unknown or not built, listing the ones that are.
std::unique_ptr<Backend> make_backend(std::string_view name, const Graph& graph, const BackendOptions& options = {});
std::vector<std::string> backend_names();
// The built-in compute ops (ops/op_table.h) a backend has no kernel for: empty
// for every backend that is built (the coverage test checks it).
std::vector<OpId> ops_without_kernel(std::string_view backend);

// One line per device a backend can use ("cpu": this machine); empty with
// `why` set when there are none (no Vulkan loader or driver, not built).
std::vector<std::string> list_devices(std::string_view backend, std::string* why = nullptr);

}  // namespace gg
