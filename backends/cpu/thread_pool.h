// A small fork-join pool for the CPU kernels. The caller runs the first chunk
// itself; workers spin briefly between jobs (kernels come back to back in a
// step) and then sleep, so an idle pool costs no CPU.
#pragma once
#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <mutex>
#include <thread>
#include <vector>

namespace gg::cpu {

class ThreadPool {
 public:
  explicit ThreadPool(int threads);
  ~ThreadPool();
  ThreadPool(const ThreadPool&) = delete;
  ThreadPool& operator=(const ThreadPool&) = delete;

  int size() const { return static_cast<int>(workers_.size()) + 1; }

  // Splits [0, n) into at most size() contiguous chunks of at least min_chunk
  // items and calls fn(begin, end, thread_index) for each, in parallel.
  template <class F>
  void parallel_for(int64_t n, F&& fn, int64_t min_chunk = 1) {
    if (n <= 0) return;
    const int64_t chunks = std::min<int64_t>(size(), std::max<int64_t>(1, n / std::max<int64_t>(1, min_chunk)));
    if (chunks == 1) {
      fn(int64_t{0}, n, 0);
      return;
    }
    auto trampoline = [](void* ctx, int64_t b, int64_t e, int t) { (*static_cast<F*>(ctx))(b, e, t); };
    dispatch(n, static_cast<int>(chunks), trampoline, &fn);
  }

 private:
  using Trampoline = void (*)(void*, int64_t, int64_t, int);
  void dispatch(int64_t n, int chunks, Trampoline fn, void* ctx);
  void run_chunk(int chunk);
  void worker_loop(int index);

  std::vector<std::thread> workers_;
  std::mutex mutex_;
  std::condition_variable wake_;
  std::atomic<uint64_t> generation_{0};
  std::atomic<int> remaining_{0};
  bool stop_ = false;
  // The current job (written before generation_ is bumped).
  Trampoline fn_ = nullptr;
  void* ctx_ = nullptr;
  int64_t n_ = 0;
  int chunks_ = 0;
};

// out[0, n) = the per-thread partial sums part(0) + part(1) + ... in thread
// order: a reduction that is deterministic for a given thread count.
template <class Part>
void sum_thread_partials(int threads, size_t n, Part part, float* out) {
  std::copy_n(part(0), n, out);
  for (int t = 1; t < threads; ++t) {
    const float* p = part(t);
    for (size_t i = 0; i < n; ++i) out[i] += p[i];
  }
}

}  // namespace gg::cpu
