#include "threadpool.h"

#include <sched.h>

#include <immintrin.h>

namespace fl {

namespace {
// Spin budget before sleeping, in _mm_pause iterations (a pause is ~10-140 cycles by CPU: ~10-100
// microseconds here). A step's loops follow each other within microseconds, so workers still
// catch the next loop spinning; but on a shared host two threads sometimes get one core's worth
// (both vCPUs multiplexed on one core), and then a long spin burns the time slice the thread
// holding the last task needs, and two threads run slower than one. So the budget stays short:
// sleeping (the vCPU halts) hands the core back.
constexpr int kSpinIterations = 2000;
} // namespace

int ThreadPool::machine_threads() {
    cpu_set_t set;
    if (sched_getaffinity(0, sizeof(set), &set) == 0) {
        int n = CPU_COUNT(&set);
        if (n > 0) return n;
    }
    unsigned n = std::thread::hardware_concurrency();
    return n > 0 ? static_cast<int>(n) : 1;
}

ThreadPool::ThreadPool(int n_threads) {
    n_threads_ = n_threads > 0 ? n_threads : machine_threads();
    if (n_threads_ > 256) n_threads_ = 256;
    for (int i = 1; i < n_threads_; i++) workers_.emplace_back(&ThreadPool::worker_main, this, i);
}

ThreadPool::~ThreadPool() {
    {
        std::lock_guard<std::mutex> lock(mutex_);
        stop_.store(true);
        generation_.fetch_add(1);
    }
    wake_.notify_all();
    for (auto& t : workers_) t.join();
}

void ThreadPool::work(int index) {
    for (;;) {
        int task = next_task_.fetch_add(1, std::memory_order_relaxed);
        if (task >= n_tasks_) break;
        call_(fn_, task, index);
    }
}

void ThreadPool::run_impl(int n_tasks, Call call, void* fn) {
    if (n_tasks <= 0) return;
    if (n_threads_ == 1 || n_tasks == 1) {
        for (int t = 0; t < n_tasks; t++) call(fn, t, 0);
        return;
    }
    call_ = call;
    fn_ = fn;
    n_tasks_ = n_tasks;
    next_task_.store(0, std::memory_order_relaxed);
    active_.store(n_threads_ - 1, std::memory_order_relaxed);
    {
        std::lock_guard<std::mutex> lock(mutex_);
        generation_.fetch_add(1, std::memory_order_release);
    }
    wake_.notify_all();
    work(0);
    for (int spins = 0; active_.load(std::memory_order_acquire) != 0; spins++) {
        if (spins < kSpinIterations) {
            _mm_pause();
            continue;
        }
        std::unique_lock<std::mutex> lock(mutex_);
        done_.wait(lock, [&] { return active_.load(std::memory_order_acquire) == 0; });
    }
    fn_ = nullptr;
}

void ThreadPool::worker_main(int index) {
    uint64_t seen = 0;
    for (;;) {
        int spins = 0;
        while (generation_.load(std::memory_order_acquire) == seen && spins < kSpinIterations) {
            _mm_pause();
            spins++;
        }
        if (generation_.load(std::memory_order_acquire) == seen) {
            std::unique_lock<std::mutex> lock(mutex_);
            wake_.wait(lock, [&] { return generation_.load(std::memory_order_acquire) != seen; });
        }
        seen = generation_.load(std::memory_order_acquire);
        if (stop_.load()) return;
        work(index);
        if (active_.fetch_sub(1, std::memory_order_acq_rel) == 1) {
            // last worker out: wake the caller if it stopped spinning (the lock orders this
            // against its predicate check, so the wake-up is not lost)
            { std::lock_guard<std::mutex> lock(mutex_); }
            done_.notify_one();
        }
    }
}

} // namespace fl
