// Fixed worker threads for CPU kernels. run() splits [0, n) into one
// contiguous range per thread (the caller takes part) and returns when all
// are done. Workers spin briefly between jobs (ops follow each other within
// microseconds during a forward pass), then sleep.
#pragma once

#include <atomic>
#include <condition_variable>
#include <functional>
#include <mutex>
#include <thread>
#include <vector>

namespace rs {

class ThreadPool {
  public:
    explicit ThreadPool(int n_threads);  // n_threads <= 0: hardware concurrency
    ~ThreadPool();
    ThreadPool(const ThreadPool&) = delete;
    ThreadPool& operator=(const ThreadPool&) = delete;

    int size() const { return n_; }
    // fn(begin, end, thread_index); ranges cover [0, n) without overlap,
    // handed out in chunks to whichever thread is free (a thread may get
    // several).
    // Each thread gets at least `min_per_thread` items: small jobs run on
    // fewer threads (or only the caller), where waking workers would cost
    // more than the work.
    void run(int64_t n, const std::function<void(int64_t, int64_t, int)>& fn,
             int64_t min_per_thread = 1);

  private:
    void worker(int index);
    void take_chunks(int index);
    int n_;
    std::vector<std::thread> threads_;
    std::atomic<uint64_t> generation_{0};
    std::atomic<int> pending_{0};
    std::atomic<bool> stop_{false};
    const std::function<void(int64_t, int64_t, int)>* job_ = nullptr;
    int64_t job_n_ = 0, job_chunk_ = 1;
    std::atomic<int64_t> next_{0};
    int job_threads_ = 0;
    std::mutex mu_;
    std::condition_variable cv_;
};

}  // namespace rs
