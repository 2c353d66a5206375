// threadpool.h - persistent worker threads for the parallel loops of one engine step.
//
// run(n_tasks, fn) calls fn(task, thread) for every task in [0, n_tasks) on the caller and the
// workers, handing tasks out through an atomic counter (dynamic: the host is shared and a core
// may stall), and returns when all are done. Workers spin briefly between loops (a step runs
// hundreds of short loops) and then sleep on a condition variable; the caller, waiting for the last
// tasks, likewise spins briefly and then sleeps.
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <mutex>
#include <thread>
#include <type_traits>
#include <vector>

namespace fl {

class ThreadPool {
public:
    // n_threads includes the calling thread; 0 = from the machine (sched affinity).
    explicit ThreadPool(int n_threads);
    ~ThreadPool();
    ThreadPool(const ThreadPool&) = delete;
    ThreadPool& operator=(const ThreadPool&) = delete;

    int size() const { return n_threads_; }
    // fn(task, thread_index); thread_index in [0, size()). fn must not throw. The callable is
    // passed by address (no std::function, so no allocation per loop).
    template <class F> void run(int n_tasks, F&& fn) {
        using Fn = typename std::remove_reference<F>::type;
        run_impl(
            n_tasks, [](void* f, int task, int thread) { (*static_cast<Fn*>(f))(task, thread); },
            const_cast<void*>(static_cast<const void*>(&fn)));
    }

    static int machine_threads();

private:
    using Call = void (*)(void*, int, int);
    void run_impl(int n_tasks, Call call, void* fn);
    void worker_main(int index);
    void work(int index);

    int n_threads_;
    std::vector<std::thread> workers_;
    std::mutex mutex_;
    std::condition_variable wake_;
    std::condition_variable done_; // the caller sleeps here when the last tasks run long
    std::atomic<uint64_t> generation_{0};
    std::atomic<int> next_task_{0};
    std::atomic<int> active_{0};
    std::atomic<bool> stop_{false};
    int n_tasks_ = 0;
    Call call_ = nullptr;
    void* fn_ = nullptr;
};

} // namespace fl
