// The CPU side of backends/user_kernels.h: a user's kernel is reached through
// one trampoline entry per op (kernel entries are plain function pointers);
// the trampoline finds the user's function by the node's op id.
#include <graphgrad/backends/backend.h>
#include <graphgrad/backends/user_kernels.h>

#include <map>
#include <mutex>

#include "kernels.h"

namespace gg {
namespace {

struct UserCpu {
  std::mutex mutex;
  std::map<OpId, UserCpuKernel> kernels;
};
UserCpu& user_cpu() {
  static UserCpu u;
  return u;
}

void trampoline(const cpu::KernelArgs& a) {
  const UserCpuKernel* k = nullptr;
  {
    UserCpu& u = user_cpu();
    std::lock_guard lock(u.mutex);
    k = &u.kernels.at(a.node->op->id());
  }
  UserCpuArgs args;
  static_cast<NodeView&>(args) = a;
  for (size_t i = 0; i < a.node->inputs.size(); ++i) args.inputs.push_back(static_cast<const float*>(a.in[i]));
  args.out = a.out;
  cpu::ThreadPool* pool = a.pool;
  args.parallel_for = [pool](int64_t n, const std::function<void(int64_t, int64_t)>& fn, int64_t min_chunk) {
    pool->parallel_for(n, [&fn](int64_t b, int64_t e, int) { fn(b, e); }, min_chunk);
  };
  (*k)(args);
}

}  // namespace

void register_cpu_kernel(OpId op, UserCpuKernel kernel) {
  {
    UserCpu& u = user_cpu();
    std::lock_guard lock(u.mutex);
    if (u.kernels.count(op)) throw BackendError("cpu: op id " + std::to_string(op) + " already has a user kernel");
    u.kernels.emplace(op, std::move(kernel));
  }
  try {
    cpu::add_kernel(cpu::KernelEntry{.op = op, .run = trampoline, .scratch = nullptr, .in_place = false});
  } catch (const std::logic_error& e) {
    throw BackendError(std::string("cpu: ") + e.what());
  }
}

}  // namespace gg
