// The one lookup both backends use: kernel entries by op id (ops/op_table.h),
// gathered from the backend's per-family tables, plus the kernels users
// register for their own ops. missing() is the coverage check: the compute
// ops of the table that have no entry.
#pragma once
#include <deque>
#include <initializer_list>
#include <mutex>
#include <span>
#include <stdexcept>
#include <string>
#include <vector>

#include <graphgrad/backends/backend.h>
#include <graphgrad/ops/op_table.h>

namespace gg {

template <class Entry>  // Entry has a field `OpId op`
class KernelRegistry {
 public:
  KernelRegistry(std::initializer_list<std::span<const Entry>> tables) : by_id_(ops::id::builtin_count, nullptr) {
    for (std::span<const Entry> t : tables)
      for (const Entry& e : t) put(e);
  }
  const Entry* find(OpId op) const {
    std::lock_guard lock(mutex_);
    return op < by_id_.size() ? by_id_[op] : nullptr;
  }
  // A user op's kernel; an op has at most one per backend.
  void add(const Entry& e) {
    std::lock_guard lock(mutex_);
    user_.push_back(e);
    put(user_.back());
  }
  // The start-up check: throws a BackendError naming the built-in ops this
  // backend has no kernel for (a build that forgot one refuses to run, rather
  // than fail at the first graph that uses the op).
  void require_complete(const char* backend) const {
    std::string names;
    for (OpId op : missing()) names += (names.empty() ? "" : ", ") + std::string(ops::op_info(op).name);
    if (!names.empty())
      throw BackendError(std::string(backend) + ": this build has no kernel for the built-in op(s) " + names +
                         " (every op of ops/op_table.h needs one on every backend)");
  }
  // Built-in compute ops with no kernel here.
  std::vector<OpId> missing() const {
    std::vector<OpId> out;
    for (OpId op = 0; op < ops::id::builtin_count; ++op)
      if (ops::op_info(op).kind != ops::OpKind::leaf && !find(op)) out.push_back(op);
    return out;
  }

 private:
  void put(const Entry& e) {
    if (e.op >= by_id_.size()) by_id_.resize(e.op + 1, nullptr);
    if (by_id_[e.op])
      throw std::logic_error("two kernels for op '" + std::string(ops::op_info(e.op).name) + "' on one backend");
    by_id_[e.op] = &e;
  }
  mutable std::mutex mutex_;
  std::vector<const Entry*> by_id_;
  std::deque<Entry> user_;  // a deque: entries keep their addresses
};

}  // namespace gg
