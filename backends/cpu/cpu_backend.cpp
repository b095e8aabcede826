#include "cpu_backend.h"

#include <cblas.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <new>
#include <utility>
#include <thread>
#include <unordered_map>

#include <graphgrad/backends/executable_util.h>
#include <graphgrad/backends/kernel_registry.h>
#include <graphgrad/backends/feeds.h>
#include <graphgrad/backends/fusion.h>
#include <graphgrad/backends/memory_plan.h>
#include <graphgrad/graph/op.h>
#include <graphgrad/ops/op_table.h>

#include "cpu_isa.h"
#include "kernels.h"

namespace gg::cpu {

int default_threads() { return std::max(1u, std::thread::hardware_concurrency()); }

namespace {

// The pool's size: GRAPHGRAD_CPU_THREADS when set (backend.h), else what was asked, else all cores.
int pool_threads(int requested) {
  // (A throwing initializer leaves the static unset: every backend names the bad value.)
  static const int forced = [] {
    const char* v = std::getenv("GRAPHGRAD_CPU_THREADS");
    if (!v || !*v) return 0;
    char* end = nullptr;
    const long n = std::strtol(v, &end, 10);
    if (*end || n < 1 || n > 1024)
      throw BackendError("cpu: GRAPHGRAD_CPU_THREADS=\"" + std::string(v) + "\" is not a thread count in [1, 1024]");
    return static_cast<int>(n);
  }();
  if (forced) return forced;
  return requested > 0 ? requested : default_threads();
}

// 64-byte aligned float storage (cache lines, AVX-512 loads).
struct AlignedBuffer {
  float* data = nullptr;
  size_t floats = 0;
  AlignedBuffer() = default;
  explicit AlignedBuffer(size_t n) : floats(n) {
    if (n) data = static_cast<float*>(::operator new[](n * sizeof(float), std::align_val_t(64)));
  }
  AlignedBuffer(AlignedBuffer&& o) noexcept : data(o.data), floats(o.floats) { o.data = nullptr, o.floats = 0; }
  AlignedBuffer& operator=(AlignedBuffer&& o) noexcept {
    std::swap(data, o.data), std::swap(floats, o.floats);
    return *this;
  }
  ~AlignedBuffer() {
    if (data) ::operator delete[](data, std::align_val_t(64));
  }
};

class CpuBackend;

struct Step {
  const Node* node;
  const KernelEntry* kernel;
  bool relu_epilogue = false;  // conv2d: relu applied as the output is written
  bool skip = false;           // a relu whose conv already applied it, in place
};

class CpuExecutable final : public Executable {
 public:
  CpuExecutable(CpuBackend& backend, std::vector<NodeId> targets, int64_t max_batch);
  void run(std::span<const Feed> feeds) override;
  void fetch(NodeId target, std::span<float> out) const override;
  int64_t batch() const override { return batch_; }
  const std::vector<NodeId>& inputs() const override { return placeholders_; }

 private:
  CpuBackend& backend_;
  const Graph& g_;
  std::vector<NodeId> targets_;
  std::vector<NodeId> placeholders_;
  std::vector<const Feed*> bound_;  // per placeholder, during run()
  std::vector<Step> steps_;
  void bind_slots();

  std::vector<void*> slot_;  // per node id: where its value lives during a run
  // Computed values live in the backend's workspace (shared by its executables)
  // at `offset_`, except the targets, which must outlive the run for fetch():
  // they live in `own_` at `own_offset_`. Byte offsets, -1 where not placed.
  std::vector<int64_t> offset_, own_offset_;
  AlignedBuffer own_;
  uint64_t bound_generation_ = 0;  // the workspace generation slot_ points into
  int64_t max_batch_;
  int64_t batch_ = 0;
  // GRAPHGRAD_PROFILE=1: per-node wall time, printed to stderr when the executable goes away.
  std::vector<double> profile_ms_;
  int64_t profile_runs_ = 0;

