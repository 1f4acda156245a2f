#include "reasonscope/thread_pool.h"

#include <immintrin.h>

#include <algorithm>
#include <chrono>

namespace rs {

ThreadPool::ThreadPool(int n_threads) {
    n_ = n_threads > 0 ? n_threads
                       : static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
    for (int i = 1; i < n_; ++i) threads_.emplace_back([this, i] { worker(i); });
}

ThreadPool::~ThreadPool() {
    {
        std::lock_guard<std::mutex> lk(mu_);
        stop_ = true;
        generation_.fetch_add(1);
    }
    cv_.notify_all();
    for (auto& t : threads_) t.join();
}

void ThreadPool::worker(int index) {
    uint64_t seen = 0;
    for (;;) {
        // Spin for a while (cheap hand-off between consecutive ops), then sleep.
        auto until = std::chrono::steady_clock::now() + std::chrono::microseconds(2000);
        int spins = 0;
        while (generation_.load(std::memory_order_acquire) == seen) {
            _mm_pause();
            if (++spins % 1024 == 0 && std::chrono::steady_clock::now() > until) {
                std::unique_lock<std::mutex> lk(mu_);
                cv_.wait(lk, [&] { return generation_.load() != seen; });
            }
        }
        seen = generation_.load(std::memory_order_acquire);
        if (stop_) return;
        if (index < job_threads_) take_chunks(index);
        pending_.fetch_sub(1, std::memory_order_acq_rel);
    }
}

void ThreadPool::run(int64_t n, const std::function<void(int64_t, int64_t, int)>& fn,
                     int64_t min_per_thread) {
    const int64_t want = min_per_thread > 1 ? n / min_per_thread : n;
    const int used = static_cast<int>(std::min<int64_t>(n_, std::max<int64_t>(1, want)));
    if (used == 1 || n <= 1) {
        if (n > 0) fn(0, n, 0);
        return;
    }
    job_ = &fn;
    job_n_ = n;
    job_threads_ = used;
    // A few chunks per thread, taken in turn: a thread slowed by the machine
    // (or by memory) takes fewer, so no one idles at the end.
    job_chunk_ = std::max<int64_t>(std::max<int64_t>(1, min_per_thread / 2), n / (2 * used));
    next_.store(0, std::memory_order_relaxed);
    pending_.store(n_ - 1, std::memory_order_release);
    {
        std::lock_guard<std::mutex> lk(mu_);
        generation_.fetch_add(1, std::memory_order_acq_rel);
    }
    cv_.notify_all();
    take_chunks(0);
    while (pending_.load(std::memory_order_acquire) != 0) _mm_pause();
}

void ThreadPool::take_chunks(int index) {
    for (;;) {
        const int64_t b = next_.fetch_add(job_chunk_, std::memory_order_relaxed);
        if (b >= job_n_) return;
        (*job_)(b, std::min(job_n_, b + job_chunk_), index);
    }
}

}  // namespace rs
