// Runs independent jobs on worker threads and hands their results back in
// input order, on the calling thread.
#pragma once

#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <cstddef>
#include <mutex>
#include <optional>
#include <thread>
#include <vector>

namespace takeback::cli {

// Calls work(i) for i in [0, count) on `threads` workers (inline when
// threads <= 1) and emit(i, result) on the calling thread in increasing i,
// each as soon as it and all before it are done. `work` must be thread-safe
// and must not throw; `emit` runs on one thread only.
template <typename R, typename Work, typename Emit>
void RunOrdered(std::size_t count, unsigned threads, Work work, Emit emit) {
  if (threads <= 1 || count <= 1) {
    for (std::size_t i = 0; i < count; ++i) emit(i, work(i));
    return;
  }
  std::mutex mu;
  std::condition_variable ready;
  std::vector<std::optional<R>> slots(count);  // guarded by mu
  std::atomic<std::size_t> next{0};
  auto worker = [&] {
    for (std::size_t i = next++; i < count; i = next++) {
      R result = work(i);
      {
        const std::lock_guard<std::mutex> lock(mu);
        slots[i].emplace(std::move(result));
      }
      ready.notify_one();
    }
  };
  const std::size_t pool_size = std::min<std::size_t>(threads, count);
  std::vector<std::jthread> pool;
  pool.reserve(pool_size);
  for (std::size_t t = 0; t < pool_size; ++t) pool.emplace_back(worker);
  for (std::size_t i = 0; i < count; ++i) {
    std::optional<R> result;
    {
      std::unique_lock<std::mutex> lock(mu);
      ready.wait(lock, [&] { return slots[i].has_value(); });
      result.swap(slots[i]);
    }
    emit(i, std::move(*result));
  }
}

}  // namespace takeback::cli