 public:
  ~CpuExecutable() override;
};

class CpuBackend final : public Backend {
 public:
  CpuBackend(const Graph& graph, const BackendOptions& opt)
      : graph_(graph), pool_(pool_threads(opt.threads)),
        comm_(opt.comm ? opt.comm : single_process_communicator()) {
    // Our pool owns the cores; OpenBLAS runs single-threaded inside each worker.
    openblas_set_num_threads(1);
    // A bad GRAPHGRAD_CPU_ISA fails here, naming the variable, not at the first conv.
    active_isa();
    for (NodeId id : graph_.nodes_with_role(OpRole::parameter)) init_value(id);
    for (NodeId id : graph_.nodes_with_role(OpRole::state)) init_value(id);
    for (NodeId id : graph_.nodes_with_role(OpRole::constant)) init_value(id);
  }
  std::string name() const override { return "cpu"; }
  const Graph& graph() const override { return graph_; }
  std::unique_ptr<Executable> compile(const std::vector<NodeId>& targets, int64_t max_batch) override {
    return std::make_unique<CpuExecutable>(*this, targets, max_batch);
  }
  void read_variable(NodeId node, std::span<float> out) const override {
    const AlignedBuffer& b = value(node);
    check_size(node, out.size(), b.floats);
    std::copy(b.data, b.data + b.floats, out.begin());
  }
  void write_variable(NodeId node, std::span<const float> values) override {
    AlignedBuffer& b = value(node);
    check_size(node, values.size(), b.floats);
    std::copy(values.begin(), values.end(), b.data);
  }

  ThreadPool& pool() { return pool_; }
  Communicator& comm() { return *comm_; }
  float* value_ptr(NodeId id) { return value(id).data; }

  // One workspace (activation arena + kernel scratch) for every executable of
  // this backend, as big as the largest needs: they run one at a time, so the
  // training, evaluation and inference executables need not each hold their
  // own. Growing it frees the old one and bumps the generation, which tells
  // each executable to re-point its values before its next run.
  struct Workspace {
    AlignedBuffer arena, scratch;
    uint64_t generation = 1;
  };
  void reserve_workspace(size_t arena_floats, size_t scratch_floats) {
    if (arena_floats <= workspace_.arena.floats && scratch_floats <= workspace_.scratch.floats) return;
    // Release first, then allocate: never hold both at once.
    const size_t arena = std::max(arena_floats, workspace_.arena.floats);
    const size_t scratch = std::max(scratch_floats, workspace_.scratch.floats);
    workspace_.arena = AlignedBuffer(), workspace_.scratch = AlignedBuffer();
    workspace_.arena = AlignedBuffer(arena), workspace_.scratch = AlignedBuffer(scratch);
    ++workspace_.generation;
  }
  const Workspace& workspace() const { return workspace_; }

 private:
  void init_value(NodeId id) {
    const auto& v = graph_.initial_value(id);
    AlignedBuffer b(v.size());
    std::copy(v.begin(), v.end(), b.data);
    values_.emplace(id, std::move(b));
  }
  AlignedBuffer& value(NodeId id) { return const_cast<AlignedBuffer&>(std::as_const(*this).value(id)); }
  const AlignedBuffer& value(NodeId id) const {
    auto it = values_.find(id);
    if (it == values_.end()) throw BackendError("cpu: " + graph_.describe(id) + " is not a variable of this backend");
    return it->second;
  }
  void check_size(NodeId id, size_t got, size_t want) const {
    if (got != want)
      throw BackendError("cpu: " + graph_.describe(id) + " holds " + std::to_string(want) + " values, not " +
                         std::to_string(got));
  }

