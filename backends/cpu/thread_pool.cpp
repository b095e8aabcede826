#include "thread_pool.h"

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#define GG_PAUSE() _mm_pause()
#else
#define GG_PAUSE() std::this_thread::yield()
#endif

namespace gg::cpu {

namespace {
constexpr int kSpins = 20000;  // ~0.5 ms of pause instructions before sleeping
}

ThreadPool::ThreadPool(int threads) {
  for (int i = 1; i < std::max(1, threads); ++i) workers_.emplace_back([this, i] { worker_loop(i); });
}

ThreadPool::~ThreadPool() {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    stop_ = true;
    generation_.fetch_add(1);
  }
  wake_.notify_all();
  for (auto& t : workers_) t.join();
}

void ThreadPool::run_chunk(int chunk) {
  const int64_t begin = n_ * chunk / chunks_, end = n_ * (chunk + 1) / chunks_;
  if (begin < end) fn_(ctx_, begin, end, chunk);
}

void ThreadPool::dispatch(int64_t n, int chunks, Trampoline fn, void* ctx) {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    fn_ = fn, ctx_ = ctx, n_ = n, chunks_ = chunks;
    remaining_.store(chunks - 1);
    generation_.fetch_add(1, std::memory_order_release);
  }
  wake_.notify_all();
  run_chunk(0);
  for (int spins = 0; remaining_.load(std::memory_order_acquire) != 0; ++spins)
    if (spins < kSpins) GG_PAUSE(); else std::this_thread::yield();
}

void ThreadPool::worker_loop(int index) {
  uint64_t seen = 0;
  for (;;) {
    int spins = 0;
    while (generation_.load(std::memory_order_acquire) == seen && spins < kSpins) GG_PAUSE(), ++spins;
    if (generation_.load(std::memory_order_acquire) == seen) {
      std::unique_lock<std::mutex> lock(mutex_);
      wake_.wait(lock, [&] { return generation_.load() != seen; });
    }
    // The job's generation and its chunk count, read together under the lock that
    // dispatch() writes them under. A worker outside the job (index >= chunks) is
    // not waited for, so dispatch() may already be writing the next job: reading
    // chunks_ after the lock (ThreadSanitizer found it) could pair this generation
    // with the next job's count and run a chunk of it twice.
    int chunks = 0;
    {
      std::lock_guard<std::mutex> lock(mutex_);  // pairs with dispatch(): the job fields are complete
      if (stop_) return;
      seen = generation_.load();
      chunks = chunks_;
    }
    // A worker inside the job is waited for (remaining_), so the job's fields stay put while it runs.
    if (index < chunks) {
      run_chunk(index);
      remaining_.fetch_sub(1, std::memory_order_acq_rel);
    }
  }
}

}  // namespace gg::cpu