  Graph graph_;  // a private copy: the caller may keep building its own
  ThreadPool pool_;
  std::shared_ptr<Communicator> comm_;
  Workspace workspace_;
  std::unordered_map<NodeId, AlignedBuffer> values_;
};

CpuExecutable::CpuExecutable(CpuBackend& backend, std::vector<NodeId> targets, int64_t max_batch)
    : backend_(backend), g_(backend.graph()), targets_(std::move(targets)), max_batch_(max_batch) {
  if (max_batch < 1) throw BackendError("cpu: compile needs max_batch >= 1, got " + std::to_string(max_batch));
  slot_.assign(static_cast<size_t>(g_.size()), nullptr);
  const std::vector<NodeId> order = g_.schedule(targets_);
  size_t scratch = 0;
  for (NodeId id : order) {
    const Node& n = g_.node(id);
    switch (n.op->role()) {
      case OpRole::input: placeholders_.push_back(id); continue;
      case OpRole::parameter:
      case OpRole::state:
      case OpRole::constant: slot_[static_cast<size_t>(id)] = backend.value_ptr(id); continue;
      case OpRole::compute: break;
    }
    const KernelEntry* k = find_kernel(n.op->id());
    if (!k) throw BackendError("cpu: no kernel for op '" + std::string(n.op->name()) + "' (node " + g_.describe(id) + ")");
    if (n.inputs.size() > static_cast<size_t>(kMaxInputs))
      throw BackendError("cpu: " + g_.describe(id) + " has more inputs than a kernel takes");
    if (k->scratch) scratch = std::max(scratch, k->scratch(g_, n, max_batch, backend.pool().size()));
    steps_.push_back({&n, k});
  }
  auto computed = [&](const Node& n) { return n.op->role() == OpRole::compute && find_kernel(n.op->id())->run; };
  auto alias_of = [&](const Node& n) { return n.op->role() == OpRole::compute && !computed(n) ? n.inputs[0] : kNoNode; };
  auto bytes = [&](const Node& n) -> int64_t { return computed(n) ? n.shape.numel(max_batch) * 4 : 0; };  // f32, i32: 4
  // The values the targets are (through reshapes): kept in own_, out of the shared workspace.
  const std::vector<bool> own = target_values(g_, targets_, alias_of);
  const MemoryPlan plan = plan_memory(
      g_, order, targets_, [&](const Node& n) { return own[static_cast<size_t>(n.id)] ? 0 : bytes(n); }, alias_of, 64,
      [&](const Node& n) { return computed(n) && find_kernel(n.op->id())->in_place; });
  offset_ = plan.offset;
  // conv2d -> relu, the relu its only reader (fusion.h): the conv applies the
  // relu as it writes; the relu step is dropped where the planner let it write
  // over the conv's output (relu is in-place), else it runs as a copy.
  std::vector<const Node*> nodes;
  for (const Step& s : steps_) nodes.push_back(s.node);
  std::vector<StepFusion> fusion = fuse_conv_relu(g_, nodes, own);
  skip_fused_relus(g_, fusion, offset_);
  for (Step& s : steps_) {
    s.relu_epilogue = fusion[static_cast<size_t>(s.node->id)].relu_epilogue;
    s.skip = fusion[static_cast<size_t>(s.node->id)].skip;
  }
  own_offset_.assign(static_cast<size_t>(g_.size()), -1);
  int64_t own_bytes = 0;
  for (NodeId id : order)
    if (own[static_cast<size_t>(id)] && bytes(g_.node(id)) > 0) {
      own_offset_[static_cast<size_t>(id)] = own_bytes;
      own_bytes += (bytes(g_.node(id)) + 63) / 64 * 64;
    }
  own_ = AlignedBuffer(static_cast<size_t>(own_bytes / 4));
  backend.reserve_workspace(static_cast<size_t>(plan.total_bytes / 4), scratch);
  if (profiling_requested()) profile_ms_.assign(steps_.size(), 0.0);
}

void CpuExecutable::bind_slots() {
  const auto& ws = backend_.workspace();
  for (const Step& s : steps_) {
    const auto id = static_cast<size_t>(s.node->id);
    if (!s.kernel->run) continue;  // an alias: bound during the run
    slot_[id] = own_offset_[id] >= 0 ? reinterpret_cast<char*>(own_.data) + own_offset_[id]
                                     : reinterpret_cast<char*>(ws.arena.data) + offset_[id];
  }
  bound_generation_ = ws.generation;
}

void CpuExecutable::run(std::span<const Feed> feeds) {
  batch_ = bind_feeds(g_, placeholders_, feeds, max_batch_, "cpu", bound_);
  for (size_t i = 0; i < placeholders_.size(); ++i) slot_[static_cast<size_t>(placeholders_[i])] = const_cast<void*>(bound_[i]->data);

  if (bound_generation_ != backend_.workspace().generation) bind_slots();

  KernelArgs a;
  a.graph = &g_;
  a.batch = batch_;
  a.pool = &backend_.pool();
  a.scratch = backend_.workspace().scratch.data;
  a.comm = &backend_.comm();
  const bool profiling = !profile_ms_.empty();
  profile_runs_ += profiling;
  for (size_t k = 0; k < steps_.size(); ++k) {
    const Step& s = steps_[k];
    const Node& n = *s.node;
    if (!s.kernel->run) {  // alias: the same bytes under another shape
      slot_[static_cast<size_t>(n.id)] = slot_[static_cast<size_t>(n.inputs[0])];
      continue;
    }
    if (s.skip) continue;
    a.node = &n;
    a.relu_epilogue = s.relu_epilogue;
    for (size_t i = 0; i < n.inputs.size(); ++i) a.in[i] = slot_[static_cast<size_t>(n.inputs[i])];
    a.out = static_cast<float*>(slot_[static_cast<size_t>(n.id)]);
    if (!profiling) {
      s.kernel->run(a);
    } else {
      const auto t0 = std::chrono::steady_clock::now();
      s.kernel->run(a);
      profile_ms_[k] += std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
    }
  }
}

CpuExecutable::~CpuExecutable() {
  std::vector<const Node*> nodes;
  for (const Step& s : steps_) nodes.push_back(s.node);
  print_profile("cpu profile", nodes, profile_ms_, profile_runs_);
}

void CpuExecutable::fetch(NodeId target, std::span<float> out) const {
  if (std::find(targets_.begin(), targets_.end(), target) == targets_.end())
    throw BackendError("cpu: " + g_.describe(target) + " is not a target of this executable");
  const Node& n = g_.node(target);
  const int64_t count = n.shape.numel(batch_);
  if (static_cast<int64_t>(out.size()) != count)
    throw BackendError("cpu: fetching " + g_.describe(target) + " needs " + std::to_string(count) + " floats, got " +
                       std::to_string(out.size()));
  const void* src = slot_[static_cast<size_t>(target)];
  if (!src) throw BackendError("cpu: " + g_.describe(target) + " has not been computed; call run() first");
  copy_fetched(n.dtype, src, out);
}

}  // namespace

namespace {
KernelRegistry<KernelEntry>& registry() {
  static KernelRegistry<KernelEntry> r{conv_kernels(), dense_kernels(), pool_kernels(), avg_pool_kernels(), elementwise_kernels(),
                                       eltwise_def_kernels(), reduce_kernels(), shape_kernels(), softmax_kernels(), loss_kernels(), optimizer_kernels(), batch_norm_kernels(),
                                       comm_kernels()};
  return r;
}
}  // namespace

const KernelEntry* find_kernel(OpId op) { return registry().find(op); }
std::vector<OpId> missing_kernels() { return registry().missing(); }
void add_kernel(const KernelEntry& e) { registry().add(e); }

std::unique_ptr<Backend> make_cpu_backend(const Graph& graph, const BackendOptions& options) {
  registry().require_complete("cpu");
  return std::make_unique<CpuBackend>(graph, options);
}

}  // namespace gg::cpu
